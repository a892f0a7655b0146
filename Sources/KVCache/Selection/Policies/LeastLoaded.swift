/// The node with the least queued prefill work (queue delay); ties to the lowest node id.
public struct LeastLoaded: PrefillNodeSelector, Sendable {
    public var name: String { "least-loaded" }

    /// Creates a least-loaded selector.
    public init() {}

    /// - Complexity: O(nodes)
    public mutating func select(_ request: RoutingRequest, nodes: [NodeState], overlaps: OverlapScores) -> Decision {
        guard let n = SelectorSupport.leastLoaded(nodes) else { return Decision(rejected: .noAvailableNode, reason: .noAvailableNode) }
        return Decision(node: n.id, reason: DecisionReason("least loaded", .seconds("queue delay", n.queueDelay)))
    }
}
