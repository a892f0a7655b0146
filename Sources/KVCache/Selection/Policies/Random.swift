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
        guard let pick = SelectorSupport.randomAvailable(nodes, using: &generator) else {
            return Decision(rejected: .noAvailableNode, reason: .noAvailableNode)
        }
        return Decision(node: pick.id, reason: "uniform random pick")
    }
}
