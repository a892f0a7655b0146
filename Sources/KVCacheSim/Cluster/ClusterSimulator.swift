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
    /// The built-in selectors know the cluster's tiers: unless set otherwise, `ttft-min` (and
    /// `hotspot-replicating`'s placement) charge lower-tier blocks the host tier's onboarding
    /// time.
    ///
    /// - Parameters:
    ///   - trace: The requests, in arrival order.
    ///   - configuration: The cluster.
    ///   - baseline: Also run without caching and record its TTFT mean (for the reduction).
    /// - Throws: ``ConfigurationError`` for a configuration that cannot run.
    public static func run(_ trace: Trace, _ configuration: ClusterConfiguration, baseline: Bool = false) throws -> ClusterResult {
        var selection = configuration.selectorConfiguration
        if configuration.hostCapacity > 0 && selection.ttftMin.onboardSecondsPerBlock == 0 {
            selection.ttftMin.onboardSecondsPerBlock = configuration.hostOnboardSecondsPerBlock
        }
        // each router of several has its own selector, seeded apart so that randomised
        // policies do not move in step
        let selectors = (0..<max(configuration.router.replicas, 1)).map { r -> any PrefillNodeSelector in
            var s = selection
            s.seed = selection.seed &+ UInt64(r)
            return configuration.selector.makeSelector(s)
        }
        var result = try _run(trace, configuration, selectors: selectors, selectorIsConfigured: true).result
        if baseline { result.baselineTTFTMean = try baselineMean(trace, configuration) }
        return result
    }

    static func baselineMean(_ trace: Trace, _ configuration: ClusterConfiguration) throws -> Double {
        var off = configuration
        off.cachingDisabled = true
        off.replicaSamples = 0
        off.router = RouterModel()
        return try _run(trace, off, selectors: [off.selector.makeSelector(off.selectorConfiguration)], selectorIsConfigured: true)
            .result.ttft.mean
    }

    /// Runs one configuration with a selector of your own (``ClusterConfiguration/selector``
    /// is then only a label). With several routers (``RouterModel/replicas``), each starts as a
    /// copy of `selector`, and `selector` ends as the first router's.
    ///
    /// - Parameters:
    ///   - trace: The requests, in arrival order.
    ///   - configuration: The cluster.
    ///   - selector: The routing policy; it keeps its state across the run.
    ///   - baseline: Also run without caching (with the configured built-in selector) and
    ///     record its TTFT mean.
    /// - Throws: ``ConfigurationError`` for a configuration that cannot run.
    public static func run<S: PrefillNodeSelector>(
        _ trace: Trace, _ configuration: ClusterConfiguration, selector: inout S,
        baseline: Bool = false
    ) throws -> ClusterResult {
        let copies = [any PrefillNodeSelector](repeating: selector, count: max(configuration.router.replicas, 1))
        var (result, used) = try _run(trace, configuration, selectors: copies, selectorIsConfigured: false)
        selector = used as! S
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

    static func _run(
        _ trace: Trace, _ c: ClusterConfiguration, selectors: [any PrefillNodeSelector], selectorIsConfigured: Bool
    ) throws -> (result: ClusterResult, firstSelector: any PrefillNodeSelector) {
        guard c.nodes >= 1 else { throw ConfigurationError(message: "nodes must be at least 1, got \(c.nodes)") }
        guard c.capacity >= 1 else { throw ConfigurationError(message: "capacity must be at least 1 block, got \(c.capacity)") }
        try c.router.validate(c)
        if let pd = c.disaggregation {
            guard pd.prefillNodes >= 1, pd.decodeNodes >= 1, pd.prefillNodes + pd.decodeNodes == c.nodes else {
                throw ConfigurationError(
                    message:
                        "prefill/decode: \(pd.prefillNodes) prefill and \(pd.decodeNodes) decode nodes, each at least 1, must make the \(c.nodes) nodes"
                )
            }
            guard pd.thresholdTokens >= 0 else {
                throw ConfigurationError(message: "prefill/decode: the threshold \(pd.thresholdTokens) is negative")
            }
            guard c.router.isImmediate, c.hostCapacity == 0, c.diskCapacity == 0 else {
                throw ConfigurationError(
                    message: "prefill/decode runs one immediate router over device pools (no --routers, no lower tiers)")
            }
        }
        let (result, used) = try c.eviction.open(
            _Run(trace: trace, configuration: c, selectors: selectors.map(_AnySelector.init), selectorIsConfigured: selectorIsConfigured))
        return (result, used[0].base)
    }

    /// One run, generic over the device pools' algorithm: the policy opens it once, so every
    /// pool call in the loop is specialised for the algorithm. The selector is called through
    /// one existential call per request, whatever its type.
    struct _Run: EvictionAlgorithmBody {
        let trace: Trace
        let configuration: ClusterConfiguration
        let selectors: [_AnySelector]
        let selectorIsConfigured: Bool

        func run<A: EvictionAlgorithm>(_: A.Type) throws(any Error) -> (ClusterResult, [_AnySelector]) {
            var selectors = selectors
            let result = try ClusterSimulator._run(
                trace, configuration, A.self, selectors: &selectors,
                selectorIsConfigured: selectorIsConfigured)
            return (result, selectors)
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

    static func _run<A: EvictionAlgorithm>(
        _ trace: Trace, _ c: ClusterConfiguration, _: A.Type,
        selectors: inout [_AnySelector], selectorIsConfigured: Bool
    ) throws -> ClusterResult {
        let clock = ContinuousClock()
        let start = clock.now
        var run = try _Simulation<A>(trace, c, selectors: selectors, selectorIsConfigured: selectorIsConfigured)
        let routers = selectors.count
        try trace.blocks.withUnsafeBufferPointer { all throws in
            for i in 0..<trace.count {
                let rec = trace.records[i]
                let chain = UnsafeBufferPointer(rebasing: all[rec.blockStart..<rec.blockStart + rec.blockCount])
                if let pd = c.disaggregation {
                    try run.serveDisaggregated(i, chain, pd, selector: &selectors[0])
                } else if routers == 1 {
                    try run.serve(i, chain, selector: &selectors[0])
                } else {
                    run.router = i % routers
                    try run.serve(i, chain, selector: &selectors[run.router])
                }
            }
        }
        if let fleet = run.fleet { selectors = fleet.selectors }
        var result = run.finish()
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

        /// The blocks of `chain` node `n` holds in a lower tier (host or disk) but not on its
        /// device.
        func lowerTierHits(_ n: Int, _ chain: UnsafeBufferPointer<BlockHash>) -> Int {
            var hits = 0
            for b in chain where !devices[n].contains(b) {
                if nodes[n].host?.contains(b) == true || nodes[n].disk?.contains(b) == true { hits += 1 }
            }
            return hits
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
            if usePools { return a }  // no index to keep current (usePools implies no tiers)
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
    static func _select<S: PrefillNodeSelector>(
        _ selector: inout S, _ request: RoutingRequest, _ states: inout [NodeState],
        _ scores: inout OverlapScores
    ) -> Decision {
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
        node.nextEvent = min(
            node.queueHead < node.prefillQueue.count ? node.prefillQueue[node.queueHead].end : .max,
            node.decoding.min?.key ?? .max)
    }

    /// The `count` most accessed blocks of the trace.
    public static func hottestBlocks(_ trace: Trace, count: Int) -> [BlockHash] {
        trace.hottestBlocks(count: count).map(\.block)
    }
}
