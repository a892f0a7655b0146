// Router state: what a gateway's --state-dir costs. A router with 64 nodes and 1 M indexed
// blocks, fed by engine events; its state captured, encoded and written to a file, and read,
// decoded and restored into a fresh router. The file's bytes per indexed block are recorded
// as a metric of their own. And the engine event right after a capture, against one with no
// capture before it: a capture shares the tables, so that event copies them under the lock.
import Benchmark
import Foundation
import KVCache
import Synchronization

private let stateNodes = 64
private let runBlocks = 32
private let blockSize = 16
private let stateHasher = try! PrefixHasher(blockSize: blockSize)

private func emptyRouter() -> KVRouter {
    let r = KVRouter(configuration: .init(hasher: stateHasher, selector: CacheAware(), nodeCapacity: stateNodes))
    for n in 0..<stateNodes { r.addNode(n) }
    return r
}

/// Every node holds 16 shared 4-block system prompts; each node then stores its own
/// conversations, 32-block runs under one of them, until the index holds 1 M blocks.
private let stateRouter: KVRouter = {
    let r = emptyRouter()
    var rng = SeededGenerator(seed: 11)
    var nextID = [UInt64](repeating: 0, count: stateNodes)
    var nextEngineHash: UInt64 = 1
    func run(_ node: Int, tokens: [UInt32], parent: EngineBlockHash?) -> [EngineBlockHash] {
        let blocks = (0..<(tokens.count / blockSize)).map { _ in
            nextEngineHash += 1
            return EngineBlockHash(nextEngineHash &* 0x9E37_79B9_7F4A_7C15)
        }
        r.apply([
            EngineEvent(
                node: node, eventID: nextID[node],
                kind: .stored(EngineStoredBlocks(blocks: blocks, parent: parent, tokens: tokens, blockSize: blockSize)))
        ])
        nextID[node] += 1
        return blocks
    }
    let systems = (0..<16).map { _ in (0..<(4 * blockSize)).map { _ in UInt32(rng.next() % 152_064) } }
    var systemHashes: [[EngineBlockHash]] = Array(repeating: [], count: stateNodes)
    for n in 0..<stateNodes { for s in systems { systemHashes[n].append(run(n, tokens: s, parent: nil).last!) } }
    var k = 0
    while r.snapshot.indexedBlocks < 1_000_000 {
        for _ in 0..<64 {
            let node = k % stateNodes
            let tokens = (0..<(runBlocks * blockSize)).map { _ in UInt32(rng.next() % 152_064) }
            _ = run(node, tokens: tokens, parent: systemHashes[node][k % 16])
            k += 1
        }
    }
    return r
}()

private let statePath = FileManager.default.temporaryDirectory.appendingPathComponent("kvcache-bench.kvstate")

func stateBenchmarks() {
    let bytesPerBlock = BenchmarkMetric.custom("bytes per indexed block", polarity: .prefersSmaller, useScalingFactor: false)
    Benchmark(
        "router state write: capture, encode, write; 1 M blocks, 64 nodes",
        configuration: .init(
            metrics: [.wallClock, .peakMemoryResident, bytesPerBlock], timeUnits: .milliseconds, warmupIterations: 1,
            maxDuration: .seconds(20), maxIterations: 10)
    ) { benchmark in
        let blocks = stateRouter.snapshot.indexedBlocks
        benchmark.startMeasurement()
        let bytes = stateRouter.captureState().encoded()
        try! Data(bytes).write(to: statePath)
        benchmark.stopMeasurement()
        benchmark.measurement(bytesPerBlock, bytes.count / blocks)
    }
    Benchmark(
        "router state load: read, decode, restore; 1 M blocks, 64 nodes",
        configuration: .init(
            metrics: [.wallClock, .peakMemoryResident], timeUnits: .milliseconds, warmupIterations: 1,
            maxDuration: .seconds(20), maxIterations: 10)
    ) { benchmark in
        if !FileManager.default.fileExists(atPath: statePath.path) {
            try! Data(stateRouter.captureState().encoded()).write(to: statePath)
        }
        let fresh = emptyRouter()
        benchmark.startMeasurement()
        let state = try! RouterState(decoding: [UInt8](try! Data(contentsOf: statePath)))
        try! fresh.restore(state)
        benchmark.stopMeasurement()
        precondition(fresh.snapshot.indexedBlocks == stateRouter.snapshot.indexedBlocks, "the restored index differs")
    }

    // A restored router numbers every node's engine events from 0 again: events can follow.
    let restored = emptyRouter()
    try! restored.restore(stateRouter.captureState())
    let next = Mutex([UInt64](repeating: 0, count: stateNodes))
    var rng = SeededGenerator(seed: 12)
    let runs = (0..<64).map { k -> (tokens: [UInt32], blocks: [EngineBlockHash]) in
        let tokens = (0..<(runBlocks * blockSize)).map { _ in UInt32(rng.next() % 152_064) }
        return (tokens, (0..<runBlocks).map { EngineBlockHash(UInt64(k) << 32 | UInt64($0) | 1 << 60) })
    }
    func event(_ i: Int) -> EngineEvent {
        let node = i % stateNodes
        let id = next.withLock { ids in
            defer { ids[node] += 1 }
            return ids[node]
        }
        let run = runs[i & 63]
        return EngineEvent(
            node: node, eventID: id,
            kind: .stored(EngineStoredBlocks(blocks: run.blocks, parent: nil, tokens: run.tokens, blockSize: blockSize)))
    }
    for captured in [false, true] {
        Benchmark(
            "router state: an engine event \(captured ? "right after a capture" : "with no capture before it"), 1 M blocks, 64 nodes",
            configuration: .init(
                metrics: [.wallClock], timeUnits: .microseconds, warmupIterations: 2, maxDuration: .seconds(20), maxIterations: 30)
        ) { benchmark in
            let e = event(benchmark.currentIteration)
            var state: RouterState?
            if captured { state = restored.captureState() }
            benchmark.startMeasurement()
            restored.apply([e])
            benchmark.stopMeasurement()
            blackHole(state?.blockCount)
        }
    }
}
