import KVCache

/// Replays a trace through a simulated cluster built from the library's public types: per
/// node a ``BlockPool`` (chosen by ``EvictionPolicy``) whose recorded changes feed one
/// ``PrefixIndex`` (the in-process form of the stored/removed events engines publish), whose
/// overlaps feed the ``PrefillNodeSelector`` — the same path a serving router takes.
///
/// Time runs in whole microseconds: arrival `t = timestamp_ms × 1000`; each node is a FIFO
/// single server for prefill, `wait = max(0, free_at − t)`, `free_at = t + wait + service`,
/// TTFT = wait + service, where service = prefill (the configured model, rounded to µs) plus
/// any KV transfer and tier onboarding time. The chosen node's pool is updated at dispatch.
public enum ClusterSimulator {
    /// Runs one configuration.
    ///
    /// - Parameters:
    ///   - trace: The requests, in arrival order.
    ///   - configuration: The cluster.
    ///   - baseline: Also run without caching and record its TTFT mean (for the reduction).
    /// - Throws: ``ConfigurationError`` for a configuration that cannot run.
    public static func run(_ trace: Trace, _ configuration: ClusterConfiguration, baseline: Bool = false) throws -> ClusterResult {
        var selector = configuration.selector.makeSelector(configuration.selectorConfiguration)
        var result = try _run(trace, configuration, selector: &selector, selectorIsConfigured: true)
        if baseline { result.baselineTTFTMean = try baselineMean(trace, configuration) }
        return result
    }

    static func baselineMean(_ trace: Trace, _ configuration: ClusterConfiguration) throws -> Double {
        var off = configuration
        off.cachingDisabled = true
        off.replicaSamples = 0
        var fresh = off.selector.makeSelector(off.selectorConfiguration)
        return try _run(trace, off, selector: &fresh, selectorIsConfigured: true).ttft.mean
    }

    /// Runs one configuration with a selector of your own (``ClusterConfiguration/selector``
    /// is then only a label).
    ///
    /// - Parameters:
    ///   - trace: The requests, in arrival order.
    ///   - configuration: The cluster.
    ///   - selector: The routing policy; it keeps its state across the run.
    ///   - baseline: Also run without caching (with the configured built-in selector) and
    ///     record its TTFT mean.
    /// - Throws: ``ConfigurationError`` for a configuration that cannot run.
    public static func run<S: PrefillNodeSelector>(_ trace: Trace, _ configuration: ClusterConfiguration, selector: inout S,
                                                   baseline: Bool = false) throws -> ClusterResult {
        var result = try _run(trace, configuration, selector: &selector, selectorIsConfigured: false)
        if baseline { result.baselineTTFTMean = try baselineMean(trace, configuration) }
        return result
    }

    struct NodeSim {
        var host: BlockPool<LRU>?
        var disk: BlockPool<LRU>?
        var freeAt: Int64 = 0
        var prefillQueue: [(end: Int64, tokens: Int)] = []
        var queueHead = 0
        var queuedTokens = 0
        var decoding = _MinHeap()
        var decodeBlocks = 0
        /// The earliest end of a queued prefill or a decode (`Int64.max`: none): `advance`
        /// has nothing to retire before it.
        var nextEvent = Int64.max
    }

    static func _run<S: PrefillNodeSelector>(_ trace: Trace, _ c: ClusterConfiguration, selector: inout S,
                                             selectorIsConfigured: Bool) throws -> ClusterResult {
        guard c.nodes >= 1 else { throw ConfigurationError(message: "nodes must be at least 1, got \(c.nodes)") }
        guard c.capacity >= 1 else { throw ConfigurationError(message: "capacity must be at least 1 block, got \(c.capacity)") }
        let (result, used) = try c.eviction.open(_Run(trace: trace, configuration: c, selector: _AnySelector(selector),
                                                       selectorIsConfigured: selectorIsConfigured))
        selector = used.base as! S
        return result
    }

    /// One run, generic over the device pools' algorithm: the policy opens it once, so every
    /// pool call in the loop is specialised for the algorithm. The selector is called through
    /// one existential call per request, whatever its type.
    struct _Run: EvictionAlgorithmBody {
        let trace: Trace
        let configuration: ClusterConfiguration
        let selector: _AnySelector
        let selectorIsConfigured: Bool

        func run<A: EvictionAlgorithm>(_: A.Type) throws(any Error) -> (ClusterResult, _AnySelector) {
            var selector = selector
            let result = try ClusterSimulator._run(trace, configuration, A.self, selector: &selector,
                                                   selectorIsConfigured: selectorIsConfigured)
            return (result, selector)
        }
    }

    /// A selector of any type as one concrete type, so that generic code over it is
    /// specialised once rather than run with an opened existential.
    struct _AnySelector: PrefillNodeSelector {
        var base: any PrefillNodeSelector
        init(_ base: any PrefillNodeSelector) { self.base = base }
        var name: String { base.name }
        mutating func select(_ request: RoutingRequest, nodes: [NodeState], overlaps: OverlapScores) -> Decision {
            base.select(request, nodes: nodes, overlaps: overlaps)
        }
    }

    static func _run<A: EvictionAlgorithm>(_ trace: Trace, _ c: ClusterConfiguration, _: A.Type,
                                           selector: inout _AnySelector, selectorIsConfigured: Bool) throws -> ClusterResult {
        let clock = ContinuousClock()
        let start = clock.now
        let bs = trace.blockSize
        let usePools = c.overlapSource == .pools || (c.overlapSource == .automatic && c.hostCapacity == 0)
        let needOverlaps = !selectorIsConfigured || c.selector.usesOverlaps
        // built in place: a second reference to a node's pool (or the index) would make its
        // first write copy it. Pools answer overlaps themselves when there are no tiers: the
        // index then stays empty.
        var world = _World<A>(nodes: [], index: PrefixIndex(nodeCapacity: c.nodes, expectedBlocks: usePools ? 16 : min(trace.blocks.count, 1 << 20)),
                           usePools: usePools)
        world.nodes.reserveCapacity(c.nodes)
        world.devices.reserveCapacity(c.nodes)
        for _ in 0..<c.nodes {
            var device = try BlockPool<A>(capacity: c.capacity)
            device.recordsChanges = !usePools
            var host: BlockPool<LRU>?, disk: BlockPool<LRU>?
            if c.hostCapacity > 0 { host = try BlockPool<LRU>(capacity: c.hostCapacity); host!.recordsChanges = true }
            if c.diskCapacity > 0 { disk = try BlockPool<LRU>(capacity: c.diskCapacity); disk!.recordsChanges = true }
            world.devices.append(consume device)
            world.nodes.append(NodeSim(host: consume host, disk: consume disk))
        }
        var states = (0..<c.nodes).map { NodeState(id: $0, capacityBlocks: c.capacity) }
        var result = ClusterResult(configuration: c)
        result.requests = trace.count
        result.perNode = Array(repeating: ClusterResult.Node(), count: c.nodes)
        var scores = OverlapScores(nodeCount: c.nodes)
        var ttfts: [Int64] = []
        ttfts.reserveCapacity(trace.count)
        let hottest = c.replicaSamples > 0 ? Self.hottestBlocks(trace, count: 10) : []
        result.hottestBlocks = hottest
        let sampleEvery = c.replicaSamples > 0 ? max(trace.count / c.replicaSamples, 1) : Int.max

        var chainBuffer: [BlockHash] = []     // one buffer for every request's chain
        try trace.blocks.withUnsafeBufferPointer { all throws in
            for i in 0..<trace.count {
                let rec = trace.records[i]
                let chain = UnsafeBufferPointer(rebasing: all[rec.blockStart ..< rec.blockStart + rec.blockCount])
                let t = try SimulatedClock.micros(rec.timestamp / 1000, request: i + 1)
                if c.cachingDisabled || (usePools && !needOverlaps) {
                    // nothing writes depths here: they stay zero, only the length changes
                    if scores.chainLength != chain.count { scores.reset(nodeCount: c.nodes, chainLength: chain.count) }
                } else if usePools {
                    world.devices.withUnsafeBufferPointer { scores.setPrefixHits(of: chain, in: $0) }
                } else {
                    world.index.overlaps(chain, into: &scores)
                }
                world.nodes.withUnsafeMutableBufferPointer { nodes in
                    states.withUnsafeMutableBufferPointer { states in
                        for k in 0..<nodes.count {
                            if nodes[k].nextEvent <= t { Self.advance(&nodes[k], to: t) }
                            states[k].queueDelay = nodes[k].freeAt > t ? (Double(nodes[k].freeAt) - Double(t)) / 1e6 : 0
                            states[k].queuedPrefillTokens = nodes[k].queuedTokens
                            states[k].activeRequests = (nodes[k].prefillQueue.count - nodes[k].queueHead) + nodes[k].decoding.count
                            states[k].activeDecodeBlocks = nodes[k].decodeBlocks
                        }
                    }
                }
                chainBuffer.removeAll(keepingCapacity: true)
                chainBuffer.append(contentsOf: chain)
                let request = RoutingRequest(chain: chainBuffer, inputTokens: rec.inputLength, expectedOutputTokens: rec.outputLength,
                                             arrival: Double(t) / 1e6, blockSize: bs)
                let decision = Self._select(&selector, request, &states, &scores)
                guard let n = decision.node, n >= 0, n < c.nodes else {
                    result.rejected += 1
                    continue
                }
                // leading blocks on the chosen node (p) and all its blocks of the chain (present),
                // before it stores. The pools alone (no index to feed): the chosen pool looks up
                // and stores the chain in one walk (the update is due at dispatch anyway, and
                // nothing below reads the pool before it)
                var p = scores.depth(of: n)
                var present = 0
                var accessHits = 0
                if !c.cachingDisabled && usePools {
                    (p, present, accessHits) = try world.devices[n].lookupAndUpdate(chain)
                } else if !c.cachingDisabled {
                    present = world.devices[n].hits(in: chain)
                }
                var used = p
                var extra: Int64 = 0
                if let tr = decision.transfer, !c.cachingDisabled {
                    used = max(used, tr.blocks.upperBound)
                    extra = try SimulatedClock.add(extra, SimulatedClock.micros(tr.estimatedSeconds, request: i + 1), request: i + 1)
                    result.transfers += 1
                    result.transferredBlocks += tr.blocks.count
                }
                if c.hostCapacity > 0 && !c.cachingDisabled {
                    let onDevice = scores.depth(of: n, tier: .device)
                    if p > onDevice {
                        for b in onDevice..<p {
                            let fromHost = world.nodes[n].host?.contains(chain[b]) ?? false
                            let onboard = fromHost ? c.hostOnboardSecondsPerBlock : c.diskOnboardSecondsPerBlock
                            extra = try SimulatedClock.add(extra, SimulatedClock.micros(onboard, request: i + 1), request: i + 1)
                        }
                        result.onboardedBlocks += p - onDevice
                    }
                }
                let cached = min(used * bs, rec.inputLength)
                let uncached = rec.inputLength - cached
                let prefillSeconds = c.prefillModel.prefillTime(uncachedTokens: uncached, cachedTokens: cached)
                let prefill = try SimulatedClock.micros(prefillSeconds, request: i + 1)
                let wait = max(0, try SimulatedClock.add(world.nodes[n].freeAt, -t, request: i + 1))
                let ttft = try SimulatedClock.add(SimulatedClock.add(wait, extra, request: i + 1), prefill, request: i + 1)
                let end = try SimulatedClock.add(t, ttft, request: i + 1)
                world.nodes[n].freeAt = end
                ttfts.append(ttft)
                world.nodes[n].prefillQueue.append((end, uncached))
                world.nodes[n].nextEvent = min(world.nodes[n].nextEvent, end)
                world.nodes[n].queuedTokens += uncached
                if c.decodeSecondsPerToken > 0 {
                    let blocks = (rec.inputLength + rec.outputLength + bs - 1) / bs
                    let decode = try SimulatedClock.micros(Double(rec.outputLength) * c.decodeSecondsPerToken, request: i + 1)
                    let done = try SimulatedClock.add(end, decode, request: i + 1)
                    world.nodes[n].decoding.push(done, blocks)
                    world.nodes[n].nextEvent = min(world.nodes[n].nextEvent, done)
                    world.nodes[n].decodeBlocks += blocks
                }
                // metrics (lookup state)
                result.hits.countLookup(blocks: chain.count, prefix: p, inputTokens: rec.inputLength, blockSize: bs)
                result.perNode[n].requests += 1
                result.perNode[n].inputTokens += rec.inputLength
                result.perNode[n].prefilledTokens += uncached
                result.perNode[n].prefillSeconds += Double(prefill) / 1e6
                result.prefillSeconds += Double(prefill) / 1e6
                result.prefillSecondsWithoutCache += c.prefillModel.prefillTime(uncachedTokens: rec.inputLength, cachedTokens: 0)
                states[n].requestsServed += 1
                // update (dispatch)
                if !c.cachingDisabled {
                    result.hits.blockHits += present
                    result.hits.accessHits += usePools ? accessHits : try world.store(n, chain)
                    states[n].usedBlocks = world.devices[n].count     // pools change only at dispatch
                    for rep in decision.replicas where rep.node >= 0 && rep.node < c.nodes && rep.node != n {
                        let part = UnsafeBufferPointer(rebasing: chain[rep.blocks.clamped(to: 0..<chain.count)])
                        let before = world.devices[rep.node].statistics.insertions
                        _ = try world.store(rep.node, part)
                        result.replicatedBlocks += world.devices[rep.node].statistics.insertions - before
                        states[rep.node].usedBlocks = world.devices[rep.node].count
                    }
                }
                if (i + 1) % sampleEvery == 0 {
                    result.replicaSamples.append(.init(request: i + 1, replicas: hottest.map { b in
                        (0..<c.nodes).reduce(0) { $0 + (world.holds(b, node: $1) ? 1 : 0) }
                    }))
                }
            }
        }
        for k in 0..<c.nodes { result.perNode[k].evictions = world.devices[k].statistics.evictions }
        let mean = ttfts.reduce(0.0) { $0 + Double($1) } / 1e6 / Double(max(ttfts.count, 1))
        let p = Statistics._percentiles(selecting: &ttfts, [50, 90, 99], divisor: 1e6)
        result.ttft = .init(mean: mean, p50: p[0], p90: p[1], p99: p[2])
        result.elapsedSeconds = (clock.now - start).seconds
        return result
    }

    /// The nodes' pools and the index they feed; its methods mutate in place (no captured
    /// variables, so no dynamic exclusivity checks on the hot path).
    struct _World<Algorithm: EvictionAlgorithm> {
        /// Each node's device pool (apart from the rest of its state, so that all of them can
        /// be asked for a chain's overlaps in one call).
        var devices: [BlockPool<Algorithm>] = []
        var nodes: [NodeSim]
        var index: PrefixIndex
        var usePools: Bool
        var changes: [PoolChange] = []

        func holds(_ b: BlockHash, node: Int) -> Bool {
            usePools ? devices[node].contains(b) : index.contains(b, node: node)
        }

        /// Publishes a pool's logged changes to the index as the node's blocks of `tier`.
        mutating func publish(_ n: Int, _ tier: StorageTier) {
            switch tier {
            case .device: devices[n].takeChanges(into: &changes)
            case .host: nodes[n].host!.takeChanges(into: &changes)
            case .disk: nodes[n].disk!.takeChanges(into: &changes)
            }
            guard !changes.isEmpty else { return }
            try? index.apply(changes, node: n, tier: tier)
        }

        /// Inserts `chain` into node `n`'s device pool, offloading evictions down the tiers.
        /// - Throws: the device pool's ``PoolError`` (a LeafLRU pool finds no victim when the
        ///   trace's chains do not form a prefix tree); the host and disk tiers are LRU pools
        ///   without pins and cannot fail.
        mutating func store(_ n: Int, _ chain: UnsafeBufferPointer<BlockHash>) throws(PoolError) -> Int {
            let a = try devices[n].update(chain)
            if usePools { return a }      // no index to keep current (usePools implies no tiers)
            guard nodes[n].host != nil else {
                publish(n, .device)
                return a
            }
            devices[n].takeChanges(into: &changes)
            let evicted = changes.compactMap { if case .evicted(let b) = $0 { return b } else { return nil } }
            try? index.apply(changes, node: n, tier: .device)
            for b in evicted { _ = try? nodes[n].host!.getOrInsert(BlockInfo(hash: b), parent: nil) }
            if nodes[n].disk != nil {
                nodes[n].host!.takeChanges(into: &changes)
                let down = changes.compactMap { if case .evicted(let b) = $0 { return b } else { return nil } }
                try? index.apply(changes, node: n, tier: .host)
                for b in down { _ = try? nodes[n].disk!.getOrInsert(BlockInfo(hash: b), parent: nil) }
                publish(n, .disk)
            } else {
                publish(n, .host)
            }
            return a
        }
    }

    /// Asks the selector. The node states and scores are passed in place: read from the
    /// variables the request loop captures, each array would be retained and released
    /// around the call (eight atomic operations per request).
    @inline(__always)
    static func _select<S: PrefillNodeSelector>(_ selector: inout S, _ request: RoutingRequest, _ states: inout [NodeState],
                                               _ scores: inout OverlapScores) -> Decision {
        selector.select(request, nodes: states, overlaps: scores)
    }

    /// Retires finished prefills and decodes of a node at time `t`.
    static func advance(_ node: inout NodeSim, to t: Int64) {
        while node.queueHead < node.prefillQueue.count && node.prefillQueue[node.queueHead].end <= t {
            node.queuedTokens -= node.prefillQueue[node.queueHead].tokens
            node.queueHead += 1
        }
        if node.queueHead > 1024 && node.queueHead * 2 > node.prefillQueue.count {
            node.prefillQueue.removeFirst(node.queueHead)
            node.queueHead = 0
        }
        while let top = node.decoding.min, top.key <= t {
            node.decodeBlocks -= top.value
            _ = node.decoding.pop()
        }
        node.nextEvent = min(node.queueHead < node.prefillQueue.count ? node.prefillQueue[node.queueHead].end : .max,
                             node.decoding.min?.key ?? .max)
    }

    /// The `count` most accessed blocks of the trace.
    public static func hottestBlocks(_ trace: Trace, count: Int) -> [BlockHash] {
        var counts: [BlockHash: Int] = [:]
        for b in trace.blocks { counts[b, default: 0] += 1 }
        return counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(count).map(\.key)
    }
}
