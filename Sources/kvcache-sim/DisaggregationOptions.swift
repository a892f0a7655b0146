import ArgumentParser
import KVCache
import KVCacheCLI
import KVCacheSim

/// The flags of a prefill/decode split: which splits to run, the thresholds of conditional
/// disaggregation, and what a KV transfer from a prefill node to a decode node costs.
struct DisaggregationOptions: ParsableArguments {
    @Option(help: "Comma-separated prefill node counts (with --decode-nodes: every pair is a split).")
    var prefillNodes: String?
    @Option(help: "Comma-separated decode node counts.")
    var decodeNodes: String?
    @Option(help: "Comma-separated thresholds: fewer uncached tokens on the decode node are prefilled there (0: never).")
    var pdThresholdTokens: String = "0"
    @Option(parsing: .unconditional, help: "KV transfer bandwidth from prefill to decode nodes, GB/s.")
    var pdTransferGbps: Double = 12.5
    @Option(parsing: .unconditional, help: "KV bytes per block, MB, for the prefill-to-decode transfer.")
    var pdBlockMb: Double = 160
    @Option(parsing: .unconditional, help: "Fixed setup time of one prefill-to-decode transfer, ms.")
    var pdTransferLatencyMs: Double = 1

    func validate() throws {
        try check(pdTransferGbps, "--pd-transfer-gbps", 1e-6...1e6)
        try check(pdBlockMb, "--pd-block-mb", 0...1e6)
        try check(pdTransferLatencyMs, "--pd-transfer-latency-ms", 0...1e6)
        guard (prefillNodes == nil) == (decodeNodes == nil) else {
            throw CLIError("--prefill-nodes and --decode-nodes go together")
        }
    }

    /// Every prefill × decode count × threshold asked for; none without the split flags.
    func splits() throws -> [ClusterConfiguration.Disaggregation] {
        guard let prefillNodes, let decodeNodes else {
            if CommandLine.arguments.contains(where: { $0.hasPrefix("--pd-") }) {
                throw CLIError("the --pd-* flags need --prefill-nodes and --decode-nodes")
            }
            return []
        }
        let prefill = try parseIntList(prefillNodes, option: "--prefill-nodes", minimum: 1, maximum: 32_768)
        let decode = try parseIntList(decodeNodes, option: "--decode-nodes", minimum: 1, maximum: 32_768)
        let thresholds = try parseIntList(pdThresholdTokens, option: "--pd-threshold-tokens", minimum: 0, maximum: 1 << 30)
        let transfer = KVTransferModel(
            bytesPerBlock: pdBlockMb * 1e6, bandwidth: pdTransferGbps * 1e9, latency: pdTransferLatencyMs / 1000)
        return prefill.flatMap { p in
            decode.flatMap { d in
                thresholds.map { .init(prefillNodes: p, decodeNodes: d, thresholdTokens: $0, transfer: transfer) }
            }
        }
    }
}
