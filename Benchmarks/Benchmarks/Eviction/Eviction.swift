// Eviction: get-or-insert throughput of every algorithm on the Zipf stream of
// ../shared/peers/genzipf.py (10M keys, s = 0.99), at capacities 100K and 1M. One iteration =
// a fresh pool + the whole stream, exactly as the C++ peer ../shared/peers/lru.cpp measures;
// scripts/run.py divides by the stream length and prints ratios against the peer run beside it.
import Benchmark
import Foundation
import KVCache

private let streamPath: String = {
    if let p = ProcessInfo.processInfo.environment["KVCACHE_ZIPF"] { return p }
    return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("data/zipf.bin").path
}()

private let stream: [BlockHash] = {
    guard let data = FileManager.default.contents(atPath: streamPath) else {
        fatalError("missing \(streamPath): run scripts/run.py (or python3 ../../shared/peers/genzipf.py in Benchmarks/)")
    }
    return data.withUnsafeBytes { raw in
        (0..<(data.count / 8)).map { BlockHash(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self))) }
    }
}()

private let nextUses: [Int64] = {
    var next = [Int64](repeating: .max, count: stream.count)
    var seen: [BlockHash: Int64] = [:]
    seen.reserveCapacity(stream.count)
    for i in stream.indices.reversed() {
        if let j = seen.updateValue(Int64(i), forKey: stream[i]) { next[i] = j }
    }
    return next
}()

@inline(never)
private func replay<A: EvictionAlgorithm>(_ type: A.Type, capacity: Int) -> Int {
    var pool = try! BlockPool<A>(capacity: capacity)
    var hits = 0
    stream.withUnsafeBufferPointer { keys in
        for k in keys where try! pool.getOrInsert(BlockInfo(hash: k)) { hits &+= 1 }
    }
    return hits
}

@inline(never)
private func replayBelady(capacity: Int) -> Int {
    var pool = try! BlockPool<Belady>(capacity: capacity)
    var hits = 0
    for i in stream.indices where try! pool.getOrInsert(BlockInfo(hash: stream[i], nextUse: nextUses[i])) { hits &+= 1 }
    return hits
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock],
        timeUnits: .milliseconds,
        warmupIterations: 1,
        maxDuration: .seconds(30),
        maxIterations: 5
    )
    func register<A: EvictionAlgorithm>(_ name: String, _ type: A.Type) {
        for capacity in [100_000, 1_000_000] {
            Benchmark("getOrInsert \(name) cap=\(capacity) (10M Zipf ops)") { benchmark in
                blackHole(replay(type, capacity: capacity))
            }
        }
    }
    register("LRU", LRU.self)
    register("FIFO", FIFO.self)
    register("LFU", LFU.self)
    register("SIEVE", SIEVE.self)
    register("S3FIFO", S3FIFO.self)
    register("ARC", ARC.self)
    register("LengthAware", LengthAware.self)
    register("LeafLRU", LeafLRU.self)
    for capacity in [100_000, 1_000_000] {
        Benchmark("getOrInsert Belady cap=\(capacity) (10M Zipf ops)") { _ in
            blackHole(replayBelady(capacity: capacity))
        }
    }
    // Baselines in the same run: a bare Swift Dictionary lookup and a key-bits table lookup
    // over the same keys (1M present, random order).
    Benchmark("baseline Dictionary<UInt64,Int32> lookup, 1M present (1M ops)") { benchmark in
        var d: [UInt64: Int32] = [:]
        d.reserveCapacity(1_000_000)
        for i in 0..<1_000_000 { d[stream[i].rawValue] = Int32(i) }
        let probe = stream.prefix(1_000_000).map(\.rawValue)
        benchmark.startMeasurement()
        var a = 0
        for k in probe { a &+= Int(d[k]!) }
        blackHole(a)
    }
    Benchmark("baseline BlockPool<FIFO> lookup (key-bits table), 1M present (1M ops)") { benchmark in
        var pool = try! BlockPool<FIFO>(capacity: 1_000_000)
        for i in 0..<1_000_000 { try! pool.getOrInsert(BlockInfo(hash: stream[i])) }
        let probe = Array(stream.prefix(1_000_000))
        benchmark.startMeasurement()
        var a = 0
        for k in probe where pool.contains(k) { a &+= 1 }
        blackHole(a)
    }
}
