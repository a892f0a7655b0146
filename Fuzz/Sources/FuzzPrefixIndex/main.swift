import FuzzSupport
import Glibc
import KVCache

/// The obvious model of the index: per node and tier a multiset of blocks, events applied in
/// each node's ID order as they become contiguous, duplicates ignored.
struct Model {
    var held: [Int: [Int: [UInt64: Int]]] = [:]
    var waiting: [Int: [UInt64: KVEvent]] = [:]
    var next: [Int: UInt64] = [:]

    mutating func deliver(_ e: KVEvent) {
        if e.eventID < next[e.node, default: 0] || waiting[e.node]?[e.eventID] != nil { return }
        waiting[e.node, default: [:]][e.eventID] = e
        drain(e.node)
    }

    /// Gives up the node's missing IDs up to the highest it holds, as `skipGap` does.
    mutating func skip(_ node: Int) {
        guard let through = waiting[node]?.keys.max() else { return }
        while let oldest = waiting[node]?.keys.min(), oldest <= through {
            if oldest > next[node, default: 0] { next[node] = oldest }
            drain(node)
        }
    }

    mutating func drain(_ node: Int) {
        while let ready = waiting[node]?.removeValue(forKey: next[node, default: 0]) {
            next[node, default: 0] += 1
            switch ready.kind {
            case .stored(_, let blocks, let tier):
                for b in blocks { held[node, default: [:]][tier.rawValue, default: [:]][b.rawValue, default: 0] += 1 }
            case .removed(let blocks, let tier):
                for b in blocks {
                    if let r = held[node]?[tier.rawValue]?[b.rawValue] { held[node]![tier.rawValue]![b.rawValue] = r > 1 ? r - 1 : nil }
                }
            case .cleared:
                held[node] = [:]
            }
        }
    }

    func depth(_ node: Int, _ chain: [BlockHash]) -> Int {
        var d = 0
        for b in chain {
            guard held[node]?.values.contains(where: { $0[b.rawValue] != nil }) == true else { break }
            d += 1
        }
        return d
    }
}

let nodes = [0, 1, 63, 64, 200]

// Bytes as a stream of events (stores, removals, clears with IDs in order, repeated or ahead)
// and queries, on an index of 256 node slots and on the model; every query must agree.
exit(
    runFuzzer { data, size in
        let bytes = UnsafeBufferPointer(start: data, count: size)
        var index = PrefixIndex(nodeCapacity: 256, expectedBlocks: 16)
        var model = Model()
        var ids: [Int: UInt64] = [:]
        var i = 0
        func byte() -> Int { defer { i += 1 }; return i < bytes.count ? Int(bytes[i]) : 0 }
        while i + 4 <= bytes.count {
            let op = byte(), node = nodes[byte() % nodes.count], a = byte(), b = byte()
            let chain = (0..<(1 + a % 6)).map { BlockHash(UInt64($0 == 0 ? 1 : (b % 5) * 100 + $0)) }
            var id = ids[node, default: 0]
            switch op >> 6 {  // in order, repeated, ahead
            case 0, 1: ids[node] = id + 1
            case 2: id = id > 0 ? id - 1 : 0
            default: id += UInt64(1 + a % 3); ids[node] = max(ids[node, default: 0], id + 1)
            }
            let tier = StorageTier(rawValue: b % 3)!
            let event: KVEvent
            switch op % 8 {
            case 0, 1, 2: event = .stored(node: node, eventID: id, parent: nil, blocks: chain, tier: tier)
            case 3: event = .stored(node: node, eventID: id, parent: chain.first, blocks: Array(chain.dropFirst()), tier: tier)
            case 4, 5: event = .removed(node: node, eventID: id, blocks: Array(chain.suffix(1 + b % 3)), tier: tier)
            case 6: event = .cleared(node: node, eventID: id)
            default:
                index.skipGap(of: node)
                model.skip(node)
                continue
            }
            _ = try? index.apply(event)
            model.deliver(event)
            let scores = index.overlaps(chain)
            for n in nodes where scores.depth(of: n) != model.depth(n, chain) {
                fatalError("node \(n): index \(scores.depth(of: n)) != model \(model.depth(n, chain)) for \(chain)")
            }
        }
        return 0
    })
