import Foundation
import KVCacheCLI

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
