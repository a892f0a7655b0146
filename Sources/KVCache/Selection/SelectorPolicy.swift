/// The routing policies by name, for choosing one at run time (the CLI, configuration).
///
/// The registry of selectors: adding a policy adds one case here.
public enum SelectorPolicy: String, CaseIterable, Sendable, Hashable, CustomStringConvertible {
    case random
    case roundRobin = "round-robin"
    case leastLoaded = "least-loaded"
    case powerOfTwo = "power-of-two"
    case cacheAware = "cache-aware"
    case weighted
    case thresholdBalanced = "threshold-balanced"
    case cacheAffinity = "cache-affinity"
    case kvCost = "kv-cost"
    case ttftMin = "ttft-min"
    case hotspotReplicating = "hotspot-replicating"

    /// The command-line name.
    public var description: String { rawValue }

    /// Parses a name, ignoring case and `-`/`_` (`TTFTMin`, `ttft_min`, `round-robin`).
    public init?(name: String) {
        let folded = name.lowercased().filter { $0 != "-" && $0 != "_" }
        guard let match = Self.allCases.first(where: { $0.rawValue.filter { $0 != "-" } == folded }) else { return nil }
        self = match
    }

    /// Whether the policy reads the overlaps (round-robin, least-loaded, random and
    /// power-of-two do not, so a caller may skip computing them).
    public var usesOverlaps: Bool {
        switch self {
        case .random, .roundRobin, .leastLoaded, .powerOfTwo: return false
        default: return true
        }
    }

    /// A selector of this policy with `configuration`'s parameters.
    public func makeSelector(_ configuration: SelectorConfiguration = SelectorConfiguration()) -> any PrefillNodeSelector & Sendable {
        let c = configuration
        switch self {
        case .random: return Random(seed: c.seed)
        case .roundRobin: return RoundRobin()
        case .leastLoaded: return LeastLoaded()
        case .powerOfTwo: return PowerOfTwoChoices(seed: c.seed)
        case .cacheAware: return CacheAware()
        case .weighted: return Weighted(alpha: c.alpha, beta: c.beta)
        case .thresholdBalanced:
            return ThresholdBalanced(
                balanceAbsoluteThreshold: c.balanceAbsoluteThreshold,
                balanceRelativeThreshold: c.balanceRelativeThreshold, cacheThreshold: c.cacheThreshold)
        case .cacheAffinity:
            var relief = c.ttftMin
            relief.ttftSLO = nil  // relief moves a request; it never refuses one
            return CacheAffinity(
                cacheThreshold: c.cacheThreshold, overloadFactor: c.overloadFactor, overloadSlack: c.overloadSlack, relief: relief)
        case .kvCost:
            return KVCost(prefillLoadScale: c.prefillLoadScale, overlapCredit: c.overlapCredit, temperature: c.temperature, seed: c.seed)
        case .ttftMin: return c.ttftMin
        case .hotspotReplicating:
            return HotspotReplicating(
                placement: c.ttftMin, window: c.hotWindow, prefixBlocks: c.hotPrefixBlocks,
                anticipateRising: c.anticipateRising)
        }
    }
}

/// Every selector parameter, with the documented defaults.
public struct SelectorConfiguration: Sendable {
    /// Seed of randomised policies (default 0).
    public var seed: UInt64 = 0
    /// ``Weighted``'s α and β (0.6, 0.8).
    public var alpha = 0.6, beta = 0.8
    /// ``ThresholdBalanced``'s thresholds (32, 1.1, 0.5); the cache threshold is also
    /// ``CacheAffinity``'s.
    public var balanceAbsoluteThreshold = 32, balanceRelativeThreshold = 1.1, cacheThreshold = 0.5
    /// ``CacheAffinity``'s overload rule (1.5 times the mean running requests, plus 1).
    public var overloadFactor = 1.5, overloadSlack = 1.0
    /// ``KVCost``'s parameters (1, 1, 0).
    public var prefillLoadScale = 1.0, overlapCredit = 1.0, temperature = 0.0
    /// The ``TTFTMin`` used by `ttft-min`, `hotspot-replicating` and `cache-affinity`'s relief
    /// (no transfers, no SLO).
    public var ttftMin = TTFTMin()
    /// ``HotspotReplicating``'s window (60 s), prefix length (4 blocks) and anticipation (off).
    public var hotWindow = 60.0, hotPrefixBlocks = 4, anticipateRising = false

    /// The defaults.
    public init() {}
}
