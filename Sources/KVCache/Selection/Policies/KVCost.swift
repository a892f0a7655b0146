/// NVIDIA Dynamo's KV-router cost: `prefillLoadScale · max(prefill blocks − overlapCredit ·
/// overlap blocks, 0) + decode blocks`, lowest cost wins; overlap blocks in host memory or on
/// disk count at their tier's weight (``OverlapScores/score(of:)``).
///
/// Prefill blocks of a node = the request's prompt blocks + the node's queued prefill tokens in
/// blocks; decode blocks = the node's active decode blocks. Temperature 0 takes the lowest
/// cost (ties broken at random); temperature `T > 0` samples from the softmax of
/// `−(c − c_min) / ((c_max − c_min) · T)` (uniform when all costs are equal).
public struct KVCost: PrefillNodeSelector, Sendable {
    public var name: String { "kv-cost" }
    /// Weight of prefill work (default 1).
    public var prefillLoadScale: Double
    /// How much one cached block reduces prefill work (default 1).
    public var overlapCredit: Double
    /// Softmax temperature (default 0: deterministic lowest cost).
    public var temperature: Double
    /// The generator for tie-breaks and sampling.
    public var generator: SeededGenerator

    /// Creates the selector.
    public init(prefillLoadScale: Double = 1, overlapCredit: Double = 1, temperature: Double = 0, seed: UInt64 = 0) {
        self.prefillLoadScale = prefillLoadScale
        self.overlapCredit = overlapCredit
        self.temperature = temperature
        generator = SeededGenerator(seed: seed)
    }

    /// The cost of placing `request` on `node`, which holds `overlap` of its leading blocks
    /// (weighted by tier, as ``OverlapScores/score(of:)``).
    public func cost(_ request: RoutingRequest, _ node: NodeState, overlap: Double) -> Double {
        let queuedBlocks = Double(node.queuedPrefillTokens) / Double(request.blockSize)
        let prefill = Double(request.promptBlocks) + queuedBlocks
        return prefillLoadScale * max(prefill - overlapCredit * overlap, 0) + Double(node.activeDecodeBlocks)
    }

    /// - Complexity: O(nodes)
    public mutating func select(_ request: RoutingRequest, nodes: [NodeState], overlaps: OverlapScores) -> Decision {
        let available = nodes.filter(\.isAvailable)
        guard !available.isEmpty else { return Decision(rejected: .noAvailableNode, reason: .noAvailableNode) }
        let costs = available.map { cost(request, $0, overlap: overlaps.score(of: $0.id)) }
        let cmin = costs.min()!, cmax = costs.max()!
        if temperature <= 0 || cmax - cmin <= SelectorSupport.tieTolerance {
            let ties = available.indices.filter { costs[$0] - cmin <= SelectorSupport.tieTolerance }
            let i = ties[Int(generator.next() % UInt64(ties.count))]
            return Decision(
                node: available[i].id,
                reason: ties.count > 1
                    ? DecisionReason("lowest cost, random among ties", .number("cost", costs[i]), .count("ties", ties.count))
                    : DecisionReason("lowest cost", .number("cost", costs[i])))
        }
        let logits = costs.map { -($0 - cmin) / ((cmax - cmin) * temperature) }
        let top = logits.max()!
        let weights = logits.map { _exp($0 - top) }
        let total = weights.reduce(0, +)
        var u = Double(generator.next() >> 11) / Double(1 << 53) * total
        for (i, w) in weights.enumerated() {
            u -= w
            if u < 0 || i == weights.count - 1 {
                return Decision(
                    node: available[i].id,
                    reason: DecisionReason("softmax sample", .number("temperature", temperature), .number("cost", costs[i])))
            }
        }
        return Decision(node: available[0].id, reason: "softmax fallback")
    }
}
