// ServingLoop: several concurrent tasks route a workload through one KVRouter while a
// simulated engine per node feeds back KV events from its own block pool; prints per-node
// load and hit ratio at the end.
//
//   swift run ServingLoop
import KVCache
import Synchronization

let nodes = 4
let hasher = try PrefixHasher(blockSize: 16)
let router = KVRouter(configuration: .init(hasher: hasher, selector: KVCost(seed: 1)))
for n in 0..<nodes { router.addNode(n, capacityBlocks: 256) }

/// A simulated engine: its own LRU pool; serving a prompt stores its blocks and publishes the
/// changes as KV events with the engine's event ids.
final class Engine: Sendable {
    let node: Int
    private let state: Mutex<(pool: BlockPool<LRU>, nextEventID: UInt64, hits: Int, blocks: Int)>
    init(node: Int) throws {
        self.node = node
        var pool = try BlockPool<LRU>(capacity: 256)
        pool.recordsChanges = true
        state = Mutex((pool, 0, 0, 0))
    }
    func serve(_ chain: [BlockHash]) -> [KVEvent] {
        state.withLock { s in
            // the cached prefix (what prefill can skip) and the update, in one walk
            if let r = try? s.pool.lookupAndUpdate(chain) { s.hits += r.prefix }
            s.blocks += chain.count
            var changes: [PoolChange] = []
            s.pool.takeChanges(into: &changes)
            var events: [KVEvent] = []
            KVEvent.append(changes, node: node, nextEventID: &s.nextEventID, to: &events)
            return events
        }
    }
    var hitRatio: Double { state.withLock { Double($0.hits) / Double(max($0.blocks, 1)) } }
}
let engines = try (0..<nodes).map { try Engine(node: $0) }

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
                let gaps = router.apply(engines[node].serve(routed.chain))
                precondition(gaps.isEmpty)
                router.prefillFinished(id: id)
                // the previous turn's answer finishes now: each client keeps one request decoding
                if let previous { router.requestFinished(id: previous) }
                previous = id
                if history.count > 2_000 { history = systemPrompts[client % 3] }   // a new conversation
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
print("index: \(snapshot.indexedBlocks) blocks, \(snapshot.index.eventsApplied) events, \(snapshot.index.gaps) gaps")

extension String {
    func padding(_ width: Int) -> String { count >= width ? self + " " : self + String(repeating: " ", count: width - count) }
}
