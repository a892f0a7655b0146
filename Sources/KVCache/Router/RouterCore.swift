/// Everything a router decides and holds, as one single-threaded value: the prefix index and
/// the engine-block identity map, route-time speculative entries, each node's load and learned
/// prefill speed, the selector, and the requests in flight with their expiry.
///
/// Time is the caller's: every call that depends on it takes `now`, in seconds on any clock
/// that only goes forward. ``KVRouter`` is this core behind a lock, on a monotonic clock, with
/// metrics and logs; a simulator drives the same core on simulated time, so that what it
/// studies is the code a gateway runs.
///
/// Node state is one dense table by node id: ``NodeState`` (what the selector reads) and the
/// core's own record of each node, both at the node's id. Ids never added are unavailable
/// entries there, so a selector skips them as it skips drained nodes.
public struct RouterCore: Sendable {
    /// A node's bookkeeping beside its ``NodeState``.
    struct _Node: Sendable {
        /// Added (and not removed).
        var present = false
        var approximate = false
        /// Requests started and not yet past their first token.
        var prefilling = 0
        /// The node's learned prefill speed (``KVRouter/Configuration/learnsPrefillSpeed``).
        var speed: PrefillSpeedEstimator?
        /// Requests the node's engine last reported beyond this router's own, part of its
        /// `activeRequests` (``reportLoad(_:running:waiting:)``).
        var remoteRequests = 0
    }

    /// A routed request until it finishes: its node, the load it put there, and when.
    struct _InFlight: Sendable {
        var node: NodeID
        var prefillSeconds: Double
        var uncachedTokens, cachedTokens, decodeBlocks: Int
        var prefilling: Bool
        var started: Double
        /// Requests and uncached tokens queued for prefill on the node when it started.
        var aheadRequests, aheadTokens: Int
    }

    /// The settings (its logger and metrics prefix are the caller's, not the core's).
    public let configuration: KVRouter.Configuration
    var index: PrefixIndex
    var identity: EngineBlockIdentity
    var engineOrder = EventSequencer<EngineEvent>()
    /// Nodes whose refused engine events were reported (once each).
    var refusedNodes: Set<NodeID> = []
    var selector: any PrefillNodeSelector & Sendable
    /// By node id: what the selector reads.
    var states: [NodeState] = []
    /// By node id: the rest of each node's state.
    var records: [_Node] = []
    var scores = OverlapScores()
    /// Route-time entries for nodes with events (``KVRouter/Configuration/speculativeTTL``).
    var speculative: _SpeculativeEntries?
    var inFlight: [UInt64: _InFlight] = [:]
    var lastReclaimScan = 0.0
    /// Calls that changed or read the state.
    public internal(set) var operations: UInt64 = 0

    /// Creates a core with no nodes.
    public init(configuration: KVRouter.Configuration = KVRouter.Configuration()) {
        self.configuration = configuration
        index = PrefixIndex(nodeCapacity: configuration.nodeCapacity, approximate: configuration.approximate)
        identity = EngineBlockIdentity(hasher: configuration.hasher)
        selector = configuration.selector
        scores.tierWeights = configuration.tierWeights
        if configuration.speculativeTTL > 0 {
            speculative = _SpeculativeEntries(ttl: configuration.speculativeTTL)
        }
    }

    /// Whether `id` names a node added and not removed.
    ///
    /// Static, as the core's other helpers on the route path: a non-mutating method called
    /// from a mutating one would copy the whole core (it holds existentials, so it is
    /// address-only) to pass it as `self`.
    @inline(__always)
    static func _has(_ records: [_Node], _ id: NodeID) -> Bool { id >= 0 && id < records.count && records[id].present }

    /// The configured prefill model as a line, the starting value of each node's learned speed:
    /// its time for a bare request and its slope over 1,024 uncached tokens.
    var startingSpeed: LinearPrefillModel {
        if let line = configuration.prefillModel as? LinearPrefillModel { return line }
        let base = configuration.prefillModel.prefillTime(uncachedTokens: 0, cachedTokens: 0)
        let slope = (configuration.prefillModel.prefillTime(uncachedTokens: 1_024, cachedTokens: 0) - base) / 1_024
        return LinearPrefillModel(base: base, perToken: slope)
    }

    // MARK: Nodes

    /// Adds a node (or makes a drained one available again); see ``KVRouter/addNode(_:capacityBlocks:approximate:)``.
    /// - Returns: `false` when the id is outside `0 ..< nodeCapacity`.
    /// - Complexity: O(1) amortized; O(id) the first time an id beyond the table is added.
    @discardableResult
    public mutating func addNode(_ id: NodeID, capacityBlocks: Int = 0, approximate: Bool = false) -> Bool {
        guard id >= 0 && id < configuration.nodeCapacity else { return false }
        operations += 1
        while records.count <= id {
            states.append(NodeState(id: records.count, isAvailable: false))
            records.append(_Node())
        }
        if records[id].present {
            states[id].isAvailable = true
            records[id].approximate = approximate
        } else {
            states[id] = NodeState(id: id, capacityBlocks: capacityBlocks)
            records[id] = _Node(present: true, approximate: approximate)
            if configuration.learnsPrefillSpeed {
                let speed = PrefillSpeedEstimator(prior: startingSpeed)
                records[id].speed = speed
                states[id].prefillModel = speed.model
            }
        }
        if speculative != nil {
            // the index knows every node, so that its answers take the speculative depths
            // without reshaping
            try? index.apply([], node: id)
        }
        return true
    }

    /// Stops routing new requests to a node; requests in flight finish normally.
    public mutating func drainNode(_ id: NodeID) {
        operations += 1
        if Self._has(records, id) { states[id].isAvailable = false }
    }

    /// Removes a node: its blocks leave the index and its in-flight requests are forgotten.
    /// - Complexity: O(entries of the index + requests in flight)
    public mutating func removeNode(_ id: NodeID) {
        guard Self._has(records, id) else { return }
        operations += 1
        records[id] = _Node()
        states[id] = NodeState(id: id, isAvailable: false)
        index.removeNode(id)
        speculative?.forget(node: id)
        identity.forget(node: id)
        engineOrder.reset(node: id)
        inFlight = inFlight.filter { $0.value.node != id }
    }

    /// The current node ids, ascending.
    public var nodes: [NodeID] { records.indices.filter { records[$0].present } }

    /// Each node's learned prefill speed, when ``KVRouter/Configuration/learnsPrefillSpeed`` is on.
    public var prefillSpeeds: [NodeID: PrefillSpeedEstimator] {
        var out: [NodeID: PrefillSpeedEstimator] = [:]
        for (id, r) in records.enumerated() where r.present { out[id] = r.speed }
        return out
    }

    // MARK: Routing

    /// Routes a request whose chain is known, at time `now`: walks the index (and the
    /// speculative entries), asks the selector, and records the route for approximate nodes
    /// (and as speculative entries for nodes with events).
    ///
    /// Token counts are clamped to `0 ... KVRouter.maximumTokenCount`.
    /// - Complexity: O(matched blocks) index walk + O(nodes) selection.
    public mutating func route(
        blockHashes: [BlockHash], inputTokens: Int? = nil, expectedOutputTokens: Int = 0, excluding excluded: [NodeID] = [],
        now t: Double
    ) -> KVRouter.Routed {
        let request = _begin(blockHashes, inputTokens, expectedOutputTokens, now: t)
        // the index and the scores as two stored properties, not through a closure over
        // `self`, which would copy the index to read it
        index.overlaps(blockHashes, into: &scores)
        speculative?.merge(blockHashes, into: &scores, now: t)
        let d = selecting(request, excluding: excluded)
        return _finish(d, request, overlapBlocks: d.node.map { scores.depth(of: $0) } ?? 0, at: t)
    }

    /// ``route(blockHashes:inputTokens:expectedOutputTokens:excluding:now:)`` with overlaps
    /// the caller found instead of the core's index: from pools of its own that predict the
    /// nodes' caches, say, or from one index that several cores fed the same events would
    /// each hold a copy of. The speculative entries, load, selection and records are the
    /// core's.
    /// - Complexity: O(nodes) selection, plus the speculative walk when there is one.
    public mutating func route(
        blockHashes: [BlockHash], overlaps: OverlapScores, inputTokens: Int? = nil, expectedOutputTokens: Int = 0, now t: Double
    ) -> KVRouter.Routed {
        let request = _begin(blockHashes, inputTokens, expectedOutputTokens, now: t)
        guard speculative != nil else {
            let d = selector.select(request, nodes: states, overlaps: overlaps)
            return _finish(d, request, overlapBlocks: d.node.map { overlaps.depth(of: $0) } ?? 0, at: t)
        }
        scores = overlaps
        speculative!.merge(blockHashes, into: &scores, now: t)
        let d = selector.select(request, nodes: states, overlaps: scores)
        return _finish(d, request, overlapBlocks: d.node.map { scores.depth(of: $0) } ?? 0, at: t)
    }

    /// What every route does first: the request with its token counts clamped, and the
    /// expiry of requests and approximate entries due by `now`.
    mutating func _begin(_ chain: [BlockHash], _ inputTokens: Int?, _ expectedOutputTokens: Int, now t: Double) -> RoutingRequest {
        let blockSize = configuration.hasher.blockSize
        let input = KVRouter.clampTokens(inputTokens ?? chain.count.multipliedReportingOverflow(by: blockSize).partialValue)
        operations += 1
        reclaimExpired(now: t)
        index.expire(now: t)
        return RoutingRequest(
            chain: chain, inputTokens: input, expectedOutputTokens: KVRouter.clampTokens(expectedOutputTokens), arrival: t,
            blockSize: blockSize)
    }

    /// What every route does with its decision: the chain recorded on the chosen node and on
    /// its replicas (approximate or speculative entries), and the node's count of requests.
    mutating func _finish(_ d: Decision, _ request: RoutingRequest, overlapBlocks: Int, at t: Double) -> KVRouter.Routed {
        let chain = request.chain
        guard let node = d.node, Self._has(records, node) else {
            return KVRouter.Routed(decision: d, chain: chain, inputTokens: request.inputTokens, overlapBlocks: 0)
        }
        record(chain[...], routedTo: node, at: t)
        for r in d.replicas where Self._has(records, r.node) {
            record(chain[r.blocks.clamped(to: 0..<chain.count)], routedTo: r.node, at: t)
        }
        states[node].requestsServed += 1
        return KVRouter.Routed(decision: d, chain: chain, inputTokens: request.inputTokens, overlapBlocks: overlapBlocks)
    }

    /// The routing policy, as its decisions have left it (a stateful policy's state included).
    public var currentSelector: any PrefillNodeSelector & Sendable { selector }

    /// A chain routed to `node`, as the last route merged it: held there from now on as an
    /// approximate node's entry, or as a speculative one past the blocks the node already
    /// holds.
    mutating func record(_ chain: ArraySlice<BlockHash>, routedTo node: NodeID, at t: Double) {
        if records[node].approximate {
            try? index.recordRouting(chain, to: node, at: t)
        } else if speculative != nil {
            // the blocks the node already holds on the device tier are the index's to answer
            // for; the entries continue the chain from there
            let held = speculative!.indexedDepth(of: node)
            speculative!.record(chain[max(chain.startIndex, min(held, chain.endIndex))...], to: node, at: t)
        }
    }

    /// The selector's decision with `excluded` nodes shown as unavailable for this call only.
    mutating func selecting(_ request: RoutingRequest, excluding excluded: [NodeID]) -> Decision {
        guard !excluded.isEmpty else { return selector.select(request, nodes: states, overlaps: scores) }
        var hidden: [(id: NodeID, wasAvailable: Bool)] = []
        for id in excluded where Self._has(records, id) {
            hidden.append((id, states[id].isAvailable))
            states[id].isAvailable = false
        }
        let decision = selector.select(request, nodes: states, overlaps: scores)
        for h in hidden.reversed() { states[h.id].isAvailable = h.wasAvailable }
        return decision
    }

    /// Whether `node` takes requests and runs at most `slack` more requests than the least
    /// busy node that takes requests.
    /// - Complexity: O(nodes).
    public func isWithinLoad(_ node: NodeID, slack: Int) -> Bool { Self._isWithinLoad(states, records, node, slack: slack) }

    static func _isWithinLoad(_ states: [NodeState], _ records: [_Node], _ node: NodeID, slack: Int) -> Bool {
        guard _has(records, node), states[node].isAvailable else { return false }
        var least = Int.max
        for n in states where n.isAvailable { least = min(least, n.activeRequests) }
        return states[node].activeRequests - least <= max(0, slack)
    }

    // MARK: Load

    /// Records that a request started on `node` at `now` (its prefill is queued there); see
    /// ``KVRouter/requestStarted(id:node:promptTokens:cachedTokens:expectedOutputTokens:)``.
    public mutating func requestStarted(
        id: UInt64, node: NodeID, promptTokens: Int, cachedTokens: Int = 0, expectedOutputTokens: Int = 0, now t: Double
    ) {
        operations += 1
        guard Self._has(records, node) else { return }
        let promptTokens = KVRouter.clampTokens(promptTokens)
        let cachedTokens = min(KVRouter.clampTokens(cachedTokens), promptTokens)
        let expectedOutputTokens = KVRouter.clampTokens(expectedOutputTokens)
        if let old = inFlight[id] { release(old) }
        let blockSize = configuration.hasher.blockSize
        let blocks = (promptTokens + expectedOutputTokens + blockSize - 1) / blockSize
        let uncached = max(0, promptTokens - cachedTokens)
        let seconds =
            records[node].speed?.model.prefillTime(uncachedTokens: uncached, cachedTokens: cachedTokens)
            ?? configuration.prefillModel.prefillTime(uncachedTokens: uncached, cachedTokens: cachedTokens)
        inFlight[id] = _InFlight(
            node: node, prefillSeconds: seconds, uncachedTokens: uncached, cachedTokens: cachedTokens, decodeBlocks: blocks,
            prefilling: true, started: t, aheadRequests: records[node].prefilling, aheadTokens: states[node].queuedPrefillTokens)
        records[node].prefilling += 1
        states[node].queuedPrefillTokens += uncached
        states[node].queueDelay += seconds
        states[node].activeRequests += 1
    }

    /// Records that a request's prefill finished at `now` (it now decodes); with
    /// ``KVRouter/Configuration/learnsPrefillSpeed``, one observation of the node's speed.
    /// - Returns: The node and its learned speed after the observation, when it learns.
    @discardableResult
    public mutating func prefillFinished(id: UInt64, now t: Double) -> (node: NodeID, speed: LinearPrefillModel)? {
        operations += 1
        guard var r = inFlight[id], r.prefilling, Self._has(records, r.node) else { return nil }
        r.prefilling = false
        inFlight[id] = r
        let k = r.node
        records[k].prefilling -= 1
        var learned: (NodeID, LinearPrefillModel)?
        if records[k].speed != nil {
            records[k].speed!.observe(seconds: t - r.started, requests: r.aheadRequests + 1, tokens: r.aheadTokens + r.uncachedTokens)
            states[k].prefillModel = records[k].speed!.model
            learned = (k, records[k].speed!.model)
        }
        states[k].queuedPrefillTokens -= r.uncachedTokens
        states[k].queueDelay = max(0, states[k].queueDelay - r.prefillSeconds)
        states[k].activeDecodeBlocks += r.decodeBlocks
        return learned
    }

    /// Records that a request finished; its load leaves the node.
    public mutating func requestFinished(id: UInt64) {
        operations += 1
        guard let r = inFlight.removeValue(forKey: id) else { return }
        release(r)
    }

    mutating func release(_ r: _InFlight) {
        let k = r.node
        guard Self._has(records, k) else { return }
        if r.prefilling {
            records[k].prefilling -= 1
            states[k].queuedPrefillTokens -= r.uncachedTokens
            states[k].queueDelay = max(0, states[k].queueDelay - r.prefillSeconds)
            if states[k].queuedPrefillTokens == 0 { states[k].queueDelay = 0 }  // no drift
        } else {
            states[k].activeDecodeBlocks -= r.decodeBlocks
        }
        states[k].activeRequests -= 1
    }

    /// Requests started more than ``KVRouter/Configuration/requestTimeout`` before `now`
    /// and never finished, released; a full scan at most once per second of time.
    /// - Returns: The requests reclaimed and their nodes.
    @discardableResult
    public mutating func reclaimExpired(now t: Double) -> [(id: UInt64, node: NodeID)] {
        guard !inFlight.isEmpty else { return [] }
        let timeout = configuration.requestTimeout
        guard t - lastReclaimScan >= min(1, timeout) else { return [] }
        lastReclaimScan = t
        var reclaimed: [(UInt64, NodeID)] = []
        for (id, r) in inFlight where t - r.started > timeout {
            inFlight[id] = nil
            release(r)
            reclaimed.append((id, r.node))
        }
        _reclaimed.append(contentsOf: reclaimed)
        return reclaimed
    }

    /// Requests reclaimed by routes since the caller last took them (``takeReclaimed()``).
    var _reclaimed: [(id: UInt64, node: NodeID)] = []

    /// The requests reclaimed since the last call, for the caller to count and log.
    public mutating func takeReclaimed() -> [(id: UInt64, node: NodeID)] {
        defer { _reclaimed.removeAll() }
        return _reclaimed
    }

    /// Records the load `node`'s engine reports itself; see ``KVRouter/reportLoad(_:running:waiting:)``.
    /// - Complexity: O(1).
    public mutating func reportLoad(_ node: NodeID, running: Int, waiting: Int) {
        guard Self._has(records, node) else { return }
        operations += 1
        let reported = min(max(running, 0), 1 << 30) + min(max(waiting, 0), 1 << 30)
        let own = states[node].activeRequests - records[node].remoteRequests
        let remote = max(0, reported - own)
        states[node].activeRequests = own + remote
        records[node].remoteRequests = remote
    }

    /// Forgets what `node`'s engine last reported: its load is this router's own requests again.
    /// - Complexity: O(1).
    public mutating func clearReportedLoad(_ node: NodeID) {
        guard Self._has(records, node), records[node].remoteRequests != 0 else { return }
        operations += 1
        states[node].activeRequests -= records[node].remoteRequests
        records[node].remoteRequests = 0
    }

    // MARK: Introspection

    /// The nodes with their load, and the index's counters.
    public var snapshot: KVRouter.Snapshot {
        KVRouter.Snapshot(
            nodes: states.filter { Self._has(records, $0.id) }, inFlight: inFlight.count, indexedBlocks: index.blockCount,
            index: index.statistics, engine: identity.statistics, engineOrder: engineOrder.statistics,
            mappedEngineBlocks: identity.mappedBlocks, indexBytesPerBlock: index.bytesPerBlock, engineMapBytes: identity.byteCount,
            operations: operations)
    }

    /// Blocks the index holds for `node` (a block counted once per tier it is in).
    public func indexedBlocks(of node: NodeID) -> Int { index.blockCount(of: node) }

    /// The index's overlaps for a chain.
    public func overlaps(_ chain: [BlockHash]) -> OverlapScores { index.overlaps(chain) }
}
