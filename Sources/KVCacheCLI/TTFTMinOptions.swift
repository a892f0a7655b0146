import ArgumentParser
import KVCache

/// The flags of the selectors that estimate TTFT with KV transfers: `ttft-min`, and
/// `hotspot-replicating` for the transfer model and the SLO.
public struct TTFTMinOptions: ParsableArguments {
    @Option(
        name: .customLong("transfer-gbps"), parsing: .unconditional,
        help: "KV transfer bandwidth between nodes, GB/s (0: no transfers). Also hotspot-replicating.")
    public var transferGBps: Double = 0
    @Option(parsing: .unconditional, help: "KV bytes per block, MB (for transfers).")
    public var blockMB: Double = 160
    @Option(parsing: .unconditional, help: "Reject requests whose estimated TTFT exceeds this many seconds. Also hotspot-replicating.")
    public var ttftSlo: Double?
    @Option(parsing: .unconditional, help: "Consider a transfer when the best match is at least this many times the local one.")
    public var kvBalancingThreshold: Double = 1

    /// The defaults.
    public init() {}

    /// Checks every number against its range, naming the flag and the value.
    public func validate() throws {
        try check(transferGBps, "--transfer-gbps", 0...1e6)
        try check(blockMB, "--block-mb", 1e-6...1e6)
        if let ttftSlo { try check(ttftSlo, "--ttft-slo", 1e-6...1e7) }
        try check(kvBalancingThreshold, "--kv-balancing-threshold", 0...1e6)
    }

    /// Sets the `ttft-min` selector in `s`, estimating prefill with `prefillModel`.
    public func apply(to s: inout SelectorConfiguration, prefillModel: LinearPrefillModel) {
        s.ttftMin = TTFTMin(
            prefillModel: prefillModel,
            transfer: transferGBps > 0 ? KVTransferModel(bytesPerBlock: blockMB * 1e6, bandwidth: transferGBps * 1e9) : nil,
            kvcacheBalancingThreshold: kvBalancingThreshold, ttftSLO: ttftSlo)
    }
}
