import Testing

@testable import KVCache

/// The obvious model: per (node, tier) a multiset of blocks; overlap = leading run. Events
/// are applied in each node's ID order as they become contiguous (the definition of
/// "never lose an event"); duplicates are counted, and a gap is the run of IDs between the
/// highest seen and a newly seen higher one.
private struct IndexModel {
    var held: [Int: [Int: [UInt64: Int]]] = [:]  // node → tier → block → refs
    var waiting: [Int: [UInt64: KVEvent]] = [:]
    var next: [Int: UInt64] = [:]
    var highest: [Int: UInt64] = [:]
    var gaps: [EventGap] = []
    var stale = 0
    var unknownRemovals = 0

    mutating func deliver(_ e: KVEvent) {
        let n = next[e.node, default: 0]
        if e.eventID < n || waiting[e.node]?[e.eventID] != nil { stale += 1; return }
        let from = highest[e.node].map { $0 + 1 } ?? 0
        if e.eventID > from { gaps.append(EventGap(node: e.node, from: from, to: e.eventID - 1)) }
        highest[e.node] = max(highest[e.node] ?? 0, e.eventID)
        waiting[e.node, default: [:]][e.eventID] = e
        while let ready = waiting[e.node]?.removeValue(forKey: next[e.node, default: 0]) {
            apply(ready)
            next[e.node, default: 0] += 1
        }
    }

    mutating func apply(_ e: KVEvent) {
        switch e.kind {
        case .stored(_, let blocks, let tier):
            for b in blocks { held[e.node, default: [:]][tier.rawValue, default: [:]][b.rawValue, default: 0] += 1 }
        case .removed(let blocks, let tier):
            for b in blocks {
                if let r = held[e.node]?[tier.rawValue]?[b.rawValue] {
                    held[e.node]![tier.rawValue]![b.rawValue] = r > 1 ? r - 1 : nil
                } else {
                    unknownRemovals += 1
                }
            }
        case .cleared:
            held[e.node] = [:]
        }
    }

    func holds(_ node: Int, _ b: UInt64, tier: Int?) -> Bool {
        guard let tiers = held[node] else { return false }
        if let tier { return tiers[tier]?[b] != nil }
        return tiers.values.contains { $0[b] != nil }
    }

    func depth(_ node: Int, _ chain: [BlockHash], tier: Int?) -> Int {
        var d = 0
        for b in chain { guard holds(node, b.rawValue, tier: tier) else { break }; d += 1 }
        return d
    }
}

@Suite("PrefixIndex")
struct PrefixIndexTests {
    func randomChain(_ rng: inout TestRNG) -> [BlockHash] {
        let conv = UInt64.random(in: 0..<5, using: &rng)
        let n = Int.random(in: 1...6, using: &rng)
        return (0..<n).map { BlockHash($0 == 0 ? 1 : conv * 100 + UInt64($0)) }
    }

    /// Random in-order histories per node, delivered out of order: events overtake each
    /// other, some are repeated, some are lost and replayed later.
    func check(nodes: [Int], capacity: Int, seed: UInt64) throws {
        var rng = TestRNG(seed: seed)
        var index = PrefixIndex(nodeCapacity: capacity, expectedBlocks: 8)
        var model = IndexModel()
        var ids: [Int: UInt64] = [:]
        var gaps: [EventGap] = []
        var network: [KVEvent] = []  // sent, not yet delivered
        var lost: [KVEvent] = []  // dropped, waiting for a replay
        var delivered: [KVEvent] = []
        func deliver(_ e: KVEvent) throws {
            if let g = try index.apply(e) { gaps.append(g) }
            model.deliver(e)
            delivered.append(e)
        }
        for step in 0..<1500 {
            let node = nodes.randomElement(using: &rng)!
            let id = ids[node, default: 0]
            ids[node] = id + 1
            let tier = StorageTier.allCases.randomElement(using: &rng)!
            let chain = randomChain(&rng)
            let k = Int.random(in: 0..<100, using: &rng)
            let event: KVEvent
            if k < 50 {
                // a run of the chain, sometimes without its first blocks (parent unknown)
                let start = Int.random(in: 0..<chain.count, using: &rng)
                event = .stored(
                    node: node, eventID: id, parent: start > 0 ? chain[start - 1] : nil, blocks: Array(chain[start...]), tier: tier)
            } else if k < 95 {
                let drop = Array(chain.shuffled(using: &rng).prefix(Int.random(in: 1...chain.count, using: &rng)))
                event = .removed(node: node, eventID: id, blocks: drop, tier: tier)
            } else {
                event = .cleared(node: node, eventID: id)
            }
            if Int.random(in: 0..<100, using: &rng) < 5 { lost.append(event) } else { network.append(event) }
            // deliver a few, in any order
            for _ in 0..<Int.random(in: 0...2, using: &rng) where !network.isEmpty {
                try deliver(network.remove(at: Int.random(in: 0..<network.count, using: &rng)))
            }
            if !delivered.isEmpty && Int.random(in: 0..<100, using: &rng) < 4 { try deliver(delivered.randomElement(using: &rng)!) }
            if step % 50 == 49 { network += lost; lost = [] }  // the replays arrive
            // compare overlaps for a few chains
            for _ in 0..<3 {
                let q = randomChain(&rng)
                let scores = index.overlaps(q)
                for n in nodes {
                    #expect(scores.depth(of: n) == model.depth(n, q, tier: nil), "node \(n) chain \(q)")
                    for t in StorageTier.allCases {
                        #expect(scores.depth(of: n, tier: t) == model.depth(n, q, tier: t.rawValue), "node \(n) tier \(t)")
                    }
                }
            }
        }
        for e in (network + lost).shuffled(using: &rng) { try deliver(e) }
        #expect(index.heldEventCount == 0)
        #expect(gaps == model.gaps)
        #expect(index.statistics.sequencing.duplicates == model.stale)
        #expect(index.statistics.unknownRemovals == model.unknownRemovals)
        #expect(index.statistics.sequencing.gaps == model.gaps.count)
        // the index holds exactly the blocks some node holds
        let modelBlocks = Set(model.held.values.flatMap { $0.values.flatMap { $0.keys } })
        #expect(index.blockCount == modelBlocks.count)
        for n in nodes {
            #expect(index.blockCount(of: n) == (model.held[n]?.values.reduce(0) { $0 + $1.count } ?? 0), "node \(n) count")
            #expect(index.lastEventID(of: n) == ids[n].map { $0 - 1 })
        }
    }

    @Test("agrees with a brute-force model after random events (≤ 64 nodes)", arguments: [UInt64(1), 2, 3, 4])
    func modelSmall(seed: UInt64) throws {
        try check(nodes: [0, 1, 2, 5, 63], capacity: 64, seed: seed)
    }

    @Test("agrees with the model with 1,024 node slots (multi-word membership)", arguments: [UInt64(7), 8])
    func modelWide(seed: UInt64) throws {
        try check(nodes: [0, 3, 64, 65, 200, 1023], capacity: 1024, seed: seed)
    }

    @Test("a block stored before its parent hangs under a placeholder until the parent arrives")
    func outOfOrderParents() throws {
        var index = PrefixIndex()
        try index.apply(.stored(node: 0, eventID: 0, parent: 10, blocks: [11, 12]))
        #expect(index.entry(11)?.parent == 10)
        #expect(index.entry(10)?.held == false && index.entry(10)?.children == 1)
        #expect(index.blockCount == 2 && index.placeholderCount == 1)
        #expect(index.statistics.storedUnderUnheldParent == 1)
        #expect(index.overlaps([10, 11, 12] as [BlockHash]).depth(of: 0) == 0)
        try index.apply(.stored(node: 1, eventID: 0, parent: 9, blocks: [10]))
        #expect(index.entry(10)?.held == true && index.entry(10)?.parent == 9)
        #expect(index.overlaps([10, 11, 12] as [BlockHash]).depth(of: 1) == 1)
        try index.apply(.stored(node: 0, eventID: 1, parent: nil, blocks: [10]))
        #expect(index.overlaps([10, 11, 12] as [BlockHash]).depth(of: 0) == 3)
        // the parent leaves everywhere: it stays as a placeholder for its child
        try index.apply(.removed(node: 0, eventID: 2, blocks: [10]))
        try index.apply(.removed(node: 1, eventID: 1, blocks: [10]))
        #expect(index.entry(10)?.held == false && index.entry(11)?.parent == 10)
        try index.apply(.stored(node: 2, eventID: 0, parent: nil, blocks: [10]))
        #expect(index.entry(10)?.held == true && index.entry(10)?.children == 1)
        // once nothing is held, nothing is left
        try index.apply(.removed(node: 0, eventID: 3, blocks: [11, 12]))
        try index.apply(.removed(node: 2, eventID: 1, blocks: [10]))
        #expect(index.blockCount == 0 && index.placeholderCount == 0)
    }

    @Test("duplicate stores are reference-counted")
    func duplicates() throws {
        var index = PrefixIndex()
        try index.apply(.stored(node: 3, eventID: 0, parent: nil, blocks: [1, 2]))
        try index.apply(.stored(node: 3, eventID: 1, parent: nil, blocks: [1, 2]))
        try index.apply(.removed(node: 3, eventID: 2, blocks: [2]))
        #expect(index.overlaps([1, 2] as [BlockHash]).depth(of: 3) == 2)
        try index.apply(.removed(node: 3, eventID: 3, blocks: [2]))
        #expect(index.overlaps([1, 2] as [BlockHash]).depth(of: 3) == 1)
        try index.apply(.removed(node: 3, eventID: 4, blocks: [2]))
        #expect(index.statistics.unknownRemovals == 1 && index.statistics.duplicateStores == 2)
    }

    @Test("a first disk block after many device blocks: every entry gets its disk word, old and new")
    func diskTierLate() throws {
        var index = PrefixIndex(expectedBlocks: 8)
        let chain = (1...40).map { BlockHash(UInt64($0)) }
        try index.apply(.stored(node: 0, eventID: 0, parent: nil, blocks: chain, tier: .device))
        try index.apply(.stored(node: 1, eventID: 0, parent: nil, blocks: Array(chain.prefix(10)), tier: .disk))
        try index.apply(.stored(node: 1, eventID: 1, parent: nil, blocks: [100, 101], tier: .disk))
        let scores = index.overlaps(chain)
        #expect(scores.depth(of: 0) == 40 && scores.depth(of: 1) == 10)
        #expect(scores.depth(of: 1, tier: .disk) == 10 && scores.depth(of: 1, tier: .device) == 0)
        #expect(index.contains(101, node: 1, tier: .disk) && !index.contains(101, node: 0))
        // freed entries reused with disk words cleared
        try index.apply(.removed(node: 1, eventID: 2, blocks: [101, 100], tier: .disk))
        try index.apply(.stored(node: 0, eventID: 1, parent: nil, blocks: [200, 201], tier: .host))
        #expect(!index.contains(200, node: 1) && index.contains(201, node: 0, tier: .host))
        #expect(index.overlaps([200, 201] as [BlockHash]).depth(of: 1) == 0)
    }

    @Test("an event that overtakes an earlier one waits for it; a replay fills the gap; repeats are ignored")
    func ordering() throws {
        var index = PrefixIndex()
        #expect(try index.apply(.stored(node: 0, eventID: 0, parent: nil, blocks: [1])) == nil)
        // 2 and 3 arrive before 1: held, the gap reported once
        #expect(try index.apply(.removed(node: 0, eventID: 3, blocks: [2])) == EventGap(node: 0, from: 1, to: 2))
        #expect(try index.apply(.stored(node: 0, eventID: 2, parent: 1, blocks: [3])) == nil)
        #expect(index.overlaps([1, 2, 3] as [BlockHash]).depth(of: 0) == 1 && index.heldEventCount == 2)
        // the replayed event 1 applies, then 2 and 3 in order: 2 was stored, then removed
        #expect(try index.apply(.stored(node: 0, eventID: 1, parent: 1, blocks: [2])) == nil)
        #expect(index.contains(1, node: 0) && !index.contains(2, node: 0) && index.contains(3, node: 0))
        #expect(index.heldEventCount == 0 && index.lastEventID(of: 0) == 3)
        // a repeat (live and replayed copies) is ignored
        #expect(try index.apply(.stored(node: 0, eventID: 1, parent: 1, blocks: [2])) == nil)
        #expect(!index.contains(2, node: 0) && index.statistics.sequencing.duplicates == 1)
    }

    @Test("a new node whose first event is not 0 reports the gap; an unfillable gap can be given up")
    func lateJoin() throws {
        var index = PrefixIndex(maximumHeldEvents: 3)
        #expect(try index.apply(.stored(node: 4, eventID: 5, parent: nil, blocks: [1])) == EventGap(node: 4, from: 0, to: 4))
        #expect(index.blockCount == 0)
        index.skipGap(of: 4)
        #expect(index.contains(1, node: 4) && index.statistics.sequencing.skippedEvents == 5)
        // more than maximumHeldEvents behind a gap: the gap is given up on its own
        #expect(try index.apply(.stored(node: 4, eventID: 8, parent: nil, blocks: [2])) == EventGap(node: 4, from: 6, to: 7))
        try index.apply(.stored(node: 4, eventID: 9, parent: nil, blocks: [3]))
        try index.apply(.stored(node: 4, eventID: 10, parent: nil, blocks: [4]))
        #expect(!index.contains(2, node: 4))
        try index.apply(.stored(node: 4, eventID: 11, parent: nil, blocks: [5]))
        #expect(index.contains(2, node: 4) && index.contains(5, node: 4) && index.heldEventCount == 0)
        #expect(index.statistics.sequencing.skippedEvents == 7)
        // the invalid ID UInt64.max is ignored, never a trap
        #expect(try index.apply(.cleared(node: 4, eventID: .max)) == nil)
        #expect(index.statistics.sequencing.invalidEvents == 1 && index.contains(5, node: 4))
    }

    @Test("reference counts stay exact for node ids above 16,383")
    func wideNodeRefs() throws {
        var index = PrefixIndex(nodeCapacity: 16_448)
        // node 16384 stores block 7 (entry 0) twice; node 0 stores block 8 (entry 1) once
        try index.apply(.stored(node: 16_384, eventID: 0, parent: nil, blocks: [7]))
        try index.apply(.stored(node: 16_384, eventID: 1, parent: nil, blocks: [7]))
        try index.apply(.stored(node: 0, eventID: 0, parent: nil, blocks: [8]))
        try index.apply(.removed(node: 0, eventID: 1, blocks: [8]))
        #expect(!index.contains(8, node: 0))
        try index.apply(.removed(node: 16_384, eventID: 2, blocks: [7]))
        #expect(index.contains(7, node: 16_384))
        try index.apply(.removed(node: 16_384, eventID: 3, blocks: [7]))
        #expect(index.blockCount == 0 && index.placeholderCount == 0)
    }

    @Test("a parent cycle from a malformed stream leaves nothing behind")
    func parentCycle() throws {
        var index = PrefixIndex()
        try index.apply(.stored(node: 0, eventID: 0, parent: 2, blocks: [1]))
        try index.apply(.stored(node: 0, eventID: 1, parent: 1, blocks: [2]))
        try index.apply(.stored(node: 0, eventID: 2, parent: 3, blocks: [3]))  // its own parent
        try index.apply(.removed(node: 0, eventID: 3, blocks: [1, 2, 3]))
        #expect(index.blockCount == 0 && index.placeholderCount == 0)
        // a longer cycle, removed in the other order
        try index.apply(.stored(node: 0, eventID: 4, parent: 12, blocks: [10, 11]))
        try index.apply(.stored(node: 0, eventID: 5, parent: 11, blocks: [12]))
        try index.apply(.removed(node: 0, eventID: 6, blocks: [12, 11, 10]))
        #expect(index.blockCount == 0 && index.placeholderCount == 0)
    }

    @Test("a node outside the index is a clear error")
    func badNode() {
        var index = PrefixIndex(nodeCapacity: 64)
        #expect(throws: IndexError.nodeOutOfRange(node: 64, capacity: 64)) {
            try index.apply(.cleared(node: 64, eventID: 0))
        }
        #expect(PrefixIndex(nodeCapacity: 1000).nodeCapacity == 1024)
    }

    @Test("approximate mode: records expire after the TTL and prune least recent first")
    func approximate() throws {
        var index = PrefixIndex(approximate: ApproximateMode(ttl: 10, maxBlocks: 10, pruneTarget: 0.8))
        try index.recordRouting([1, 2, 3] as [BlockHash], to: 0, at: 0)
        try index.recordRouting([1, 2, 4] as [BlockHash], to: 1, at: 5)
        #expect(index.overlaps([1, 2, 3] as [BlockHash]).depths == [3, 2])
        try index.recordRouting([1] as [BlockHash], to: 0, at: 8)  // refreshes block 1 on node 0
        index.expire(now: 10)  // node 0's 2 and 3 expire
        #expect(index.overlaps([1, 2, 3] as [BlockHash]).depths == [1, 2])
        #expect(index.statistics.expired == 2)
        index.expire(now: 18)
        #expect(index.overlaps([1, 2, 3] as [BlockHash]).depths == [0, 0])
        #expect(index.approximateRecordCount == 0 && index.blockCount == 0)
        // size bound: the 11th record exceeds 10 → the 3 oldest go (down to 8); the 12th fits
        for i in 0..<12 { try index.recordRouting([BlockHash(UInt64(100 + i))], to: 2, at: 20 + Double(i) * 0.1) }
        #expect(index.approximateRecordCount == 9)
        #expect(index.statistics.pruned == 3)
        #expect(!index.contains(102, node: 2) && index.contains(103, node: 2) && index.contains(111, node: 2))
    }

    @Test("pool changes become stored/removed events that keep the index equal to the pool")
    func poolWiring() throws {
        var pool = try BlockPool<LRU>(capacity: 4)
        pool.recordsChanges = true
        var index = PrefixIndex()
        var changes: [PoolChange] = []
        var events: [KVEvent] = []
        var next: UInt64 = 0
        for chain in [[1, 2, 3], [1, 2, 4, 5], [6, 7]] as [[BlockHash]] {
            try pool.update(chain)
            pool.takeChanges(into: &changes)
            events.removeAll()
            KVEvent.append(changes, node: 0, nextEventID: &next, to: &events)
            #expect(try index.apply(events).isEmpty)
            for q in [[1, 2, 3], [1, 2, 4, 5], [6, 7], [2]] as [[BlockHash]] {
                #expect(index.overlaps(q).depth(of: 0) == pool.prefixHits(of: q))
            }
        }
        #expect(index.blockCount == pool.count)
        #expect(events.first == .removed(node: 0, eventID: events[0].eventID, blocks: [1, 2]) || events.count >= 1)
    }
}
