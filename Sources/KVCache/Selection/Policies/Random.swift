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
        var available = 0
        for n in nodes where n.isAvailable { available += 1 }
        guard available > 0 else { return Decision(rejected: .noAvailableNode, reason: .noAvailableNode) }
        // the k-th available node, without collecting them
        var k = Int(generator.next() % UInt64(available))
        for n in nodes where n.isAvailable {
            if k == 0 { return Decision(node: n.id, reason: "uniform random pick") }
            k -= 1
        }
        preconditionFailure("unreachable: \(available) nodes were available")
    }
}
