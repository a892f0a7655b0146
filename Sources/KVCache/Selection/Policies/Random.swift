/// Uniformly random among available nodes, from a seeded generator (reproducible).
public struct Random: PrefillNodeSelector, Sendable {
    public var name: String { "random" }
    /// The generator.
    public var generator: SeededGenerator

    /// Creates a random selector.
    /// - Parameter seed: The generator's seed (default 0).
    public init(seed: UInt64 = 0) { generator = SeededGenerator(seed: seed) }

    /// - Complexity: O(nodes)
    public mutating func select(_ request: RoutingRequest, nodes: [NodeState], overlaps: OverlapScores) -> Decision {
        let available = nodes.filter(\.isAvailable)
        guard !available.isEmpty else { return Decision(rejected: .noAvailableNode, because: DecisionReason(.noNode)) }
        let pick = available[Int(generator.next() % UInt64(available.count))]
        return Decision(node: pick.id, because: DecisionReason(.random))
    }
}
