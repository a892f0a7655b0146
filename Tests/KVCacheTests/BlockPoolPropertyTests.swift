import Synchronization
import Testing

@testable import KVCache

/// Collects evicted keys from a pool's callback.
final class EvictionLog: Sendable {
    private let keys = Mutex<[UInt64]>([])
    func record(_ h: BlockHash) { keys.withLock { $0.append(h.rawValue) } }
    func drain() -> [UInt64] {
        keys.withLock {
            let k = $0; $0.removeAll(); return k
        }
    }
}

@Suite("BlockPool properties")
struct BlockPoolPropertyTests {
    /// Random operations on a pool and on the brute-force model of the same rule: after every
    /// operation both hold the same blocks and evicted the same ones.
    func check<A: EvictionAlgorithm>(_ type: A.Type, _ policy: EvictionPolicy, seed: UInt64, capacity: Int, steps: Int) throws {
        var rng = TestRNG(seed: seed)
        var pool = try BlockPool<A>(capacity: capacity)
        let log = EvictionLog()
        pool.onEvict = { log.record($0) }
        var model = EvictionModel(policy: policy, capacity: capacity)
        var accesses = 0
        let allowPins = policy != .belady
        for step in 0..<steps {
            let op = Int.random(in: 0..<100, using: &rng)
            if op < 60 {
                // a request's chain: conversations share prefixes
                let conversation = UInt64.random(in: 0..<6, using: &rng)
                let length = Int.random(in: 1...6, using: &rng)
                var parent: UInt64?
                for i in 0..<length {
                    let key = i == 0 ? 1 : conversation * 100 + UInt64(i) + (i > 3 ? UInt64.random(in: 0..<2, using: &rng) * 1000 : 0)
                    let next = Int64.random(in: 0..<1_000_000_000, using: &rng)
                    let expected = model.access(key, position: i, nextUse: next, parent: parent)
                    var hit: Bool?
                    do {
                        hit = try pool.getOrInsert(
                            BlockInfo(hash: BlockHash(key), position: Int32(i), nextUse: next),
                            parent: parent.map { BlockHash($0) })
                    } catch { hit = nil }
                    accesses += 1
                    #expect(hit == expected?.hit, "step \(step) \(policy) key \(key)")
                    #expect(log.drain() == (expected?.evicted ?? []), "step \(step) \(policy): evicted differ")
                    guard expected != nil else { break }
                    parent = key
                }
            } else if op < 75 && allowPins {
                let key = model.blocks.keys.randomElement(using: &rng) ?? 1
                if model.blocks.values.filter({ $0.pins > 0 }).count < capacity / 2 {
                    #expect(pool.pin(BlockHash(key)) == model.pin(key))
                }
            } else if op < 90 && allowPins {
                let pinned = model.blocks.values.filter { $0.pins > 0 }.map(\.key)
                let key = pinned.randomElement(using: &rng) ?? 7
                #expect(pool.unpin(BlockHash(key)) == model.unpin(key))
            } else {
                let key = model.blocks.keys.randomElement(using: &rng) ?? 9
                #expect(pool.remove(BlockHash(key)) == model.remove(key))
            }
            // invariants
            #expect(pool.count <= capacity)
            #expect(pool.count == model.blocks.count)
            // the key table holds the blocks and the algorithm's ghosts, nothing stale
            #expect(pool._tableCount == pool.count + pool.algorithm.ghosts.count, "step \(step) \(policy): table count")
            // every block and ghost knows its bucket, however deletions shifted the entries
            for (bucket, e) in UnsafeBufferPointer(start: pool._storage.entries, count: pool._storage.buckets).enumerated()
            where e.slot != -1 {
                if e.slot >= 0 {
                    #expect(Int(pool._storage.slotBuckets[Int(e.slot)]) == bucket, "step \(step) \(policy): slot \(e.slot)")
                } else {
                    #expect(Int(pool.algorithm.ghosts._records[Int(-2 - e.slot)].payload) == bucket, "step \(step) \(policy): ghost")
                }
            }
            for k in model.blocks.keys { #expect(pool.contains(BlockHash(k)), "step \(step) \(policy): \(k) missing") }
            for (k, b) in model.blocks where b.pins > 0 { #expect(pool.pinCount(BlockHash(k)) == b.pins) }
            let s = pool.statistics
            #expect(s.insertions - s.evictions - s.removals == pool.count)
            #expect(s.hits + s.misses == accesses)
        }
    }

    @Test("every algorithm's victims equal its brute-force model", arguments: [UInt64(1), 2, 3])
    func victimsMatchModel(seed: UInt64) throws {
        for capacity in [1, 3, 7, 12] {
            try check(LRU.self, .lru, seed: seed, capacity: capacity, steps: 400)
            try check(FIFO.self, .fifo, seed: seed, capacity: capacity, steps: 400)
            try check(LFU.self, .lfu, seed: seed, capacity: capacity, steps: 400)
            try check(LengthAware.self, .lengthAware, seed: seed, capacity: capacity, steps: 400)
            try check(LeafLRU.self, .leafLRU, seed: seed, capacity: capacity, steps: 400)
            try check(SIEVE.self, .sieve, seed: seed, capacity: capacity, steps: 400)
            try check(S3FIFO.self, .s3fifo, seed: seed, capacity: capacity, steps: 400)
            try check(ARC.self, .arc, seed: seed, capacity: capacity, steps: 400)
            try check(Belady.self, .belady, seed: seed, capacity: capacity, steps: 400)
        }
    }

    @Test("a full pool of pinned blocks reports poolExhausted instead of evicting", arguments: EvictionPolicy.allCases)
    func exhaustion(policy: EvictionPolicy) throws {
        var pool = try policy.makePool(capacity: 3)
        for k: UInt64 in 1...3 {
            try pool.getOrInsert(BlockInfo(hash: BlockHash(k)))
            let pinned = pool.pin(BlockHash(k))
            #expect(pinned)
        }
        var exhausted: PoolError?
        do { try pool.getOrInsert(BlockInfo(hash: 4)) } catch { exhausted = error }
        #expect(exhausted == .poolExhausted(capacity: 3))
        #expect(pool.count == 3 && !pool.contains(4))
        let removedPinned = pool.remove(2)
        #expect(!removedPinned)  // pinned blocks stay
        let unpinned = pool.unpin(2)
        #expect(unpinned)
        #expect(try pool.getOrInsert(BlockInfo(hash: 4)) == false)
        #expect(pool.contains(4) && !pool.contains(2) && pool.contains(1) && pool.contains(3))
        #expect(pool.statistics.evictions == 1)
    }

    @Test("ghosts share the pool's table yet are absent to every lookup")
    func ghostsAreAbsent() throws {
        var pool = try BlockPool<ARC>(capacity: 2)
        for k: BlockHash in [1, 2, 2, 3] { try pool.getOrInsert(k) }  // T2 = [2]; REPLACE sends 1 to B1
        #expect(pool.algorithm.ghosts.count(in: 0) == 1 && pool._tableCount == 3)
        #expect(pool.lookup(1) == nil && !pool.contains(1) && pool.pinCount(1) == 0)
        #expect(pool.prefixHits(of: [1, 2] as [BlockHash]) == 0 && pool.hits(in: [1, 2] as [BlockHash]) == 1)
        let pinned = pool.pin(1), removed = pool.remove(1)
        #expect(!pinned && !removed)
        #expect(try pool.getOrInsert(1) == false)  // a B1 hit: p = 1, 2 goes to B2
        #expect(pool.contains(1) && pool.algorithm.p == 1 && pool.algorithm.ghosts.count(in: 1) == 1 && !pool.contains(2))
        #expect(pool._tableCount == pool.count + pool.algorithm.ghosts.count)

        // a ghost coming back to a pool whose blocks are all pinned: an error, and no trace left
        var full = try BlockPool<S3FIFO>(capacity: 10)
        for k: UInt64 in 1...11 { try full.getOrInsert(BlockHash(k)) }  // 1 is a ghost now
        for k: UInt64 in 2...11 { full.pin(BlockHash(k)) }
        #expect(throws: PoolError.poolExhausted(capacity: 10)) { try full.getOrInsert(1) }
        #expect(!full.contains(1) && full._tableCount == 10 && full.algorithm.ghosts.count == 0)
        full.unpin(5)
        #expect(try full.getOrInsert(1) == false)
        #expect(full.contains(1) && !full.contains(5))
    }

    @Test("a copied pool is a value: changing one copy leaves the other as it was")
    func copiesAreValues() throws {
        var a = try BlockPool<ARC>(capacity: 4)
        for k: BlockHash in [1, 2, 3, 4, 5, 1, 6, 2] { try a.getOrInsert(k) }
        let keys = (1...20).map { BlockHash(UInt64($0)) }
        let members = keys.filter { a.contains($0) }, statistics = a.statistics, table = a._tableCount
        var b = a
        try b.update([7, 8, 9, 10, 1, 2] as [BlockHash])
        b.pin(members[0])
        b.remove(members[1])
        #expect(keys.filter { b.contains($0) } != members)
        #expect(keys.filter { a.contains($0) } == members)
        #expect(a.statistics == statistics && a._tableCount == table && a.pinCount(members[0]) == 0)
        try a.getOrInsert(42)
        #expect(a.contains(42) && !b.contains(42) && b.pinCount(members[0]) == 1)
    }

    @Test("lookupAndUpdate reports what lookup then update report, and leaves the same pool", arguments: EvictionPolicy.allCases)
    func fusedWalk(policy: EvictionPolicy) throws {
        var rng = TestRNG(seed: 21)
        var twoCalls = try policy.makePool(capacity: 8), oneCall = try policy.makePool(capacity: 8)
        let universe = (0..<60).map { BlockHash(UInt64($0) &* 0x9E37_79B9_7F4A_7C15 | 1) }
        var pinned: BlockHash?
        for step in 0..<3_000 {
            // chains longer than the pool: blocks present before may be evicted before reached.
            // LeafLRU needs a prefix tree (a block's parent never changes, as with chained
            // hashes: paths in a binary tree); the others also get repeats and any order
            var chain: [BlockHash] = []
            if policy == .leafLRU {
                var node = Int.random(in: 0..<60, using: &rng)
                while true {
                    chain.insert(universe[node], at: 0)
                    if node == 0 { break }
                    node = (node - 1) / 2
                }
            } else {
                chain = [universe[Int.random(in: 0..<3, using: &rng)]]
                for _ in 0..<Int.random(in: 0..<12, using: &rng) { chain.append(universe[Int.random(in: 0..<60, using: &rng)]) }
            }
            let uses = chain.indices.map { _ in Int64.random(in: 0..<1_000, using: &rng) }
            if let k = pinned {
                twoCalls.unpin(k)
                oneCall.unpin(k)
                pinned = nil
            }
            if step % 7 == 0, let k = chain.last, twoCalls.contains(k) {  // a pinned block is touched without an access
                twoCalls.pin(k)
                oneCall.pin(k)
                pinned = k
            }
            let expected = try chain.withUnsafeBufferPointer { c in
                try uses.withUnsafeBufferPointer { u in
                    let (prefix, hits) = twoCalls.lookup(c)
                    return (prefix, hits, try twoCalls.update(c, nextUses: u))
                }
            }
            let fused = try chain.withUnsafeBufferPointer { c in
                try uses.withUnsafeBufferPointer { try oneCall.lookupAndUpdate(c, nextUses: $0) }
            }
            #expect(fused == expected, "\(policy) step \(step)")
            #expect(oneCall.statistics == twoCalls.statistics)
        }
        #expect(universe.filter(oneCall.contains) == universe.filter(twoCalls.contains))
    }

    @Test("prefixHits over many pools equals each pool's own, and replaces earlier scores")
    func prefixHitsOfManyPools() throws {
        var pools = try EvictionPolicy.allCases.map { try $0.makePool(capacity: 16) }
        let chain: [BlockHash] = [1, 2, 3, 4, 5]
        for (k, policy) in EvictionPolicy.allCases.enumerated() where policy != .belady {
            try pools[k].update(Array(chain.prefix(k % 6)))  // 0...5 leading blocks
        }
        var scores = OverlapScores(depths: Array(repeating: 9, count: pools.count + 2), chainLength: 1)
        chain.withUnsafeBufferPointer { c in pools.withUnsafeBufferPointer { AnyBlockPool.prefixHits(of: c, in: $0, into: &scores) } }
        #expect(scores.nodeCount == pools.count && scores.chainLength == chain.count)
        for k in pools.indices {
            #expect(scores.depth(of: k) == pools[k].prefixHits(of: chain))
            #expect(scores.depth(of: k, tier: .device) == scores.depth(of: k) && scores.depth(of: k, tier: .host) == 0)
        }
        #expect(scores.best?.depth == 5)
    }

    @Test("a pool built on the buffers of a dropped one starts empty", arguments: [EvictionPolicy.lru, .lfu, .leafLRU, .arc])
    func reusedBuffers(policy: EvictionPolicy) throws {
        let chain = (1...6_000).map { BlockHash(UInt64($0)) }
        for round in 0..<3 {  // the allocator may hand the dropped pool's buffers to the next
            var pool = try policy.makePool(capacity: 6_000)
            #expect(pool.count == 0 && pool.prefixHits(of: chain) == 0 && pool.hits(in: chain) == 0, "round \(round)")
            #expect(try pool.update(chain) == 0)
            #expect(pool.count == 6_000 && pool.prefixHits(of: chain) == 6_000)
            #expect(try pool.update(chain) == 6_000 && pool.statistics.evictions == 0)
        }
    }

    @Test("copies of pools and of algorithms are values, for every policy", arguments: EvictionPolicy.allCases)
    func everyPolicyCopiesAsValue(policy: EvictionPolicy) throws {
        let chain = { (from: Int, to: Int) in (from..<to).map { BlockHash(UInt64($0)) } }
        var a = try policy.makePool(capacity: 32)
        try a.update(chain(0, 40))
        var b = a  // shares storage until one of them writes
        try b.update(chain(100, 160))
        try b.update(chain(0, 10))
        try a.update(chain(20, 50))
        var fresh = try policy.makePool(capacity: 32)
        try fresh.update(chain(0, 40))
        try fresh.update(chain(20, 50))
        let keys = chain(0, 160)
        #expect(keys.filter(a.contains) == keys.filter(fresh.contains))
        #expect(a.statistics == fresh.statistics)
        try a.update(chain(60, 100))  // and they evict alike from here on
        try fresh.update(chain(60, 100))
        #expect(keys.filter(a.contains) == keys.filter(fresh.contains))
        #expect(keys.filter(b.contains) != keys.filter(a.contains))
    }

    @Test("an algorithm value copied outside a pool keeps its own order")
    func algorithmCopiesAreValues() {
        var x = LRU(capacity: 4), l = LeafLRU(capacity: 4), f = LFU(capacity: 4)
        for s: BlockSlot in 0..<3 {
            x.didInsert(s, BlockInfo(hash: BlockHash(UInt64(s))))
            l.didInsert(s, BlockInfo(hash: BlockHash(UInt64(s))))
            f.didInsert(s, BlockInfo(hash: BlockHash(UInt64(s))))
        }
        var y = x, m = l, g = f
        y.didAccess(0, BlockInfo(hash: 0))
        m.didAccess(0, BlockInfo(hash: 0))
        g.didAccess(0, BlockInfo(hash: 0))
        #expect(x.evict(for: BlockInfo(hash: 9)) == 0 && y.evict(for: BlockInfo(hash: 9)) == 1)
        #expect(l.evict(for: BlockInfo(hash: 9)) == 0 && m.evict(for: BlockInfo(hash: 9)) == 1)
        #expect(f.evict(for: BlockInfo(hash: 9)) == 0 && g.evict(for: BlockInfo(hash: 9)) == 1)
    }

    @Test("capacity below 1 is a typed error")
    func badCapacity() {
        #expect(throws: PoolError.invalidCapacity(0)) { try BlockPool<LRU>(capacity: 0) }
        #expect(throws: PoolError.invalidCapacity(-5)) { try EvictionPolicy.arc.makePool(capacity: -5) }
    }

    @Test("policy names parse loosely and round-trip")
    func names() {
        for p in EvictionPolicy.allCases { #expect(EvictionPolicy(name: p.rawValue) == p) }
        #expect(EvictionPolicy(name: "S3-FIFO") == .s3fifo)
        #expect(EvictionPolicy(name: "leaf_lru") == .leafLRU)
        #expect(EvictionPolicy(name: "LengthAware") == .lengthAware)
        #expect(EvictionPolicy(name: "mru") == nil)
    }

    @Test("prefixHits and hits are read-only; update walks in order")
    func chainWalk() throws {
        var pool = try BlockPool<LRU>(capacity: 4)
        let chain: [BlockHash] = [10, 11, 12]
        #expect(try pool.update(chain) == 0)
        #expect(pool.prefixHits(of: chain) == 3)
        #expect(pool.prefixHits(of: [10, 99, 12] as [BlockHash]) == 1)
        #expect(pool.hits(in: [10, 99, 12] as [BlockHash]) == 2)
        #expect(pool.statistics.hits == 0 && pool.statistics.misses == 3)
        #expect(try pool.update([10, 11, 13, 14] as [BlockHash]) == 2)  // evicts 12, the LRU
        #expect(!pool.contains(12) && pool.count == 4)
    }

    @Test("the table survives heavy churn with backward-shift deletion")
    func tableChurn() {
        var table = _BlockTable(maximumCount: 64)
        var reference: [UInt64: Int32] = [:]
        var rng = TestRNG(seed: 9)
        for i in 0..<20_000 {
            let key = UInt64.random(in: 0..<200, using: &rng) &* (i % 2 == 0 ? 1 : 0x9E37_79B9)
            let b = table.find(key)
            #expect((b >= 0) == (reference[key] != nil))
            if b >= 0 {
                #expect(table.entries[b].slot == reference[key])
                table.remove(at: b)
                reference[key] = nil
            } else if reference.count < 64 {
                table.insert(key, slot: Int32(i & 0xFFFF))
                reference[key] = Int32(i & 0xFFFF)
            }
        }
        #expect(table.count == reference.count)
    }
}
