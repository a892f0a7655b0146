/// Mooncake's Conductor (Algorithm 1 of the FAST'25 paper): place the request where the
/// estimated time to first token is lowest, fetching a longer cached prefix from another node
/// when that pays off, and reject what cannot meet the SLO.
///
/// For each available node: `TTFT = queue delay + prefill(uncached tokens)`; when transfers
/// are enabled and the best match anywhere (`D` blocks) is longer than the node's own (`d`)
/// with `D ≥ kvcacheBalancingThreshold · d`, also `TTFT' = queue delay + transfer(D − d
/// blocks) + prefill(tokens after D blocks)`, keeping the smaller. The node with the lowest
/// TTFT wins (ties within 1 ns to the lowest id); a chosen transfer copies blocks `d..<D` to it.
/// With `ttftSLO` set, a best TTFT above it rejects the request. With
/// `onboardSecondsPerBlock` set, leading blocks held only in a node's lower tiers cost their
/// onboarding or their prefill, whichever is less.
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
    /// Seconds to bring one cached block up from a lower tier (host, disk) to the device
    /// (default 0: lower-tier blocks cost nothing). A node's leading blocks past those on its
    /// device are then either onboarded at this rate or prefilled again, whichever is faster.
    public var onboardSecondsPerBlock: Double

    /// Creates the selector.
    public init(
        prefillModel: any PrefillTimeModel = LinearPrefillModel(), transfer: KVTransferModel? = nil,
        kvcacheBalancingThreshold: Double = 1, ttftSLO: Double? = nil, onboardSecondsPerBlock: Double = 0
    ) {
        self.prefillModel = prefillModel
        self.transfer = transfer
        self.kvcacheBalancingThreshold = kvcacheBalancingThreshold
        self.ttftSLO = ttftSLO
        self.onboardSecondsPerBlock = onboardSecondsPerBlock
    }

    /// Seconds to serve a prompt's prefill on a node holding its first `depth` blocks, the
    /// first `deviceDepth` of them on the device: the lower tiers' part onboarded or
    /// recomputed, whichever is faster.
    public func serviceTime(_ request: RoutingRequest, depth: Int, deviceDepth: Int) -> Double {
        serviceTime(request, depth: depth, deviceDepth: deviceDepth, model: prefillModel)
    }

    /// ``serviceTime(_:depth:deviceDepth:)`` with `model` as the node's prefill speed.
    func serviceTime(_ request: RoutingRequest, depth: Int, deviceDepth: Int, model: any PrefillTimeModel) -> Double {
        func prefill(_ blocks: Int) -> Double {
            model.prefillTime(inputTokens: request.inputTokens, cachedBlocks: blocks, blockSize: request.blockSize)
        }
        let withLowerTiers = prefill(depth) + onboardSecondsPerBlock * Double(max(depth - deviceDepth, 0))
        return deviceDepth < depth ? min(withLowerTiers, prefill(deviceDepth)) : withLowerTiers
    }

    /// The estimate for one node: TTFT and the transfer it would use. `deviceDepth` is the
    /// part of `depth` on the node's device (default: all of it).
    public func estimate(
        _ request: RoutingRequest, _ node: NodeState, depth: Int, deviceDepth: Int? = nil, best: (node: NodeID, depth: Int)?
    ) -> (ttft: Double, transfer: KVTransfer?) {
        let model: any PrefillTimeModel = node.prefillModel ?? prefillModel
        var ttft = node.queueDelay + serviceTime(request, depth: depth, deviceDepth: deviceDepth ?? depth, model: model)
        var plan: KVTransfer?
        if let transfer, let best, best.depth > depth, best.node != node.id,
            Double(best.depth) >= kvcacheBalancingThreshold * Double(depth)
        {
            let seconds = transfer.transferTime(blocks: best.depth - depth)
            let viaTransfer =
                node.queueDelay + seconds
                + model.prefillTime(inputTokens: request.inputTokens, cachedBlocks: best.depth, blockSize: request.blockSize)
            if viaTransfer < ttft - SelectorSupport.tieTolerance {
                ttft = viaTransfer
                plan = KVTransfer(source: best.node, blocks: depth..<best.depth, estimatedSeconds: seconds)
            }
        }
        return (ttft, plan)
    }

    /// - Complexity: O(nodes)
    public mutating func select(_ request: RoutingRequest, nodes: [NodeState], overlaps: OverlapScores) -> Decision {
        // the deepest holder matters only to a transfer
        var best: (node: NodeID, depth: Int)?
        if transfer != nil {
            for n in nodes where n.isAvailable {
                let d = overlaps.depth(of: n.id)
                if best == nil || d > best!.depth { best = (n.id, d) }
            }
        }
        // the estimates of `estimate(_:_:depth:deviceDepth:best:)`
        var chosen = -1, chosenTTFT = 0.0
        var chosenTransfer: KVTransfer?
        if transfer == nil && onboardSecondsPerBlock == 0 {
            (chosen, chosenTTFT) = _lowestWithoutTransfer(request, nodes, overlaps)
        } else {
            for i in nodes.indices where nodes[i].isAvailable {
                let id = nodes[i].id
                let (ttft, plan) = estimate(
                    request, nodes[i], depth: overlaps.depth(of: id), deviceDepth: overlaps.depth(of: id, tier: .device), best: best)
                if chosen < 0 || ttft < chosenTTFT - SelectorSupport.tieTolerance
                    || (abs(ttft - chosenTTFT) <= SelectorSupport.tieTolerance && id < nodes[chosen].id)
                {
                    (chosen, chosenTTFT, chosenTransfer) = (i, ttft, plan)
                }
            }
        }
        guard chosen >= 0 else { return Decision(rejected: .noAvailableNode, reason: .noAvailableNode) }
        let node = nodes[chosen]
        if let slo = ttftSLO, chosenTTFT > slo {
            return Decision(
                rejected: .sloExceeded(estimatedTTFT: chosenTTFT, slo: slo),
                reason: DecisionReason("best estimate above the SLO", .seconds("estimated TTFT", chosenTTFT), .node("on", node.id)),
                estimatedTTFT: chosenTTFT)
        }
        let reason =
            chosenTransfer == nil
            ? DecisionReason("lowest estimated TTFT", .seconds("estimated TTFT", chosenTTFT), .seconds("queue delay", node.queueDelay))
            : DecisionReason("lowest estimated TTFT with a KV transfer", .seconds("estimated TTFT", chosenTTFT))
        return Decision(node: node.id, reason: reason, estimatedTTFT: chosenTTFT, transfer: chosenTransfer)
    }

    /// The node of lowest `queue delay + prefill(uncached tokens)` and its TTFT (-1 when no
    /// node is available): the loop of every route, so it reads the arrays in place and calls
    /// the prefill model once per distinct depth in a row, not once per node.
    @inline(__always)
    func _lowestWithoutTransfer(_ request: RoutingRequest, _ nodes: [NodeState], _ overlaps: OverlapScores) -> (Int, Double) {
        var chosen = -1, chosenTTFT = 0.0, chosenID = 0
        var lastDepth = -1, lastPrefill = 0.0
        let tolerance = SelectorSupport.tieTolerance
        nodes.withUnsafeBufferPointer { ns in
            overlaps.depths.withUnsafeBufferPointer { depths in
                let known = min(overlaps.nodeCount, depths.count)
                for i in ns.indices where ns[i].isAvailable {
                    let id = ns[i].id
                    let depth = id >= 0 && id < known ? Int(depths[id]) : 0
                    let prefill: Double
                    if let own = ns[i].prefillModel {
                        prefill = own.prefillTime(inputTokens: request.inputTokens, cachedBlocks: depth, blockSize: request.blockSize)
                    } else {
                        if depth != lastDepth {
                            lastPrefill = prefillModel.prefillTime(
                                inputTokens: request.inputTokens, cachedBlocks: depth, blockSize: request.blockSize)
                            lastDepth = depth
                        }
                        prefill = lastPrefill
                    }
                    let ttft = ns[i].queueDelay + prefill
                    if chosen < 0 || ttft < chosenTTFT - tolerance || (ttft <= chosenTTFT + tolerance && id < chosenID) {
                        (chosen, chosenTTFT, chosenID) = (i, ttft, id)
                    }
                }
            }
        }
        return (chosen, chosenTTFT)
    }
}
