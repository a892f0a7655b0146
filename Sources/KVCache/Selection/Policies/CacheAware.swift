/// Longest prefix match (by ``OverlapScores/score(of:)``: lower-tier blocks count at their
/// tier's weight); ties to the least loaded, then the lowest node id.
///
/// Pure cache affinity with no load guard: on a workload whose requests share a system
/// prompt it sends everything to one node (see the reference README's "expected oddities").
public struct CacheAware: PrefillNodeSelector, Sendable {
    public var name: String { "cache-aware" }

    /// Creates a cache-aware selector.
    public init() {}

    /// - Complexity: O(nodes)
    public mutating func select(_ request: RoutingRequest, nodes: [NodeState], overlaps: OverlapScores) -> Decision {
        var best: NodeState?
        var bestScore = -1.0
        for n in nodes where n.isAvailable {
            let d = overlaps.score(of: n.id)
            if let b = best {
                if d > bestScore || (d == bestScore && (n.queueDelay < b.queueDelay || (n.queueDelay == b.queueDelay && n.id < b.id))) {
                    best = n
                    bestScore = d
                }
            } else {
                best = n
                bestScore = d
            }
        }
        guard let best else { return Decision(rejected: .noAvailableNode, reason: .noAvailableNode) }
        return Decision(
            node: best.id,
            reason: DecisionReason(
                "longest prefix match", .blocks("matched", overlaps.depth(of: best.id)), .blocks("of", request.chain.count))
        )
    }
}
