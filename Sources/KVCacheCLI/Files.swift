#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a whole text file.
///
/// - Throws: CLIError naming the path and the reason.
public func readText(_ path: String) throws(CLIError) -> String {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else {
        throw CLIError(errno == ENOENT ? "\(path): no such file" : "\(path): cannot read the file (\(_reason(errno)))")
    }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
        if n < 0 && errno == EINTR { continue }
        guard n >= 0 else { throw CLIError("\(path): cannot read the file (\(_reason(errno)))") }
        if n == 0 { break }
        bytes.append(contentsOf: chunk[0..<n])
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// Writes `text` to `path` through a temporary file renamed into place, so a reader never sees
/// half of it.
///
/// - Throws: CLIError naming the path and the reason.
public func writeFile(_ path: String, _ text: String) throws(CLIError) {
    func failure(_ code: Int32) -> CLIError { CLIError("\(path): cannot write the file (\(_reason(code)))") }
    let temporary = path + ".partial-\(getpid())"
    let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw failure(errno) }
    if let code = _writeAll(fd, text) {
        close(fd)
        unlink(temporary)
        throw failure(code)
    }
    guard close(fd) == 0, rename(temporary, path) == 0 else {
        let code = errno
        unlink(temporary)
        throw failure(code)
    }
}

/// The last component of a file path (`a/b/trace.jsonl` → `trace.jsonl`).
public func fileName(_ path: String) -> String { path.split(separator: "/").last.map(String.init) ?? path }

/// The C library's text for an error number.
func _reason(_ code: Int32) -> String { String(cString: strerror(code)) }
