/// A routing policy: chooses the prefill node for a request from the cluster's state and the
/// prefix overlaps the index reports.
///
/// Selectors are value types (or final classes) whose only state is their own (a seeded random
/// generator, counters, access statistics), so a run is reproducible. They never see the
/// index or pools directly: data flows tokens → hashes → index → overlaps → selector.
public protocol PrefillNodeSelector {
    /// A short name for reports (`cache-aware`, `ttft-min`, ...).
    var name: String { get }

    /// Chooses a node for `request`.
    ///
    /// - Parameters:
    ///   - request: The request.
    ///   - nodes: Every node of the cluster, available or not.
    ///   - overlaps: Leading blocks of `request.chain` each node holds (indexed by node id).
    /// - Returns: A node among the available ones, or a rejection (only selectors with an SLO
    ///   reject).
    mutating func select(_ request: RoutingRequest, nodes: [NodeState], overlaps: OverlapScores) -> Decision
}

/// SplitMix64: a small, fast, seedable generator so that every selector's randomness is
/// reproducible from its seed.
public struct SeededGenerator: RandomNumberGenerator, Sendable, Hashable {
    /// The current state.
    public private(set) var state: UInt64

    /// Creates a generator from `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Helpers shared by the policies.
public enum SelectorSupport {
    /// Two costs closer than this (seconds, or the unit of the cost) are a tie. Costs built
    /// from whole microseconds that are equal stay equal however their sums round.
    public static let tieTolerance = 1e-9

    /// The available node minimising `key`, ties to the lowest node id; `nil` when none is
    /// available.
    /// - Complexity: O(nodes)
    @inlinable
    public static func argmin(_ nodes: [NodeState], by key: (NodeState) -> Double) -> NodeState? {
        var best: NodeState?
        var bestKey = Double.infinity
        for n in nodes where n.isAvailable {
            let k = key(n)
            if best == nil || k < bestKey - tieTolerance || (abs(k - bestKey) <= tieTolerance && n.id < best!.id) {
                best = n
                bestKey = k
            }
        }
        return best
    }

    /// The least loaded available node: least queue delay, ties to the lowest id.
    @inlinable
    public static func leastLoaded(_ nodes: [NodeState]) -> NodeState? { argmin(nodes) { $0.queueDelay } }
}
