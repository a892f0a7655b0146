/// Two distinct available nodes at random; the less loaded one wins (ties to the lower id).
///
/// Mitzenmacher, "The Power of Two Choices in Randomized Load Balancing" (2001).
public struct PowerOfTwoChoices: PrefillNodeSelector, Sendable {
    public var name: String { "power-of-two" }
    /// The generator.
    public var generator: SeededGenerator

    /// Creates the selector.
    /// - Parameter seed: The generator's seed (default 0).
    public init(seed: UInt64 = 0) { generator = SeededGenerator(seed: seed) }

    /// - Complexity: O(nodes)
    public mutating func select(_ request: RoutingRequest, nodes: [NodeState], overlaps: OverlapScores) -> Decision {
        let count = SelectorSupport.availableCount(nodes)
        guard count > 0 else { return Decision(rejected: .noAvailableNode, reason: .noAvailableNode) }
        func available(_ rank: Int) -> NodeState { SelectorSupport.available(nodes, rank: rank) }
        guard count > 1 else { return Decision(node: available(0).id, reason: "only node available") }
        let i = Int(generator.next() % UInt64(count))
        var j = Int(generator.next() % UInt64(count - 1))
        if j >= i { j += 1 }
        let (a, b) = (available(i), available(j))
        let pick = a.queueDelay < b.queueDelay || (a.queueDelay == b.queueDelay && a.id < b.id) ? a : b
        return Decision(node: pick.id, reason: DecisionReason("less loaded of two", .node("sampled", a.id), .node("and", b.id)))
    }
}
