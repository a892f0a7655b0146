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

    /// The number of available nodes.
    /// - Complexity: O(nodes)
    @inlinable
    public static func availableCount(_ nodes: [NodeState]) -> Int {
        var count = 0
        for n in nodes where n.isAvailable { count += 1 }
        return count
    }

    /// The available node of rank `rank` in `nodes`' order (0 for the first), found without
    /// collecting the available nodes.
    /// - Precondition: `rank < availableCount(nodes)`.
    /// - Complexity: O(nodes)
    @inlinable
    public static func available(_ nodes: [NodeState], rank: Int) -> NodeState {
        var left = rank
        for n in nodes where n.isAvailable {
            if left == 0 { return n }
            left -= 1
        }
        preconditionFailure("rank \(rank) is beyond the available nodes")
    }

    /// An available node drawn uniformly with `generator`; `nil` when none is available.
    /// - Complexity: O(nodes)
    @inlinable
    public static func randomAvailable(_ nodes: [NodeState], using generator: inout SeededGenerator) -> NodeState? {
        let count = availableCount(nodes)
        return count == 0 ? nil : available(nodes, rank: Int(generator.next() % UInt64(count)))
    }

    /// The least loaded available node: least queue delay, ties to the lowest id.
    @inlinable
    public static func leastLoaded(_ nodes: [NodeState]) -> NodeState? { argmin(nodes) { $0.queueDelay } }
}
