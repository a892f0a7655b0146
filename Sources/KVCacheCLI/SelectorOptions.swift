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
        parsing: .unconditional,
        help: "Weights of a cached block held on the device, in host memory, on disk, in the selectors' overlap score.")
    public var tierWeights: String = "1,0.75,0.25"

    /// The flags of `ttft-min` (and `hotspot-replicating`'s transfers and SLO).
    @OptionGroup(title: "ttft-min parameters") public var ttftMin: TTFTMinOptions
    /// The `weighted` selector's flags.
    @OptionGroup(title: "weighted parameters") public var weighted: WeightedOptions
    /// The `threshold-balanced` selector's flags.
    @OptionGroup(title: "threshold-balanced parameters") public var thresholdBalanced: ThresholdBalancedOptions
    /// The `cache-affinity` selector's flags.
    @OptionGroup(title: "cache-affinity parameters") public var cacheAffinity: CacheAffinityOptions
    /// The `kv-cost` selector's flags.
    @OptionGroup(title: "kv-cost parameters") public var kvCost: KVCostOptions
    /// The `hotspot-replicating` selector's flags.
    @OptionGroup(title: "hotspot-replicating parameters") public var hotspot: HotspotOptions

    /// The defaults.
    public init() {}

    /// Checks every number against its range, naming the flag and the value.
    public func validate() throws {
        try check(prefillBaseMs, "--prefill-base-ms", 0...3.6e6)
        try check(prefillUsPerToken, "--prefill-us-per-token", 0...1e6)
        try ttftMin.validate()
        try weighted.validate()
        try thresholdBalanced.validate()
        try cacheAffinity.validate()
        try kvCost.validate()
        try hotspot.validate()
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
        (["--balance-abs", "--balance-rel"], ["threshold-balanced"]),
        (["--cache-threshold"], ["threshold-balanced", "cache-affinity"]),
        (["--overload-factor", "--overload-slack"], ["cache-affinity"]),
        (["--prefill-load-scale", "--overlap-credit", "--temperature"], ["kv-cost"]),
        (["--kv-balancing-threshold"], ["ttft-min", "cache-affinity"]),
        (["--hot-window", "--hot-prefix-blocks", "--anticipate"], ["hotspot-replicating"]),
        (["--transfer-gbps", "--block-mb"], ["ttft-min", "hotspot-replicating", "cache-affinity"]),
        (["--ttft-slo"], ["ttft-min", "hotspot-replicating"]),
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
        weighted.apply(to: &s)
        thresholdBalanced.apply(to: &s)
        cacheAffinity.apply(to: &s)
        kvCost.apply(to: &s)
        hotspot.apply(to: &s)
        ttftMin.apply(to: &s, prefillModel: prefillModel)
        return s
    }
}
