extension RouterCore {
    /// The buckets the core's tables need to take more work without growing under a lock:
    /// asked for, allocated by the caller outside the lock, and handed to ``_grow(_:)``.
    struct _Growth: Sendable {
        var index: Int?
        var speculative: Int?
        var identity: [NodeID: Int] = [:]
        var isEmpty: Bool { index == nil && speculative == nil && identity.isEmpty }
    }

    /// Empty buckets for a ``_Growth``, allocated (and faulted in) outside the lock.
    struct _GrowthBuffers {
        var index: [_BlockTable.Entry]?
        var speculative: [_BlockTable.Entry]?
        var identity: [NodeID: [_EngineHashTable._Entry]]

        init(_ g: _Growth) {
            index = g.index.map { _BlockTable.vacant(buckets: $0) }
            speculative = g.speculative.map { _BlockTable.vacant(buckets: $0) }
            identity = g.identity.mapValues { _EngineHashTable.vacant(buckets: $0) }
        }
    }

    /// What the tables need to take `stores` more engine blocks per node, `entries` more
    /// index entries and `speculative` more speculative entries. (Mutating, though it changes
    /// nothing, as the core's other helpers that a locked router calls: a non-mutating call
    /// through the lock's `inout` would copy the whole core.)
    /// - Complexity: O(nodes in `stores`)
    mutating func _growthNeeded(stores: [NodeID: Int] = [:], entries: Int, speculative extra: Int = 0) -> _Growth {
        _Growth(
            index: entries > 0 ? index._tableBucketsNeeded(adding: entries) : nil,
            speculative: extra > 0 ? speculative?._tableBucketsNeeded(adding: extra) : nil,
            identity: stores.isEmpty ? [:] : identity._bucketsNeeded(storing: stores))
    }

    /// Rehashes the tables into `buffers` (each only if still larger than the table: another
    /// update may have grown it since).
    /// - Complexity: O(buckets of the grown tables)
    mutating func _grow(_ buffers: inout _GrowthBuffers) {
        // taken out of `buffers`, never copied: a second reference to the buckets would make
        // the table's first write copy them all
        if let fresh = buffers.index.take() { index._growTable(into: consume fresh) }
        if let fresh = buffers.speculative.take() { speculative?._growTable(into: consume fresh) }
        var moved: [NodeID: [_EngineHashTable._Entry]] = [:]
        swap(&moved, &buffers.identity)
        identity._growTables(into: consume moved)
    }

    /// The entries a route that recorded into the indexes asks room for (see
    /// ``PrefixIndex/_headroomNeeded()``): into the index when it recorded there (an
    /// approximate node), and into the speculative index.
    mutating func _headroom(recordedInIndex: Bool) -> (index: Int, speculative: Int) {
        (recordedInIndex ? index._headroomNeeded() : 0, speculative?._headroomNeeded() ?? 0)
    }

    /// ``route(blockHashes:inputTokens:expectedOutputTokens:excluding:now:)`` with what a
    /// locked router needs after it: the room the indexes ask for ahead (recording fills an
    /// index from the route path, and the route that comes close to a growth has the tables
    /// grown ahead, outside the lock), and the requests reclaimed meanwhile.
    mutating func _route(
        blockHashes: [BlockHash], inputTokens: Int?, expectedOutputTokens: Int, excluding excluded: [NodeID], now t: Double,
        headroom: inout (index: Int, speculative: Int), reclaimed: inout [(id: UInt64, node: NodeID)]
    ) -> KVRouter.Routed {
        let routed = route(
            blockHashes: blockHashes, inputTokens: inputTokens, expectedOutputTokens: expectedOutputTokens, excluding: excluded, now: t)
        if !_reclaimed.isEmpty { reclaimed = takeReclaimed() }
        if let node = routed.node {
            let recorded =
                records[node].approximate
                || routed.decision.replicas.contains { Self._has(records, $0.node) && records[$0.node].approximate }
            headroom = _headroom(recordedInIndex: recorded)
        }
        return routed
    }
}
