// Engine events: what applying a node's KV events costs the router when its caches are full
// and every prompt stores and evicts a run of blocks.
import Benchmark
import KVCache
import KVCacheZMQ

/// Engine events in steady state, as a gateway applies them: four nodes, each with a full
/// cache of `capacity` blocks of `blockSize` tokens; every call stores one new 62-block prompt
/// (tokens included, so the router re-hashes them) on one node and removes that node's oldest
/// prompt. Unchecked sendability: only the benchmark's one thread calls it.
private final class EngineChurn: @unchecked Sendable {
    static let blocksPerPrompt = 62
    let router: KVRouter
    let nodes = 4
    let promptsPerNode: Int
    var tokens: [UInt32]
    var nextPrompt: [Int]
    var nextEventID: [UInt64]

    init(capacity: Int, blockSize: Int) {
        router = KVRouter(configuration: .init(hasher: try! PrefixHasher(blockSize: blockSize), selector: TTFTMin()))
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

/// A vLLM batch as msgspec encodes it (each integer in its shortest form): one `BlockStored`
/// of 62 blocks with their 992 tokens, one `BlockRemoved` of 62 blocks.
private let vllmBatch: [UInt8] = {
    var out: [UInt8] = []
    func uint(_ v: UInt64) {
        switch v {
        case 0..<0x80: out.append(UInt8(v))
        case 0..<0x100: out += [0xcc, UInt8(v)]
        case 0..<0x10000: out += [0xcd, UInt8(v >> 8), UInt8(v & 0xff)]
        case 0..<0x1_0000_0000: out.append(0xce); for k in (0..<4).reversed() { out.append(UInt8(truncatingIfNeeded: v >> (8 * k))) }
        default: out.append(0xcf); for k in (0..<8).reversed() { out.append(UInt8(truncatingIfNeeded: v >> (8 * k))) }
        }
    }
    func str(_ s: String) { out.append(0xa0 | UInt8(s.utf8.count)); out += Array(s.utf8) }
    func array(_ n: Int) { if n < 16 { out.append(0x90 | UInt8(n)) } else { out += [0xdc, UInt8(n >> 8), UInt8(n & 0xff)] } }
    var rng = SeededGenerator(seed: 5)
    let stored = (0..<62).map { _ in rng.next() }, removed = (0..<62).map { _ in rng.next() }
    array(3)
    out += [0xcb] + withUnsafeBytes(of: (1.7e9).bitPattern.bigEndian) { Array($0) }
    array(2)
    out.append(0x80 | 9)
    str("type"); str("BlockStored")
    str("block_hashes"); array(62); stored.forEach(uint)
    str("parent_block_hash"); out.append(0xc0)
    str("token_ids"); array(992); for _ in 0..<992 { uint(rng.next() % 152_064) }
    str("block_size"); uint(16)
    str("lora_id"); out.append(0xc0)
    str("medium"); str("GPU")
    str("lora_name"); out.append(0xc0)
    str("extra_keys"); out.append(0xc0)
    out.append(0x80 | 3)
    str("type"); str("BlockRemoved")
    str("block_hashes"); array(62); removed.forEach(uint)
    str("medium"); str("GPU")
    out.append(0xc0)
    return out
}()

// vLLM's 16-token blocks (the gateway's engines in `gateway.py`), and the 512-token blocks of
// the Mooncake trace, where hashing a block's 2 KiB of tokens is the larger part.
private let churns = [(65_536, 16), (262_144, 16), (65_536, 512), (262_144, 512)].map { capacity, blockSize in
    (capacity, blockSize, EngineChurn(capacity: capacity, blockSize: blockSize))
}

func engineEventBenchmarks() {
    Benchmark(
        "decode a vLLM batch: store 62 blocks with their tokens, remove 62",
        configuration: .init(
            metrics: [.wallClock, .throughput, .mallocCountTotal], timeUnits: .microseconds, warmupIterations: 100,
            maxDuration: .seconds(3), maxIterations: 50_000)
    ) { benchmark in
        let decoder = VLLMEventDecoder()
        for _ in benchmark.scaledIterations { blackHole(try? decoder.decode(vllmBatch)) }
    }
    for (capacity, blockSize, churn) in churns {
        Benchmark(
            "apply(engine events) 4 nodes × \(capacity) blocks of \(blockSize) tokens, store 62 + remove 62 blocks",
            configuration: .init(
                metrics: [.wallClock, .throughput], timeUnits: .microseconds, warmupIterations: 100,
                maxDuration: .seconds(3), maxIterations: 50_000)
        ) { benchmark in
            churn.step(node: benchmark.currentIteration & 3)
        }
    }
}
