import KVCache
import Testing

@testable import KVCacheSim

@Suite("Single-pool replay against the reference simulators")
struct PoolReferenceTests {
    static let capacities = [1000, 5000, 10000, 20000, 50000]

    @Test(
        "LRU, FIFO, LFU and LeafLRU match the Python reference to 1e-9",
        arguments: [("LRU", EvictionPolicy.lru), ("FIFO", .fifo), ("LFU", .lfu), ("LeafLRU", .leafLRU)])
    func globalPool(name: String, policy: EvictionPolicy) throws {
        let table = SimFixtures.reference.global_pool
        for capacity in Self.capacities {
            let expected = try #require(table["\(name)@\(capacity)"])
            let r = try PoolReplay.run(SimFixtures.conversation, capacity: capacity, policy: policy)
            #expect(abs(r.hits.blockHitRatio - expected["block_hit"]!) < 1e-9, "\(name)@\(capacity) block_hit")
            #expect(abs(r.hits.accessHitRatio - expected["block_hit_at_access"]!) < 1e-9, "\(name)@\(capacity) at access")
            #expect(abs(r.hits.prefixHitRatio - expected["prefix_hit"]!) < 1e-9, "\(name)@\(capacity) prefix_hit")
            #expect(abs(r.hits.tokenHitRatio - expected["token_hit"]!) < 1e-9, "\(name)@\(capacity) token_hit")
            #expect(r.requests == 12_031 && r.hits.blockAccesses == 288_500)
        }
    }

    @Test(
        "LRU, LFU, FIFO, SIEVE, S3-FIFO and ARC match libCacheSim to ±0.0001",
        arguments: [
            ("LRU", EvictionPolicy.lru), ("LFU", .lfu), ("FIFO", .fifo), ("SIEVE", .sieve),
            ("S3-FIFO", .s3fifo), ("ARC", .arc),
        ])
    func libCacheSim(name: String, policy: EvictionPolicy) throws {
        let sizes = SimFixtures.libCacheSim.sizes
        let percents = try #require(SimFixtures.libCacheSim.hit_ratio_percent[name])
        for (capacity, percent) in zip(sizes, percents) {
            let r = try PoolReplay.run(SimFixtures.conversation, capacity: capacity, policy: policy)
            // libCacheSim prints the ratio to 4 decimals (2 of the percentage): ±0.0001, plus
            // a hair for the rounding of an exact half.
            #expect(
                abs(r.hits.accessHitRatio - percent / 100) <= 0.0001 + 1e-12, "\(name)@\(capacity): \(r.hits.accessHitRatio) vs \(percent)%"
            )
        }
    }

    @Test("Belady's hit ratio is at least every other policy's at every capacity")
    func beladyBound() throws {
        for capacity in Self.capacities {
            let belady = try PoolReplay.run(SimFixtures.conversation, capacity: capacity, policy: .belady)
            for policy in EvictionPolicy.allCases where policy != .belady {
                let r = try PoolReplay.run(SimFixtures.conversation, capacity: capacity, policy: policy)
                #expect(belady.hits.accessHitRatio >= r.hits.accessHitRatio, "\(policy)@\(capacity)")
                #expect(belady.hits.blockHitRatio >= r.hits.blockHitRatio, "\(policy)@\(capacity)")
            }
        }
        // and it reaches the infinite-cache bound once the pool holds every reused block
        let big = try PoolReplay.run(SimFixtures.conversation, capacity: 50_000, policy: .belady)
        #expect(abs(big.hits.accessHitRatio - SimFixtures.reference.stats.inf_block_hit_ratio) < 1e-12)
    }
}
