import Testing

@testable import KVCache

/// Engines storing and evicting prefixes of shared documents, as a stream of engine events:
/// runs that continue what a node holds, duplicates (another tier, or the same tier again),
/// and evictions from a chain's tail.
private struct EngineWorkload {
    static let nodes = 3, documents = 24, blocksPerDocument = 10, blockSize = 4
    var rng: TestRNG
    /// Per node and document: blocks held, in order.
    var held = Array(repeating: Array(repeating: 0, count: documents), count: nodes)
    var nextID = Array(repeating: UInt64(0), count: nodes)

    init(seed: UInt64) { rng = TestRNG(seed: seed) }

    static func tokens(_ doc: Int) -> [UInt32] {
        // documents 2k and 2k+1 share their first three blocks, so chains branch
        (0..<(blocksPerDocument * blockSize)).map { i in i < 3 * blockSize ? UInt32(doc / 2 * 1_000 + i) : UInt32(doc * 1_000 + i) }
    }

    static func engineHash(_ node: Int, _ doc: Int, _ block: Int) -> EngineBlockHash {
        let shared = block < 3 ? doc / 2 * 2 : doc
        return EngineBlockHash(UInt64(node + 1) << 40 | UInt64(shared) << 8 | UInt64(block) | 0x5A5A_0000_0000_0000)
    }

    mutating func event(_ node: Int, _ kind: EngineEventKind) -> EngineEvent {
        defer { nextID[node] += 1 }
        return EngineEvent(node: node, eventID: nextID[node], kind: kind)
    }

    mutating func events(_ count: Int) -> [EngineEvent] {
        var out: [EngineEvent] = []
        while out.count < count {
            let node = Int.random(in: 0..<Self.nodes, using: &rng)
            let doc = Int.random(in: 0..<Self.documents, using: &rng)
            let have = held[node][doc]
            switch Int.random(in: 0..<10, using: &rng) {
            case 0..<6 where have < Self.blocksPerDocument:
                let to = Int.random(in: (have + 1)...Self.blocksPerDocument, using: &rng)
                out.append(event(node, .stored(run(node, doc, have, to, tier: .device))))
                held[node][doc] = to
            case 6 where have > 0:
                // the same blocks again, in the host tier or a second time on the device
                let tier: StorageTier = Bool.random(using: &rng) ? .host : .device
                out.append(event(node, .stored(run(node, doc, 0, have, tier: tier))))
                let again = (0..<have).map { Self.engineHash(node, doc, $0) }
                out.append(event(node, .removed(blocks: again, tier: tier)))
                if Bool.random(using: &rng) { out.append(event(node, .stored(run(node, doc, 0, have, tier: tier)))) }
            case 7..<10 where have > 0:
                let from = Int.random(in: 0..<have, using: &rng)
                out.append(event(node, .removed(blocks: (from..<have).reversed().map { Self.engineHash(node, doc, $0) }, tier: .device)))
                held[node][doc] = from
            default:
                continue
            }
        }
        return out
    }

    func run(_ node: Int, _ doc: Int, _ from: Int, _ to: Int, tier: StorageTier) -> EngineStoredBlocks {
        let t = Self.tokens(doc)
        return EngineStoredBlocks(
            blocks: (from..<to).map { Self.engineHash(node, doc, $0) }, parent: from == 0 ? nil : Self.engineHash(node, doc, from - 1),
            tokens: Array(t[(from * Self.blockSize)..<(to * Self.blockSize)]), blockSize: Self.blockSize, tier: tier)
    }
}

@Suite("Router state: capture, encode, restore")
struct RouterStateTests {
    static let hasher = try! PrefixHasher(blockSize: EngineWorkload.blockSize)

    static func router(_ hasher: PrefixHasher = hasher, nodes: Int = EngineWorkload.nodes) -> KVRouter {
        let r = KVRouter(configuration: .init(hasher: hasher, selector: CacheAware()))
        for n in 0..<nodes { r.addNode(n) }
        return r
    }

    /// A router fed `count` events of the workload seeded `seed`.
    static func filled(seed: UInt64, events count: Int) -> KVRouter {
        var workload = EngineWorkload(seed: seed)
        let r = router()
        r.apply(workload.events(count))
        return r
    }

    /// Every document's overlaps per node and tier, in both routers.
    static func differences(_ a: KVRouter, _ b: KVRouter) -> [String] {
        var out: [String] = []
        for doc in 0..<EngineWorkload.documents {
            let chain = a.blockHashes(tokens: EngineWorkload.tokens(doc))
            let (x, y) = (a.overlaps(chain), b.overlaps(chain))
            for node in 0..<EngineWorkload.nodes {
                for tier in StorageTier.allCases where x.depth(of: node, tier: tier) != y.depth(of: node, tier: tier) {
                    out.append("doc \(doc) node \(node) \(tier): \(x.depth(of: node, tier: tier)) vs \(y.depth(of: node, tier: tier))")
                }
            }
        }
        let (s, t) = (a.snapshot, b.snapshot)
        if s.indexedBlocks != t.indexedBlocks { out.append("indexed blocks \(s.indexedBlocks) vs \(t.indexedBlocks)") }
        if s.mappedEngineBlocks != t.mappedEngineBlocks { out.append("mapped \(s.mappedEngineBlocks) vs \(t.mappedEngineBlocks)") }
        return out
    }

    /// The events renumbered per node from 0, as a new subscriber numbers them.
    static func renumbered(_ events: [EngineEvent]) -> [EngineEvent] {
        var next: [NodeID: UInt64] = [:]
        return events.map { e in
            var e = e
            e.eventID = next[e.node, default: 0]
            next[e.node, default: 0] += 1
            return e
        }
    }

    @Test("a restored router answers as the one that took the state, and later events continue it", arguments: [1, 2, 3] as [UInt64])
    func roundTrip(seed: UInt64) throws {
        var workload = EngineWorkload(seed: seed)
        let original = Self.router()
        original.apply(workload.events(600))
        #expect(original.snapshot.indexedBlocks > 50)
        let state = original.captureState()
        #expect(state.blockCount == original.snapshot.mappedEngineBlocks)
        let decoded = try RouterState(decoding: state.encoded())
        #expect(decoded == state)

        let restored = Self.router()
        try restored.restore(decoded)
        #expect(Self.differences(original, restored) == [])

        // Removals name engine hashes only: they reach the right blocks after a restore.
        let more = workload.events(600)
        original.apply(more)
        restored.apply(Self.renumbered(more))
        #expect(Self.differences(original, restored) == [])
        #expect(restored.snapshot.engine.unknownRemovals == 0)
        #expect(restored.snapshot.index.unknownRemovals == 0)
    }

    @Test("a restore replaces what the router knew of the state's nodes and leaves the others")
    func replaces() throws {
        let original = Self.filled(seed: 9, events: 400)
        var state = original.captureState()
        state.nodes.removeAll { $0.id == 2 }

        let other = Self.filled(seed: 10, events: 400)
        let nodeTwoBefore = other.indexedBlocks(of: 2)
        try other.restore(state)
        #expect(other.indexedBlocks(of: 0) == original.indexedBlocks(of: 0))
        #expect(other.indexedBlocks(of: 1) == original.indexedBlocks(of: 1))
        #expect(other.indexedBlocks(of: 2) == nodeTwoBefore)
    }

    @Test("a state restores to other node ids when its nodes are renumbered")
    func renumbers() throws {
        let original = Self.filled(seed: 4, events: 300)
        var state = original.captureState()
        for i in state.nodes.indices { state.nodes[i].id += 2 }
        let target = Self.router(nodes: 5)
        try target.restore(state)
        for n in 0..<3 { #expect(target.indexedBlocks(of: n + 2) == original.indexedBlocks(of: n)) }
        #expect(target.indexedBlocks(of: 0) == 0)
    }

    @Test("a state from another block size, hash seed or node set is refused, and nothing changes")
    func refused() throws {
        let original = Self.filled(seed: 5, events: 200)
        let state = original.captureState()

        let wider = Self.router(try PrefixHasher(blockSize: 8))
        #expect(throws: RouterStateError.blockSizeMismatch(state: 4, router: 8)) { try wider.restore(state) }
        let seeded = Self.router(try PrefixHasher(blockSize: 4, seed: 99))
        #expect(throws: RouterStateError.hasherMismatch) { try seeded.restore(state) }
        #expect(seeded.snapshot.indexedBlocks == 0)
        let small = Self.router(nodes: 2)
        #expect(throws: RouterStateError.unknownNode(2)) { try small.restore(state) }
        #expect(small.snapshot.indexedBlocks == 0)
        var twice = state
        twice.nodes[1].id = 0
        #expect(throws: RouterStateError.duplicateNode(0)) { try Self.router().restore(twice) }
    }

    @Test("damaged bytes are refused with what is wrong, never a trap")
    func damaged() throws {
        let original = Self.filled(seed: 6, events: 300)
        var state = original.captureState()
        state.nodes[0].source = "tcp://127.0.0.1:5557"
        state.nodes[0].lastBatch = 41
        let bytes = state.encoded()
        #expect(try RouterState(decoding: bytes).nodes[0].lastBatch == 41)

        #expect(throws: RouterStateError.notAState) { try RouterState(decoding: Array("not a state at all".utf8)) }
        #expect(throws: RouterStateError.truncated(expected: bytes.count, actual: bytes.count - 1)) {
            try RouterState(decoding: Array(bytes.dropLast()))
        }
        var flipped = bytes
        flipped[bytes.count / 2] ^= 0x10
        #expect(throws: RouterStateError.checksumMismatch) { try RouterState(decoding: flipped) }
        var version = bytes
        version[8] = 9
        #expect(throws: RouterStateError.unsupportedVersion(9)) { try RouterState(decoding: version) }

        // Damage behind a valid checksum reaches the structural checks: each is an error.
        var rng = TestRNG(seed: 77)
        var refused = 0
        for _ in 0..<300 {
            var b = bytes
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                b[Int.random(in: RouterState._headerSize..<b.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            b.replaceSubrange(40..<48, with: withUnsafeBytes(of: RouterState._checksum(b, from: 48).littleEndian) { Array($0) })
            do {
                let s = try RouterState(decoding: b)
                // what survives the checks restores without trapping
                try? Self.router(nodes: 8).restore(s)
            } catch {
                refused += 1
            }
        }
        #expect(refused > 0)
    }
}
