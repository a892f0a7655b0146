/// The i-th request goes to node `i mod N` (skipping unavailable nodes).
public struct RoundRobin: PrefillNodeSelector, Sendable {
    public var name: String { "round-robin" }
    /// Requests placed so far.
    public var counter: Int = 0

    /// Creates a round-robin selector.
    public init() {}

    /// - Complexity: O(nodes) worst case (when nodes are unavailable)
    public mutating func select(_ request: RoutingRequest, nodes: [NodeState], overlaps: OverlapScores) -> Decision {
        guard !nodes.isEmpty else { return Decision(rejected: .noAvailableNode, reason: .noAvailableNode) }
        for step in 0..<nodes.count {
            let n = nodes[(counter + step) % nodes.count]
            if n.isAvailable {
                counter += step + 1
                return Decision(node: n.id, reason: DecisionReason("round-robin", .count("turn", counter - 1)))
            }
        }
        return Decision(rejected: .noAvailableNode, reason: .noAvailableNode)
    }
}
