import KVCache
import Testing

@testable import KVCacheSim

@Suite("Router models: several routers, event lag, speculative entries, shadow pools")
struct RouterModelTests {
    /// The conversation trace's first requests, enough to fill and evict small pools.
    static let trace: Trace = {
        let all = SimFixtures.conversation
        var t = Trace(blockSize: all.blockSize, source: "conversation[0..<3000]")
        for i in 0..<3000 {
            let r = all.records[i]
            t.append(timestamp: r.timestamp, inputLength: r.inputLength, outputLength: r.outputLength, chain: all.chain(i))
        }
        return t
    }()

    static func configuration(_ selector: SelectorPolicy, eviction: EvictionPolicy = .lru, router: RouterModel) -> ClusterConfiguration {
        var c = ClusterConfiguration(nodes: 4, capacity: 300, eviction: eviction, selector: selector, decodeSecondsPerToken: 0.0005)
        c.router = router
        return c
    }

    /// What a run decided and measured, without its wall time.
    static func outcome(_ r: ClusterResult) -> [Double] {
        [Double(r.hits.blockHits), Double(r.hits.prefixHits), Double(r.rejected), r.ttft.mean, r.ttft.p99, r.prefillSeconds]
            + r.perNode.flatMap { [Double($0.requests), Double($0.inputTokens), Double($0.evictions)] }
    }

    /// One router core that counts its own load, fed every event at once.
    static var core: RouterModel {
        var m = RouterModel()
        m.loadView = .local
        return m
    }

    @Test(
        "one router core fed every event without lag predicts every prefix exactly",
        arguments: [SelectorPolicy.cacheAware, .kvCost, .ttftMin, .leastLoaded, .hotspotReplicating])
    func oneRouterCoreIsExact(selector: SelectorPolicy) throws {
        #expect(Self.core.label == "k1/events+local" && !Self.core.isImmediate)
        let r = try ClusterSimulator.run(Self.trace, Self.configuration(selector, router: Self.core))
        #expect(r.prediction.requests == (selector.usesOverlaps ? Self.trace.count : 0))
        #expect(r.prediction.exact == r.prediction.requests, "events without lag are the truth")
    }

    @Test("a router core's decisions that read no load are the ideal router's")
    func loadBlindDecisionsAreIdeal() throws {
        let ideal = try ClusterSimulator.run(Self.trace, Self.configuration(.roundRobin, router: RouterModel()))
        let core = try ClusterSimulator.run(Self.trace, Self.configuration(.roundRobin, router: Self.core))
        #expect(Self.outcome(core) == Self.outcome(ideal))
    }

    @Test("lag 0 is no lag; one router is k = 1")
    func lagZeroIsNoLag() throws {
        let core = Self.outcome(try ClusterSimulator.run(Self.trace, Self.configuration(.kvCost, router: Self.core)))
        for model in [RouterModel(replicas: 1, eventLagSeconds: 1e-7), RouterModel(replicas: 1, eventLagSeconds: 0, speculativeTTL: 1e-9)] {
            let r = try ClusterSimulator.run(Self.trace, Self.configuration(.kvCost, router: model))
            #expect(Self.outcome(r) == core, "\(model.label)")
        }
    }

    @Test("a lagging router misses a prefix routed a moment ago; speculative entries win it back")
    func lagAndSpeculation() throws {
        // two requests of one chain 1 ms apart on two nodes: the second finds the first's
        // blocks only if the router knows of them
        var t = Trace(blockSize: 16)
        let chain = (1...8).map { BlockHash(UInt64($0)) }
        t.append(timestamp: 0, inputLength: 128, outputLength: 1, chain: chain)
        t.append(timestamp: 1, inputLength: 144, outputLength: 1, chain: chain + [BlockHash(9)])
        func run(_ m: RouterModel) throws -> ClusterResult {
            var c = ClusterConfiguration(nodes: 2, capacity: 100, selector: .cacheAware)
            c.router = m
            return try ClusterSimulator.run(t, c)
        }
        let now = try run(RouterModel())
        let late = try run(RouterModel(eventLagSeconds: 0.1))
        let speculated = try run(RouterModel(eventLagSeconds: 0.1, speculativeTTL: 10))
        #expect(now.hits.prefixHits == 8)
        #expect(late.hits.prefixHits == 0, "the events arrive after the second request")
        #expect(late.perNode.map(\.requests) == [1, 1])
        #expect(speculated.hits.prefixHits == 8)
        #expect(speculated.prediction.exact == speculated.prediction.requests)
        // a speculative entry lives for its TTL only
        let expired = try run(RouterModel(eventLagSeconds: 0.1, speculativeTTL: 0.0005))
        #expect(expired.hits.prefixHits == 0)
    }

    @Test(
        "a shadow pool with the engine's policy and capacity predicts the engine's holdings exactly",
        arguments: [EvictionPolicy.lru, .fifo, .lfu, .arc, .s3fifo, .sieve])
    func shadowWithEnginePolicyIsExact(eviction: EvictionPolicy) throws {
        let direct = try ClusterSimulator.run(Self.trace, Self.configuration(.kvCost, eviction: eviction, router: Self.core))
        let shadow = try ClusterSimulator.run(
            Self.trace, Self.configuration(.kvCost, eviction: eviction, router: RouterModel(view: .shadow)))
        #expect(shadow.prediction.requests == Self.trace.count)
        #expect(shadow.prediction.exact == shadow.prediction.requests)
        #expect(Self.outcome(shadow) == Self.outcome(direct), "the same router core as the events view's, with the same overlaps")
    }

    @Test("a shadow that differs from the engine, or sees part of the traffic, mispredicts")
    func shadowThatDiffers() throws {
        for model in [
            RouterModel(view: .shadow, shadowEviction: .fifo), RouterModel(view: .shadow, shadowCapacity: 1_000),
            RouterModel(replicas: 2, view: .shadow),
        ] {
            let r = try ClusterSimulator.run(Self.trace, Self.configuration(.cacheAware, router: model))
            #expect(r.prediction.exact < r.prediction.requests, "\(model.label)")
            #expect(r.prediction.absoluteError > 0, "\(model.label)")
        }
    }

    @Test("approximate routers count what they routed until the TTL, and over-predict what was evicted")
    func approximate() throws {
        let r = try ClusterSimulator.run(Self.trace, Self.configuration(.cacheAware, router: RouterModel(view: .approximate)))
        #expect(r.prediction.overpredicted > 0, "small pools evict what the router still counts")
        let short = try ClusterSimulator.run(
            Self.trace, Self.configuration(.cacheAware, router: RouterModel(view: .approximate, approximateTTL: 1e-6)))
        // records last only within the same instant (the trace's requests share milliseconds)
        #expect(short.prediction.predictedBlocks < r.prediction.predictedBlocks)
    }

    @Test("several routers: each sees only its own load, and the traffic splits round-robin between them")
    func severalRouters() throws {
        // least-loaded by running requests: each router sees its own requests only, so two
        // routers that each sent one request to node 0 both send their next one to node 1
        var t = Trace(blockSize: 16)
        for i in 0..<4 { t.append(timestamp: Double(i), inputLength: 16, outputLength: 1, chain: [BlockHash(UInt64(100 + i))]) }
        var c = ClusterConfiguration(nodes: 4, capacity: 10, selector: .leastLoaded, prefillModel: LinearPrefillModel(base: 10))
        let one = try ClusterSimulator.run(t, c)
        #expect(one.perNode.map(\.requests) == [1, 1, 1, 1])
        c.router = RouterModel(replicas: 2)
        let two = try ClusterSimulator.run(t, c)
        #expect(two.perNode.map(\.requests) == [2, 2, 0, 0])
    }

    @Test("settings that cannot go together are errors naming them")
    func invalid() throws {
        let cases: [(RouterModel, String)] = [
            (RouterModel(replicas: 0), "routers must be at least 1"),
            (RouterModel(view: .approximate, eventLagSeconds: 1), "event lag and speculative entries apply to the events view"),
            (RouterModel(view: .events, shadowCapacity: 10), "applies to the shadow view"),
            (RouterModel(view: .shadow, shadowCapacity: 0), "shadow capacity must be at least 1"),
            (RouterModel(view: .shadow, shadowEviction: .belady), "does not know the future"),
            (RouterModel(eventLagSeconds: -1), "event lag must be in"),
        ]
        for (model, message) in cases {
            var c = ClusterConfiguration(nodes: 2, capacity: 10)
            c.router = model
            #expect(throws: ConfigurationError.self) { try ClusterSimulator.run(Self.trace, c) }
            do { _ = try ClusterSimulator.run(Self.trace, c) } catch { #expect("\(error)".contains(message), "\(error)") }
        }
        var tiered = ClusterConfiguration(nodes: 2, capacity: 10, hostCapacity: 10)
        tiered.router = RouterModel(replicas: 2)
        #expect(throws: ConfigurationError.self) { try ClusterSimulator.run(Self.trace, tiered) }
    }

    @Test(
        "the engine load view: one router reading the engines counts what it counts itself; several see each other's requests",
        arguments: [SelectorPolicy.kvCost, .leastLoaded, .thresholdBalanced])
    func engineLoadView(selector: SelectorPolicy) throws {
        let own = try ClusterSimulator.run(Self.trace, Self.configuration(selector, router: Self.core))
        var one = RouterModel()
        one.loadView = .engine
        one.loadIntervalSeconds = 0.001
        #expect(one.label == "k1/events+load1ms")
        let read = try ClusterSimulator.run(Self.trace, Self.configuration(selector, router: one))
        #expect(Self.outcome(read) == Self.outcome(own), "its own requests are all the engines run")
        // Four routers: the engines report requests, not queued prefill work, so reading them
        // changes the decisions of a policy that counts requests and not of one that weighs
        // queue delay, as in the gateway.
        var local = RouterModel(replicas: 4)
        var engine = local
        engine.loadView = .engine
        let a = try ClusterSimulator.run(Self.trace, Self.configuration(selector, router: local))
        let b = try ClusterSimulator.run(Self.trace, Self.configuration(selector, router: engine))
        #expect((Self.outcome(a) != Self.outcome(b)) == (selector == .thresholdBalanced))
        local.loadIntervalSeconds = 0
        #expect(throws: ConfigurationError.self) { try ClusterSimulator.run(Self.trace, Self.configuration(selector, router: local)) }
    }
}
