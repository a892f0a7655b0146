/// Mooncake's Conductor (Algorithm 1 of the FAST'25 paper): place the request where the
/// estimated time to first token is lowest, fetching a longer cached prefix from another node
/// when that pays off, and reject what cannot meet the SLO.
///
/// For each available node: `TTFT = queue delay + prefill(uncached tokens)`; when transfers
/// are enabled and the best match anywhere (`D` blocks) is longer than the node's own (`d`)
/// with `D ≥ kvcacheBalancingThreshold · d`, also `TTFT' = queue delay + transfer(D − d
/// blocks) + prefill(tokens after D blocks)`, keeping the smaller. The node with the lowest
/// TTFT wins (ties within 1 ns to the lowest id); a chosen transfer copies blocks `d..<D` to it.
/// With `ttftSLO` set, a best TTFT above it rejects the request.
public struct TTFTMin: PrefillNodeSelector, Sendable {
    public var name: String { "ttft-min" }
    /// The prefill-time estimate (default: 10 ms + 50 µs per uncached token).
    public var prefillModel: any PrefillTimeModel
    /// The KV transfer model; `nil` disables transfers (default).
    public var transfer: KVTransferModel?
    /// Consider a transfer when the best match is at least this many times the local one
    /// (default 1: any longer match is considered, and taken only if it lowers TTFT).
    public var kvcacheBalancingThreshold: Double
    /// Reject requests whose best estimated TTFT exceeds this many seconds (`nil`: never).
    public var ttftSLO: Double?

    /// Creates the selector.
    public init(prefillModel: any PrefillTimeModel = LinearPrefillModel(), transfer: KVTransferModel? = nil,
                kvcacheBalancingThreshold: Double = 1, ttftSLO: Double? = nil) {
        self.prefillModel = prefillModel
        self.transfer = transfer
        self.kvcacheBalancingThreshold = kvcacheBalancingThreshold
        self.ttftSLO = ttftSLO
    }

    /// The estimate for one node: TTFT and the transfer it would use.
    public func estimate(_ request: RoutingRequest, _ node: NodeState, depth: Int, best: (node: NodeID, depth: Int)?) -> (ttft: Double, transfer: KVTransfer?) {
        let cached = min(depth * request.blockSize, request.inputTokens)
        var ttft = node.queueDelay + prefillModel.prefillTime(uncachedTokens: request.inputTokens - cached, cachedTokens: cached)
        var plan: KVTransfer?
        if let transfer, let best, best.depth > depth, best.node != node.id,
           Double(best.depth) >= kvcacheBalancingThreshold * Double(depth) {
            let seconds = transfer.transferTime(blocks: best.depth - depth)
            let remoteCached = min(best.depth * request.blockSize, request.inputTokens)
            let viaTransfer = node.queueDelay + seconds
                + prefillModel.prefillTime(uncachedTokens: request.inputTokens - remoteCached, cachedTokens: remoteCached)
            if viaTransfer < ttft - SelectorSupport.tieTolerance {
                ttft = viaTransfer
                plan = KVTransfer(source: best.node, blocks: depth ..< best.depth, estimatedSeconds: seconds)
            }
        }
        return (ttft, plan)
    }

    /// - Complexity: O(nodes)
    public mutating func select(_ request: RoutingRequest, nodes: [NodeState], overlaps: OverlapScores) -> Decision {
        var best: (node: NodeID, depth: Int)?
        for n in nodes where n.isAvailable {
            let d = overlaps.depth(of: n.id)
            if best == nil || d > best!.depth { best = (n.id, d) }
        }
        var chosen: (node: NodeState, ttft: Double, transfer: KVTransfer?)?
        for n in nodes where n.isAvailable {
            let e = estimate(request, n, depth: overlaps.depth(of: n.id), best: best)
            if let c = chosen {
                if e.ttft < c.ttft - SelectorSupport.tieTolerance || (abs(e.ttft - c.ttft) <= SelectorSupport.tieTolerance && n.id < c.node.id) {
                    chosen = (n, e.ttft, e.transfer)
                }
            } else {
                chosen = (n, e.ttft, e.transfer)
            }
        }
        guard let chosen else { return Decision(rejected: .noAvailableNode, because: DecisionReason(.noNode)) }
        if let slo = ttftSLO, chosen.ttft > slo {
            return Decision(rejected: .sloExceeded(estimatedTTFT: chosen.ttft, slo: slo),
                            because: DecisionReason(.sloRejected, chosen.ttft, Double(chosen.node.id)), estimatedTTFT: chosen.ttft)
        }
        let reason = chosen.transfer == nil
            ? DecisionReason(.ttft, chosen.ttft, chosen.node.queueDelay)
            : DecisionReason(.ttftTransfer, chosen.ttft)
        return Decision(node: chosen.node.id, because: reason, estimatedTTFT: chosen.ttft, transfer: chosen.transfer)
    }
}
