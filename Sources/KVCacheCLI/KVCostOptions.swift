import ArgumentParser
import KVCache

/// The `kv-cost` selector's flags.
public struct KVCostOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Weight of prefill work.")
    public var prefillLoadScale: Double = 1
    @Option(parsing: .unconditional, help: "Prefill blocks credited per cached block.")
    public var overlapCredit: Double = 1
    @Option(parsing: .unconditional, help: "Softmax temperature (0: lowest cost).")
    public var temperature: Double = 0

    /// The defaults.
    public init() {}

    /// Checks every number against its range, naming the flag and the value.
    public func validate() throws {
        try check(prefillLoadScale, "--prefill-load-scale", 0...1e6)
        try check(overlapCredit, "--overlap-credit", 0...1e6)
        try check(temperature, "--temperature", 0...1e6)
    }

    /// Sets the `kv-cost` selector's parameters in `s`.
    public func apply(to s: inout SelectorConfiguration) {
        s.prefillLoadScale = prefillLoadScale
        s.overlapCredit = overlapCredit
        s.temperature = temperature
    }
}
