import KVCache
import KVCacheCLI

/// The eviction policy named `name`, or an error listing the known ones.
func parseEviction(_ name: String) throws -> EvictionPolicy {
    guard let p = EvictionPolicy(name: name) else {
        throw CLIError("unknown --eviction '\(name)' (expected one of \(EvictionPolicy.allCases.map(\.rawValue).joined(separator: ", ")))")
    }
    return p
}

/// The selector policy named `name`, or an error listing the known ones.
func parseSelector(_ name: String) throws -> SelectorPolicy {
    guard let p = SelectorPolicy(name: name) else {
        throw CLIError("unknown --selector '\(name)' (expected one of \(SelectorPolicy.allCases.map(\.rawValue).joined(separator: ", ")))")
    }
    return p
}

/// The comma-separated values of `option`, each parsed by `parse` (at least one).
func parseList<T>(_ text: String, option: String, _ parse: (String) throws -> T) throws -> [T] {
    let parts = text.split(separator: ",").map { $0.trimmed }.filter { !$0.isEmpty }
    guard !parts.isEmpty else { throw CLIError("\(option) needs at least one value") }
    return try parts.map(parse)
}
