import Testing

@testable import KVCache

private func chain(_ n: Int) -> [BlockHash] { (0..<n).map { BlockHash(UInt64($0 + 1)) } }
private func request(blocks: Int = 8, arrival: Double = 0) -> RoutingRequest {
    RoutingRequest(chain: chain(blocks), inputTokens: blocks * 512, expectedOutputTokens: 100, arrival: arrival)
}
private func cluster(_ delays: [Double], active: [Int]? = nil) -> [NodeState] {
    delays.enumerated().map { NodeState(id: $0.offset, queueDelay: $0.element, activeRequests: active?[$0.offset] ?? 0) }
}

@Suite("Selectors")
struct SelectorTests {
    @Test("round-robin cycles and skips unavailable nodes")
    func roundRobin() {
        var s = RoundRobin()
        var nodes = cluster([0, 0, 0])
        let picks = (0..<4).map { _ in s.select(request(), nodes: nodes, overlaps: OverlapScores(nodeCount: 3)).node }
        #expect(picks == [0, 1, 2, 0])
        nodes[1].isAvailable = false
        #expect(s.select(request(), nodes: nodes, overlaps: OverlapScores(nodeCount: 3)).node == 2)
    }

    @Test("least-loaded takes the shortest queue, ties to the lowest id")
    func leastLoaded() {
        var s = LeastLoaded()
        #expect(s.select(request(), nodes: cluster([0.3, 0.1, 0.1]), overlaps: OverlapScores(nodeCount: 3)).node == 1)
        #expect(s.select(request(), nodes: cluster([0, 0, 0]), overlaps: OverlapScores(nodeCount: 3)).node == 0)
    }

    @Test("cache-aware: longest match, ties to least loaded then lowest id")
    func cacheAware() {
        var s = CacheAware()
        let o = OverlapScores(depths: [2, 5, 5, 1], chainLength: 8)
        #expect(s.select(request(), nodes: cluster([0, 0.2, 0.1, 0]), overlaps: o).node == 2)
        #expect(s.select(request(), nodes: cluster([0, 0.1, 0.1, 0]), overlaps: o).node == 1)
    }

    @Test("a decision's reason names its rule and typed facts; its text is derived from them")
    func reasons() {
        var cache = CacheAware()
        let o = OverlapScores(depths: [2, 5, 5, 1], chainLength: 8)
        let d = cache.select(request(), nodes: cluster([0, 0.2, 0.1, 0]), overlaps: o)
        #expect(d.reason.rule == "longest prefix match")
        #expect(d.reason["matched"] == .blocks(5) && d.reason["of"] == .blocks(8))
        #expect(d.description == "node 2: longest prefix match (matched 5 blocks, of 8 blocks)")
        var ttft = TTFTMin()
        let t = ttft.select(request(), nodes: cluster([0.3, 0.1]), overlaps: OverlapScores(nodeCount: 2))
        #expect(t.reason["estimated TTFT"] == .seconds(t.estimatedTTFT!) && t.reason["queue delay"] == .seconds(0.1))
        let text: DecisionReason = "plain \(1 + 1)"
        #expect(text.rule == "plain 2" && text.facts.isEmpty && text.description == "plain 2")
        var none = LeastLoaded()
        let r = none.select(request(), nodes: [NodeState(id: 0, isAvailable: false)], overlaps: OverlapScores(nodeCount: 1))
        #expect(r.isRejected && r.reason == .noAvailableNode)
    }

    @Test("power of two choices picks the less loaded of two distinct nodes, reproducibly")
    func powerOfTwo() {
        var a = PowerOfTwoChoices(seed: 7), b = PowerOfTwoChoices(seed: 7)
        let nodes = cluster([0.5, 0.1, 0.4, 0.2, 0.3])
        for _ in 0..<50 {
            let d = a.select(request(), nodes: nodes, overlaps: OverlapScores(nodeCount: 5))
            #expect(d.node == b.select(request(), nodes: nodes, overlaps: OverlapScores(nodeCount: 5)).node)
            #expect(d.node != 0)  // the most loaded node never wins a pair
        }
    }

    @Test("weighted trades hit fraction against normalised load")
    func weighted() {
        var s = Weighted()
        // node 0: full hit but the most loaded; node 1: half hit, idle
        let o = OverlapScores(depths: [8, 4], chainLength: 8)
        // scores: 0.6·1 − 0.8·1 = −0.2 ; 0.6·0.5 − 0 = 0.3 → node 1
        #expect(s.select(request(), nodes: cluster([1.0, 0]), overlaps: o).node == 1)
        var cacheHeavy = Weighted(alpha: 1, beta: 0.1)
        #expect(cacheHeavy.select(request(), nodes: cluster([1.0, 0]), overlaps: o).node == 0)
    }

    @Test("threshold-balanced: balance when imbalanced, else cache above the threshold, else least loaded")
    func thresholdBalanced() {
        var s = ThresholdBalanced()
        let o = OverlapScores(depths: [8, 0, 0], chainLength: 8)
        // imbalance 40 − 2 > 32 and 40 > 1.1·2 → least loaded (node 1)
        #expect(s.select(request(), nodes: cluster([0, 0, 0], active: [40, 2, 5]), overlaps: o).node == 1)
        // balanced, match 1.0 > 0.5 → best match
        #expect(s.select(request(), nodes: cluster([0, 0, 0], active: [10, 2, 5]), overlaps: o).node == 0)
        // balanced, match 0.25 → least loaded
        let weak = OverlapScores(depths: [2, 0, 0], chainLength: 8)
        #expect(s.select(request(), nodes: cluster([0, 0, 0], active: [10, 2, 5]), overlaps: weak).node == 1)
    }

    @Test("cache-affinity: the cache while its node is not overloaded; ties and weak matches by load")
    func cacheAffinity() {
        var s = CacheAffinity()
        let full = OverlapScores(depths: [8, 0, 0], chainLength: 8)
        // running 5, 2, 3: mean 3.33, limit 1.5·3.33 + 1 = 6 → node 0 is not overloaded
        #expect(s.select(request(), nodes: cluster([0, 0, 0], active: [5, 2, 3]), overlaps: full).node == 0)
        // match 0.25 ≤ 0.5 → least loaded
        let weak = OverlapScores(depths: [2, 0, 0], chainLength: 8)
        #expect(s.select(request(), nodes: cluster([0, 0, 0], active: [5, 2, 3]), overlaps: weak).node == 1)
        // two nodes hold the prefix: the less loaded of them, not the lower id
        let shared = OverlapScores(depths: [8, 8, 0], chainLength: 8)
        #expect(s.select(request(), nodes: cluster([0, 0, 0], active: [4, 2, 0]), overlaps: shared).node == 1)
        // equal running requests: the shorter queue
        #expect(s.select(request(), nodes: cluster([0.2, 0.1, 0], active: [2, 2, 2]), overlaps: shared).node == 1)
        var down = cluster([0, 0, 0])
        for i in down.indices { down[i].isAvailable = false }
        #expect(s.select(request(), nodes: down, overlaps: full).isRejected)
    }

    @Test("cache-affinity: an overloaded node keeps a request only when recomputing elsewhere is slower")
    func cacheAffinityRelief() {
        var s = CacheAffinity()
        // running 10, 1, 1: mean 4, limit 7 → node 0 is overloaded; the soonest first token decides
        let nodes = { (queue: Double) in cluster([queue, 0, 0], active: [10, 1, 1]) }
        let prefix = OverlapScores(depths: [6, 0, 0], chainLength: 8)
        // node 0: 1 + 0.01 + 1024·50e-6 = 1.0612 s; node 1: 0.01 + 4096·50e-6 = 0.2148 s → node 1
        let moved = s.select(request(), nodes: nodes(1), overlaps: prefix)
        #expect(moved.node == 1)
        #expect(abs(moved.estimatedTTFT! - 0.2148) < 1e-9)
        #expect(moved.reason.rule == "best match overloaded: soonest first token")
        // a short queue there still beats recomputing what only node 0 holds: 0.1612 < 0.2148
        #expect(s.select(request(), nodes: nodes(0.1), overlaps: prefix).node == 0)
        // an overload factor of ∞ never relieves
        var never = CacheAffinity(overloadFactor: .infinity)
        #expect(never.select(request(), nodes: nodes(1), overlaps: prefix).node == 0)
    }

    @Test("an infinite threshold never triggers; an infinite bandwidth leaves the latency")
    func infiniteSettings() {
        let o = OverlapScores(depths: [8, 0, 0], chainLength: 8)
        // the defaults balance here (node 1); a relative threshold of ∞ never does, so the cache wins
        var neverBalance = ThresholdBalanced(balanceRelativeThreshold: .infinity)
        #expect(neverBalance.select(request(), nodes: cluster([0, 0, 0], active: [40, 2, 5]), overlaps: o).node == 0)
        // the defaults follow the full match here (node 0); a cache threshold of ∞ never does
        var neverCache = ThresholdBalanced(cacheThreshold: .infinity)
        #expect(neverCache.select(request(), nodes: cluster([0, 0, 0], active: [10, 2, 5]), overlaps: o).node == 1)
        #expect(KVTransferModel(bytesPerBlock: 1e6, bandwidth: .infinity, latency: 0.002).transferTime(blocks: 10) == 0.002)
    }

    @Test("settings that would make scores or times NaN stop at construction")
    func invalidSettings() async {
        await #expect(processExitsWith: .failure) { _ = KVTransferModel(bandwidth: .nan) }
        await #expect(processExitsWith: .failure) { _ = KVTransferModel(latency: -1) }
        await #expect(processExitsWith: .failure) { _ = ThresholdBalanced(cacheThreshold: .nan) }
        await #expect(processExitsWith: .failure) { _ = CacheAffinity(overloadFactor: .nan) }
        await #expect(processExitsWith: .failure) { _ = TierWeights(host: .infinity) }
    }

    @Test("kv-cost: lowest cost; softmax at T → 0 equals argmin; ties broken at random")
    func kvCost() {
        var s = KVCost()
        var nodes = cluster([0, 0, 0])
        nodes[0].activeDecodeBlocks = 10
        nodes[2].queuedPrefillTokens = 4 * 512
        let o = OverlapScores(depths: [8, 2, 8], chainLength: 8)
        // costs: node0 = max(8−8,0)+10 = 10; node1 = 6; node2 = max(8+4−8,0) = 4
        #expect(s.cost(request(), nodes[2], overlap: 8) == 4)
        #expect(s.select(request(), nodes: nodes, overlaps: o).node == 2)
        var cold = KVCost(temperature: 1e-6, seed: 3)
        for _ in 0..<100 { #expect(cold.select(request(), nodes: nodes, overlaps: o).node == 2) }
        // equal costs: random tie-break visits every node
        var tie = KVCost(seed: 1)
        let seen = Set(
            (0..<200).compactMap { _ in tie.select(request(), nodes: cluster([0, 0, 0]), overlaps: OverlapScores(nodeCount: 3)).node })
        #expect(seen == [0, 1, 2])
        // a warm temperature samples the costlier nodes too
        var warm = KVCost(temperature: 5, seed: 2)
        let sampled = Set((0..<300).compactMap { _ in warm.select(request(), nodes: nodes, overlaps: o).node })
        #expect(sampled.count == 3)
    }

    @Test("ttft-min: queue + prefill; a long queue loses to recompute elsewhere")
    func ttftMin() {
        var s = TTFTMin()
        // node 0 holds all 8 blocks but has a 2 s queue; node 1 is idle and holds nothing
        let o = OverlapScores(depths: [8, 0], chainLength: 8)
        let r = request()
        // node0: 2 + 0.01 = 2.01 ; node1: 0 + 0.01 + 4096·50e-6 = 0.2148 → node 1
        let d = s.select(r, nodes: cluster([2, 0]), overlaps: o)
        #expect(d.node == 1)
        #expect(abs(d.estimatedTTFT! - 0.2148) < 1e-9)
        // a short queue keeps the cache
        #expect(s.select(r, nodes: cluster([0.1, 0]), overlaps: o).node == 0)
    }

    @Test("ttft-min: transfer vs recompute, and SLO rejection")
    func ttftTransfer() {
        // node 0 holds 8 blocks but is busy (1 s); node 1 holds none, idle
        let o = OverlapScores(depths: [8, 0], chainLength: 8)
        let fast = KVTransferModel(bytesPerBlock: 1e6, bandwidth: 1e9, latency: 0)  // 1 ms per block
        var s = TTFTMin(transfer: fast)
        let d = s.select(request(), nodes: cluster([1, 0]), overlaps: o)
        #expect(d.node == 1)
        #expect(d.transfer == KVTransfer(source: 0, blocks: 0..<8, estimatedSeconds: 0.008))
        #expect(abs(d.estimatedTTFT! - (0.008 + 0.01)) < 1e-12)
        // a slow link makes recomputing cheaper: no transfer
        var slow = TTFTMin(transfer: KVTransferModel(bytesPerBlock: 1e9, bandwidth: 1e9, latency: 0))
        let d2 = slow.select(request(), nodes: cluster([1, 0]), overlaps: o)
        #expect(d2.node == 1 && d2.transfer == nil)
        // SLO: every estimate above 0.1 s → rejected
        var strict = TTFTMin(ttftSLO: 0.1)
        let d3 = strict.select(request(), nodes: cluster([1, 0.5]), overlaps: OverlapScores(nodeCount: 2))
        #expect(d3.isRejected)
        if case .sloExceeded(let t, let slo)? = d3.rejection { #expect(slo == 0.1 && t > 0.1) } else { Issue.record("no SLO rejection") }
    }

    @Test("hotspot replication factor follows hotness: ≥0.5 → 3, ≥0.2 → 2, ≥0.1 → 1")
    func replicationFactor() {
        #expect([0.05, 0.1, 0.19, 0.2, 0.49, 0.5, 1].map(HotspotReplicating.replicationFactor) == [0, 1, 1, 2, 2, 3, 3])
        var s = HotspotReplicating()
        let nodes = cluster([0, 0.1, 0.2, 0.3, 0.4, 0.5])
        // every request shares the same prefix: hotness 1 → 3 copies besides the chosen node
        var d = Decision(node: 0, reason: "")
        for i in 0..<10 { d = s.select(request(arrival: Double(i)), nodes: nodes, overlaps: OverlapScores(nodeCount: 6)) }
        #expect(d.replicas.count == 3)
        #expect(Set(d.replicas.map(\.node)).isDisjoint(with: [d.node!]))
        #expect(d.replicas.allSatisfy { $0.blocks == 0..<4 })
        // once 4 nodes hold the prefix, nothing more is copied
        let held = OverlapScores(depths: [8, 8, 8, 8, 0, 0], chainLength: 8)
        #expect(s.select(request(arrival: 11), nodes: nodes, overlaps: held).replicas.isEmpty)
        // a cold prefix among many others: no copies
        var mixed = HotspotReplicating()
        var last = Decision(node: 0, reason: "")
        for i in 0..<40 {
            let r = RoutingRequest(chain: (0..<6).map { BlockHash(UInt64(i * 10 + $0 + 100)) }, inputTokens: 3072, arrival: Double(i))
            last = mixed.select(r, nodes: nodes, overlaps: OverlapScores(nodeCount: 6))
        }
        #expect(last.replicas.isEmpty)
    }

    @Test("property: no selector returns a node outside the cluster, or rejects without an SLO", arguments: SelectorPolicy.allCases)
    func property(policy: SelectorPolicy) {
        var rng = SeededGenerator(seed: 99)
        var selector = policy.makeSelector(SelectorConfiguration())
        for step in 0..<300 {
            let n = Int.random(in: 1...12, using: &rng)
            var nodes = (0..<n).map { i in
                NodeState(
                    id: i, isAvailable: Bool.random(using: &rng) || i == 0, queuedPrefillTokens: Int.random(in: 0...9000, using: &rng),
                    queueDelay: Double.random(in: 0...3, using: &rng), activeRequests: Int.random(in: 0...80, using: &rng),
                    activeDecodeBlocks: Int.random(in: 0...500, using: &rng))
            }
            nodes.shuffle(using: &rng)
            let blocks = Int.random(in: 1...32, using: &rng)
            let r = RoutingRequest(
                chain: (0..<blocks).map { BlockHash(UInt64($0 + Int.random(in: 0...2, using: &rng) * 100)) },
                inputTokens: blocks * 512 - Int.random(in: 0...511, using: &rng), arrival: Double(step))
            let o = OverlapScores(depths: (0..<n).map { _ in Int.random(in: 0...blocks, using: &rng) }, chainLength: blocks)
            let d = selector.select(r, nodes: nodes, overlaps: o)
            #expect(!d.isRejected, "\(policy) rejected without an SLO")
            if let node = d.node {
                #expect(nodes.contains { $0.id == node && $0.isAvailable }, "\(policy) chose \(node)")
            }
            for rep in d.replicas { #expect(nodes.contains { $0.id == rep.node }) }
        }
    }
}
