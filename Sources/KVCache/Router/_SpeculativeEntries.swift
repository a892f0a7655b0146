/// Route-time entries for nodes that publish KV events (``KVRouter/Configuration/speculativeTTL``):
/// a chain just routed to a node counts as held there until the TTL passes, covering the time
/// until the node's own events report it.
///
/// Each (block, node) pair keeps its latest record time in one flat table, and records queue
/// oldest first so that expiry removes them in order. An overlap walks the chain per node in
/// that table: the entries are always whole chains from their first block, so a node's depth is
/// the leading run of the chain's blocks it has a live entry for. Nothing else is kept; a prefix
/// tree over the same entries (a ``PrefixIndex`` in approximate mode) answers the same and pays
/// a tree insertion and removal per block on every route.
struct _SpeculativeEntries: Sendable {
    private var state: _ApproximateState
    /// One past the highest node recorded.
    private(set) var nodeLimit = 0

    /// Entries that count for `ttl` seconds; past `maxBlocks` pairs the least recently
    /// recorded are pruned.
    init(ttl: Double, maxBlocks: Int = 1 << 20) {
        state = _ApproximateState(mode: ApproximateMode(ttl: ttl, maxBlocks: maxBlocks))
    }

    /// Live (block, node) pairs.
    var count: Int { state.count }

    /// Records that `chain` was routed to `node` at `now` (seconds, monotonic).
    /// - Complexity: O(`chain.count`) amortized.
    mutating func record(_ chain: ArraySlice<BlockHash>, to node: NodeID, at now: Double) {
        guard node >= 0 && node <= Int(Int32.max) else { return }
        expire(now: now)
        nodeLimit = max(nodeLimit, node + 1)
        let n = Int32(node)
        for block in chain {
            _ = state.latest.record(block.rawValue, node: n, at: now)
            state.records.append(.init(time: now, hash: block.rawValue, node: n))
        }
        if state.count > state.mode.maxBlocks {
            let target = Int(Double(state.mode.maxBlocks) * state.mode.pruneTarget)
            while state.count > target, let r = state.popOldest() {
                _ = state.latest.remove(r.hash, node: r.node, ifRecordedAt: r.time)
            }
        }
    }

    /// Drops the records older than the TTL at `now`.
    /// - Complexity: O(expired records)
    mutating func expire(now: Double) {
        let ttl = state.mode.ttl
        while let r = state.oldest, r.time + ttl <= now {
            _ = state.popOldest()
            _ = state.latest.remove(r.hash, node: r.node, ifRecordedAt: r.time)
        }
    }

    /// Forgets every entry of `node` (its cache was emptied, or it left).
    /// - Complexity: O(table buckets)
    mutating func forget(node: NodeID) {
        guard node >= 0 && node <= Int(Int32.max) else { return }
        state.forget(node: node)
    }

    /// Raises each node's depth in `scores` to the leading blocks of `chain` it has live entries
    /// for (as held on the device tier), growing `scores` to every node recorded. Call
    /// ``expire(now:)`` first.
    /// - Complexity: O(nodes + matched blocks) probes.
    func merge(_ chain: [BlockHash], into scores: inout OverlapScores) {
        guard state.count > 0, !chain.isEmpty else { return }
        if nodeLimit > scores.nodeCount { scores._grow(to: nodeLimit) }
        let device = StorageTier.device.rawValue
        chain.withUnsafeBufferPointer { c in
            for k in 0..<nodeLimit {
                let n = Int32(k)
                var depth = 0
                while depth < c.count && state.latest.time(of: c[depth].rawValue, node: n) != nil { depth += 1 }
                guard depth > scores.depth(of: k) else { continue }
                scores._set(k, Int32(depth))
                if depth > scores.depth(of: k, tier: .device) { scores._set(k, tier: device, Int32(depth)) }
                if scores._hasLowerTierLeads { scores._clearLowerTierLeads(of: k) }
            }
        }
    }
}
