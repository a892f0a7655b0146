import KVCache

extension ClusterSimulator._Simulation {
    /// Serves request `i` on a prefill/decode split (see ``ClusterConfiguration/Disaggregation``):
    /// the selector picks a decode node among the decode nodes; a short uncached suffix there
    /// is prefilled in place, any other prompt on the prefill node the selector picks among
    /// the prefill nodes, whose blocks the decode node lacks then travel to it.
    mutating func serveDisaggregated(
        _ i: Int, _ chain: UnsafeBufferPointer<BlockHash>, _ pd: ClusterConfiguration.Disaggregation,
        selector: inout ClusterSimulator._AnySelector
    ) throws {
        let (rec, t, request) = try arrive(i, chain)
        let decodeNodes = pd.prefillNodes..<c.nodes
        offer(decodeNodes)
        let decoding = ClusterSimulator._select(&selector, request, &states, &scores)
        guard let d = decoding.node, decodeNodes.contains(d) else {
            offer(0..<c.nodes)
            result.rejected += 1
            return
        }
        let held = c.cachingDisabled ? 0 : scores.depth(of: d)
        if rec.inputLength - min(held * blockSize, rec.inputLength) < pd.thresholdTokens {
            offer(0..<c.nodes)
            result.localPrefills += 1
            try dispatch(i, chain, rec, node: d, at: t, decision: decoding)
            return
        }
        offer(0..<pd.prefillNodes)
        let prefilling = ClusterSimulator._select(&selector, request, &states, &scores)
        offer(0..<c.nodes)
        guard let p = prefilling.node, p >= 0, p < pd.prefillNodes else {
            result.rejected += 1
            return
        }
        // The decode node asks for the blocks it does not hold.
        let moved = c.cachingDisabled ? chain.count : chain.count - held
        let transfer = try SimulatedClock.micros(pd.transfer.transferTime(blocks: moved), request: i + 1)
        result.transfers += 1
        result.transferredBlocks += moved
        try dispatch(i, chain, rec, node: p, at: t, decision: prefilling, decodeNode: d, transfer: transfer)
        if !c.cachingDisabled {
            _ = try world.devices[d].lookupAndUpdate(chain, nextUses: nil)
            states[d].usedBlocks = world.devices[d].count
        }
    }

    /// Lets the selector choose among `nodes` only.
    mutating func offer(_ nodes: Range<Int>) {
        for k in states.indices { states[k].isAvailable = nodes.contains(k) }
    }
}
