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
        // one pass for the costs (NaN marks a node that is not available), then one to choose:
        // no array is made per request
        withUnsafeTemporaryAllocation(of: Double.self, capacity: nodes.count) { costs in
            var cmin = Double.infinity, cmax = -Double.infinity
            var first = -1, last = -1
            for k in nodes.indices {
                guard nodes[k].isAvailable else {
                    costs[k] = .nan
                    continue
                }
                let c = cost(request, nodes[k], overlap: overlaps.score(of: nodes[k].id))
                costs[k] = c
                cmin = min(cmin, c)
                cmax = max(cmax, c)
                if first < 0 { first = k }
                last = k
            }
            guard last >= 0 else { return Decision(rejected: .noAvailableNode, reason: .noAvailableNode) }
            if temperature <= 0 || cmax - cmin <= SelectorSupport.tieTolerance {
                var ties = 0
                for k in nodes.indices where costs[k] - cmin <= SelectorSupport.tieTolerance { ties += 1 }
                var pick = Int(generator.next() % UInt64(ties))
                for k in nodes.indices where costs[k] - cmin <= SelectorSupport.tieTolerance {
                    if pick == 0 {
                        return Decision(
                            node: nodes[k].id,
                            reason: ties > 1
                                ? DecisionReason("lowest cost, random among ties", .number("cost", costs[k]), .count("ties", ties))
                                : DecisionReason("lowest cost", .number("cost", costs[k])))
                    }
                    pick -= 1
                }
            }
            // softmax of -(c - cmin) / ((cmax - cmin) T); its largest logit is 0, at cmin
            let scale = (cmax - cmin) * temperature
            func weight(_ c: Double) -> Double { _exp(-(c - cmin) / scale) }
            var total = 0.0
            for k in nodes.indices where !costs[k].isNaN { total += weight(costs[k]) }
            var u = Double(generator.next() >> 11) / Double(1 << 53) * total
            for k in nodes.indices where !costs[k].isNaN {
                u -= weight(costs[k])
                if u < 0 || k == last {
                    return Decision(
                        node: nodes[k].id,
                        reason: DecisionReason("softmax sample", .number("temperature", temperature), .number("cost", costs[k])))
                }
            }
            return Decision(node: nodes[first].id, reason: "softmax fallback")
        }
    }
}
