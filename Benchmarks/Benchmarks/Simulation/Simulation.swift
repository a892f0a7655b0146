// Simulation: the reference matrix of ../shared/reference/conversation.json on the Mooncake
// conversation trace — 20 single-pool replays (LRU, FIFO, LFU, LeafLRU × 1,000 … 50,000
// blocks) and 20 cluster runs (Random, RoundRobin, LeastLoaded, CacheAware, TTFTMin × 8/16
// nodes × 1,000/5,000 blocks) — sequentially on one core, and as 40 jobs on all cores the
// way `kvcache-sim compare` runs configurations. The trace is read once, outside the timing.
import Benchmark
import Dispatch
import Foundation
import KVCache
import KVCacheSim

private let trace: Trace = {
    let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("shared/traces/conversation_trace.jsonl").path
    do { return try TraceReader().read(path: path) } catch { fatalError("\(error)") }
}()

private let poolJobs: [@Sendable () throws -> Int] = {
    var jobs: [@Sendable () throws -> Int] = []
    for policy in [EvictionPolicy.lru, .fifo, .lfu, .leafLRU] {
        for capacity in [1_000, 5_000, 10_000, 20_000, 50_000] {
            jobs.append { try PoolReplay.run(trace, capacity: capacity, policy: policy).evictions }
        }
    }
    return jobs
}()

private let clusterJobs: [@Sendable () throws -> Int] = {
    var jobs: [@Sendable () throws -> Int] = []
    for selector in [SelectorPolicy.random, .roundRobin, .leastLoaded, .cacheAware, .ttftMin] {
        for nodes in [8, 16] {
            for capacity in [1_000, 5_000] {
                jobs.append {
                    try ClusterSimulator.run(
                        trace, ClusterConfiguration(nodes: nodes, capacity: capacity, eviction: .lru, selector: selector)
                    ).rejected
                }
            }
        }
    }
    return jobs
}()

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock],
        timeUnits: .milliseconds,
        warmupIterations: 1,
        maxDuration: .seconds(20),
        maxIterations: 9
    )
    _ = trace.count
    Benchmark("reference matrix: 20 pool replays, one core") { _ in
        for job in poolJobs { blackHole(try job()) }
    }
    Benchmark("reference matrix: 20 cluster runs, one core") { _ in
        for job in clusterJobs { blackHole(try job()) }
    }
    Benchmark("reference matrix: all 40 runs on all cores") { _ in
        let jobs = poolJobs + clusterJobs
        DispatchQueue.concurrentPerform(iterations: jobs.count) { i in blackHole(try! jobs[i]()) }
    }
}
