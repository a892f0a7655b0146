import Testing

@testable import KVCache

/// An engine as the router sees it from outside: a bounded LRU pool keyed by the engine's own
/// block hashes (a scheme the router does not share), publishing what changed as engine events
/// with the tokens of every stored block.
private struct EngineModel {
    let node: Int
    let hasher: PrefixHasher
    let binary: Bool
    var pool: BlockPool<LRU>
    var nextEventID: UInt64 = 0
    /// Every engine block ever stored: its tokens' prefix (the router's truth for it).
    var prefixOf: [BlockHash: [UInt32]] = [:]
    var adapterOf: [BlockHash: String] = [:]

    init(node: Int, blockSize: Int, capacity: Int, binary: Bool) throws {
        self.node = node
        hasher = try PrefixHasher(blockSize: blockSize, seed: 0x5EED_0F_E1)
        self.binary = binary
        pool = try BlockPool<LRU>(capacity: capacity)
        pool.recordsChanges = true
    }

    /// The engine hash as published: the integer, or 32 bytes derived from it.
    func published(_ h: BlockHash) -> EngineBlockHash {
        guard binary else { return EngineBlockHash(h.rawValue) }
        var bytes: [UInt8] = []
        var x = h.rawValue
        for _ in 0..<4 {
            x = x &* 0x9E37_79B9_7F4A_7C15 &+ 0x632B_E59B_D9B4_E019
            withUnsafeBytes(of: x.littleEndian) { bytes += $0 }
        }
        return EngineBlockHash(bytes: bytes)
    }

    mutating func serve(_ tokens: [UInt32], adapter: String?) throws -> [EngineEvent] {
        let h = hasher.adapted(to: adapter)
        let chain = h.blockHashes(tokens)
        for (i, b) in chain.enumerated() {
            prefixOf[b] = Array(tokens[..<((i + 1) * hasher.blockSize)])
            adapterOf[b] = adapter
        }
        _ = try pool.lookupAndUpdate(chain)
        var changes: [PoolChange] = []
        pool.takeChanges(into: &changes)
        var out: [EngineEvent] = []
        EngineEvent.append(
            changes, of: chain, tokens: tokens, blockSize: hasher.blockSize, node: node, adapter: adapter,
            engineHash: published, nextEventID: &nextEventID, to: &out)
        // vLLM repeats an adapter's name as each block's first extra key
        if let adapter {
            out = out.map { e in
                guard case .stored(var run) = e.kind else { return e }
                run.extraKeys = run.blocks.map { _ in [.string(adapter)] }
                return EngineEvent(node: e.node, eventID: e.eventID, kind: .stored(run))
            }
        }
        return out
    }

    mutating func remove(_ block: BlockHash) -> [EngineEvent] {
        guard pool.remove(block) else { return [] }
        var changes: [PoolChange] = []
        pool.takeChanges(into: &changes)
        defer { nextEventID += 1 }
        return [EngineEvent(node: node, eventID: nextEventID, kind: .removed(blocks: [published(block)], tier: .device))]
    }

    mutating func clear() throws -> [EngineEvent] {
        pool = try BlockPool<LRU>(capacity: pool.capacity)
        pool.recordsChanges = true
        defer { nextEventID += 1 }
        return [EngineEvent(node: node, eventID: nextEventID, kind: .cleared)]
    }

    /// The router hashes of every block the engine holds now.
    func heldRouterHashes(_ router: PrefixHasher) -> Set<BlockHash> {
        Set(prefixOf.keys.filter { pool.contains($0) }.map { b in router.adapted(to: adapterOf[b]).blockHashes(prefixOf[b]!).last! })
    }
}

@Suite("Engine-true block identity")
struct EngineIdentityTests {
    static func prompt(_ conversation: Int, blocks: Int, size: Int = 16) -> [UInt32] {
        (0..<(blocks * size)).map { UInt32(conversation * 100_000 + $0) }
    }

    static func stored(
        _ node: Int, _ id: UInt64, tokens: [UInt32], blocks: [UInt64], parent: UInt64? = nil, size: Int = 16,
        adapter: String? = nil, extra: [[BlockExtraKey]] = []
    ) -> EngineEvent {
        EngineEvent(
            node: node, eventID: id,
            kind: .stored(
                EngineStoredBlocks(
                    blocks: blocks.map(EngineBlockHash.init), parent: parent.map(EngineBlockHash.init), tokens: tokens, blockSize: size,
                    adapter: adapter, extraKeys: extra)))
    }

    func router(nodes: Int = 3) throws -> KVRouter {
        let r = KVRouter(configuration: .init(hasher: try PrefixHasher(blockSize: 16), selector: CacheAware()))
        for n in 0..<nodes { r.addNode(n) }
        return r
    }

    @Test("a prompt routed after an engine announced it finds it; removal and clear lower the overlap")
    func routeAfterEvents() throws {
        let r = try router()
        let p = Self.prompt(1, blocks: 4)
        // node 1 stores 4 blocks in two runs, the second under the first's last engine hash
        #expect(
            r.apply([
                Self.stored(1, 0, tokens: Array(p[..<32]), blocks: [0xA1, 0xA2]),
                Self.stored(1, 1, tokens: Array(p[32...]), blocks: [0xA3, 0xA4], parent: 0xA2),
            ]).isEmpty)
        // node 2 holds the first block only
        r.apply([Self.stored(2, 0, tokens: Array(p[..<16]), blocks: [0xB1])])
        let routed = r.route(tokens: p + [1, 2, 3])
        #expect(routed.node == 1 && routed.overlapBlocks == 4)
        r.apply([EngineEvent(node: 1, eventID: 2, kind: .removed(blocks: [EngineBlockHash(0xA3)], tier: .device))])
        #expect(r.overlaps(r.blockHashes(tokens: p)).depth(of: 1) == 2)
        r.apply([EngineEvent(node: 1, eventID: 3, kind: .cleared)])
        #expect(r.overlaps(r.blockHashes(tokens: p)).depths == [0, 0, 1])
        #expect(r.snapshot.mappedEngineBlocks == 1)
    }

    @Test("adapters are part of identity: A's prompt never matches B's or the base model's blocks")
    func adapters() throws {
        let r = try router()
        let p = Self.prompt(2, blocks: 3)
        r.apply([
            Self.stored(
                0, 0, tokens: p, blocks: [1, 2, 3], adapter: "A",
                extra: [[.string("A")], [.string("A")], [.string("A")]])
        ])  // vLLM repeats the name
        r.apply([Self.stored(1, 0, tokens: p, blocks: [1, 2, 3], adapter: "B")])
        r.apply([Self.stored(2, 0, tokens: p, blocks: [1, 2, 3])])
        #expect(r.overlaps(r.blockHashes(tokens: p, adapter: "A")).depths == [3, 0, 0])
        #expect(r.overlaps(r.blockHashes(tokens: p, adapter: "B")).depths == [0, 3, 0])
        #expect(r.overlaps(r.blockHashes(tokens: p)).depths == [0, 0, 3])
        #expect(r.route(tokens: p, adapter: "A").node == 0)
        #expect(r.route(tokens: p, adapter: "C").overlapBlocks == 0)
    }

    @Test("extra keys beyond the adapter (multimodal, cache salt) separate blocks")
    func extraKeys() throws {
        let r = try router()
        let p = Self.prompt(3, blocks: 2)
        r.apply([Self.stored(0, 0, tokens: p, blocks: [1, 2], extra: [[.string("salt-1")], []])])
        r.apply([Self.stored(1, 0, tokens: p, blocks: [1, 2], extra: [[.string("mm:cat")], []])])
        #expect(r.overlaps(r.blockHashes(tokens: p, cacheSalt: "salt-1")).depths == [2, 0])
        #expect(r.overlaps(r.blockHashes(tokens: p, cacheSalt: "salt-2")).depths == [0, 0])
        #expect(r.overlaps(r.blockHashes(tokens: p)).depths == [0, 0])
    }

    @Test("a block size other than the router's is refused and counted; an unknown parent makes orphans")
    func refusals() throws {
        let r = try router()
        let p = Self.prompt(4, blocks: 2, size: 32)
        r.apply([Self.stored(0, 0, tokens: p, blocks: [1, 2], size: 32)])
        r.apply([Self.stored(0, 1, tokens: p, blocks: [3, 4], size: 32)])
        #expect(r.snapshot.engine.blockSizeMismatches == 2 && r.snapshot.indexedBlocks == 0)
        // malformed: 2 blocks but 20 tokens
        r.apply([Self.stored(1, 0, tokens: Array(p[..<20]), blocks: [1, 2])])
        #expect(r.snapshot.engine.malformedStores == 1)
        // a parent the node never announced: not indexed, counted; its children are orphans too
        let q = Self.prompt(5, blocks: 3)
        r.apply([
            Self.stored(2, 0, tokens: Array(q[16...]), blocks: [12, 13], parent: 11),
            Self.stored(2, 1, tokens: Array(q[..<16]), blocks: [11]),
        ])
        #expect(r.snapshot.engine.orphanBlocks == 2)
        #expect(r.overlaps(r.blockHashes(tokens: q)).depth(of: 2) == 1)
        // events after refused ones keep their order: nothing was lost to the refusal
        r.apply([Self.stored(0, 2, tokens: Array(Self.prompt(6, blocks: 1)), blocks: [9])])
        #expect(r.overlaps(r.blockHashes(tokens: Self.prompt(6, blocks: 1))).depth(of: 0) == 1)
    }

    @Test("client and engine numbers never trap")
    func untrustedNumbers() throws {
        let r = try router()
        let p = Self.prompt(7, blocks: 2)
        let routed = r.route(tokens: p, expectedOutputTokens: .max)
        r.requestStarted(routed, id: 1, expectedOutputTokens: .max)
        r.requestStarted(id: 2, node: 0, promptTokens: .max, cachedTokens: .min, expectedOutputTokens: .max)
        r.requestStarted(id: 3, node: 1, promptTokens: -5, cachedTokens: .max, expectedOutputTokens: -1)
        _ = r.route(blockHashes: [1, 2], inputTokens: .max, expectedOutputTokens: .min)
        r.requestStarted(id: 4, node: 9_999, promptTokens: 10)  // unknown node: ignored
        #expect(r.snapshot.inFlight == 3)
        for id: UInt64 in [1, 2, 3] { r.prefillFinished(id: id); r.requestFinished(id: id) }
        #expect(r.snapshot.nodes.allSatisfy { $0.activeRequests == 0 && $0.queuedPrefillTokens == 0 && $0.activeDecodeBlocks == 0 })
        // event ids at the top of the range and nodes out of range
        r.apply([
            Self.stored(0, .max, tokens: p, blocks: [1, 2]), Self.stored(-3, 0, tokens: p, blocks: [1, 2]),
            Self.stored(Int.max, 0, tokens: p, blocks: [1, 2]),
        ])
        #expect(r.snapshot.indexedBlocks == 0)
        #expect(!r.addNode(Int.max) && !r.addNode(-1))
    }

    /// ServingLoop's old failure: one engine's batches applied from several tasks interleave.
    /// Applied in any order, they end in the state of applying them in order.
    @Test("one engine's batches applied concurrently from many tasks end as if applied in order")
    func concurrentBatches() async throws {
        let hasher = try PrefixHasher(blockSize: 16)
        var engine = try EngineModel(node: 0, blockSize: 16, capacity: 20, binary: false)
        var batches: [[EngineEvent]] = []
        for turn in 0..<200 {
            let events = try engine.serve(Self.prompt(turn % 7, blocks: 1 + turn % 5), adapter: nil)
            if !events.isEmpty { batches.append(events) }
        }
        let concurrent = KVRouter(configuration: .init(hasher: hasher, selector: CacheAware()))
        concurrent.addNode(0)
        let shared = batches
        await withTaskGroup(of: Void.self) { group in
            for t in 0..<4 {
                group.addTask { for (k, batch) in shared.enumerated().reversed() where k % 4 == t { concurrent.apply(batch) } }
            }
        }
        let held = engine.heldRouterHashes(hasher)
        #expect(concurrent.snapshot.engineOrder.held > 0)
        #expect(concurrent.indexedBlocks(of: 0) == held.count)
        for h in held { #expect(concurrent.overlaps([h]).depth(of: 0) == 1) }
    }

    /// Random histories of one engine (stores, evictions, removals, clears), delivered late,
    /// twice, out of order, and lost then replayed: the router's index ends equal to what the
    /// engine holds, and routing agrees with the engine's own prefix hits.
    @Test(
        "the index ends equal to the engine's holdings under delays, repeats, reorderings and replays",
        arguments: [(UInt64(1), false), (2, true), (3, false), (4, true)])
    func property(seed: UInt64, binary: Bool) throws {
        var rng = TestRNG(seed: seed)
        let routerHasher = try PrefixHasher(blockSize: 16)
        let r = KVRouter(configuration: .init(hasher: routerHasher, selector: CacheAware()))
        r.addNode(0)
        var engine = try EngineModel(node: 0, blockSize: 16, capacity: 24, binary: binary)
        var network: [EngineEvent] = [], lost: [EngineEvent] = [], delivered: [EngineEvent] = []
        var history: [[UInt32]] = (0..<6).map { Self.prompt($0, blocks: 1) }
        func deliver(_ e: EngineEvent) {
            r.apply([e])
            delivered.append(e)
        }
        func check() {
            #expect(r.snapshot.engineOrder.gaps >= 0)
            let held = engine.heldRouterHashes(routerHasher)
            #expect(r.indexedBlocks(of: 0) == held.count, "seed \(seed)")
            for h in held { #expect(r.overlaps([h]).depth(of: 0) == 1) }
            for (c, prompt) in history.enumerated() {
                let adapter: String? = c % 3 == 2 ? "lora-\(c % 2)" : nil
                let engineHits = engine.pool.prefixHits(of: engine.hasher.adapted(to: adapter).blockHashes(prompt))
                #expect(r.overlaps(r.blockHashes(tokens: prompt, adapter: adapter)).depth(of: 0) == engineHits, "conversation \(c)")
            }
        }
        for step in 0..<600 {
            var events: [EngineEvent] = []
            switch Int.random(in: 0..<100, using: &rng) {
            case 0..<80:
                let c = Int.random(in: 0..<history.count, using: &rng)
                history[c] += Self.prompt(c * 7 + step, blocks: Int.random(in: 0...2, using: &rng))
                if history[c].count > 16 * 12 { history[c] = Self.prompt(c, blocks: 1) }
                events = try engine.serve(history[c], adapter: c % 3 == 2 ? "lora-\(c % 2)" : nil)
            case 80..<97:
                let held = engine.prefixOf.keys.filter { engine.pool.contains($0) }
                if let b = held.randomElement(using: &rng) { events = engine.remove(b) }
            default:
                events = try engine.clear()
            }
            for e in events {
                if Int.random(in: 0..<100, using: &rng) < 6 { lost.append(e) } else { network.append(e) }
            }
            for _ in 0..<Int.random(in: 0...3, using: &rng) where !network.isEmpty {
                deliver(network.remove(at: Int.random(in: 0..<network.count, using: &rng)))
            }
            if !delivered.isEmpty && Int.random(in: 0..<100, using: &rng) < 5 { deliver(delivered.randomElement(using: &rng)!) }
            if step % 40 == 39 { network += lost; lost = [] }  // the replays arrive
            if step % 100 == 99 {  // everything arrives: equal now
                for e in network.shuffled(using: &rng) { deliver(e) }
                network = []
                if lost.isEmpty { check() }
            }
        }
        for e in (network + lost).shuffled(using: &rng) { deliver(e) }
        check()
        #expect(r.snapshot.engine.orphanBlocks == 0 && r.snapshot.engineOrder.held > 0 && r.snapshot.engineOrder.duplicates > 0)
    }
}
