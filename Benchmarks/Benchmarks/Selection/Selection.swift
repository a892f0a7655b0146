// Selection: the cost of one decision over 16 nodes for a 32-block request, per policy,
// excluding the index walk (the overlaps are given). One iteration = 1,000 decisions on
// varying cluster states (scalingFactor .kilo: the reported time is per decision).
import Benchmark
import KVCache

private let nodeCount = 16
private let blocks = 32

private struct Case {
    var request: RoutingRequest
    var nodes: [NodeState]
    var overlaps: OverlapScores
}

private let cases: [Case] = {
    var rng = SeededGenerator(seed: 42)
    return (0..<64).map { i in
        let chain = (0..<blocks).map { BlockHash(UInt64($0 + (i % 4) * 1000)) }
        let nodes = (0..<nodeCount).map { n in
            NodeState(
                id: n, queuedPrefillTokens: Int.random(in: 0...20_000, using: &rng), queueDelay: Double.random(in: 0...2, using: &rng),
                activeRequests: Int.random(in: 0...64, using: &rng), activeDecodeBlocks: Int.random(in: 0...2000, using: &rng),
                capacityBlocks: 20_000, usedBlocks: 15_000)
        }
        let overlaps = OverlapScores(depths: (0..<nodeCount).map { _ in Int.random(in: 0...blocks, using: &rng) }, chainLength: blocks)
        return Case(
            request: RoutingRequest(chain: chain, inputTokens: blocks * 512, expectedOutputTokens: 300, arrival: Double(i)),
            nodes: nodes, overlaps: overlaps)
    }
}()

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput],
        timeUnits: .nanoseconds,
        warmupIterations: 10,
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 500
    )
    func register<S: PrefillNodeSelector>(_ variant: String = "", _ make: @escaping @Sendable () -> S) {
        let name = make().name + variant
        Benchmark("select \(name), 16 nodes, 32 blocks") { benchmark in
            var selector = make()
            var k = 0
            for _ in benchmark.scaledIterations {
                let c = cases[k & 63]
                blackHole(selector.select(c.request, nodes: c.nodes, overlaps: c.overlaps).node)
                k &+= 1
            }
        }
    }
    register { Random(seed: 1) }
    register { RoundRobin() }
    register { LeastLoaded() }
    register { PowerOfTwoChoices(seed: 1) }
    register { CacheAware() }
    register { Weighted() }
    register { ThresholdBalanced() }
    register { KVCost(seed: 1) }
    register(" (T=0.5)") { KVCost(temperature: 0.5, seed: 1) }
    register { TTFTMin() }
    register(" (with transfers)") { TTFTMin(transfer: KVTransferModel()) }
    register { HotspotReplicating() }
}
