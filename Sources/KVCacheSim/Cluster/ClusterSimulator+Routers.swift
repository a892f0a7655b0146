import KVCache

extension ClusterSimulator {
    /// The routers of a ``RouterModel`` that is not one immediate router: what each of them
    /// knows, kept apart from the nodes' real pools and queues.
    struct _Fleet {
        let model: RouterModel
        let nodes: Int
        /// Router `r`'s view of node `k` at `r * nodes + k`: the queue and decodes of the
        /// requests `r` sent there, and nothing else.
        var loads: [NodeSim]
        /// The events view's index, fed the nodes' changes ``RouterModel/eventLagSeconds`` late.
        var index: PrefixIndex
        /// Per router, its routing decisions with their TTL: the events view's speculative
        /// entries, or the approximate view's only knowledge.
        var decisions: [PrefixIndex]
        /// Router `r`'s shadow of node `k` at `r * nodes + k`.
        var shadows: [AnyBlockPool]
        /// Changes in flight to the index, oldest first, and the batches they form.
        var inFlight: [PoolChange] = []
        var batches: [(at: Int64, node: Int, start: Int, end: Int)] = []
        var batchHead = 0
        let lagMicros: Int64
        /// The engine load view: the last read time, the nodes' true load then (per node), and
        /// each router's own then (`r * nodes + k`).
        let loadIntervalMicros: Int64
        var readAt: Int64 = -1
        var readTrue: [_LoadReading] = []
        var readOwn: [_LoadReading] = []
        var changes: [PoolChange] = []
        var spare = OverlapScores()

        init(_ model: RouterModel, _ c: ClusterConfiguration, expectedBlocks: Int) throws {
            self.model = model
            nodes = c.nodes
            let k = model.replicas
            loads = Array(repeating: NodeSim(), count: k * c.nodes)
            index = PrefixIndex(nodeCapacity: c.nodes, expectedBlocks: model.view == .events ? expectedBlocks : 16)
            let ttl = model.view == .approximate ? model.approximateTTL : model.speculativeTTL
            let keepsDecisions = model.view == .approximate || model.speculativeTTL > 0
            decisions = (0..<(keepsDecisions ? k : 0)).map { _ in
                PrefixIndex(nodeCapacity: c.nodes, expectedBlocks: 1 << 14, approximate: ApproximateMode(ttl: ttl))
            }
            // every node known to every index from the start, so that all answers describe
            // all nodes and merge without reshaping
            for k in 0..<c.nodes {
                try index.apply([], node: k)
                for r in decisions.indices { try decisions[r].apply([], node: k) }
            }
            shadows = []
            if model.view == .shadow {
                let policy = model.shadowEviction ?? c.eviction
                let capacity = model.shadowCapacity ?? c.capacity
                for _ in 0..<(k * c.nodes) { shadows.append(try policy.makePool(capacity: capacity)) }
            }
            lagMicros = try SimulatedClock.micros(model.eventLagSeconds, request: 0)
            loadIntervalMicros = max(1, try SimulatedClock.micros(model.loadIntervalSeconds, request: 0))
            if model.loadView == .engine {
                readTrue = Array(repeating: _LoadReading(), count: c.nodes)
                readOwn = Array(repeating: _LoadReading(), count: k * c.nodes)
            }
        }

        /// Whether the nodes' pools must log their changes for this fleet.
        var readsEvents: Bool { model.view == .events }

        /// Router `r`'s depths for `chain` at time `t`.
        mutating func overlaps(_ r: Int, _ chain: UnsafeBufferPointer<BlockHash>, at t: Int64, into scores: inout OverlapScores) {
            let now = Double(t) / 1e6
            switch model.view {
            case .events:
                deliver(upTo: t)
                index.overlaps(chain, into: &scores)
                if !decisions.isEmpty {
                    decisions[r].expire(now: now)
                    decisions[r].overlaps(chain, into: &spare)
                    scores.formMaximum(spare)
                }
            case .approximate:
                decisions[r].expire(now: now)
                decisions[r].overlaps(chain, into: &scores)
            case .shadow:
                shadows.withUnsafeBufferPointer { all in
                    AnyBlockPool.prefixHits(
                        of: chain, in: UnsafeBufferPointer(rebasing: all[(r * nodes)..<((r + 1) * nodes)]), into: &scores)
                }
            }
        }

        /// Router `r` sent `chain` (or a replica's part of it) to node `n` at time `t`.
        mutating func routed(_ r: Int, _ chain: UnsafeBufferPointer<BlockHash>, to n: Int, at t: Int64) throws {
            if !decisions.isEmpty { try decisions[r].recordRouting(chain, to: n, at: Double(t) / 1e6) }
            if model.view == .shadow { _ = try shadows[r * nodes + n].update(chain, nextUses: nil) }
        }

        /// Takes node `n`'s logged pool changes at time `t`, for delivery a lag later.
        mutating func publish(_ pool: inout BlockPool<some EvictionAlgorithm>, node n: Int, at t: Int64, request: Int) throws {
            guard readsEvents else { return }
            pool.takeChanges(into: &changes)
            guard !changes.isEmpty else { return }
            if batchHead == batches.count {
                inFlight.removeAll(keepingCapacity: true)
                batches.removeAll(keepingCapacity: true)
                batchHead = 0
            } else if batchHead > 4096 && batchHead * 2 > batches.count {
                // delivered batches go, so that a lag longer than the gaps between requests
                // keeps memory to the changes in flight
                let delivered = batches[batchHead].start
                inFlight.removeFirst(delivered)
                batches.removeFirst(batchHead)
                for b in batches.indices {
                    batches[b].start -= delivered
                    batches[b].end -= delivered
                }
                batchHead = 0
            }
            let start = inFlight.count
            inFlight.append(contentsOf: changes)
            batches.append((try SimulatedClock.add(t, lagMicros, request: request), n, start, inFlight.count))
        }

        /// Applies every batch due by time `t` to the index.
        mutating func deliver(upTo t: Int64) {
            while batchHead < batches.count && batches[batchHead].at <= t {
                let batch = batches[batchHead]
                changes.removeAll(keepingCapacity: true)
                changes.append(contentsOf: inFlight[batch.start..<batch.end])
                try? index.apply(changes, node: batch.node)
                batchHead += 1
            }
        }
    }
}

/// A node's load as a router reads it: when its prefill queue drains, its queued prefill
/// tokens, its requests, and its decodes' blocks.
struct _LoadReading {
    var freeAt: Int64 = 0
    var queuedTokens = 0
    var requests = 0
    var decodeBlocks = 0

    init() {}

    init(_ n: ClusterSimulator.NodeSim) {
        freeAt = n.freeAt
        queuedTokens = n.queuedTokens
        requests = (n.prefillQueue.count - n.queueHead) + n.decoding.count
        decodeBlocks = n.decodeBlocks
    }
}
