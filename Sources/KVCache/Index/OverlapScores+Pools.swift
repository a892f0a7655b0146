extension OverlapScores {
    /// For a router whose nodes' own pools answer overlaps (no ``PrefixIndex``): sets node
    /// `k`'s depth to the leading blocks of `chain` that `pools[k]` holds, for every `k`, and
    /// zeroes the rest.
    ///
    /// One call for all pools: each pool is read where it lies, without the reference
    /// counting a call per pool pays.
    /// - Complexity: O(pools.count + total hits)
    @inlinable
    package mutating func setPrefixHits<Algorithm: EvictionAlgorithm>(
        of chain: UnsafeBufferPointer<BlockHash>,
        in pools: UnsafeBufferPointer<BlockPool<Algorithm>>
    ) {
        reset(nodeCount: pools.count, chainLength: chain.count)
        _setDeviceDepths(count: pools.count) { k in pools[k]._storage.prefixHits(of: chain) }
    }
}

extension AnyBlockPool {
    /// ``OverlapScores/setPrefixHits(of:in:)`` for pools of any policy.
    /// - Complexity: O(pools.count + total hits)
    package static func prefixHits(
        of chain: UnsafeBufferPointer<BlockHash>, in pools: UnsafeBufferPointer<AnyBlockPool>,
        into scores: inout OverlapScores
    ) {
        scores.reset(nodeCount: pools.count, chainLength: chain.count)
        scores._setDeviceDepths(count: pools.count) { k in pools[k].prefixHits(of: chain) }
    }
}
