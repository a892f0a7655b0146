import KVCache
import Testing

@testable import KVCacheSim

@Suite("Prefix index fed by pools")
struct IndexConsistencyTests {
    /// 16 nodes route by the second block, so pools differ; 256 and 1,024 nodes take requests
    /// in turn, so a conversation's blocks are held by many nodes (the index's wide path,
    /// blocks with more holders than fit inline).
    @Test(
        "conversation trace over LRU pools: every overlaps answer equals each pool's prefixHits",
        arguments: [(16, false), (256, true), (1_024, true)])
    func poolsAgree(nodes: Int, inTurn: Bool) throws {
        let trace = SimFixtures.conversation
        var pools = try (0..<nodes).map { _ in
            var p = try BlockPool<LRU>(capacity: 1_000)
            p.recordsChanges = true
            return p
        }
        var index = PrefixIndex(nodeCapacity: nodes)
        var nextIDs = [UInt64](repeating: 0, count: nodes)
        var changes: [PoolChange] = []
        var events: [KVEvent] = []
        var scores = OverlapScores()
        var mismatches = 0
        var nonzero = 0, sharedWidely = 0
        for i in 0..<trace.count {
            let chain = Array(trace.chain(i))
            index.overlaps(chain, into: &scores)
            var holders = 0
            for n in 0..<nodes {
                let expected = pools[n].prefixHits(of: chain)
                if scores.depth(of: n) != expected { mismatches += 1 }
                if expected > 0 { nonzero += 1; holders += 1 }
            }
            if holders > 4 { sharedWidely += 1 }
            let node = inTurn ? i % nodes : Int(chain.count > 1 ? chain[1].rawValue % UInt64(nodes) : 0)
            try pools[node].update(chain)
            pools[node].takeChanges(into: &changes)
            events.removeAll(keepingCapacity: true)
            KVEvent.append(changes, node: node, nextEventID: &nextIDs[node], to: &events)
            #expect(try index.apply(events).isEmpty)
        }
        #expect(mismatches == 0)
        #expect(nonzero > trace.count)  // the comparison is not vacuous
        if inTurn { #expect(sharedWidely > 100) }
        #expect(index.blockCount == Set(pools.flatMap { p in trace.blocks.filter { p.contains($0) } }).count)
    }
}
