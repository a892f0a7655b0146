// Router: route latency of KVRouter with 16 and 1,024 nodes and a 32-block (16K-token)
// prompt, including hashing the tokens, the index walk and the selection; and throughput with
// two threads; routes with speculative entries on chains never seen before; applying engine
// events to full caches (EngineEvents.swift); and writing and loading the router state of
// 1 M blocks (State.swift).
import Benchmark
import Dispatch
import KVCache

private let nodes = 16
private let router: KVRouter = {
    let r = KVRouter(configuration: .init(selector: TTFTMin()))
    for n in 0..<nodes { r.addNode(n) }
    return r
}()

/// 64 prompts of 32 blocks sharing a 4-block system prompt; each node already holds some.
private let prompts: [[UInt32]] = {
    var rng = SeededGenerator(seed: 7)
    let system = (0..<(4 * 512)).map { _ in UInt32(rng.next() % 152_064) }
    let prompts = (0..<64).map { _ in system + (0..<(28 * 512)).map { _ in UInt32(rng.next() % 152_064) } }
    let hasher = try! PrefixHasher()
    for (i, p) in prompts.enumerated() {
        let chain = hasher.blockHashes(p)
        router.apply([.stored(node: i % nodes, eventID: UInt64(i / nodes), parent: nil, blocks: Array(chain.prefix(8 + i % 24)))])
    }
    return prompts
}()

private let fleet = 1_024

/// 1,024 nodes: every node holds the 4-block system prompt; each of the 64 prompts is held,
/// to depths of 8 to 31 blocks, by 16 nodes.
private let fleetRouter: KVRouter = {
    let r = KVRouter(configuration: .init(selector: TTFTMin(), nodeCapacity: fleet))
    for n in 0..<fleet { r.addNode(n) }
    let hasher = try! PrefixHasher()
    var next = [UInt64](repeating: 0, count: fleet)
    func store(_ node: Int, _ chain: [BlockHash]) {
        r.apply([.stored(node: node, eventID: next[node], parent: nil, blocks: chain)])
        next[node] += 1
    }
    let system = hasher.blockHashes(prompts[0]).prefix(4)
    for n in 0..<fleet { store(n, Array(system)) }
    for (i, p) in prompts.enumerated() {
        let chain = hasher.blockHashes(p)
        for k in 0..<16 { store((i * 16 + k) % fleet, Array(chain.prefix(8 + (i + k) % 24))) }
    }
    return r
}()

let benchmarks: @Sendable () -> Void = {
    engineEventBenchmarks()
    stateBenchmarks()
    for (label, r) in [("1,024 nodes", fleetRouter), ("16 nodes", router)] {
        Benchmark(
            "route(tokens:) \(label), 32-block prompt, single thread",
            configuration: .init(
                metrics: [.wallClock, .throughput], timeUnits: .nanoseconds, warmupIterations: 1_000,
                maxDuration: .seconds(3), maxIterations: 200_000)
        ) { benchmark in
            let p = prompts[benchmark.currentIteration & 63]
            benchmark.startMeasurement()
            blackHole(r.route(tokens: p).node)
        }
    }

    // Speculative entries on prompts never seen before, their worst case: each route records
    // its 62 blocks and expires an earlier route's, against the same routes with none.
    /// A router over 4 nodes with events, and 4,096 distinct 62-block chains; the benchmark's
    /// `chain(_:)` offsets a chain's blocks by the lap, so none repeats.
    func distinctChains(ttl: Double) -> (KVRouter, chain: (Int) -> [BlockHash]) {
        let r = KVRouter(configuration: .init(selector: CacheAffinity(), speculativeTTL: ttl))
        for n in 0..<4 { r.addNode(n) }
        var rng = SeededGenerator(seed: 11)
        let chains = (0..<4_096).map { _ in (0..<62).map { _ in BlockHash(rng.next()) } }
        return (r, { i in chains[i & 4_095].map { BlockHash($0.rawValue &+ UInt64(i >> 12)) } })
    }
    let configuration = Benchmark.Configuration(
        metrics: [.wallClock, .throughput], timeUnits: .nanoseconds, warmupIterations: 20_000,
        maxDuration: .seconds(3), maxIterations: 400_000)
    for ttl in [0, 0.05] {
        let (r, chain) = distinctChains(ttl: ttl)
        Benchmark(
            "route(blockHashes:) 4 nodes, distinct 62-block chains, speculative TTL \(ttl) s", configuration: configuration
        ) { benchmark in
            let blocks = chain(benchmark.currentIteration)
            benchmark.startMeasurement()
            blackHole(r.route(blockHashes: blocks).node)
        }
    }

    // The same routes with the gateway's TTL (2 s) on engines that report what they store:
    // each route's chain comes back as its node's stored event, and a chain 64 routes older
    // is evicted, outside the measurement. The entries then hold only the routes whose events
    // are still to come, and the table stays in cache.
    do {
        let (r, chain) = distinctChains(ttl: 2)
        var held: [(node: NodeID, blocks: [BlockHash])] = []
        var eventIDs = [UInt64](repeating: 0, count: 4)
        Benchmark(
            "route(blockHashes:) 4 nodes, distinct 62-block chains, speculative TTL 2 s, each chain then reported stored",
            configuration: configuration
        ) { benchmark in
            let blocks = chain(benchmark.currentIteration)
            benchmark.startMeasurement()
            let node = r.route(blockHashes: blocks).node
            benchmark.stopMeasurement()
            guard let node else { return }
            var events = [KVEvent.stored(node: node, eventID: eventIDs[node], parent: nil, blocks: blocks)]
            eventIDs[node] += 1
            held.append((node, blocks))
            if held.count > 64 {
                let old = held.removeFirst()
                events.append(.removed(node: old.node, eventID: eventIDs[old.node], blocks: old.blocks))
                eventIDs[old.node] += 1
            }
            r.apply(events)
        }
    }

    Benchmark(
        "route(tokens:) 16 nodes, 32-block prompt, 2 threads × 500 routes",
        configuration: .init(
            metrics: [.wallClock, .throughput], timeUnits: .microseconds, warmupIterations: 5,
            maxDuration: .seconds(3), maxIterations: 2_000)
    ) { _ in
        DispatchQueue.concurrentPerform(iterations: 2) { t in
            for i in 0..<500 { blackHole(router.route(tokens: prompts[(i + t * 7) & 63]).node) }
        }
    }
}
