import Foundation
import Testing

@testable import KVCache

/// Tables grown ahead of a batch (``KVRouter`` does it outside its lock) end as growing one
/// key at a time would have left them.
@Suite("growth ahead of a batch")
struct TableGrowthTests {
    static func key(_ i: Int) -> UInt64 { UInt64(i) &* 0x9E37_79B9_7F4A_7C15 }

    @Test("a block table grown into fresh buckets keeps its entries and has the size growing one by one reaches")
    func blockTable() {
        var natural = _BlockTable(maximumCount: 16)
        for i in 0..<1_000 {
            if natural.needsGrowth { natural.grow() }
            let b = natural.insert(Self.key(i), slot: Int32(i), aux: UInt16(i % 7))
            natural.entries[b].pins = UInt16(i % 5)
        }
        var ahead = natural
        let more = 60_000
        let buckets = ahead.bucketsNeeded(adding: more)
        #expect(buckets != nil)
        ahead.grow(into: _BlockTable.vacant(buckets: buckets ?? 0))
        #expect(ahead.bucketsNeeded(adding: more) == nil)
        var grewAgain = false
        for i in 1_000..<(1_000 + more) {
            if natural.needsGrowth { natural.grow() }
            natural.insert(Self.key(i), slot: Int32(i))
            grewAgain = grewAgain || ahead.needsGrowth
            ahead.insert(Self.key(i), slot: Int32(i))
        }
        #expect(!grewAgain)
        #expect(ahead.buckets == natural.buckets && ahead.count == natural.count)
        var mismatches = 0
        for i in 0..<(1_000 + more) {
            let a = ahead.find(Self.key(i))
            let n = natural.find(Self.key(i))
            guard a >= 0, n >= 0 else { mismatches += 1; continue }
            let (x, y) = (ahead.entries[a], natural.entries[n])
            if x.slot != y.slot || x.pins != y.pins || x.aux != y.aux { mismatches += 1 }
        }
        #expect(mismatches == 0)
        #expect(ahead.find(Self.key(1_000 + more)) == -1)
    }

    @Test("an engine hash table grown into fresh buckets keeps what each hash names")
    func engineTable() {
        var table = _EngineHashTable()
        for i in 0..<500 { _ = table.store(Self.key(i), router: UInt64(i), tier: i % 3) }
        let buckets = table.bucketsNeeded(for: 10_000)
        #expect(buckets != nil)
        table._grow(into: _EngineHashTable.vacant(buckets: buckets ?? 0))
        #expect(table.bucketsNeeded(for: 10_000) == nil && table.count == 500)
        var wrong = 0
        for i in 0..<500 where table.value(for: Self.key(i)).map({ $0.router != UInt64(i) || $0[i % 3] != 1 }) ?? true { wrong += 1 }
        #expect(wrong == 0)
    }

    static func stored(node: Int, id: UInt64, run: Int, blocks: Int) -> EngineEvent {
        let tokens = (0..<(blocks * 16)).map { UInt32(run * 1_000 + $0) }
        let hashes = (0..<blocks).map { EngineBlockHash(Self.key(run * 1_000 + $0 + 1)) }
        return EngineEvent(
            node: node, eventID: id, kind: .stored(EngineStoredBlocks(blocks: hashes, parent: nil, tokens: tokens, blockSize: 16)))
    }

    @Test("a router applying one large batch grows its tables first and ends as one fed event by event")
    func router() throws {
        let hasher = try PrefixHasher(blockSize: 16)
        let batched = KVRouter(configuration: .init(hasher: hasher, selector: CacheAware()))
        let single = KVRouter(configuration: .init(hasher: hasher, selector: CacheAware()))
        for r in [batched, single] { r.addNode(0); r.addNode(1) }
        var events: [EngineEvent] = []
        var ids: [UInt64] = [0, 0]
        for run in 0..<3_000 {
            let node = run % 2
            events.append(Self.stored(node: node, id: ids[node], run: run, blocks: 4 + run % 5))
            ids[node] += 1
        }
        let stores = KVRouter._stores(of: events)
        #expect(stores.perNode.values.reduce(0, +) == events.count * 6 && stores.entries == events.count * 7)
        batched._makeRoom(stores: stores.perNode, entries: stores.entries)
        let roomLeft = batched.state.withLock { $0.core._growthNeeded(stores: stores.perNode, entries: stores.entries).isEmpty }
        #expect(roomLeft)
        batched.apply(events)
        for e in events { single.apply([e]) }
        let (b, s) = (batched.snapshot, single.snapshot)
        #expect(b.indexedBlocks == 18_000 && b.indexedBlocks == s.indexedBlocks)
        #expect(b.mappedEngineBlocks == 18_000 && b.mappedEngineBlocks == s.mappedEngineBlocks)
        var differing = 0
        for run in stride(from: 0, to: 3_000, by: 7) {
            let prompt = (0..<((4 + run % 5) * 16)).map { UInt32(run * 1_000 + $0) }
            let (x, y) = (batched.route(tokens: prompt), single.route(tokens: prompt))
            if x.node != run % 2 || x.node != y.node || x.overlapBlocks != 4 + run % 5 || x.overlapBlocks != y.overlapBlocks {
                differing += 1
            }
        }
        #expect(differing == 0)
    }

    @Test("routes that record into the index have it grown ahead, and find what they recorded")
    func routesGrowAhead() async throws {
        let router = KVRouter(configuration: .init(hasher: try PrefixHasher(blockSize: 16), selector: CacheAware()))
        router.addNode(0, approximate: true)
        router.addNode(1, approximate: true)
        let before = router.state.withLock { $0.core.index._table.buckets }
        func prompt(_ run: Int) -> [UInt32] { (0..<128).map { UInt32(run * 1_000 + $0) } }
        func settle() async throws {
            while router._growing.load(ordering: .acquiring) { try await Task.sleep(for: .milliseconds(1)) }
        }
        var nodes: [NodeID?] = []
        for run in 0..<2_000 { nodes.append(router.route(tokens: prompt(run)).node) }
        try await settle()
        _ = router.route(tokens: prompt(2_000))  // a route with no growth under way asks for room if it needs it
        try await settle()
        let (buckets, room) = router.state.withLock { g in (g.core.index._table.buckets, g.core.index._headroomNeeded() == 0) }
        #expect(buckets > before && room)
        var lost = 0
        for run in 0..<2_000 {
            let again = router.route(tokens: prompt(run))
            if again.node != nodes[run] || again.overlapBlocks != 8 { lost += 1 }
        }
        #expect(lost == 0)
    }

    #if os(Linux)
    @Test("work started off the executor runs on a thread of its own, under its name")
    func detachedThread() async {
        let name = await withCheckedContinuation { (done: CheckedContinuation<String, Never>) in
            let started = _DetachedThread.start(name: "kvcache-growth") {
                let comm = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
                done.resume(returning: comm.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            #expect(started)
        }
        #expect(name == "kvcache-growth")
    }
    #endif
}
