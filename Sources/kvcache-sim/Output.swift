import ArgumentParser
import Foundation
import KVCacheCLI

/// How results are printed.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, markdown, csv, json
}

/// Writes `text` to `path`, naming the path when it cannot.
func writeFile(_ path: String, _ text: String) throws {
    do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch {
        throw CLIError("\(path): cannot write the file (\(error.localizedDescription))")
    }
}

/// `v` with `digits` decimals (0 for a value that is not finite).
func fmt(_ v: Double, _ digits: Int = 6) -> String {
    guard v.isFinite else { return "0" }
    return String(format: "%.\(digits)f", v)
}
