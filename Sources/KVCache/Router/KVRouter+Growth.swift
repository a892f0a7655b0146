extension KVRouter {
    /// Grows the index's block table and the engines' identity tables, before a batch of
    /// events is applied, to sizes that hold what the batch stores, with their new buckets
    /// allocated outside the lock.
    ///
    /// A table grows into twice its buckets, and the kernel zeroes every page of them as they
    /// are first touched: for an index of millions of blocks that is most of a growth's time,
    /// and under the lock every route would wait for it. Here only the rehash runs under the
    /// lock. The sizes are those the tables would grow to while applying the batch, so growth
    /// comes no sooner than it would have.
    ///
    /// - Parameters:
    ///   - stores: Blocks stored per node: engine hashes the identity tables map.
    ///   - entries: Index entries the batch may add: its stored blocks and one parent per run.
    /// - Complexity: O(nodes in `stores`) when nothing grows; else O(buckets of the grown tables).
    func _makeRoom(stores: [NodeID: Int], entries: Int) {
        guard entries > 0 else { return }
        let (index, identity) = state.withLock { s in
            (s.index._tableBucketsNeeded(adding: entries), s.identity._bucketsNeeded(storing: stores))
        }
        guard index != nil || !identity.isEmpty else { return }
        // Moved into the tables, never copied: a second reference to the buckets would make
        // the table's first write copy them all, under the lock.
        var freshIndex = index.map { _BlockTable.vacant(buckets: $0) }
        var freshIdentity = identity.mapValues { _EngineHashTable.vacant(buckets: $0) }
        state.withLock { s in
            if let fresh = freshIndex.take() { s.index._growTable(into: consume fresh) }
            var moved: [NodeID: [_EngineHashTable._Entry]] = [:]
            swap(&moved, &freshIdentity)
            s.identity._growTables(into: consume moved)
        }
    }

    /// What `events` store: blocks per node, and index entries they may add.
    static func _stores(of events: [EngineEvent]) -> (perNode: [NodeID: Int], entries: Int) {
        var perNode: [NodeID: Int] = [:]
        var entries = 0
        for e in events {
            guard case .stored(let run) = e.kind else { continue }
            perNode[e.node, default: 0] += run.blocks.count
            entries += run.blocks.count + 1
        }
        return (perNode, entries)
    }

    /// Index entries `events` may add: their stored blocks and one parent per run.
    static func _entries(storedBy events: [KVEvent]) -> Int {
        events.reduce(0) { n, e in
            guard case .stored(_, let blocks, _) = e.kind else { return n }
            return n + blocks.count + 1
        }
    }
}
