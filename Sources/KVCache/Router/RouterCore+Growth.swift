extension RouterCore {
    /// The buckets the core's tables need to take more work without growing under a lock:
    /// asked for, allocated by the caller outside the lock, and handed to ``_grow(_:)``.
    struct _Growth: Sendable {
        var index: Int?
        var identity: [NodeID: Int] = [:]
        var isEmpty: Bool { index == nil && identity.isEmpty }
    }

    /// Empty buckets for a ``_Growth``, allocated (and faulted in) outside the lock.
    struct _GrowthBuffers {
        var index: [_BlockTable.Entry]?
        var identity: [NodeID: [_EngineHashTable._Entry]]

        init(_ g: _Growth) {
            index = g.index.map { _BlockTable.vacant(buckets: $0) }
            identity = g.identity.mapValues { _EngineHashTable.vacant(buckets: $0) }
        }
    }

    /// What the tables need to take `stores` more engine blocks per node and `entries` more
    /// index entries. (Mutating, though it changes
    /// nothing, as the core's other helpers that a locked router calls: a non-mutating call
    /// through the lock's `inout` would copy the whole core.)
    /// - Complexity: O(nodes in `stores`)
    mutating func _growthNeeded(stores: [NodeID: Int] = [:], entries: Int) -> _Growth {
        _Growth(
            index: entries > 0 ? index._tableBucketsNeeded(adding: entries) : nil,
            identity: stores.isEmpty ? [:] : identity._bucketsNeeded(storing: stores))
    }

    /// Rehashes the tables into `buffers` (each only if still larger than the table: another
    /// update may have grown it since).
    /// - Complexity: O(buckets of the grown tables)
    mutating func _grow(_ buffers: inout _GrowthBuffers) {
        // taken out of `buffers`, never copied: a second reference to the buckets would make
        // the table's first write copy them all
        if let fresh = buffers.index.take() { index._growTable(into: consume fresh) }
        var moved: [NodeID: [_EngineHashTable._Entry]] = [:]
        swap(&moved, &buffers.identity)
        identity._growTables(into: consume moved)
    }

    /// ``route(blockHashes:inputTokens:expectedOutputTokens:excluding:now:)`` with what a
    /// locked router needs after it: the room the index asks for ahead (recording an
    /// approximate node's route fills the index from the route path, and the route that comes
    /// close to a growth has the table grown ahead, outside the lock; see
    /// ``PrefixIndex/_headroomNeeded()``), and the requests reclaimed meanwhile.
    mutating func _route(
        blockHashes: [BlockHash], inputTokens: Int?, expectedOutputTokens: Int, excluding excluded: [NodeID], now t: Double,
        headroom: inout Int, reclaimed: inout [(id: UInt64, node: NodeID)]
    ) -> KVRouter.Routed {
        let routed = route(
            blockHashes: blockHashes, inputTokens: inputTokens, expectedOutputTokens: expectedOutputTokens, excluding: excluded, now: t)
        if !_reclaimed.isEmpty { reclaimed = takeReclaimed() }
        if let node = routed.node {
            let recorded =
                records[node].approximate
                || routed.decision.replicas.contains { Self._has(records, $0.node) && records[$0.node].approximate }
            if recorded { headroom = index._headroomNeeded() }
        }
        return routed
    }
}
