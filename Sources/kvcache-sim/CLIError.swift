import Foundation

/// A one-line user error: ArgumentParser prints it as `Error: <message>` and exits with 1.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ message: String) { description = message }
}

/// Reads a whole text file, with an error that names the path.
func readText(_ path: String) throws -> String {
    guard FileManager.default.fileExists(atPath: path) else {
        throw CLIError("\(path): no such file")
    }
    guard let data = FileManager.default.contents(atPath: path) else {
        throw CLIError("\(path): cannot read the file")
    }
    return String(decoding: data, as: UTF8.self)
}
