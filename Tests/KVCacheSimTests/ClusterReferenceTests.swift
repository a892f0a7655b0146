import KVCache
import Testing

@testable import KVCacheSim

@Suite("Cluster simulator against the reference model")
struct ClusterReferenceTests {
    static let selectors: [(String, SelectorPolicy)] = [
        ("RoundRobin", .roundRobin), ("LeastLoaded", .leastLoaded), ("CacheAware", .cacheAware), ("TTFTMin", .ttftMin),
    ]

    static func metrics(_ r: ClusterResult) -> [String: Double] {
        [
            "prefix_hit": r.hits.prefixHitRatio, "token_hit": r.hits.tokenHitRatio, "max_req_share": r.maxRequestShare,
            "cv_input_tokens": r.cvInputTokens, "cv_prefilled_tokens": r.cvPrefilledTokens,
            "ttft_mean_s": r.ttft.mean, "ttft_p50_s": r.ttft.p50, "ttft_p90_s": r.ttft.p90, "ttft_p99_s": r.ttft.p99,
        ]
    }

    @Test(
        "N ∈ {8, 16}, C ∈ {1000, 5000}: every metric matches (1e-9; TTFT 1e-6 s)",
        arguments: [(8, 1000), (8, 5000), (16, 1000), (16, 5000)])
    func deterministic(nodes: Int, capacity: Int) throws {
        for (name, policy) in Self.selectors {
            let expected = try #require(SimFixtures.reference.cluster["N\(nodes)/C\(capacity)/\(name)"])
            let config = ClusterConfiguration(nodes: nodes, capacity: capacity, eviction: .lru, selector: policy)
            let got = Self.metrics(try ClusterSimulator.run(SimFixtures.conversation, config))
            for (key, want) in expected {
                let tolerance = key.hasPrefix("ttft") ? 1e-6 : 1e-9
                #expect(abs(got[key]! - want) <= tolerance, "N\(nodes)/C\(capacity)/\(name) \(key): \(got[key]!) vs \(want)")
            }
        }
    }

    /// The reference's Random stream differs from ours, so single seeds are not comparable.
    /// Both seed sets are 5-sample estimates of the same distribution: the mean of our seeds
    /// 0–4 must fall in the band [min, max] the reference's seeds 0–4 span, widened by half its
    /// width on each side (the band's own mean is uncertain by about that much).
    @Test("Random falls inside the sensitivity band of seeds 0–4", arguments: [1000, 5000])
    func random(capacity: Int) throws {
        let bands = (0..<5).compactMap { SimFixtures.reference.sensitivity["N16/C\(capacity)/Random/seed\($0)"] }
        #expect(bands.count == 5)
        var config = ClusterConfiguration(nodes: 16, capacity: capacity, eviction: .lru, selector: .random)
        var sums: [String: Double] = [:]
        for seed: UInt64 in 0..<5 {
            config.selectorConfiguration.seed = seed
            for (k, v) in Self.metrics(try ClusterSimulator.run(SimFixtures.conversation, config)) { sums[k, default: 0] += v / 5 }
        }
        for key in bands[0].keys {
            let values = bands.map { $0[key]! }
            let (lo, hi) = (values.min()!, values.max()!)
            let slack = (hi - lo) / 2
            #expect(sums[key]! >= lo - slack && sums[key]! <= hi + slack, "\(key): mean \(sums[key]!) not in [\(lo), \(hi)] ± \(slack)")
        }
    }

    @Test(
        "overlaps from the index fed by pool changes equal overlaps from the pools",
        arguments: [SelectorPolicy.ttftMin, .cacheAware, .kvCost])
    func indexEqualsPools(selector: SelectorPolicy) throws {
        var config = ClusterConfiguration(nodes: 16, capacity: 1000, eviction: .lru, selector: selector, replicaSamples: 5)
        config.overlapSource = .index
        let viaIndex = try ClusterSimulator.run(SimFixtures.conversation, config)
        config.overlapSource = .pools
        let viaPools = try ClusterSimulator.run(SimFixtures.conversation, config)
        #expect(Self.metrics(viaIndex) == Self.metrics(viaPools))
        #expect(viaIndex.perNode == viaPools.perNode)
        #expect(viaIndex.replicaSamples == viaPools.replicaSamples)
    }

    @Test(
        "a pool that can evict nothing is an error of the run, not a silent miss",
        arguments: [ClusterConfiguration.OverlapSource.pools, .index])
    func exhaustedPoolIsAnError(source: ClusterConfiguration.OverlapSource) throws {
        // block 2 follows block 1, then block 1 follows block 2: no prefix tree, so LeafLRU
        // ends up with no block lacking a cached child when block 3 needs room
        var trace = Trace(source: "cycle")
        for (i, chain) in [[1, 2], [2, 1], [3]].enumerated() {
            trace.append(timestamp: Double(i), inputLength: 512 * chain.count, outputLength: 1, chain: chain.map { BlockHash(UInt64($0)) })
        }
        var config = ClusterConfiguration(nodes: 1, capacity: 2, eviction: .leafLRU, selector: .roundRobin)
        config.overlapSource = source
        #expect(throws: PoolError.poolExhausted(capacity: 2)) { try ClusterSimulator.run(trace, config) }
        #expect(throws: PoolError.poolExhausted(capacity: 2)) { try PoolReplay.run(trace, capacity: 2, policy: .leafLRU) }
    }
}
