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

    /// The least loaded available node: least queue delay, ties to the lowest id.
    @inlinable
    public static func leastLoaded(_ nodes: [NodeState]) -> NodeState? { argmin(nodes) { $0.queueDelay } }
}
