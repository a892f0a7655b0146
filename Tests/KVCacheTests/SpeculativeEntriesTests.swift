import Testing

@testable import KVCache

@Suite("speculative entries")
struct SpeculativeEntriesTests {
    /// Chains that share prefixes (a few roots, branching), routed to random nodes as time
    /// moves on, with nodes cleared now and then: every overlap agrees with a prefix index in
    /// approximate mode fed the same routes, the reference the flat table replaces, and the
    /// table holds at most the reference's live pairs plus a sweep's worth of stale ones.
    @Test("routes, expiry and a node's clearing agree with a prefix index in approximate mode")
    func agreesWithPrefixIndex() throws {
        var rng = SeededGenerator(seed: 0x5BEC)
        let ttl = 5.0
        var entries = _SpeculativeEntries(ttl: ttl)
        var reference = PrefixIndex(nodeCapacity: 8, approximate: ApproximateMode(ttl: ttl))
        func chain(_ root: Int, _ branch: Int, _ length: Int) -> [BlockHash] {
            // chained: a block's hash names every block before it, as the router's hashes do
            var out: [BlockHash] = []
            var h: UInt64 = 0x9E37_79B9 &* UInt64(root + 1)
            for k in 0..<length {
                h = (h ^ UInt64(k < 3 ? 0 : branch &* 31 &+ k)) &* 0xBF58_476D_1CE4_E5B9
                h ^= h >> 29
                out.append(BlockHash(h))
            }
            return out
        }
        var now = 0.0
        for step in 0..<3_000 {
            now += Double.random(in: 0..<0.05, using: &rng)
            let c = chain(Int.random(in: 0..<6, using: &rng), Int.random(in: 0..<4, using: &rng), Int.random(in: 1...12, using: &rng))
            let node = Int.random(in: 0..<5, using: &rng)
            switch Int.random(in: 0..<100, using: &rng) {
            case 0..<60:
                let upTo = Int.random(in: 1...c.count, using: &rng)
                entries.record(c[..<upTo], to: node, at: now)
                try reference.recordRouting(c[..<upTo], to: node, at: now)
            case 60..<62:
                entries.forget(node: node)
                reference._apply(.cleared, node: node)
            default:
                reference.expire(now: now)
                var merged = OverlapScores(nodeCount: 5, chainLength: c.count)
                entries.merge(c, into: &merged, now: now)
                let expected = reference.overlaps(c)
                for n in 0..<5 {
                    #expect(merged.depth(of: n) == expected.depth(of: n), "step \(step) node \(n)")
                    #expect(merged.depth(of: n, tier: .device) == expected.depth(of: n, tier: .device))
                }
            }
            #expect(entries.count >= reference.approximateRecordCount, "step \(step)")
            #expect(entries.count <= max(16, reference.approximateRecordCount * 3 / 2 + 12), "step \(step): stale pairs are swept")
        }
    }

    @Test("merging keeps the deeper of the two views and grows the scores to every node recorded")
    func mergeKeepsDeeper() {
        var entries = _SpeculativeEntries(ttl: 10)
        let chain = (1...6).map { BlockHash(UInt64($0) &* 0x1000_0001) }
        entries.record(chain[..<2], to: 0, at: 0)
        entries.record(chain[...], to: 3, at: 0)
        var scores = OverlapScores(depths: [4, 1], chainLength: 6)
        entries.merge(chain, into: &scores, now: 9.9)
        #expect(scores.nodeCount == 4)
        #expect((0..<4).map { scores.depth(of: $0) } == [4, 1, 0, 6], "node 0 keeps its deeper events; node 3 arrives")
        var later = OverlapScores(nodeCount: 4, chainLength: 6)
        entries.merge(chain, into: &later, now: 10)
        #expect((0..<4).map { later.depth(of: $0) } == [0, 0, 0, 0], "past the TTL an entry counts for nothing")
    }

    @Test("a stored run's pairs leave the table; an overlap goes on from the node's indexed blocks")
    func confirmedPairsLeave() {
        var entries = _SpeculativeEntries(ttl: 10)
        let chain = (1...6).map { BlockHash(UInt64($0) &* 0x2000_0003) }
        entries.record(chain[...], to: 1, at: 0)
        entries.confirm(Array(chain[..<2]), node: 1)
        entries.confirm(Array(chain[..<6]), node: 0)  // another node's store takes nothing
        #expect(entries.count == 4)
        var held = OverlapScores(depths: [0, 2], chainLength: 6)
        entries.merge(chain, into: &held, now: 1)
        #expect(held.depth(of: 1) == 6 && held.depth(of: 1, tier: .device) == 6, "the index's two, then the entries")
        #expect(entries.indexedDepth(of: 1) == 2 && entries.indexedDepth(of: 0) == 0)
        var evicted = OverlapScores(nodeCount: 2, chainLength: 6)
        entries.merge(chain, into: &evicted, now: 1)
        #expect(evicted.depth(of: 1) == 0, "without the first blocks the entries lead nowhere")
    }

    @Test("a table that grew for a burst of routes shrinks once their events took them")
    func shrinksAfterABurst() {
        var entries = _SpeculativeEntries(ttl: 100)
        let chains = (0..<2_000).map { k in (0..<16).map { BlockHash(UInt64(k * 16 + $0 + 1) &* 0x9E37_79B9_7F4A_7C15) } }
        for (k, c) in chains.enumerated() { entries.record(c[...], to: k % 4, at: 0) }
        let grown = entries.bucketCount
        #expect(grown >= 32_000 * 4 / 3)
        for (k, c) in chains.enumerated() where k < 1_990 { entries.confirm(c, node: k % 4) }
        #expect(entries.count == 160)
        let late = (0..<16).map { BlockHash(UInt64(900_000 + $0) &* 0x9E37_79B9_7F4A_7C15) }
        entries.record(late[...], to: 2, at: 1)
        #expect(entries.bucketCount <= grown / 4 && entries.bucketCount >= _SpeculativeEntries.minimumBuckets)
        #expect(entries.count == 176)
        for (k, c) in chains.enumerated().dropFirst(1_990) {
            var scores = OverlapScores(nodeCount: 4, chainLength: 16)
            entries.merge(c, into: &scores, now: 2)
            #expect(scores.depth(of: k % 4) == 16, "route \(k) still counts after the shrink")
        }
    }

    @Test("past the cap the oldest pairs go first, and the table stays under it")
    func cap() {
        var entries = _SpeculativeEntries(ttl: 100, maxBlocks: 1_000)
        for k in 0..<500 {
            let chain = (0..<10).map { BlockHash(UInt64(k * 10 + $0) &* 0x9E37_79B9_7F4A_7C15 | 1) }
            entries.record(chain[...], to: k % 3, at: Double(k) * 0.1)
            #expect(entries.count <= 1_000)
        }
        // the latest routes still count where they went; the first ones were pruned
        let last = (0..<10).map { BlockHash(UInt64(499 * 10 + $0) &* 0x9E37_79B9_7F4A_7C15 | 1) }
        let first = (0..<10).map { BlockHash(UInt64($0) &* 0x9E37_79B9_7F4A_7C15 | 1) }
        var scores = OverlapScores(nodeCount: 3, chainLength: 10)
        entries.merge(last, into: &scores, now: 50)
        #expect(scores.depth(of: 499 % 3) == 10)
        var old = OverlapScores(nodeCount: 3, chainLength: 10)
        entries.merge(first, into: &old, now: 50)
        #expect(old.depth(of: 0) == 0)
    }
}
