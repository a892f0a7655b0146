import KVCache

extension ClusterSimulator {
    /// One run's state, advanced one request at a time; each step of serving a request is one
    /// method. Everything lives in this value and its methods mutate it in place (no captured
    /// variables, so no dynamic exclusivity checks on the hot path).
    struct _Simulation<Algorithm: EvictionAlgorithm> {
        let trace: Trace
        let c: ClusterConfiguration
        let blockSize: Int
        /// Pools answer overlaps themselves (no tiers): the index then stays empty.
        let usePools: Bool
        let needOverlaps: Bool
        let hottest: [BlockHash]
        let sampleEvery: Int
        var world: _World<Algorithm>
        var states: [NodeState]
        var scores: OverlapScores
        var result: ClusterResult
        var ttfts: [Int64] = []
        /// One buffer for every request's chain.
        var chainBuffer: [BlockHash] = []
        /// The routers, each a router core, unless one router sees every change at once.
        var fleet: _Fleet?
        /// The router serving the current request.
        var router = 0

        init(_ trace: Trace, _ c: ClusterConfiguration, selectors: [_AnySelector], selectorIsConfigured: Bool) throws {
            self.trace = trace
            self.c = c
            blockSize = trace.blockSize
            // with a router model, the routers keep their own indexes: the pools are the truth
            usePools =
                !c.router.isImmediate || c.overlapSource == .pools || (c.overlapSource == .automatic && c.hostCapacity == 0)
            needOverlaps = !selectorIsConfigured || c.selector.usesOverlaps
            // built in place: a second reference to a node's pool (or the index) would make its
            // first write copy it
            world = _World(
                nodes: [], index: PrefixIndex(nodeCapacity: c.nodes, expectedBlocks: usePools ? 16 : min(trace.blocks.count, 1 << 20)),
                usePools: usePools)
            world.nodes.reserveCapacity(c.nodes)
            world.devices.reserveCapacity(c.nodes)
            for _ in 0..<c.nodes {
                var device = try BlockPool<Algorithm>(capacity: c.capacity)
                device.recordsChanges = !usePools || (!c.router.isImmediate && c.router.view == .events)
                var host: BlockPool<LRU>?, disk: BlockPool<LRU>?
                if c.hostCapacity > 0 { host = try BlockPool<LRU>(capacity: c.hostCapacity); host!.recordsChanges = true }
                if c.diskCapacity > 0 { disk = try BlockPool<LRU>(capacity: c.diskCapacity); disk!.recordsChanges = true }
                world.devices.append(consume device)
                world.nodes.append(NodeSim(host: consume host, disk: consume disk))
            }
            states = (0..<c.nodes).map { NodeState(id: $0, capacityBlocks: c.capacity) }
            result = ClusterResult(configuration: c)
            result.requests = trace.count
            result.perNode = Array(repeating: ClusterResult.Node(), count: c.nodes)
            scores = OverlapScores(nodeCount: c.nodes)
            scores.tierWeights = c.tierWeights
            ttfts.reserveCapacity(trace.count)
            hottest = c.replicaSamples > 0 ? ClusterSimulator.hottestBlocks(trace, count: 10) : []
            result.hottestBlocks = hottest
            sampleEvery = c.replicaSamples > 0 ? max(trace.count / c.replicaSamples, 1) : Int.max
            if !c.router.isImmediate {
                fleet = try _Fleet(
                    c.router, c, selectors: selectors, blockSize: trace.blockSize, expectedBlocks: min(trace.blocks.count, 1 << 20))
            }
        }

        /// Routes request `i` (its `chain`) and serves it: overlaps, node loads, the
        /// selector's decision, the prefill's timing, the metrics, and the pools' update.
        mutating func serve(_ i: Int, _ chain: UnsafeBufferPointer<BlockHash>, selector: inout _AnySelector) throws {
            if fleet != nil { return try serveThroughRouter(i, chain) }
            let (rec, t, request) = try arrive(i, chain)
            let decision = ClusterSimulator._select(&selector, request, &states, &scores)
            guard let n = decision.node, n >= 0, n < c.nodes else {
                result.rejected += 1
                return
            }
            try dispatch(i, chain, rec, node: n, at: t, decision: decision)
        }

        /// Routes request `i` through its router's core (``_Fleet``) and serves it.
        mutating func serveThroughRouter(_ i: Int, _ chain: UnsafeBufferPointer<BlockHash>) throws {
            let rec = trace.records[i]
            let t = try SimulatedClock.micros(rec.timestamp / 1000, request: i + 1)
            refreshStates(at: t)
            fleet!.advance(to: t, nodes: &world.nodes)
            chainBuffer.removeAll(keepingCapacity: true)
            chainBuffer.append(contentsOf: chain)
            let request = RoutingRequest(
                chain: chainBuffer, inputTokens: rec.inputLength, expectedOutputTokens: rec.outputLength,
                arrival: Double(t) / 1e6, blockSize: blockSize)
            let routed = fleet!.route(router, request, at: t)
            guard let n = routed.node, n >= 0, n < c.nodes else {
                result.rejected += 1
                return
            }
            let (prefillEnd, end) = try dispatch(
                i, chain, rec, node: n, at: t, decision: routed.decision, predicted: c.cachingDisabled ? 0 : routed.overlapBlocks)
            fleet!.started(i, router: router, node: n, request, predicted: routed.overlapBlocks, at: t, prefillEnd: prefillEnd, end: end)
        }

        /// Request `i` arrives: its record, its time, and what the selector sees of it, with
        /// the overlaps and the nodes' loads brought up to its time.
        mutating func arrive(
            _ i: Int, _ chain: UnsafeBufferPointer<BlockHash>
        ) throws -> (record: Trace.Record, time: Int64, request: RoutingRequest) {
            let rec = trace.records[i]
            let t = try SimulatedClock.micros(rec.timestamp / 1000, request: i + 1)
            findOverlaps(chain, at: t)
            refreshStates(at: t)
            chainBuffer.removeAll(keepingCapacity: true)
            chainBuffer.append(contentsOf: chain)
            let request = RoutingRequest(
                chain: chainBuffer, inputTokens: rec.inputLength, expectedOutputTokens: rec.outputLength,
                arrival: Double(t) / 1e6, blockSize: blockSize)
            return (rec, t, request)
        }

        /// Serves request `i` on node `n` as `decision` says: the pools' lookups and update,
        /// the prefill's timing and the metrics. With `decodeNode`, the request decodes there
        /// instead, after `transfer` microseconds of KV transfer that follow the prefill.
        /// `predicted` is the router's expected prefix (default: the overlaps found for it).
        /// - Returns: When the prefill ends, and when the request does.
        @discardableResult
        mutating func dispatch(
            _ i: Int, _ chain: UnsafeBufferPointer<BlockHash>, _ rec: Trace.Record, node n: Int, at t: Int64, decision: Decision,
            decodeNode: Int? = nil, transfer: Int64 = 0, predicted routerPredicted: Int? = nil
        ) throws -> (prefillEnd: Int64, end: Int64) {
            // leading blocks on the chosen node (p) and all its blocks of the chain (present),
            // before it stores. The pools alone (no index to feed): the chosen pool looks up
            // and stores the chain in one walk (the update is due at dispatch anyway, and
            // nothing below reads the pool before it)
            let predicted = routerPredicted ?? scores.depth(of: n)
            var p = predicted
            var present = 0
            var accessHits = 0
            var lowerTier = (blocks: 0, prefix: 0)
            if !c.cachingDisabled && usePools {
                (p, present, accessHits) = try world.devices[n].lookupAndUpdate(chain, nextUses: nil)
            } else if !c.cachingDisabled {
                present = world.devices[n].hits(in: chain)
                if c.hostCapacity > 0 {
                    lowerTier = (world.lowerTierHits(n, chain), p - scores.depth(of: n, tier: .device))
                    present += lowerTier.blocks
                }
            }
            if needOverlaps && !c.cachingDisabled { result.prediction.record(predicted: predicted, actual: p) }
            let (used, extra) = try fetchTime(i, chain, node: n, decision: decision, prefix: p)
            let (prefill, uncached, prefillEnd, end) = try schedule(
                i, rec, node: n, at: t, cachedBlocks: used, extra: extra, decodeNode: decodeNode ?? n, transfer: transfer)
            // metrics (lookup state)
            result.hits.countLookup(blocks: chain.count, prefix: p, inputTokens: rec.inputLength, blockSize: blockSize)
            result.perNode[n].requests += 1
            result.perNode[n].inputTokens += rec.inputLength
            result.perNode[n].prefilledTokens += uncached
            result.perNode[n].prefillSeconds += Double(prefill) / 1e6
            result.prefillSeconds += Double(prefill) / 1e6
            result.prefillSecondsWithoutCache += c.prefillModel.prefillTime(uncachedTokens: rec.inputLength, cachedTokens: 0)
            states[n].requestsServed += 1
            if !c.cachingDisabled {
                result.hits.blockHits += present
                result.hits.lowerTierBlockHits += lowerTier.blocks
                result.hits.lowerTierPrefixHits += lowerTier.prefix
                result.hits.accessHits += usePools ? accessHits : try world.store(n, chain)
                states[n].usedBlocks = world.devices[n].count  // pools change only at dispatch
                if fleet != nil {
                    try fleet!.routed(router, chain, to: n)
                    try fleet!.publish(&world.devices[n], node: n, at: t, request: i + 1)
                }
                try replicate(i, chain, decision, chosen: n, at: t)
            }
            if (i + 1) % sampleEvery == 0 {
                result.replicaSamples.append(
                    .init(
                        request: i + 1,
                        replicas: hottest.map { b in
                            (0..<c.nodes).reduce(0) { $0 + (world.holds(b, node: $1) ? 1 : 0) }
                        }))
            }
            return (prefillEnd, end)
        }

        /// Each node's depth for `chain`: from the pools, from the index, or none at all when
        /// nothing reads them.
        mutating func findOverlaps(_ chain: UnsafeBufferPointer<BlockHash>, at t: Int64) {
            if c.cachingDisabled || (usePools && !needOverlaps) {
                // nothing writes depths here: they stay zero, only the length changes
                if scores.chainLength != chain.count { scores.reset(nodeCount: c.nodes, chainLength: chain.count) }
            } else if usePools {
                world.devices.withUnsafeBufferPointer { scores.setPrefixHits(of: chain, in: $0) }
            } else {
                world.index.overlaps(chain, into: &scores)
            }
        }

        /// Retires work finished by `t` and copies each node's load into the selector's view.
        mutating func refreshStates(at t: Int64) {
            world.nodes.withUnsafeMutableBufferPointer { nodes in
                states.withUnsafeMutableBufferPointer { states in
                    for k in 0..<nodes.count {
                        if nodes[k].nextEvent <= t { ClusterSimulator.advance(&nodes[k], to: t) }
                        states[k].queueDelay = nodes[k].freeAt > t ? (Double(nodes[k].freeAt) - Double(t)) / 1e6 : 0
                        states[k].queuedPrefillTokens = nodes[k].queuedTokens
                        states[k].activeRequests = (nodes[k].prefillQueue.count - nodes[k].queueHead) + nodes[k].decoding.count
                        states[k].activeDecodeBlocks = nodes[k].decodeBlocks
                    }
                }
            }
        }

        /// The cached blocks the prefill can use (its own prefix `prefix`, or a transfer's)
        /// and the microseconds spent fetching them (onboarding blocks from lower tiers, and
        /// the transfer).
        mutating func fetchTime(
            _ i: Int, _ chain: UnsafeBufferPointer<BlockHash>, node n: Int, decision: Decision,
            prefix p: Int
        ) throws -> (used: Int, extra: Int64) {
            var used = p
            var extra: Int64 = 0
            // Blocks past the device's lead come up from the host or disk tier, unless
            // prefilling them again is faster: then the prefill starts after the device's part.
            if c.hostCapacity > 0 && !c.cachingDisabled {
                let onDevice = scores.depth(of: n, tier: .device)
                if p > onDevice {
                    var onboard = 0.0
                    for b in onDevice..<p {
                        let fromHost = world.nodes[n].host?.contains(chain[b]) ?? false
                        onboard += fromHost ? c.hostOnboardSecondsPerBlock : c.diskOnboardSecondsPerBlock
                    }
                    let input = trace.records[i].inputLength
                    let saved =
                        c.prefillModel.prefillTime(inputTokens: input, cachedBlocks: onDevice, blockSize: blockSize)
                        - c.prefillModel.prefillTime(inputTokens: input, cachedBlocks: p, blockSize: blockSize)
                    if onboard < saved {
                        extra = try SimulatedClock.micros(onboard, request: i + 1)
                        result.onboardedBlocks += p - onDevice
                    } else {
                        used = onDevice
                    }
                }
            }
            if let tr = decision.transfer, !c.cachingDisabled {
                used = max(used, tr.blocks.upperBound)
                extra = try SimulatedClock.add(extra, SimulatedClock.micros(tr.estimatedSeconds, request: i + 1), request: i + 1)
                result.transfers += 1
                result.transferredBlocks += tr.blocks.count
            }
            return (used, extra)
        }

        /// Queues the prefill on node `n` (and its decode on `decodeNode`, when modelled, after
        /// `transfer` microseconds) and records its TTFT.
        /// - Returns: the prefill's microseconds and its uncached tokens; when the prefill
        ///   ends, and when the request does (its decode, or its prefill without decodes).
        mutating func schedule(
            _ i: Int, _ rec: Trace.Record, node n: Int, at t: Int64, cachedBlocks used: Int,
            extra: Int64, decodeNode: Int, transfer: Int64
        ) throws -> (prefill: Int64, uncached: Int, prefillEnd: Int64, end: Int64) {
            let cached = min(used * blockSize, rec.inputLength)
            let uncached = rec.inputLength - cached
            let prefillSeconds = c.prefillModel.prefillTime(uncachedTokens: uncached, cachedTokens: cached)
            let prefill = try SimulatedClock.micros(prefillSeconds, request: i + 1)
            let wait = max(0, try SimulatedClock.add(world.nodes[n].freeAt, -t, request: i + 1))
            let busy = try SimulatedClock.add(SimulatedClock.add(wait, extra, request: i + 1), prefill, request: i + 1)
            let end = try SimulatedClock.add(t, busy, request: i + 1)
            world.nodes[n].freeAt = end
            // the transfer to a decode node follows the prefill, off the prefill node's queue
            ttfts.append(try SimulatedClock.add(busy, transfer, request: i + 1))
            world.nodes[n].prefillQueue.append((end, uncached))
            world.nodes[n].nextEvent = min(world.nodes[n].nextEvent, end)
            world.nodes[n].queuedTokens += uncached
            var decodeEnd: (at: Int64, blocks: Int)?
            if c.decodeSecondsPerToken > 0 {
                let blocks = (rec.inputLength + rec.outputLength + blockSize - 1) / blockSize
                let decode = try SimulatedClock.micros(Double(rec.outputLength) * c.decodeSecondsPerToken, request: i + 1)
                let done = try SimulatedClock.add(SimulatedClock.add(end, transfer, request: i + 1), decode, request: i + 1)
                world.nodes[decodeNode].decoding.push(done, blocks)
                world.nodes[decodeNode].nextEvent = min(world.nodes[decodeNode].nextEvent, done)
                world.nodes[decodeNode].decodeBlocks += blocks
                decodeEnd = (done, blocks)
            }
            return (prefill, uncached, end, decodeEnd?.at ?? end)
        }

        /// Stores the decision's hot-prefix copies on the nodes it names.
        mutating func replicate(
            _ i: Int, _ chain: UnsafeBufferPointer<BlockHash>, _ decision: Decision, chosen n: Int, at t: Int64
        ) throws {
            for rep in decision.replicas where rep.node >= 0 && rep.node < c.nodes && rep.node != n {
                let part = UnsafeBufferPointer(rebasing: chain[rep.blocks.clamped(to: 0..<chain.count)])
                let before = world.devices[rep.node].statistics.insertions
                _ = try world.store(rep.node, part)
                result.replicatedBlocks += world.devices[rep.node].statistics.insertions - before
                states[rep.node].usedBlocks = world.devices[rep.node].count
                if fleet != nil {
                    try fleet!.routed(router, part, to: rep.node)
                    try fleet!.publish(&world.devices[rep.node], node: rep.node, at: t, request: i + 1)
                }
            }
        }

        /// The result: per-node evictions and the TTFT distribution.
        mutating func finish() -> ClusterResult {
            for k in 0..<c.nodes { result.perNode[k].evictions = world.devices[k].statistics.evictions }
            let mean = ttfts.reduce(0.0) { $0 + Double($1) } / 1e6 / Double(max(ttfts.count, 1))
            let p = Statistics._percentiles(selecting: &ttfts, [50, 90, 99], divisor: 1e6)
            result.ttft = .init(mean: mean, p50: p[0], p90: p[1], p99: p[2])
            return result
        }
    }
}
