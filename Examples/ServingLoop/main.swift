// ServingLoop: several concurrent tasks route a workload through one KVRouter while a
// simulated engine per node serves each request from its own block pool and feeds back what
// changed as engine events, the way a real engine's KV-event stream does: the engine names
// blocks with its own hash scheme and ships the tokens of every stored block, and the router
// re-hashes them into its own scheme. Prints per-node load, the engines' realized hit ratios
// and the router's predictions at the end.
//
//   swift run ServingLoop
import KVCache
import Synchronization

let nodes = 4
let blockSize = 16
let router = KVRouter(configuration: .init(hasher: try PrefixHasher(blockSize: blockSize), selector: KVCost(seed: 1)))
for n in 0..<nodes { router.addNode(n, capacityBlocks: 256) }

/// A simulated engine: an LRU pool keyed by the engine's own block hashes (another seed than
/// the router's, as a real engine's sha256 chain would be). Serving a prompt stores its blocks
/// and publishes the changes as engine events numbered 0, 1, 2, ….
final class Engine: Sendable {
    let node: Int
    let hasher = try! PrefixHasher(blockSize: blockSize, seed: 0xE11_61E)
    private let state: Mutex<(pool: BlockPool<LRU>, nextEventID: UInt64, hits: Int, blocks: Int)>

    init(node: Int) throws {
        self.node = node
        var pool = try BlockPool<LRU>(capacity: 256)
        pool.recordsChanges = true
        state = Mutex((pool, 0, 0, 0))
    }

    /// Serves a prompt and hands the router what changed. Events are applied while the
    /// engine's lock is held, so the router receives each node's events in the order they
    /// happened: two requests finishing on one engine never interleave their batches.
    func serve(_ tokens: [UInt32], to router: KVRouter) -> Int {
        state.withLock { s in
            let chain = hasher.blockHashes(tokens)
            // the cached prefix (what prefill can skip) and the update, in one walk
            let prefix = (try? s.pool.lookupAndUpdate(chain))?.prefix ?? 0
            s.hits += prefix
            s.blocks += chain.count
            var changes: [PoolChange] = []
            s.pool.takeChanges(into: &changes)
            var events: [EngineEvent] = []
            EngineEvent.append(
                changes, of: chain, tokens: tokens, blockSize: blockSize, node: node,
                nextEventID: &s.nextEventID, to: &events)
            let gaps = router.apply(events)
            precondition(gaps.isEmpty, "events of one engine are applied in order")
            return prefix
        }
    }

    var hitRatio: Double { state.withLock { Double($0.hits) / Double(max($0.blocks, 1)) } }
}
let engines = try (0..<nodes).map { try Engine(node: $0) }

/// Router-predicted and engine-realized cached blocks, over all requests.
let totals = Mutex((predicted: 0, realized: 0))

// 8 client tasks, each a few conversations behind 3 shared system prompts
let systemPrompts: [[UInt32]] = (0..<3).map { p in (0..<64).map { UInt32(p * 1000 + $0) } }
await withTaskGroup(of: Void.self) { group in
    for client in 0..<8 {
        group.addTask {
            var rng = SeededGenerator(seed: UInt64(client))
            var history = systemPrompts[client % 3]
            var previous: UInt64?
            for turn in 0..<50 {
                history += (0..<UInt32(16 + rng.next() % 48)).map { UInt32(client * 1_000_000 + turn * 1000) + $0 }
                let routed = router.route(tokens: history, expectedOutputTokens: 64)
                guard let node = routed.node else { continue }
                let id = UInt64(client * 1000 + turn)
                router.requestStarted(routed, id: id, expectedOutputTokens: 64)
                let realized = engines[node].serve(history, to: router)
                totals.withLock {
                    $0.predicted += routed.overlapBlocks; $0.realized += realized
                }
                router.prefillFinished(id: id)
                // the previous turn's answer finishes now: each client keeps one request decoding
                if let previous { router.requestFinished(id: previous) }
                previous = id
                if history.count > 2_000 { history = systemPrompts[client % 3] }  // a new conversation
            }
            if let previous { router.requestFinished(id: previous) }
        }
    }
}

let snapshot = router.snapshot
print("node  requests  in-flight  engine hit ratio")
for n in snapshot.nodes {
    print("\(n.id)     \(n.requestsServed)".padding(16) + "\(n.activeRequests)".padding(11) + String(engines[n.id].hitRatio))
}
let (predicted, realized) = totals.withLock { ($0.predicted, $0.realized) }
print("cached blocks: router predicted \(predicted), engines realized \(realized)")
print(
    "index: \(snapshot.indexedBlocks) blocks, \(snapshot.index.eventsApplied) events, \(snapshot.engineOrder.gaps) gaps, "
        + "\(snapshot.engine.orphanBlocks) orphan blocks")

extension String {
    func padding(_ width: Int) -> String { count >= width ? self + " " : self + String(repeating: " ", count: width - count) }
}
