import Foundation
import Metrics
import Testing

@testable import KVCache

/// A swift-metrics backend that keeps every counter, gauge and timer in memory.
final class TestMetrics: MetricsFactory, @unchecked Sendable {
    final class Box: CounterHandler, FloatingPointCounterHandler, RecorderHandler, TimerHandler, @unchecked Sendable {
        let lock = NSLockLike()
        var total: Int64 = 0
        var last: Double = 0
        var values: [Int64] = []
        func increment(by amount: Int64) { lock.run { total += amount } }
        func increment(by amount: Double) { lock.run { last += amount } }
        func reset() { lock.run { total = 0 } }
        func record(_ value: Int64) { lock.run { last = Double(value) } }
        func record(_ value: Double) { lock.run { last = value } }
        func recordNanoseconds(_ duration: Int64) { lock.run { values.append(duration) } }
    }
    let lock = NSLockLike()
    var boxes: [String: Box] = [:]

    func box(_ label: String, _ dimensions: [(String, String)]) -> Box {
        let key = label + dimensions.map { "{\($0.0)=\($0.1)}" }.joined()
        return lock.run {
            if let b = boxes[key] { return b }
            let b = Box()
            boxes[key] = b
            return b
        }
    }
    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler { box(label, dimensions) }
    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        box(label, dimensions)
    }
    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler { box(label, dimensions) }
    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler { box(label, dimensions) }
    func destroyCounter(_ handler: any CounterHandler) {}
    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}

    func total(_ key: String) -> Int64 { lock.run { boxes[key]?.total ?? 0 } }
    func last(_ key: String) -> Double { lock.run { boxes[key]?.last ?? 0 } }
    func timings(_ key: String) -> Int { lock.run { boxes[key]?.values.count ?? 0 } }
}

/// A tiny lock for the test backend: a pthread mutex (Foundation's `NSLock`), which
/// ThreadSanitizer understands; `Synchronization.Mutex` waits on a futex it cannot see.
final class NSLockLike: @unchecked Sendable {
    private let m = NSLock()
    func run<R>(_ body: () -> R) -> R { m.withLock(body) }
}

/// The process-wide test backend (swift-metrics bootstraps once per process).
let testMetrics: TestMetrics = {
    let m = TestMetrics()
    MetricsSystem.bootstrap(m)
    return m
}()

private func tokens(_ conversation: Int, blocks: Int, size: Int) -> [UInt32] {
    (0..<(blocks * size)).map { UInt32($0 < size ? $0 : conversation * 100_000 + $0) }
}

@Suite("KVRouter", .serialized)
struct KVRouterTests {
    @Test("routes by the index, tracks load, reclaims requests that never finish")
    func basics() throws {
        let hasher = try PrefixHasher(blockSize: 4)
        let router = KVRouter(configuration: .init(hasher: hasher, selector: CacheAware(), requestTimeout: 0.05))
        router.addNode(0)
        router.addNode(1)
        let prompt = tokens(1, blocks: 3, size: 4)
        let chain = hasher.blockHashes(prompt)
        router.apply([.stored(node: 1, eventID: 0, parent: nil, blocks: chain)])
        let routed = router.route(tokens: prompt)
        #expect(routed.node == 1 && routed.overlapBlocks == 3)
        router.requestStarted(routed, id: 7, expectedOutputTokens: 8)
        var snap = router.snapshot
        #expect(snap.nodes[1].activeRequests == 1 && snap.nodes[1].queuedPrefillTokens == 0 && snap.inFlight == 1)
        router.prefillFinished(id: 7)
        #expect(router.snapshot.nodes[1].activeDecodeBlocks == 5)
        router.requestFinished(id: 7)
        snap = router.snapshot
        #expect(snap.nodes[1].activeRequests == 0 && snap.nodes[1].activeDecodeBlocks == 0 && snap.inFlight == 0)
        // a request never finished is reclaimed after the timeout
        router.requestStarted(id: 8, node: 0, promptTokens: 100)
        #expect(router.snapshot.nodes[0].queuedPrefillTokens == 100)
        let deadline = ContinuousClock.now + .milliseconds(80)
        while ContinuousClock.now < deadline {}
        _ = router.route(tokens: prompt)
        #expect(router.snapshot.nodes[0].queuedPrefillTokens == 0 && router.snapshot.inFlight == 0)
        // draining and removing
        router.drainNode(1)
        #expect(router.route(tokens: prompt).node == 0)
        router.removeNode(1)
        #expect(router.overlaps(chain).depth(of: 1) == 0 && router.nodes == [0])
    }

    @Test("startingRequest: a request starts with its choice, so the next route sees its load")
    func routeAndStart() throws {
        let router = KVRouter(configuration: .init(hasher: try PrefixHasher(blockSize: 4), selector: LeastLoaded()))
        for n in 0..<3 { router.addNode(n) }
        // three unrelated prompts routed back to back, none started by hand: one per node
        let nodes = (0..<3).map { k in
            router.route(tokens: [UInt32](repeating: UInt32(k + 1), count: 8), startingRequest: UInt64(k + 1)).node
        }
        #expect(Set(nodes.compactMap { $0 }) == [0, 1, 2])
        #expect(router.snapshot.nodes.map(\.activeRequests) == [1, 1, 1])
        // a retry with the same id moves the request: its load leaves the first node
        let again = router.route(tokens: [9, 9, 9, 9], excluding: [nodes[0]!], startingRequest: 1)
        #expect(again.node != nodes[0])
        #expect(router.snapshot.nodes.map(\.activeRequests).reduce(0, +) == 3)
        for id in UInt64(1)...3 { router.requestFinished(id: id) }
        #expect(router.snapshot.nodes.map(\.activeRequests) == [0, 0, 0])
    }

    @Test("isWithinLoad: a node in rotation at most `slack` requests busier than the least busy")
    func withinLoad() throws {
        let router = KVRouter(configuration: .init(hasher: try PrefixHasher(blockSize: 4), selector: CacheAware()))
        for n in 0..<3 { router.addNode(n) }
        for id in UInt64(1)...3 { router.requestStarted(id: id, node: 0, promptTokens: 8) }
        router.requestStarted(id: 4, node: 1, promptTokens: 8)
        // Loads 3, 1, 0: node 0 is 3 above the least busy.
        #expect(router.isWithinLoad(0, slack: 3) && !router.isWithinLoad(0, slack: 2))
        #expect(router.isWithinLoad(1, slack: 1) && !router.isWithinLoad(1, slack: 0) && router.isWithinLoad(2, slack: 0))
        #expect(!router.isWithinLoad(7, slack: 100), "an unknown node")
        router.drainNode(2)
        // The least busy node in rotation is now node 1.
        #expect(router.isWithinLoad(0, slack: 2) && !router.isWithinLoad(2, slack: 100))
        router.requestFinished(id: 1)
        #expect(router.isWithinLoad(0, slack: 1))
    }

    @Test("approximate mode: the router records its own decisions for nodes without events")
    func approximate() throws {
        let hasher = try PrefixHasher(blockSize: 4)
        let router = KVRouter(configuration: .init(hasher: hasher, selector: CacheAware()))
        router.addNode(0, approximate: true)
        router.addNode(1, approximate: true)
        let prompt = tokens(2, blocks: 4, size: 4)
        let first = router.route(tokens: prompt)
        let second = router.route(tokens: prompt)
        #expect(first.overlapBlocks == 0 && second.node == first.node && second.overlapBlocks == 4)
    }

    @Test("speculative entries: a prefix just routed to a node with events counts there until its TTL")
    func speculative() throws {
        let hasher = try PrefixHasher(blockSize: 4)
        let prompt = tokens(3, blocks: 4, size: 4)
        func twice(_ ttl: Double, pause: Duration = .zero) -> (KVRouter.Routed, KVRouter.Routed, KVRouter) {
            let router = KVRouter(configuration: .init(hasher: hasher, selector: CacheAware(), speculativeTTL: ttl))
            router.addNode(0)
            router.addNode(5)
            let first = router.route(tokens: prompt)
            router.requestStarted(first, id: 1)  // the first node is now busier
            let deadline = ContinuousClock.now + pause
            while ContinuousClock.now < deadline {}
            return (first, router.route(tokens: prompt), router)
        }
        let (first, second, router) = twice(30)
        #expect(first.overlapBlocks == 0)
        #expect(second.node == first.node && second.overlapBlocks == 4, "the entry draws the repeat to its node")
        // the node's events then hold it for good; its removal drops the entry too
        router.apply([.stored(node: first.node!, eventID: 0, parent: nil, blocks: hasher.blockHashes(prompt))])
        #expect(router.route(tokens: prompt).overlapBlocks == 4)
        router.removeNode(first.node!)
        #expect(router.overlaps(hasher.blockHashes(prompt)).depth(of: first.node!) == 0)
        let (_, off, _) = twice(0)
        #expect(off.overlapBlocks == 0 && off.node != first.node, "without entries the less loaded node wins")
        let (_, expired, _) = twice(0.02, pause: .milliseconds(60))
        #expect(expired.overlapBlocks == 0, "an entry past its TTL counts for nothing")
    }

    @Test("speculative entries: the node's stored events take over, so a later eviction counts at once")
    func speculativeConfirmed() throws {
        let (router, prompt, blocks) = try fourBlockPromptOnTwoNodes(seed: 5)
        let node = try #require(router.route(tokens: prompt).node)
        // the engine reports the first half, then the rest: the route counts whole throughout
        router.apply([.stored(node: node, eventID: 0, parent: nil, blocks: Array(blocks[..<2]))])
        #expect(router.route(tokens: prompt).overlapBlocks == 4, "the entries go on from the blocks the index holds")
        router.apply([.stored(node: node, eventID: 1, parent: blocks[1], blocks: Array(blocks[2...]))])
        #expect(router.route(tokens: prompt).overlapBlocks == 4)
        // the engine evicts the chain well within the TTL: nothing routed before claims it now
        router.apply([.removed(node: node, eventID: 2, blocks: blocks)])
        #expect(router.overlaps(blocks).depth(of: node) == 0)
        #expect(router.route(tokens: prompt).overlapBlocks == 0, "the stored events replaced the entries")
    }

    @Test("speculative entries: a route records only what its node does not hold yet")
    func speculativeAfterHeldPrefix() throws {
        let (router, prompt, blocks) = try fourBlockPromptOnTwoNodes(seed: 6)
        router.apply([.stored(node: 1, eventID: 0, parent: nil, blocks: Array(blocks[..<2]))])
        let first = router.route(tokens: prompt)
        #expect(first.node == 1 && first.overlapBlocks == 2)
        #expect(router.route(tokens: prompt).overlapBlocks == 4, "the route's new blocks count there")
        // the held prefix is evicted before the request's blocks are reported: the entries
        // alone do not make the node look as if it held the chain
        router.apply([.removed(node: 1, eventID: 1, blocks: Array(blocks[..<2]))])
        #expect(router.overlaps(blocks).depth(of: 1) == 0)
        let after = router.route(tokens: prompt)
        #expect(after.overlapBlocks == 0 || after.node != 1)
    }

    /// Cache-aware routing over nodes 0 and 1, both with events, with speculative entries of a
    /// minute; a prompt of four 4-token blocks and its chain.
    func fourBlockPromptOnTwoNodes(seed: Int) throws -> (KVRouter, [UInt32], [BlockHash]) {
        let hasher = try PrefixHasher(blockSize: 4)
        let router = KVRouter(configuration: .init(hasher: hasher, selector: CacheAware(), speculativeTTL: 60))
        router.addNode(0)
        router.addNode(1)
        let prompt = tokens(seed, blocks: 4, size: 4)
        return (router, prompt, hasher.blockHashes(prompt))
    }

    @Test("speculative entries: a node whose cache is cleared (engine or router events) loses them too")
    func speculativeCleared() throws {
        let hasher = try PrefixHasher(blockSize: 4)
        let prompt = tokens(4, blocks: 3, size: 4)
        for engineEvents in [true, false] {
            let router = KVRouter(configuration: .init(hasher: hasher, selector: CacheAware(), speculativeTTL: 60))
            router.addNode(0)
            router.addNode(1)
            let node = try #require(router.route(tokens: prompt).node)
            let repeated = router.route(tokens: prompt)
            #expect(repeated.node == node && repeated.overlapBlocks == 3, "the route counts as held there")
            if engineEvents {
                router.apply([EngineEvent(node: node, eventID: 0, kind: .cleared)])
            } else {
                router.apply([KVEvent.cleared(node: node, eventID: 0)])
            }
            #expect(router.route(tokens: prompt).overlapBlocks == 0, "the engine restarted: nothing routed before is there")
        }
    }

    @Test("counters move as documented")
    func metrics() throws {
        let m = testMetrics
        let hasher = try PrefixHasher(blockSize: 4)
        let router = KVRouter(configuration: .init(hasher: hasher, selector: CacheAware(), metricsPrefix: "t1"))
        router.addNode(0)
        router.addNode(3)
        let prompt = tokens(3, blocks: 2, size: 4)
        let chain = hasher.blockHashes(prompt)
        let gaps = router.apply([
            .stored(node: 3, eventID: 0, parent: nil, blocks: chain),
            .stored(node: 3, eventID: 5, parent: nil, blocks: [99]),
        ])
        #expect(gaps.count == 1)
        #expect(m.total("t1_events_applied_total") == 1)  // event 5 waits for 1...4
        #expect(m.total("t1_event_gaps_total") == 1)
        #expect(m.last("t1_index_blocks") == 2)
        router.skipGap(of: 3)  // the node cannot replay them
        #expect(m.total("t1_events_applied_total") == 2)
        #expect(m.last("t1_index_blocks") == 3)
        for _ in 0..<3 { _ = router.route(tokens: prompt) }
        #expect(m.total("t1_routed_requests_total{node=3}") == 3)
        #expect(m.total("t1_routed_requests_total{node=0}") == 0)
        #expect(m.total("t1_prefix_hit_blocks_total") == 6)
        #expect(m.total("t1_prefix_hit_tokens_total") == 24)
        #expect(m.timings("t1_route_duration_seconds") == 3)
        let strict = KVRouter(configuration: .init(hasher: hasher, selector: TTFTMin(ttftSLO: 0), metricsPrefix: "t2"))
        strict.addNode(0)
        #expect(strict.route(tokens: prompt).decision.isRejected)
        #expect(m.total("t2_rejected_requests_total") == 1)
    }

    /// Several tasks route, apply events, start and finish requests, and add/remove nodes at
    /// once. Each task owns its nodes and requests, so the operations of different tasks
    /// commute and the final state must equal a sequential replay of the same operations.
    @Test("concurrent use ends in the state of a sequential replay")
    func stress() async throws {
        let hasher = try PrefixHasher(blockSize: 4)
        let tasks = 6
        func script(_ router: KVRouter, task: Int) {
            var rng = SeededGenerator(seed: UInt64(task))
            let nodeA = task * 2, nodeB = task * 2 + 1
            router.addNode(nodeA)
            router.addNode(nodeB)
            var ids: [Int: UInt64] = [:]
            for step in 0..<400 {
                let conv = Int(rng.next() % 5) + task * 10
                let prompt = tokens(conv, blocks: 1 + Int(rng.next() % 6), size: 4)
                let chain = hasher.blockHashes(prompt)
                let node = step % 3 == 0 ? nodeB : nodeA
                switch rng.next() % 6 {
                case 0, 1:
                    let id = ids[node, default: 0]
                    router.apply([.stored(node: node, eventID: id, parent: nil, blocks: chain)])
                    ids[node] = id + 1
                case 2:
                    let id = ids[node, default: 0]
                    router.apply([.removed(node: node, eventID: id, blocks: Array(chain.suffix(2)))])
                    ids[node] = id + 1
                case 3:
                    _ = router.route(tokens: prompt)
                    router.requestStarted(id: UInt64(task * 1_000_000 + step), node: node, promptTokens: prompt.count)
                case 4:
                    router.requestFinished(id: UInt64(task * 1_000_000 + step - 1))
                default:
                    if step % 50 == 0 {
                        router.removeNode(nodeB)
                        router.addNode(nodeB)
                        ids[nodeB] = nil
                    } else {
                        _ = router.route(blockHashes: chain)
                    }
                }
            }
        }
        let concurrent = KVRouter(configuration: .init(hasher: hasher, selector: LeastLoaded(), nodeCapacity: 64))
        await withTaskGroup(of: Void.self) { group in
            for t in 0..<tasks { group.addTask { script(concurrent, task: t) } }
        }
        let sequential = KVRouter(configuration: .init(hasher: hasher, selector: LeastLoaded(), nodeCapacity: 64))
        for t in 0..<tasks { script(sequential, task: t) }
        let a = concurrent.snapshot, b = sequential.snapshot
        // requestsServed depends on which node a route picked, which depends on the interleaving;
        // everything the operations set explicitly must agree
        func load(_ s: KVRouter.Snapshot) -> [[Int]] {
            s.nodes.map { [$0.id, $0.queuedPrefillTokens, $0.activeRequests, $0.activeDecodeBlocks, $0.isAvailable ? 1 : 0] }
        }
        #expect(load(a) == load(b))
        #expect(a.inFlight == b.inFlight && a.indexedBlocks == b.indexedBlocks && a.operations == b.operations)
        for conv in 0..<(tasks * 10 + 5) {
            let chain = hasher.blockHashes(tokens(conv, blocks: 6, size: 4))
            #expect(concurrent.overlaps(chain).depths == sequential.overlaps(chain).depths)
        }
    }
}

@Suite("KVRouter: loads the engines report")
struct ReportedLoadTests {
    @Test("a reported load adds other routers' requests to the node's own, until the next report")
    func reportedLoad() throws {
        let router = KVRouter(configuration: .init(hasher: try PrefixHasher(blockSize: 16), nodeCapacity: 2))
        router.addNode(0)
        router.addNode(1)
        let routed = router.route(tokens: Array(0..<32))
        router.requestStarted(routed, id: 1)
        let node = try #require(routed.node)
        func active(_ n: NodeID) -> Int { router.snapshot.nodes.first { $0.id == n }!.activeRequests }
        // The engine runs 4 and queues 1: this router's one and 4 of others'.
        router.reportLoad(node, running: 4, waiting: 1)
        #expect(active(node) == 5)
        router.requestStarted(router.route(tokens: Array(0..<32), excluding: [1 - node]), id: 2)
        #expect(active(node) == 6, "own requests since the report add to it")
        router.requestFinished(id: 1)
        router.requestFinished(id: 2)
        #expect(active(node) == 4)
        // A report that has not seen this router's requests yet adds nothing.
        router.requestStarted(router.route(tokens: Array(0..<32), excluding: [1 - node]), id: 3)
        router.reportLoad(node, running: 0, waiting: 0)
        #expect(active(node) == 1)
        router.reportLoad(node, running: 3, waiting: 0)
        router.clearReportedLoad(node)
        #expect(active(node) == 1)
        #expect(router.isWithinLoad(1 - node, slack: 0))
    }
}
