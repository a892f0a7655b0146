/// SGLang's cache-aware router: balance when the cluster is imbalanced, else follow the cache
/// when the match is good enough, else balance.
///
/// Load is a node's running requests. If `max − min > balanceAbsoluteThreshold` and
/// `max > balanceRelativeThreshold × min`, take the least loaded node; otherwise take the best
/// match if its match fraction (matched blocks / chain blocks) exceeds `cacheThreshold`, else
/// the least loaded. Ties go to the lowest id. Defaults 32, 1.1 and 0.5, as SGLang's router.
public struct ThresholdBalanced: PrefillNodeSelector, Sendable {
    public var name: String { "threshold-balanced" }
    /// Absolute imbalance (requests) that triggers balancing (default 32).
    public var balanceAbsoluteThreshold: Int
    /// Relative imbalance that triggers balancing (default 1.1).
    public var balanceRelativeThreshold: Double
    /// Match fraction above which the cache wins (default 0.5).
    public var cacheThreshold: Double

    /// Creates the selector.
    /// - Precondition: The thresholds are numbers, not negative; an infinite one never triggers.
    public init(balanceAbsoluteThreshold: Int = 32, balanceRelativeThreshold: Double = 1.1, cacheThreshold: Double = 0.5) {
        precondition(
            balanceAbsoluteThreshold >= 0 && balanceRelativeThreshold >= 0 && cacheThreshold >= 0,
            "ThresholdBalanced: thresholds must be numbers, not negative")
        self.balanceAbsoluteThreshold = balanceAbsoluteThreshold
        self.balanceRelativeThreshold = balanceRelativeThreshold
        self.cacheThreshold = cacheThreshold
    }

    /// - Complexity: O(nodes)
    public mutating func select(_ request: RoutingRequest, nodes: [NodeState], overlaps: OverlapScores) -> Decision {
        var lo = Int.max, hi = Int.min
        for n in nodes where n.isAvailable {
            lo = min(lo, n.activeRequests)
            hi = max(hi, n.activeRequests)
        }
        guard lo <= hi else { return Decision(rejected: .noAvailableNode, reason: .noAvailableNode) }
        let leastLoaded = SelectorSupport.argmin(nodes) { Double($0.activeRequests) }!
        if hi - lo > balanceAbsoluteThreshold && Double(hi) > balanceRelativeThreshold * Double(lo) {
            return Decision(
                node: leastLoaded.id,
                reason: DecisionReason("imbalanced: least loaded", .count("fewest running", lo), .count("most running", hi)))
        }
        let best = SelectorSupport.argmin(nodes) { -overlaps.score(of: $0.id) }!
        let fraction = overlaps.score(of: best.id) / Double(max(request.chain.count, 1))
        if fraction > cacheThreshold {
            return Decision(
                node: best.id,
                reason: DecisionReason(
                    "match above threshold: best match", .number("match", fraction), .number("threshold", cacheThreshold)))
        }
        return Decision(
            node: leastLoaded.id,
            reason: DecisionReason(
                "match at most threshold: least loaded", .number("match", fraction), .number("threshold", cacheThreshold)))
    }
}
