import KVCache
import Logging

/// Dynamo-style indexer benchmark: a trace's requests spread over N simulated nodes, each
/// with its own LRU pool producing real stored/removed events; the benchmark replays the
/// interleaved stream of event applications and `overlaps` queries against a fresh
/// ``PrefixIndex`` and measures throughput and query latency.
public enum IndexBenchmark {
    /// One step of the replayed stream.
    public enum Operation: Sendable, Hashable {
        /// Apply event `i` of ``Stream/events``.
        case apply(Int)
        /// Ask for the overlaps of request `i`'s chain.
        case query(Int)
    }

    /// The stream: the steps in order, and the events they apply (kept apart so replaying a
    /// step copies no array).
    public struct Stream: Sendable {
        /// The steps.
        public var operations: [Operation]
        /// The events the `apply` steps refer to.
        public var events: [KVEvent]
    }

    /// What the benchmark measured.
    public struct Result: Sendable {
        /// Nodes simulated.
        public var nodes: Int
        /// Events applied.
        public var events: Int
        /// `overlaps` queries.
        public var queries: Int
        /// Block-level operations of one pass: blocks stored and removed by the events, plus
        /// the blocks the queries walked (a query's walk stops where no node matches).
        public var blockOperations: Int
        /// Passes over the stream (each on a fresh index) in the throughput measurement.
        public var passes: Int
        /// Wall time of those passes (no per-operation timing).
        public var seconds: Double
        /// (events + queries) per second over the passes.
        public var operationsPerSecond: Double { Double((events + queries) * passes) / seconds }
        /// Block-level operations per second over the passes: comparable across node counts.
        public var blockOperationsPerSecond: Double { Double(blockOperations * passes) / seconds }
        /// Median `overlaps` latency in seconds (timed passes).
        public var queryP50: Double
        /// 99th percentile `overlaps` latency in seconds (timed passes).
        public var queryP99: Double
        /// Index memory per indexed block at the end, in bytes.
        public var bytesPerBlock: Double
        /// Blocks indexed at the end.
        public var indexedBlocks: Int
    }

    /// Builds the stream: for each request, a query for its chain, then the request goes to
    /// node `i mod N`, whose pool (LRU, `capacity` blocks) runs the update walk; the changes
    /// become that node's events.
    ///
    /// - Throws: ``PoolError`` for a capacity below 1.
    public static func operations(trace: Trace, nodes: Int, capacity: Int) throws(PoolError) -> Stream {
        var pools = try (0..<nodes).map { _ throws(PoolError) in
            var p = try BlockPool<LRU>(capacity: capacity)
            p.recordsChanges = true
            return p
        }
        var nextIDs = [UInt64](repeating: 0, count: nodes)
        var ops: [Operation] = []
        ops.reserveCapacity(trace.count * 3)
        var all: [KVEvent] = []
        var changes: [PoolChange] = []
        var events: [KVEvent] = []
        for i in 0..<trace.count {
            ops.append(.query(i))
            let node = i % nodes
            let r = trace.records[i]
            try trace.blocks.withUnsafeBufferPointer { (all: UnsafeBufferPointer<BlockHash>) throws(PoolError) in
                _ = try pools[node].update(UnsafeBufferPointer(rebasing: all[r.blockStart..<r.blockStart + r.blockCount]))
            }
            pools[node].takeChanges(into: &changes)
            events.removeAll(keepingCapacity: true)
            KVEvent.append(changes, node: node, nextEventID: &nextIDs[node], to: &events)
            for e in events {
                ops.append(.apply(all.count))
                all.append(e)
            }
        }
        return Stream(operations: ops, events: all)
    }

    /// Replays `operations` against fresh indexes: straight through, pass after pass until at
    /// least `minimumSeconds` have passed, for throughput; then again, as long, timing each
    /// query for its latency percentiles.
    public static func run(trace: Trace, nodes: Int, workload: Stream, minimumSeconds: Double = 1) -> Result {
        let operations = workload.operations
        let clock = ContinuousClock()
        var index = PrefixIndex(nodeCapacity: max(nodes, 1))
        var scores = OverlapScores()
        var events = 0, queries = 0, blockOps = 0, walked = 0, passes = 0
        var sink = 0
        var elapsed = Duration.zero
        repeat {
            index = PrefixIndex(nodeCapacity: max(nodes, 1))
            events = 0
            queries = 0
            walked = 0
            let start = clock.now
            operations.withUnsafeBufferPointer { ops in
                workload.events.withUnsafeBufferPointer { ev in
                    for k in ops.indices {
                        switch ops[k] {
                        case .apply(let j):
                            _ = try? index.apply(ev[j])
                            events += 1
                        case .query(let i):
                            trace.withChain(i) { index.overlaps($0, into: &scores) }
                            sink &+= Int(scores.nodeCount > 0 ? scores.depths[0] : 0)
                            walked += Self.walkedBlocks(scores)
                            queries += 1
                        }
                    }
                }
            }
            elapsed += clock.now - start
            passes += 1
        } while elapsed.seconds < minimumSeconds
        let seconds = elapsed.seconds
        for e in workload.events {
            switch e.kind {
            case .stored(_, let b, _), .removed(let b, _): blockOps += b.count
            case .cleared: break
            }
        }
        // latency passes: each query timed alone, pass after pass on fresh indexes until at
        // least `minimumSeconds` have passed, so the tail percentiles rest on many samples
        var latencies: [Double] = []
        latencies.reserveCapacity(queries)
        let latencyStart = clock.now
        repeat {
            var timed = PrefixIndex(nodeCapacity: max(nodes, 1))
            for op in operations {
                switch op {
                case .apply(let j):
                    _ = try? timed.apply(workload.events[j])
                case .query(let i):
                    let t0 = clock.now
                    trace.withChain(i) { timed.overlaps($0, into: &scores) }
                    latencies.append((clock.now - t0).seconds)
                }
            }
        } while (clock.now - latencyStart).seconds < minimumSeconds
        latencies.sort()
        precondition(sink >= 0)
        return Result(
            nodes: nodes, events: events, queries: queries, blockOperations: blockOps + walked, passes: passes, seconds: seconds,
            queryP50: Statistics.percentile(sortedValues: latencies, 50),
            queryP99: Statistics.percentile(sortedValues: latencies, 99),
            bytesPerBlock: index.bytesPerBlock, indexedBlocks: index.blockCount)
    }
}

extension IndexBenchmark {
    /// The blocks a query's walk visited: one past the deepest match, or the whole chain.
    static func walkedBlocks(_ scores: OverlapScores) -> Int {
        var deepest: Int32 = 0
        for d in scores.depths where d > deepest { deepest = d }
        return min(Int(deepest) + 1, scores.chainLength)
    }
}

extension IndexBenchmark {
    /// The stream as engines publish it: each trace block stands for `blockSize` tokens
    /// derived from its id, every node's pool changes become ``EngineEvent``s (trace block
    /// ids as engine hashes, tokens attached). The same changes are also given in the
    /// router's scheme (``KVEvent``s of the tokens' chain hashes), the baseline that needs no
    /// re-hashing.
    public struct EngineStream: Sendable {
        /// The engine events, in order.
        public var events: [EngineEvent]
        /// The same changes in the router's scheme, in order.
        public var routerEvents: [KVEvent]
    }

    /// The tokens a trace block stands for: `blockSize` ids mixed from the block id.
    public static func tokens(ofBlock block: BlockHash, blockSize: Int, into tokens: inout [UInt32]) {
        var x = block.rawValue
        for _ in 0..<blockSize {
            x = x &* 0x9E37_79B9_7F4A_7C15 &+ 0xD1B5_4A32_D192_ED03
            tokens.append(UInt32(truncatingIfNeeded: x >> 29))
        }
    }

    /// Builds the engine stream (see ``EngineStream``) for `hasher`'s block size: requests go
    /// round-robin to N nodes with LRU pools of `capacity` blocks.
    /// - Throws: ``PoolError`` for a capacity below 1.
    public static func engineOperations(trace: Trace, nodes: Int, capacity: Int, hasher: PrefixHasher) throws(PoolError) -> EngineStream {
        var pools = try (0..<nodes).map { _ throws(PoolError) in
            var p = try BlockPool<LRU>(capacity: capacity)
            p.recordsChanges = true
            return p
        }
        var nextIDs = [UInt64](repeating: 0, count: nodes), nextRouterIDs = nextIDs
        var engineEvents: [EngineEvent] = [], routerEvents: [KVEvent] = []
        var routerOf: [BlockHash: BlockHash] = [:]  // trace blocks name prefixes: one router hash each
        var changes: [PoolChange] = []
        for i in 0..<trace.count {
            let r = trace.records[i]
            let chain = Array(trace.blocks[r.blockStart..<r.blockStart + r.blockCount])
            var tokens: [UInt32] = []
            tokens.reserveCapacity(chain.count * hasher.blockSize)
            for b in chain { Self.tokens(ofBlock: b, blockSize: hasher.blockSize, into: &tokens) }
            for (b, h) in zip(chain, hasher.blockHashes(tokens)) where routerOf[b] == nil { routerOf[b] = h }
            let node = i % nodes
            _ = try pools[node].update(chain)
            pools[node].takeChanges(into: &changes)
            EngineEvent.append(
                changes, of: chain, tokens: tokens, blockSize: hasher.blockSize, node: node,
                nextEventID: &nextIDs[node], to: &engineEvents)
            let translated = changes.map { c -> PoolChange in
                switch c {
                case .inserted(let b, let parent): return .inserted(routerOf[b]!, parent: parent.map { routerOf[$0]! })
                case .evicted(let b): return .evicted(routerOf[b]!)
                case .removed(let b): return .removed(routerOf[b]!)
                }
            }
            KVEvent.append(translated, node: node, nextEventID: &nextRouterIDs[node], to: &routerEvents)
        }
        return EngineStream(events: engineEvents, routerEvents: routerEvents)
    }

    /// What the engine-events run measured.
    public struct EngineResult: Sendable {
        /// Nodes simulated.
        public var nodes: Int
        /// Engine events applied (each re-hashed and mapped).
        public var events: Int
        /// Engine events per second through ``KVRouter/apply(_:)-(Sequence<EngineEvent>)``, one per call.
        public var eventsPerSecond: Double
        /// Router-scheme events per second through ``KVRouter/apply(_:)-(Sequence<KVEvent>)``
        /// for the same changes, one per call (no re-hashing).
        public var routerSchemeEventsPerSecond: Double
        /// Index memory per indexed block at the end, in bytes.
        public var indexBytesPerBlock: Double
        /// Engine-hash map memory per indexed block at the end, in bytes.
        public var mapBytesPerBlock: Double
        /// Blocks indexed at the end.
        public var indexedBlocks: Int
        /// Whether both routers ended with the same overlaps for every request of the trace.
        public var agree: Bool
    }

    /// Replays the engine stream through one ``KVRouter`` and the router-scheme stream
    /// through another, one event per call as a subscriber delivers them; times only the
    /// applies, and checks that both routers end with the same overlaps for every request.
    public static func runEngine(trace: Trace, nodes: Int, hasher: PrefixHasher, workload: EngineStream) -> EngineResult {
        func router() -> KVRouter {
            var quiet = Logger(label: "kvcache.index-bench")
            quiet.logLevel = .warning
            let r = KVRouter(configuration: .init(hasher: hasher, nodeCapacity: max(nodes, 1), logger: quiet))
            for n in 0..<nodes { r.addNode(n) }
            return r
        }
        let engine = router(), plain = router()
        let clock = ContinuousClock()
        var start = clock.now
        for e in workload.events { engine.apply(CollectionOfOne(e)) }
        let engineSeconds = (clock.now - start).seconds
        start = clock.now
        for e in workload.routerEvents { plain.apply(CollectionOfOne(e)) }
        let plainSeconds = (clock.now - start).seconds
        var agree = true
        var tokens: [UInt32] = []
        for i in 0..<trace.count where agree {
            tokens.removeAll(keepingCapacity: true)
            let r = trace.records[i]
            for b in trace.blocks[r.blockStart..<r.blockStart + r.blockCount] {
                Self.tokens(ofBlock: b, blockSize: hasher.blockSize, into: &tokens)
            }
            let chain = hasher.blockHashes(tokens)
            agree = engine.overlaps(chain).depths == plain.overlaps(chain).depths
        }
        let s = engine.snapshot
        return EngineResult(
            nodes: nodes, events: workload.events.count,
            eventsPerSecond: Double(workload.events.count) / engineSeconds,
            routerSchemeEventsPerSecond: Double(workload.routerEvents.count) / plainSeconds,
            indexBytesPerBlock: s.indexBytesPerBlock,
            mapBytesPerBlock: Double(s.engineMapBytes) / Double(max(s.indexedBlocks, 1)),
            indexedBlocks: s.indexedBlocks, agree: agree)
    }
}
