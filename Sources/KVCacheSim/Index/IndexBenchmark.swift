import KVCache

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
        /// Block stores and removals the events carried.
        public var blockOperations: Int
        /// Wall time of the untimed-per-operation pass.
        public var seconds: Double
        /// (events + queries) per second in that pass.
        public var operationsPerSecond: Double { Double(events + queries) / seconds }
        /// Median `overlaps` latency in seconds (timed pass).
        public var queryP50: Double
        /// 99th percentile `overlaps` latency in seconds (timed pass).
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
                _ = try pools[node].update(UnsafeBufferPointer(rebasing: all[r.blockStart ..< r.blockStart + r.blockCount]))
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

    /// Replays `operations` twice against fresh indexes: once straight through for throughput,
    /// once timing each query for its latency percentiles.
    public static func run(trace: Trace, nodes: Int, workload: Stream) -> Result {
        let operations = workload.operations
        let clock = ContinuousClock()
        var index = PrefixIndex(nodeCapacity: max(nodes, 1), expectedBlocks: 1 << 16)
        var scores = OverlapScores()
        var events = 0, queries = 0, blockOps = 0
        var sink = 0
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
                    queries += 1
                }
            }
            }
        }
        let seconds = (clock.now - start).seconds
        for e in workload.events {
            do {
                switch e.kind {
                case .stored(_, let b, _), .removed(let b, _): blockOps += b.count
                case .cleared: break
                }
            }
        }
        // latency pass
        var timed = PrefixIndex(nodeCapacity: max(nodes, 1), expectedBlocks: 1 << 16)
        var latencies: [Double] = []
        latencies.reserveCapacity(queries)
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
        latencies.sort()
        precondition(sink >= 0)
        return Result(nodes: nodes, events: events, queries: queries, blockOperations: blockOps, seconds: seconds,
                      queryP50: Statistics.percentile(sortedValues: latencies, 50),
                      queryP99: Statistics.percentile(sortedValues: latencies, 99),
                      bytesPerBlock: index.bytesPerBlock, indexedBlocks: index.blockCount)
    }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
