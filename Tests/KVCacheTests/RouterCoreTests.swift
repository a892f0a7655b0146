import Testing

@testable import KVCache

/// The router core on a clock the test owns: every time-dependent outcome at an exact time.
@Suite("RouterCore on the caller's clock")
struct RouterCoreTests {
    static func core(_ selector: any PrefillNodeSelector & Sendable = CacheAware(), timeout: Double = 600) throws -> RouterCore {
        RouterCore(
            configuration: .init(
                hasher: try PrefixHasher(blockSize: 4), selector: selector, requestTimeout: timeout,
                approximate: ApproximateMode(ttl: 10)))
    }

    static let chain = (1...6).map { BlockHash(UInt64($0) &* 0x9E37_79B9) }

    @Test("an approximate node's routed prefix counts as held until its TTL, on the caller's time")
    func approximateExpiry() throws {
        var core = try Self.core()
        core.addNode(0, approximate: true)
        core.addNode(1, approximate: true)
        let first = core.route(blockHashes: Self.chain, now: 0)
        let node = try #require(first.node)
        #expect(first.overlapBlocks == 0)
        let again = core.route(blockHashes: Self.chain, now: 9.5)
        #expect(again.node == node && again.overlapBlocks == 6)
        // recorded again at 9.5: held until 19.5
        #expect(core.route(blockHashes: Self.chain, now: 19).overlapBlocks == 6)
        #expect(core.route(blockHashes: Self.chain, now: 40).overlapBlocks == 0)
    }

    @Test("a request never finished is reclaimed after the timeout, at the first route past it")
    func reclaim() throws {
        var core = try Self.core(LeastLoaded(), timeout: 10)
        core.addNode(0)
        core.requestStarted(id: 7, node: 0, promptTokens: 64, now: 0)
        #expect(core.snapshot.nodes[0].activeRequests == 1)
        _ = core.route(blockHashes: Self.chain, now: 9)
        #expect(core.takeReclaimed().isEmpty && core.snapshot.inFlight == 1)
        _ = core.route(blockHashes: Self.chain, now: 10.5)
        #expect(core.takeReclaimed().map(\.id) == [7])
        #expect(core.snapshot.nodes[0].activeRequests == 0 && core.snapshot.nodes[0].queuedPrefillTokens == 0)
    }

    @Test("prefill speed is learned from the times the caller gives")
    func learnedSpeed() throws {
        var core = RouterCore(
            configuration: .init(
                hasher: try PrefixHasher(blockSize: 4), selector: LeastLoaded(),
                prefillModel: LinearPrefillModel(base: 0.01, perToken: 1e-4),
                learnsPrefillSpeed: true))
        core.addNode(0)
        let before = try #require(core.prefillSpeeds[0]).model
        for k in 0..<20 {
            let t = Double(k)
            core.requestStarted(id: UInt64(k), node: 0, promptTokens: 4_000, now: t)
            let learned = core.prefillFinished(id: UInt64(k), now: t + 2.0)  // far slower than the prior
            #expect(learned?.node == 0)
            core.requestFinished(id: UInt64(k))
        }
        let after = try #require(core.prefillSpeeds[0]).model
        #expect(
            after.prefillTime(uncachedTokens: 4_000, cachedTokens: 0) > before.prefillTime(uncachedTokens: 4_000, cachedTokens: 0) * 2)
        #expect(core.snapshot.nodes[0].prefillModel == after)
    }

    @Test("node ids are a dense table: ids never added or removed are never chosen")
    func denseNodes() throws {
        var core = try Self.core(RoundRobin())
        core.addNode(0)
        core.addNode(5)
        #expect(core.nodes == [0, 5])
        #expect(core.snapshot.nodes.map(\.id) == [0, 5])
        var chosen: Set<NodeID> = []
        for k in 0..<20 { chosen.insert(try #require(core.route(blockHashes: Self.chain, now: Double(k)).node)) }
        #expect(chosen == [0, 5])
        core.removeNode(5)
        for k in 20..<30 { #expect(core.route(blockHashes: Self.chain, now: Double(k)).node == 0) }
        #expect(!core.addNode(64) && core.nodes == [0])
    }
}
