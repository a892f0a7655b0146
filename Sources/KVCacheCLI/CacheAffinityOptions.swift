import ArgumentParser
import KVCache

/// The `cache-affinity` selector's flags (it shares `--cache-threshold` with
/// `threshold-balanced`, and estimates with `ttft-min`'s settings when it relieves a node).
public struct CacheAffinityOptions: ParsableArguments {
    @Option(
        parsing: .unconditional,
        help: "A node running more than this multiple of the mean running requests (plus --overload-slack) is overloaded.")
    public var overloadFactor: Double = 1.5
    @Option(parsing: .unconditional, help: "Running requests a node may have beyond --overload-factor times the mean.")
    public var overloadSlack: Double = 1

    /// The defaults.
    public init() {}

    /// Checks every number against its range, naming the flag and the value.
    public func validate() throws {
        try check(overloadFactor, "--overload-factor", 0...1e6)
        try check(overloadSlack, "--overload-slack", 0...1e9)
    }

    /// Sets the `cache-affinity` selector's parameters in `s`.
    public func apply(to s: inout SelectorConfiguration) {
        s.overloadFactor = overloadFactor
        s.overloadSlack = overloadSlack
    }
}
