extension KVRouter {
    /// Grows the core's tables, before the work that would fill them, to sizes that hold
    /// what it adds, with their new buckets allocated outside the lock: the router asks the
    /// core what it needs (``RouterCore/_growthNeeded(stores:entries:)``), allocates
    /// it, and hands it over.
    ///
    /// A table grows into twice its buckets, and the kernel zeroes every page of them as they
    /// are first touched: for an index of millions of blocks that is most of a growth's time,
    /// and under the lock every route would wait for it. Here only the rehash runs under the
    /// lock. The sizes are those the tables would grow to while taking in that much, so growth
    /// comes no sooner than it would have.
    ///
    /// - Parameters:
    ///   - stores: Blocks an event batch stores per node: engine hashes the identity tables map.
    ///   - entries: Entries the index should have room for: a batch's stored blocks and one
    ///     parent per run, or a route's headroom (``PrefixIndex/_headroomNeeded()``).
    /// - Complexity: O(nodes in `stores`) when nothing grows; else O(buckets of the grown tables).
    func _makeRoom(stores: [NodeID: Int] = [:], entries: Int) {
        guard entries > 0 else { return }
        let growth = state.withLock { $0.core._growthNeeded(stores: stores, entries: entries) }
        guard !growth.isEmpty else { return }
        var buffers = RouterCore._GrowthBuffers(growth)
        state.withLock { $0.core._grow(&buffers) }
    }

    /// Makes room for `entries` more entries in the index, on a thread of its own, so neither
    /// the lock nor the request that came close waits for the allocation; one such growth at a
    /// time. Not a task: the concurrency runtime's executor may be a server's event loops
    /// (``_DetachedThread``). When no thread can be made, the next batch of events that needs
    /// the room makes it.
    func _growAhead(entries: Int) {
        guard _growing.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return }
        let started = _DetachedThread.start(name: "kvcache-growth") {
            self._makeRoom(entries: entries)
            self._growing.store(false, ordering: .releasing)
        }
        if !started { _growing.store(false, ordering: .releasing) }
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
