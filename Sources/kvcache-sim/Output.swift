import ArgumentParser
import KVCacheCLI

/// How results are printed.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, markdown, csv, json
}

/// `v` with `digits` decimals (0 for a value that is not finite).
func fmt(_ v: Double, _ digits: Int = 6) -> String {
    guard v.isFinite else { return "0" }
    return fixed(v, digits)
}
