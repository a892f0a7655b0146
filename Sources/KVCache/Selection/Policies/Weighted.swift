/// The "Enhanced" policy: maximise `α · (prefix hit fraction) − β · (normalised load)`.
///
/// Hit fraction = matched blocks / chain blocks; normalised load = queue delay / the largest
/// queue delay among available nodes (0 when every queue is empty). Ties to the lowest id.
public struct Weighted: PrefillNodeSelector, Sendable {
    public var name: String { "weighted" }
    /// Weight of the prefix hit fraction (default 0.6).
    public var alpha: Double
    /// Weight of the normalised load (default 0.8).
    public var beta: Double

    /// Creates the selector.
    public init(alpha: Double = 0.6, beta: Double = 0.8) {
        self.alpha = alpha
        self.beta = beta
    }

    /// - Complexity: O(nodes)
    public mutating func select(_ request: RoutingRequest, nodes: [NodeState], overlaps: OverlapScores) -> Decision {
        let maxLoad = nodes.lazy.filter(\.isAvailable).map(\.queueDelay).max() ?? 0
        let blocks = Double(max(request.chain.count, 1))
        var score = 0.0
        let pick = SelectorSupport.argmin(nodes) { n in
            let hit = overlaps.score(of: n.id) / blocks
            let load = maxLoad > 0 ? n.queueDelay / maxLoad : 0
            return -(alpha * hit - beta * load)
        }
        guard let pick else { return Decision(rejected: .noAvailableNode, reason: .noAvailableNode) }
        let hit = overlaps.score(of: pick.id) / blocks
        score = alpha * hit - beta * (maxLoad > 0 ? pick.queueDelay / maxLoad : 0)
        return Decision(
            node: pick.id,
            reason: DecisionReason(
                "best weighted score", .number("score", score), .number("hit ratio", hit), .number("alpha", alpha), .number("beta", beta)))
    }
}
