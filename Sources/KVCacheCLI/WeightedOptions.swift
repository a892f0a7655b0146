import ArgumentParser
import KVCache

/// The `weighted` selector's flags.
public struct WeightedOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Weight of the prefix hit fraction.")
    public var alpha: Double = 0.6
    @Option(parsing: .unconditional, help: "Weight of the normalised load.")
    public var beta: Double = 0.8

    /// The defaults.
    public init() {}

    /// Checks every number against its range, naming the flag and the value.
    public func validate() throws {
        try check(alpha, "--alpha", 0...1e6)
        try check(beta, "--beta", 0...1e6)
    }

    /// Sets the `weighted` selector's parameters in `s`.
    public func apply(to s: inout SelectorConfiguration) {
        s.alpha = alpha
        s.beta = beta
    }
}
