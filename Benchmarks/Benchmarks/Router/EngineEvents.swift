// Engine events: what applying a node's KV events costs the router when its caches are full
// and every prompt stores and evicts a run of blocks.
import Benchmark
import KVCache

/// Engine events in steady state, as a gateway applies them: four nodes, each with a full
/// cache of `capacity` blocks; every call stores one new 62-block prompt (tokens included, so
/// the router re-hashes them) on one node and removes that node's oldest prompt. Unchecked
/// sendability: only the benchmark's one thread calls it.
private final class EngineChurn: @unchecked Sendable {
    static let blocksPerPrompt = 62
    let router = KVRouter(configuration: .init(selector: TTFTMin()))
    let nodes = 4
    let promptsPerNode: Int
    var tokens: [UInt32]
    var nextPrompt: [Int]
    var nextEventID: [UInt64]

    init(capacity: Int) {
        promptsPerNode = capacity / Self.blocksPerPrompt
        var rng = SeededGenerator(seed: 11)
        tokens = (0..<(Self.blocksPerPrompt * router.blockSize)).map { _ in UInt32(rng.next() % 152_064) }
        nextPrompt = Array(repeating: 0, count: nodes)
        nextEventID = Array(repeating: 0, count: nodes)
        for n in 0..<nodes { router.addNode(n) }
        for n in 0..<nodes { for _ in 0..<promptsPerNode { step(node: n, evict: false) } }
    }

    /// The engine hash of block `i` of prompt `prompt` on `node` (distinct everywhere).
    func engineHash(_ node: Int, _ prompt: Int, _ i: Int) -> EngineBlockHash {
        var x = UInt64(node) << 56 ^ UInt64(prompt) << 8 ^ UInt64(i)
        x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
        x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
        return EngineBlockHash(x ^ (x >> 31))
    }

    func step(node: Int, evict: Bool = true) {
        let p = nextPrompt[node]
        nextPrompt[node] += 1
        tokens[0] = UInt32(truncatingIfNeeded: p &* 4 &+ node)  // a distinct chain per prompt
        let stored = EngineStoredBlocks(
            blocks: (0..<Self.blocksPerPrompt).map { engineHash(node, p, $0) }, parent: nil, tokens: tokens,
            blockSize: router.blockSize)
        var events = [EngineEvent(node: node, eventID: nextEventID[node], kind: .stored(stored))]
        if evict {
            let old = p - promptsPerNode
            events.append(
                EngineEvent(
                    node: node, eventID: nextEventID[node] + 1,
                    kind: .removed(blocks: (0..<Self.blocksPerPrompt).map { engineHash(node, old, $0) }, tier: .device)))
        }
        nextEventID[node] += UInt64(events.count)
        router.apply(events)
    }
}

private let churns = [65_536, 262_144].map { capacity in (capacity, EngineChurn(capacity: capacity)) }

func engineEventBenchmarks() {
    for (capacity, churn) in churns {
        Benchmark(
            "apply(engine events) 4 nodes × \(capacity) blocks, store 62 + remove 62 blocks",
            configuration: .init(
                metrics: [.wallClock, .throughput], timeUnits: .microseconds, warmupIterations: 100,
                maxDuration: .seconds(3), maxIterations: 50_000)
        ) { benchmark in
            churn.step(node: benchmark.currentIteration & 3)
        }
    }
}
