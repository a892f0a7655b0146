import ArgumentParser
import KVCache

/// The `threshold-balanced` selector's flags.
public struct ThresholdBalancedOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Absolute imbalance (running requests) that triggers balancing.")
    public var balanceAbs: Int = 32
    @Option(parsing: .unconditional, help: "Relative imbalance that triggers balancing.")
    public var balanceRel: Double = 1.1
    @Option(parsing: .unconditional, help: "Match fraction above which the cache wins.")
    public var cacheThreshold: Double = 0.5

    /// The defaults.
    public init() {}

    /// Checks every number against its range, naming the flag and the value.
    public func validate() throws {
        try check(balanceAbs, "--balance-abs", 0...1_000_000_000)
        try check(balanceRel, "--balance-rel", 0...1e6)
        try check(cacheThreshold, "--cache-threshold", 0...1)
    }

    /// Sets the `threshold-balanced` selector's parameters in `s`.
    public func apply(to s: inout SelectorConfiguration) {
        s.balanceAbsoluteThreshold = balanceAbs
        s.balanceRelativeThreshold = balanceRel
        s.cacheThreshold = cacheThreshold
    }
}
