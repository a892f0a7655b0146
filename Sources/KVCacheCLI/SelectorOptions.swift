import ArgumentParser
import KVCache

/// The routing policy's command-line flags, shared by `kvcache-sim` and `kvcache-gateway`: the
/// prefill cost model the selectors estimate with and every selector's parameters.
public struct SelectorOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Prefill fixed cost per request, ms.")
    public var prefillBaseMs: Double = 10
    @Option(parsing: .unconditional, help: "Prefill cost per uncached token, µs.")
    public var prefillUsPerToken: Double = 50
    @Option(
        name: .customLong("transfer-gbps"), parsing: .unconditional,
        help: "KV transfer bandwidth between nodes, GB/s (0: no transfers). Used by ttft-min and hotspot-replicating.")
    public var transferGBps: Double = 0
    @Option(parsing: .unconditional, help: "KV bytes per block, MB (for transfers).")
    public var blockMB: Double = 160
    @Option(
        parsing: .unconditional, help: "Reject requests whose estimated TTFT exceeds this many seconds (ttft-min, hotspot-replicating).")
    public var ttftSlo: Double?
    @Option(parsing: .unconditional, help: "ttft-min: consider a transfer when the best match is at least this many times the local one.")
    public var kvBalancingThreshold: Double = 1
    @Option(parsing: .unconditional, help: "weighted: weight of the prefix hit fraction.")
    public var alpha: Double = 0.6
    @Option(parsing: .unconditional, help: "weighted: weight of the normalised load.")
    public var beta: Double = 0.8
    @Option(parsing: .unconditional, help: "threshold-balanced: absolute imbalance (running requests) that triggers balancing.")
    public var balanceAbs: Int = 32
    @Option(parsing: .unconditional, help: "threshold-balanced: relative imbalance that triggers balancing.")
    public var balanceRel: Double = 1.1
    @Option(parsing: .unconditional, help: "threshold-balanced: match fraction above which the cache wins.")
    public var cacheThreshold: Double = 0.5
    @Option(parsing: .unconditional, help: "kv-cost: weight of prefill work.")
    public var prefillLoadScale: Double = 1
    @Option(parsing: .unconditional, help: "kv-cost: prefill blocks credited per cached block.")
    public var overlapCredit: Double = 1
    @Option(parsing: .unconditional, help: "kv-cost: softmax temperature (0: lowest cost).")
    public var temperature: Double = 0
    @Option(parsing: .unconditional, help: "hotspot-replicating: sliding window, seconds.")
    public var hotWindow: Double = 60
    @Option(parsing: .unconditional, help: "hotspot-replicating: blocks that make a prefix.")
    public var hotPrefixBlocks: Int = 4
    @Flag(help: "hotspot-replicating: replicate rising prefixes by their trend.")
    public var anticipate = false
    @Option(
        parsing: .unconditional,
        help: "Weights of a cached block held on the device, in host memory, on disk, in the selectors' overlap score.")
    public var tierWeights: String = "1,0.75,0.25"

    /// The defaults.
    public init() {}

    /// Checks every number against its range, naming the flag and the value.
    public func validate() throws {
        try check(prefillBaseMs, "--prefill-base-ms", 0...3.6e6)
        try check(prefillUsPerToken, "--prefill-us-per-token", 0...1e6)
        try check(transferGBps, "--transfer-gbps", 0...1e6)
        try check(blockMB, "--block-mb", 1e-6...1e6)
        if let ttftSlo { try check(ttftSlo, "--ttft-slo", 1e-6...1e7) }
        try check(kvBalancingThreshold, "--kv-balancing-threshold", 0...1e6)
        try check(alpha, "--alpha", 0...1e6)
        try check(beta, "--beta", 0...1e6)
        try check(balanceAbs, "--balance-abs", 0...1_000_000_000)
        try check(balanceRel, "--balance-rel", 0...1e6)
        try check(cacheThreshold, "--cache-threshold", 0...1)
        try check(prefillLoadScale, "--prefill-load-scale", 0...1e6)
        try check(overlapCredit, "--overlap-credit", 0...1e6)
        try check(temperature, "--temperature", 0...1e6)
        try check(hotWindow, "--hot-window", 1e-6...1e7)
        try check(hotPrefixBlocks, "--hot-prefix-blocks", 1...1_000_000)
        _ = try parsedTierWeights()
    }

    /// ``tierWeights`` as three weights, each in 0...1e6.
    public func parsedTierWeights() throws -> TierWeights {
        let parts = tierWeights.split(separator: ",", omittingEmptySubsequences: false).map { String($0.filter { $0 != " " }) }
        guard parts.count == 3 else {
            throw CLIError("--tier-weights '\(tierWeights)': expected three numbers, device,host,disk (e.g. 1,0.75,0.25)")
        }
        var w: [Double] = []
        for (name, text) in zip(["device", "host", "disk"], parts) {
            guard let v = Double(text) else { throw CLIError("--tier-weights: the \(name) weight '\(text)' is not a number") }
            try check(v, "--tier-weights \(name) weight", 0...1e6)
            w.append(v)
        }
        return TierWeights(device: w[0], host: w[1], disk: w[2])
    }

    /// Policy flags and the selectors they apply to.
    public static let policyFlags: [(flags: [String], selectors: [String])] = [
        (["--alpha", "--beta"], ["weighted"]),
        (["--balance-abs", "--balance-rel", "--cache-threshold"], ["threshold-balanced"]),
        (["--prefill-load-scale", "--overlap-credit", "--temperature"], ["kv-cost"]),
        (["--kv-balancing-threshold"], ["ttft-min"]),
        (["--hot-window", "--hot-prefix-blocks", "--anticipate"], ["hotspot-replicating"]),
        (["--transfer-gbps", "--block-mb", "--ttft-slo"], ["ttft-min", "hotspot-replicating"]),
    ]

    /// Refuses a policy flag given on the command line that none of `selectors` reads.
    public static func checkApplies(to selectors: [SelectorPolicy], arguments: [String] = CommandLine.arguments) throws {
        let chosen = Set(selectors.map(\.rawValue))
        for (flags, users) in policyFlags where chosen.isDisjoint(with: users) {
            for flag in flags where arguments.contains(where: { $0 == flag || $0.hasPrefix(flag + "=") }) {
                throw CLIError(
                    "\(flag) applies to \(users.joined(separator: ", ")), not to the chosen selector(s) \(selectors.map(\.rawValue).joined(separator: ", "))"
                )
            }
        }
    }

    /// The prefill cost model of `--prefill-base-ms` and `--prefill-us-per-token`.
    public var prefillModel: LinearPrefillModel { LinearPrefillModel(base: prefillBaseMs / 1000, perToken: prefillUsPerToken / 1e6) }

    /// Every selector's parameters, as the flags say.
    public func selectorConfiguration(seed: UInt64) -> SelectorConfiguration {
        var s = SelectorConfiguration()
        s.seed = seed
        s.alpha = alpha
        s.beta = beta
        s.balanceAbsoluteThreshold = balanceAbs
        s.balanceRelativeThreshold = balanceRel
        s.cacheThreshold = cacheThreshold
        s.prefillLoadScale = prefillLoadScale
        s.overlapCredit = overlapCredit
        s.temperature = temperature
        s.ttftMin = TTFTMin(
            prefillModel: prefillModel,
            transfer: transferGBps > 0 ? KVTransferModel(bytesPerBlock: blockMB * 1e6, bandwidth: transferGBps * 1e9) : nil,
            kvcacheBalancingThreshold: kvBalancingThreshold, ttftSLO: ttftSlo)
        s.hotWindow = hotWindow
        s.hotPrefixBlocks = hotPrefixBlocks
        s.anticipateRising = anticipate
        return s
    }
}
