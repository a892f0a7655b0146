import KVCache

extension ClusterSimulator {
    /// The routers of a ``RouterModel`` that is not one immediate router: each is a
    /// ``KVCache/RouterCore`` — the code `KVRouter` and the gateway run — driven on simulated
    /// time, kept apart from the nodes' real pools and queues.
    ///
    /// - Each core has the nodes, the selector (seeded apart), the prefill model and the
    ///   router model's approximate and speculative TTLs.
    /// - Its load is its own accounting, as a gateway keeps it: a request starts at dispatch,
    ///   its prefill finishes when the node really finishes it, and it ends when its decode
    ///   does (or with its prefill when decodes are not modelled).
    /// - The events view feeds the nodes' cache changes ``RouterModel/eventLagSeconds`` late
    ///   to one index that every core routes by: the events reach every router at the same
    ///   times, so their indexes would be copies of one another, and one costs a k-th of the
    ///   upkeep. The approximate view makes every node an approximate node of every core; the
    ///   shadow view predicts caches with pools of each router's own. Either way the core's
    ///   own speculative entries, load, selector and records decide.
    /// - The engine load view reports each node's true requests to every core at every read
    ///   (``KVCache/RouterCore/reportLoad(_:running:waiting:)``).
    struct _Fleet {
        let model: RouterModel
        let nodes: Int
        var cores: [RouterCore]
        /// The events view's index, fed the nodes' changes ``RouterModel/eventLagSeconds`` late.
        var index: PrefixIndex
        var scores = OverlapScores()
        /// Router `r`'s shadow of node `k` at `r * nodes + k`.
        var shadows: [AnyBlockPool]
        /// Changes in flight to the routers, oldest first, and the batches they form.
        var inFlight: [PoolChange] = []
        var batches: [(at: Int64, node: Int, start: Int, end: Int)] = []
        var batchHead = 0
        let lagMicros: Int64
        /// What the cores learn as time passes, by when: request `i`'s prefill end
        /// (`2i`) and its end (`2i + 1`).
        var notices = _MinHeap()
        /// The engine load view: the interval and the last read time.
        let loadIntervalMicros: Int64
        var readAt: Int64 = -1
        var changes: [PoolChange] = []

        init(_ model: RouterModel, _ c: ClusterConfiguration, selectors: [_AnySelector], blockSize: Int, expectedBlocks: Int) throws {
            self.model = model
            nodes = c.nodes
            let k = model.replicas
            var configuration = KVRouter.Configuration(
                hasher: try PrefixHasher(blockSize: max(blockSize, 1)), prefillModel: c.prefillModel, nodeCapacity: c.nodes,
                requestTimeout: .infinity, approximate: ApproximateMode(ttl: model.approximateTTL),
                speculativeTTL: model.view == .events ? model.speculativeTTL : 0, tierWeights: c.tierWeights)
            cores = []
            for r in 0..<k {
                configuration.selector = _SimulatedSelector(selectors[r])
                var core = RouterCore(configuration: configuration)
                for n in 0..<c.nodes { core.addNode(n, capacityBlocks: c.capacity, approximate: model.view == .approximate) }
                cores.append(core)
            }
            index = PrefixIndex(nodeCapacity: c.nodes, expectedBlocks: model.view == .events ? expectedBlocks : 16)
            for n in 0..<c.nodes { try index.apply([], node: n) }  // every node known, as in the cores
            shadows = []
            if model.view == .shadow {
                let policy = model.shadowEviction ?? c.eviction
                let capacity = model.shadowCapacity ?? c.capacity
                for _ in 0..<(k * c.nodes) { shadows.append(try policy.makePool(capacity: capacity)) }
            }
            lagMicros = try SimulatedClock.micros(model.eventLagSeconds, request: 0)
            loadIntervalMicros = max(1, try SimulatedClock.micros(model.loadIntervalSeconds, request: 0))
        }

        /// Whether the nodes' pools must log their changes for this fleet.
        var readsEvents: Bool { model.view == .events }

        /// The selectors as the routers have left them.
        var selectors: [_AnySelector] { cores.map { ($0.currentSelector as! _SimulatedSelector).base } }

        /// Brings every core to time `t`: the requests' prefill ends and ends due by then, the
        /// event batches due, and (engine load view) the nodes' loads at the last read time.
        mutating func advance(to t: Int64, nodes world: inout [NodeSim]) {
            deliver(upTo: t)
            if model.loadView == .engine, t / loadIntervalMicros * loadIntervalMicros > readAt {
                let at = t / loadIntervalMicros * loadIntervalMicros
                notify(upTo: at)
                for k in 0..<nodes {
                    if world[k].nextEvent <= at { ClusterSimulator.advance(&world[k], to: at) }
                    // a modelled decode is on the heap from dispatch to its end: the node's
                    // requests are those, or its prefill queue when decodes are not modelled
                    let waiting = world[k].prefillQueue.count - world[k].queueHead
                    let running = max(world[k].decoding.count - waiting, 0)
                    for r in cores.indices { cores[r].reportLoad(k, running: running, waiting: waiting) }
                }
                readAt = at
            }
            notify(upTo: t)
        }

        /// Tells the cores of the prefill ends and ends due by `t`, in time order.
        mutating func notify(upTo t: Int64) {
            let routers = cores.count
            while let top = notices.min, top.key <= t {
                _ = notices.pop()
                let i = top.value >> 1
                let now = Double(top.key) / 1e6
                if top.value & 1 == 0 {
                    cores[i % routers].prefillFinished(id: UInt64(i), now: now)
                } else {
                    cores[i % routers].requestFinished(id: UInt64(i))
                }
            }
        }

        /// Router `r`'s decision for `request` at time `t`.
        mutating func route(_ r: Int, _ request: RoutingRequest, at t: Int64) -> KVRouter.Routed {
            let now = Double(t) / 1e6
            switch model.view {
            case .approximate:
                return cores[r].route(
                    blockHashes: request.chain, inputTokens: request.inputTokens, expectedOutputTokens: request.expectedOutputTokens,
                    now: now)
            case .events:
                index.overlaps(request.chain, into: &scores)
            case .shadow:
                scores.reset(nodeCount: nodes, chainLength: request.chain.count)
                let n = nodes
                shadows.withUnsafeBufferPointer { all in
                    request.chain.withUnsafeBufferPointer { chain in
                        AnyBlockPool.prefixHits(of: chain, in: UnsafeBufferPointer(rebasing: all[(r * n)..<((r + 1) * n)]), into: &scores)
                    }
                }
            }
            return cores[r].route(
                blockHashes: request.chain, overlaps: scores, inputTokens: request.inputTokens,
                expectedOutputTokens: request.expectedOutputTokens, now: now)
        }

        /// Request `i` of router `r` started on node `n` at `t` with `predicted` blocks
        /// cached; its prefill ends at `prefillEnd` and it ends at `end`.
        mutating func started(
            _ i: Int, router r: Int, node n: Int, _ request: RoutingRequest, predicted: Int, at t: Int64, prefillEnd: Int64, end: Int64
        ) {
            let cached = min(predicted * request.blockSize, request.inputTokens)
            cores[r].requestStarted(
                id: UInt64(i), node: n, promptTokens: request.inputTokens, cachedTokens: cached,
                expectedOutputTokens: request.expectedOutputTokens, now: Double(t) / 1e6)
            notices.push(prefillEnd, i << 1)
            notices.push(end, i << 1 | 1)
        }

        /// Router `r` sent `chain` (or a replica's part of it) to node `n`: its shadow pool
        /// takes it.
        mutating func routed(_ r: Int, _ chain: UnsafeBufferPointer<BlockHash>, to n: Int) throws {
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

        /// Applies every batch due by time `t` to the index the cores route by.
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

    /// A simulation's selector inside a router core. The core asks for a `Sendable` policy,
    /// as a router shared between threads must; a simulation runs each of its cores on one
    /// thread and never shares them, so a policy that is not `Sendable` is safe there.
    struct _SimulatedSelector: PrefillNodeSelector, @unchecked Sendable {
        var base: _AnySelector
        init(_ base: _AnySelector) { self.base = base }
        var name: String { base.name }
        mutating func select(_ request: RoutingRequest, nodes: [NodeState], overlaps: OverlapScores) -> Decision {
            base.select(request, nodes: nodes, overlaps: overlaps)
        }
    }
}
