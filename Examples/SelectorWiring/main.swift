// SelectorWiring: a small cluster of nodes, each with its own block pool whose changes feed
// one prefix index; three policies route the same requests and say why.
//
//   swift run SelectorWiring
import KVCache

let hasher = try PrefixHasher(blockSize: 16)
let nodes = 4
var pools = try (0..<nodes).map { _ in
    var pool = try BlockPool<LRU>(capacity: 64)
    pool.recordsChanges = true
    return pool
}
var index = PrefixIndex(nodeCapacity: nodes)
var changes: [PoolChange] = []

// A shared system prompt (64 tokens = 4 blocks) followed by a user question.
let system: [UInt32] = Array(1...64)
func prompt(_ question: UInt32, length: Int) -> [UInt32] { system + (0..<UInt32(length)).map { question * 1000 + $0 } }

/// Warm node 2 with the system prompt and a long document question, node 0 with nothing.
@MainActor
func serve(_ tokens: [UInt32], on node: Int) throws {
    try pools[node].update(hasher.blockHashes(tokens))
    pools[node].takeChanges(into: &changes)
    try index.apply(changes, node: node)
}
try serve(prompt(7, length: 160), on: 2)
try serve(prompt(8, length: 32), on: 1)

var states = (0..<nodes).map { NodeState(id: $0, queueDelay: 0) }
states[2].queueDelay = 0.25  // node 2 is busy for 250 ms
states[2].activeRequests = 6

let requests = [("follow-up on document 7", prompt(7, length: 200)), ("new question", prompt(9, length: 48))]
var selectors: [any PrefillNodeSelector] = [
    CacheAware(), LeastLoaded(), TTFTMin(prefillModel: LinearPrefillModel(base: 0.010, perToken: 0.000_5)),
]

for (label, tokens) in requests {
    let chain = hasher.blockHashes(tokens)
    let overlaps = index.overlaps(chain)
    let request = RoutingRequest(chain: chain, inputTokens: tokens.count, blockSize: hasher.blockSize)
    print("\(label): \(chain.count) blocks; cached leading blocks per node: \(overlaps.depths)")
    for i in selectors.indices {
        let decision = selectors[i].select(request, nodes: states, overlaps: overlaps)
        let name = selectors[i].name
        print("  " + name + String(repeating: " ", count: max(1, 14 - name.count)) + "→ \(decision)")
    }
}
