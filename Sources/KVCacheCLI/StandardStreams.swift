#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes `text` to standard error at once (unbuffered, so it shows before later output).
public func writeStandardError(_ text: String) { _writeAll(2, text) }

/// Writes `text` to standard output at once, so a live report reaches a pipe line by line.
public func writeStandardOutput(_ text: String) { _writeAll(1, text) }

/// Whether standard error is a terminal.
public var standardErrorIsTerminal: Bool { isatty(2) != 0 }

/// Writes all of `text` to `fd`; the C library's error number when it cannot, else nil.
@discardableResult
func _writeAll(_ fd: Int32, _ text: String) -> Int32? {
    var text = text
    return text.withUTF8 { bytes -> Int32? in
        var offset = 0
        while offset < bytes.count {
            let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return n < 0 ? errno : ENOSPC }
            offset += n
        }
        return nil
    }
}
