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

    static var modelled: RouterModel {
        var m = RouterModel()
        m._alwaysModelled = true
        return m
    }

    @Test(
        "one router with its own view, fed every event without lag, decides as the direct path does",
        arguments: [SelectorPolicy.cacheAware, .kvCost, .ttftMin, .leastLoaded, .hotspotReplicating])
    func oneModelledRouterEqualsDirect(selector: SelectorPolicy) throws {
        let direct = try ClusterSimulator.run(Self.trace, Self.configuration(selector, router: RouterModel()))
        let modelled = try ClusterSimulator.run(Self.trace, Self.configuration(selector, router: Self.modelled))
        #expect(Self.outcome(modelled) == Self.outcome(direct))
        #expect(modelled.prediction == direct.prediction)
        #expect(modelled.prediction.exact == modelled.prediction.requests, "events without lag are the truth")
    }

    @Test("lag 0 is no lag, with or without speculative entries; one router is k = 1")
    func lagZeroIsNoLag() throws {
        let direct = Self.outcome(try ClusterSimulator.run(Self.trace, Self.configuration(.kvCost, router: RouterModel())))
        for model in [
            RouterModel(replicas: 1, eventLagSeconds: 0, speculativeTTL: 5), RouterModel(replicas: 1, eventLagSeconds: 1e-7),
        ] {
            let r = try ClusterSimulator.run(Self.trace, Self.configuration(.kvCost, router: model))
            #expect(Self.outcome(r) == direct, "\(model.label)")
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
        let direct = try ClusterSimulator.run(Self.trace, Self.configuration(.kvCost, eviction: eviction, router: RouterModel()))
        let shadow = try ClusterSimulator.run(
            Self.trace, Self.configuration(.kvCost, eviction: eviction, router: RouterModel(view: .shadow)))
        #expect(shadow.prediction.requests == Self.trace.count)
        #expect(shadow.prediction.exact == shadow.prediction.requests)
        #expect(Self.outcome(shadow) == Self.outcome(direct))
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
        "the engine load view: one router reading the true loads decides as the direct path; several see each other's load",
        arguments: [SelectorPolicy.kvCost, .leastLoaded, .thresholdBalanced])
    func engineLoadView(selector: SelectorPolicy) throws {
        let direct = try ClusterSimulator.run(Self.trace, Self.configuration(selector, router: RouterModel()))
        var one = RouterModel()
        one.loadView = .engine
        one.loadIntervalSeconds = 0.001
        #expect(one.label == "k1/events+load1ms")
        let read = try ClusterSimulator.run(Self.trace, Self.configuration(selector, router: one))
        #expect(Self.outcome(read) == Self.outcome(direct), "its own sends and the truth agree")
        // Four routers: reading the engines changes what each knows of the others' load.
        var local = RouterModel(replicas: 4)
        var engine = local
        engine.loadView = .engine
        let a = try ClusterSimulator.run(Self.trace, Self.configuration(selector, router: local))
        let b = try ClusterSimulator.run(Self.trace, Self.configuration(selector, router: engine))
        #expect(Self.outcome(a) != Self.outcome(b))
        local.loadIntervalSeconds = 0
        #expect(throws: ConfigurationError.self) { try ClusterSimulator.run(Self.trace, Self.configuration(selector, router: local)) }
    }
}
