import ArgumentParser
import KVCache

/// The `hotspot-replicating` selector's flags.
public struct HotspotOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Sliding window, seconds.")
    public var hotWindow: Double = 60
    @Option(parsing: .unconditional, help: "Blocks that make a prefix.")
    public var hotPrefixBlocks: Int = 4
    @Flag(help: "Replicate rising prefixes by their trend.")
    public var anticipate = false

    /// The defaults.
    public init() {}

    /// Checks every number against its range, naming the flag and the value.
    public func validate() throws {
        try check(hotWindow, "--hot-window", 1e-6...1e7)
        try check(hotPrefixBlocks, "--hot-prefix-blocks", 1...1_000_000)
    }

    /// Sets the `hotspot-replicating` selector's parameters in `s`.
    public func apply(to s: inout SelectorConfiguration) {
        s.hotWindow = hotWindow
        s.hotPrefixBlocks = hotPrefixBlocks
        s.anticipateRising = anticipate
    }
}
