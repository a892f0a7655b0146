import Logging
import Metrics
import Synchronization

/// The thread-safe face of KVCache for Swift serving code: hashes prompts, keeps the prefix
/// index current from engine events, tracks each node's load, and asks a selector where each
/// request should go.
///
/// One lock (a pthread mutex) guards all state; a route takes it once, with no actor hop.
/// Requests that are never finished do not leak load: after ``Configuration/requestTimeout``
/// they are reclaimed (and counted).
///
/// Engines' events come in two forms. ``EngineEvent``s (what a real engine publishes: its own
/// block hashes plus the tokens of stored blocks) are re-hashed into the router's scheme by an
/// ``EngineBlockIdentity``, so prompts routed with ``route(tokens:adapter:cacheSalt:expectedOutputTokens:)``
/// meet them whatever hash scheme the engine uses. ``KVEvent``s already in the router's scheme
/// (from in-process pools) are applied as they are. Both are applied in each node's event-ID
/// order; a node's events should come in one form.
///
/// Numbers from clients and engines never trap: token counts are clamped to
/// `0 ... KVRouter.maximumTokenCount`, unknown node ids are ignored (and logged), and event IDs
/// are sequenced (see ``EventSequencer``).
///
/// ```swift
/// let router = KVRouter(configuration: .init(selector: TTFTMin()))
/// router.addNode(0); router.addNode(1)
/// let routed = router.route(tokens: prompt)               // → node, overlap, transfer…
/// router.requestStarted(routed, id: requestID)
/// router.apply(eventsFromEngines)                          // keeps the index current
/// router.requestFinished(id: requestID)
/// ```
public final class KVRouter: Sendable {
    /// Router settings.
    public struct Configuration: Sendable {
        /// How prompts become block hashes (default: native scheme, 512-token blocks).
        public var hasher: PrefixHasher
        /// The routing policy.
        public var selector: any PrefillNodeSelector & Sendable
        /// Estimates prefill time to turn queued work into queue delay for selectors; with
        /// ``learnsPrefillSpeed``, each node's starting value.
        public var prefillModel: any PrefillTimeModel
        /// Whether the router learns each node's prefill speed from its requests' times to
        /// first token (``prefillFinished(id:)``), with a ``PrefillSpeedEstimator`` per node:
        /// queue delays are then in the node's real seconds, and selectors that estimate time
        /// (``TTFTMin``) read each node's speed from ``NodeState/prefillModel`` (default false).
        public var learnsPrefillSpeed: Bool
        /// The most node ids (0 ..< nodeCapacity).
        public var nodeCapacity: Int
        /// Requests not finished within this many seconds are reclaimed (default 600).
        public var requestTimeout: Double
        /// Approximate-mode settings for nodes added with `approximate: true`.
        public var approximate: ApproximateMode
        /// Seconds a chain routed to a node that publishes events counts as held there before
        /// the node's own events say so (0, the default: no such entries). Covers the time an
        /// engine takes to report what it just cached, so that a burst of requests sharing a new
        /// prefix finds it; the longer of the event view and these entries wins.
        public var speculativeTTL: Double
        /// What a cached block is worth to the selector by the fastest tier a node holds it in
        /// (``OverlapScores/score(of:)``; default device 1, host 0.75, disk 0.25).
        public var tierWeights: TierWeights
        /// Prefix of metric names (default `kvcache_router`).
        public var metricsPrefix: String
        /// Where log messages go.
        public var logger: Logger

        /// Creates a configuration.
        public init(
            hasher: PrefixHasher? = nil, selector: any PrefillNodeSelector & Sendable = TTFTMin(),
            prefillModel: any PrefillTimeModel = LinearPrefillModel(), nodeCapacity: Int = 64,
            requestTimeout: Double = 600, approximate: ApproximateMode = ApproximateMode(),
            speculativeTTL: Double = 0, tierWeights: TierWeights = TierWeights(), metricsPrefix: String = "kvcache_router",
            logger: Logger = Logger(label: "kvcache.router"), learnsPrefillSpeed: Bool = false
        ) {
            self.learnsPrefillSpeed = learnsPrefillSpeed
            self.hasher = hasher ?? (try! PrefixHasher())
            self.selector = selector
            self.prefillModel = prefillModel
            self.nodeCapacity = nodeCapacity
            self.requestTimeout = requestTimeout
            self.approximate = approximate
            self.speculativeTTL = speculativeTTL
            self.tierWeights = tierWeights
            self.metricsPrefix = metricsPrefix
            self.logger = logger
        }
    }

    /// The largest token count the router takes from a caller; larger counts (and negative
    /// ones, as 0) are clamped, so a client's `max_tokens` cannot overflow load arithmetic.
    public static let maximumTokenCount = 1 << 40

    static func clampTokens(_ n: Int) -> Int { min(max(n, 0), maximumTokenCount) }

    /// A routing answer: the selector's decision plus what the index knew.
    public struct Routed: Sendable, Hashable {
        /// The decision (node or rejection, transfer, replicas, reason).
        public var decision: Decision
        /// The request's chain.
        public var chain: [BlockHash]
        /// Prompt tokens.
        public var inputTokens: Int
        /// Leading blocks the chosen node already holds (0 when rejected).
        public var overlapBlocks: Int
        /// The chosen node, `nil` when rejected.
        public var node: NodeID? { decision.node }
    }

    /// A node's bookkeeping; its load lives in `State.states[slot]`, the array the selector
    /// reads, so a route copies nothing per node.
    struct Node: Sendable {
        var slot: Int
        var approximate: Bool
        var counters: _NodeCounters
        /// Requests started and not yet past their first token.
        var prefilling = 0
        /// The node's learned prefill speed (``Configuration/learnsPrefillSpeed``).
        var speed: PrefillSpeedEstimator?
        /// Requests the node's engine last reported beyond this router's own, part of its
        /// `activeRequests` (``reportLoad(_:running:waiting:)``).
        var remoteRequests = 0
    }

    /// A routed request until it finishes: its node, the load it put there, and when.
    struct InFlight: Sendable {
        var node: NodeID
        var prefillSeconds: Double
        var uncachedTokens, cachedTokens, decodeBlocks: Int
        var prefilling: Bool
        var started: Double
        /// Requests and uncached tokens queued for prefill on the node when it started.
        var aheadRequests, aheadTokens: Int
    }

    struct State: Sendable {
        var index: PrefixIndex
        var identity: EngineBlockIdentity
        var engineOrder = EventSequencer<EngineEvent>()
        var refusedNodes: Set<NodeID> = []  // nodes whose refused stores were logged
        var selector: any PrefillNodeSelector & Sendable
        var nodes: [NodeID: Node] = [:]
        var order: [NodeID] = []  // node ids, ascending
        var states: [NodeState] = []  // per node, ascending ids: what the selector reads

        /// Renumbers the slots of the nodes from position `from` on.
        mutating func renumber(from: Int) {
            for k in from..<order.count { nodes[order[k]]!.slot = k }
        }

        /// The selector's decision with `excluded` nodes shown as unavailable for this call only.
        mutating func selecting(_ request: RoutingRequest, excluding excluded: [NodeID]) -> Decision {
            guard !excluded.isEmpty else { return selector.select(request, nodes: states, overlaps: scores) }
            var hidden: [(slot: Int, wasAvailable: Bool)] = []
            for id in excluded {
                guard let slot = nodes[id]?.slot else { continue }
                hidden.append((slot, states[slot].isAvailable))
                states[slot].isAvailable = false
            }
            let decision = selector.select(request, nodes: states, overlaps: scores)
            for h in hidden.reversed() { states[h.slot].isAvailable = h.wasAvailable }
            return decision
        }
        var scores = OverlapScores()
        /// Route-time entries for nodes with events (``Configuration/speculativeTTL``).
        var speculative: PrefixIndex?
        var speculativeScores = OverlapScores()
        var inFlight: [UInt64: InFlight] = [:]
        var chain: [BlockHash] = []
        var operations: UInt64 = 0
        var lastReclaimScan = 0.0
    }

    let configuration: Configuration
    let state: _Locked<State>
    /// Set while a task grows the tables ahead of routes (``_growAhead(index:speculative:)``).
    let _growing = Atomic<Bool>(false)
    let metrics: _RouterMetrics
    let clock = ContinuousClock()
    let origin: ContinuousClock.Instant

    /// Creates a router with no nodes.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        state = _Locked(
            State(
                index: PrefixIndex(nodeCapacity: configuration.nodeCapacity, approximate: configuration.approximate),
                identity: EngineBlockIdentity(hasher: configuration.hasher),
                selector: configuration.selector))
        state.withLock { s in
            s.scores.tierWeights = configuration.tierWeights
            if configuration.speculativeTTL > 0 {
                s.speculative = PrefixIndex(
                    nodeCapacity: configuration.nodeCapacity, approximate: ApproximateMode(ttl: configuration.speculativeTTL))
            }
        }
        metrics = _RouterMetrics(prefix: configuration.metricsPrefix)
        origin = clock.now
    }

    /// The configured prefill model as a line, the starting value of each node's learned speed:
    /// its time for a bare request and its slope over 1,024 uncached tokens.
    var startingSpeed: LinearPrefillModel {
        if let line = configuration.prefillModel as? LinearPrefillModel { return line }
        let base = configuration.prefillModel.prefillTime(uncachedTokens: 0, cachedTokens: 0)
        let slope = (configuration.prefillModel.prefillTime(uncachedTokens: 1_024, cachedTokens: 0) - base) / 1_024
        return LinearPrefillModel(base: base, perToken: slope)
    }

    /// Each node's learned prefill speed, when ``Configuration/learnsPrefillSpeed`` is on.
    public var prefillSpeeds: [NodeID: PrefillSpeedEstimator] {
        state.withLock { s in s.nodes.compactMapValues(\.speed) }
    }

    /// Tokens per block of the router's hasher (engines' events must use the same).
    public var blockSize: Int { configuration.hasher.blockSize }

    /// Seconds since the router was created (the clock of approximate mode and timeouts).
    public var now: Double { Self.seconds(clock.now - origin) }

    static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

    // MARK: Nodes

    /// Adds a node (or makes a drained one available again).
    ///
    /// - Parameters:
    ///   - id: The node id, `0 ..< nodeCapacity`.
    ///   - capacityBlocks: Its cache capacity, for selectors that weigh usage.
    ///   - approximate: The node publishes no KV events: the router records its own routing
    ///     decisions for it instead (they expire after the approximate TTL).
    /// - Returns: `false` when the id is outside the router's capacity.
    @discardableResult
    public func addNode(_ id: NodeID, capacityBlocks: Int = 0, approximate: Bool = false) -> Bool {
        guard id >= 0 && id < configuration.nodeCapacity else {
            configuration.logger.error("addNode rejected: node \(id) outside 0..<\(configuration.nodeCapacity)")
            return false
        }
        state.withLock { s in
            if let node = s.nodes[id] {
                s.states[node.slot].isAvailable = true
                s.nodes[id]!.approximate = approximate
            } else {
                let at = s.order.firstIndex { $0 > id } ?? s.order.count
                s.order.insert(id, at: at)
                s.states.insert(NodeState(id: id, capacityBlocks: capacityBlocks), at: at)
                s.nodes[id] = Node(
                    slot: at, approximate: approximate, counters: _NodeCounters(prefix: configuration.metricsPrefix, node: id),
                    speed: configuration.learnsPrefillSpeed ? PrefillSpeedEstimator(prior: startingSpeed) : nil)
                if let speed = s.nodes[id]!.speed { s.states[at].prefillModel = speed.model }
                s.renumber(from: at)
            }
            if s.speculative != nil {
                // both indexes know every node, so that their answers merge without reshaping
                try? s.index.apply([], node: id)
                try? s.speculative!.apply([], node: id)
            }
            s.operations += 1
        }
        configuration.logger.info("node \(id) added", metadata: ["approximate": "\(approximate)"])
        return true
    }

    /// Stops routing new requests to a node; requests in flight finish normally.
    public func drainNode(_ id: NodeID) {
        state.withLock { s in
            if let node = s.nodes[id] { s.states[node.slot].isAvailable = false }
            s.operations += 1
        }
        configuration.logger.info("node \(id) draining")
    }

    /// Removes a node: its blocks leave the index and its in-flight requests are forgotten.
    public func removeNode(_ id: NodeID) {
        state.withLock { s in
            guard let node = s.nodes.removeValue(forKey: id) else { return }
            s.order.remove(at: node.slot)
            s.states.remove(at: node.slot)
            s.renumber(from: node.slot)
            s.index.removeNode(id)
            s.speculative?.removeNode(id)
            s.identity.forget(node: id)
            s.engineOrder.reset(node: id)
            s.inFlight = s.inFlight.filter { $0.value.node != id }
            s.operations += 1
        }
        configuration.logger.info("node \(id) removed")
    }

    /// The current node ids, ascending.
    public var nodes: [NodeID] { state.withLock { $0.order } }

    // MARK: Routing

    /// Hashes `tokens` and routes the request.
    ///
    /// - Parameters:
    ///   - tokens: The prompt.
    ///   - adapter: The adapter (LoRA) the request uses, `nil` for the base model: only
    ///     blocks computed for the same adapter match (``PrefixHasher/adapted(to:)``).
    ///   - cacheSalt: The request's cache salt (vLLM's `cache_salt`), if any: only blocks of
    ///     prompts with the same salt match.
    ///   - expectedOutputTokens: Tokens expected to be generated (clamped to
    ///     `0 ... maximumTokenCount`).
    ///   - excluded: Nodes not to choose for this request (say, the ones a retry already
    ///     failed on); the others are offered to the selector as usual.
    /// - Complexity: O(tokens) hashing + O(matched blocks) index walk + O(nodes) selection.
    public func route(
        tokens: [UInt32], adapter: String? = nil, cacheSalt: String? = nil, expectedOutputTokens: Int = 0,
        excluding excluded: [NodeID] = []
    ) -> Routed {
        let chain = configuration.hasher.adapted(to: adapter).blockHashes(tokens, cacheSalt: cacheSalt)
        return route(blockHashes: chain, inputTokens: tokens.count, expectedOutputTokens: expectedOutputTokens, excluding: excluded)
    }

    /// The router's chain for a prompt: what ``route(tokens:adapter:cacheSalt:expectedOutputTokens:)``
    /// looks up.
    /// - Complexity: O(tokens)
    public func blockHashes(tokens: [UInt32], adapter: String? = nil, cacheSalt: String? = nil) -> [BlockHash] {
        configuration.hasher.adapted(to: adapter).blockHashes(tokens, cacheSalt: cacheSalt)
    }

    /// Routes a request whose block hashes are already known (e.g. computed by the engine).
    ///
    /// - Parameters:
    ///   - blockHashes: The chain.
    ///   - inputTokens: Prompt tokens (default: a full last block); clamped to
    ///     `0 ... maximumTokenCount`.
    ///   - expectedOutputTokens: Tokens expected to be generated; clamped likewise.
    ///   - excluded: Nodes not to choose for this request.
    public func route(
        blockHashes: [BlockHash], inputTokens: Int? = nil, expectedOutputTokens: Int = 0, excluding excluded: [NodeID] = []
    ) -> Routed {
        let start = clock.now
        let t = Self.seconds(start - origin)
        let input = Self.clampTokens(
            inputTokens ?? blockHashes.count.multipliedReportingOverflow(by: configuration.hasher.blockSize).partialValue)
        let expectedOutputTokens = Self.clampTokens(expectedOutputTokens)
        let request = RoutingRequest(
            chain: blockHashes, inputTokens: input, expectedOutputTokens: expectedOutputTokens,
            arrival: t, blockSize: configuration.hasher.blockSize)
        var headroom = (index: 0, speculative: 0)
        let (decision, overlap, counters) = state.withLock { s -> (Decision, Int, _NodeCounters?) in
            s.operations += 1
            reclaimExpired(&s, now: t)
            s.index.expire(now: t)
            blockHashes.withUnsafeBufferPointer { s.index.overlaps($0, into: &s.scores) }
            if s.speculative != nil {
                s.speculative!.expire(now: t)
                blockHashes.withUnsafeBufferPointer { s.speculative!.overlaps($0, into: &s.speculativeScores) }
                s.scores.formMaximum(s.speculativeScores)
            }
            let d = s.selecting(request, excluding: excluded)
            guard let node = d.node, let info = s.nodes[node] else { return (d, 0, nil) }
            let overlap = s.scores.depth(of: node)
            if info.approximate {
                try? s.index.recordRouting(blockHashes, to: node, at: t)
            } else {
                try? s.speculative?.recordRouting(blockHashes, to: node, at: t)
            }
            for r in d.replicas {
                guard let replica = s.nodes[r.node] else { continue }
                let part = blockHashes[r.blocks.clamped(to: 0..<blockHashes.count)]
                if replica.approximate {
                    try? s.index.recordRouting(part, to: r.node, at: t)
                } else {
                    try? s.speculative?.recordRouting(part, to: r.node, at: t)
                }
            }
            s.states[info.slot].requestsServed += 1
            // Recording fills the index from the route path; the route that comes close to a
            // growth has the tables grown ahead, outside the lock.
            let recorded = info.approximate || d.replicas.contains { s.nodes[$0.node]?.approximate == true }
            headroom = (recorded ? Self._headroom(after: s.index) : 0, s.speculative.map(Self._headroom(after:)) ?? 0)
            return (d, overlap, info.counters)
        }
        if headroom != (0, 0) { _growAhead(index: headroom.index, speculative: headroom.speculative) }
        if let counters {
            counters.routed.increment()
            metrics.prefixHitBlocks.increment(by: Int64(overlap))
            metrics.prefixHitTokens.increment(by: Int64(min(overlap * configuration.hasher.blockSize, input)))
        } else {
            metrics.rejected.increment()
            configuration.logger.debug("request rejected: \(decision.reason)")
        }
        metrics.routeLatency.recordNanoseconds(Int64(Self.seconds(clock.now - start) * 1e9))
        return Routed(decision: decision, chain: blockHashes, inputTokens: input, overlapBlocks: overlap)
    }

    // MARK: Load

    /// Records that a routed request started on its node (its prefill is queued there).
    ///
    /// - Parameters:
    ///   - routed: What ``route(tokens:expectedOutputTokens:)`` returned.
    ///   - id: Your request id (finish it with the same id).
    ///   - expectedOutputTokens: Tokens expected to be generated (decode blocks).
    public func requestStarted(_ routed: Routed, id: UInt64, expectedOutputTokens: Int = 0) {
        guard let node = routed.node else { return }
        let cached = min(routed.overlapBlocks * configuration.hasher.blockSize, routed.inputTokens)
        requestStarted(
            id: id, node: node, promptTokens: routed.inputTokens, cachedTokens: cached, expectedOutputTokens: expectedOutputTokens)
    }

    /// Records that a request started on `node`.
    ///
    /// Token counts are clamped to `0 ... maximumTokenCount` (cached tokens to the prompt).
    public func requestStarted(id: UInt64, node: NodeID, promptTokens: Int, cachedTokens: Int = 0, expectedOutputTokens: Int = 0) {
        let t = now
        let promptTokens = Self.clampTokens(promptTokens)
        let cachedTokens = min(Self.clampTokens(cachedTokens), promptTokens)
        let expectedOutputTokens = Self.clampTokens(expectedOutputTokens)
        state.withLock { s in
            s.operations += 1
            guard s.nodes[node] != nil else { return }
            if let old = s.inFlight[id] { release(&s, old) }
            let blocks = (promptTokens + expectedOutputTokens + configuration.hasher.blockSize - 1) / configuration.hasher.blockSize
            let uncached = max(0, promptTokens - cachedTokens)
            let info = s.nodes[node]!
            let seconds =
                info.speed?.model.prefillTime(uncachedTokens: uncached, cachedTokens: cachedTokens)
                ?? configuration.prefillModel.prefillTime(uncachedTokens: uncached, cachedTokens: cachedTokens)
            let r = InFlight(
                node: node, prefillSeconds: seconds, uncachedTokens: uncached, cachedTokens: cachedTokens, decodeBlocks: blocks,
                prefilling: true, started: t, aheadRequests: info.prefilling, aheadTokens: s.states[info.slot].queuedPrefillTokens)
            s.inFlight[id] = r
            s.nodes[node]!.prefilling += 1
            s.states[info.slot].queuedPrefillTokens += r.uncachedTokens
            s.states[info.slot].queueDelay += r.prefillSeconds
            s.states[info.slot].activeRequests += 1
        }
    }

    /// Records that a request's prefill finished (it now decodes).
    ///
    /// With ``Configuration/learnsPrefillSpeed``, the time since ``requestStarted(id:node:promptTokens:cachedTokens:expectedOutputTokens:)``
    /// is one observation of the node's prefill speed.
    public func prefillFinished(id: UInt64) {
        let t = now
        let learned = state.withLock { s -> (LinearPrefillModel, _NodeCounters)? in
            s.operations += 1
            guard var r = s.inFlight[id], r.prefilling, s.nodes[r.node] != nil else { return nil }
            r.prefilling = false
            s.inFlight[id] = r
            s.nodes[r.node]!.prefilling -= 1
            let k = s.nodes[r.node]!.slot
            var learned: (LinearPrefillModel, _NodeCounters)? = nil
            if s.nodes[r.node]!.speed != nil {
                s.nodes[r.node]!.speed!.observe(
                    seconds: t - r.started, requests: r.aheadRequests + 1, tokens: r.aheadTokens + r.uncachedTokens)
                s.states[k].prefillModel = s.nodes[r.node]!.speed!.model
                learned = (s.nodes[r.node]!.speed!.model, s.nodes[r.node]!.counters)
            }
            s.states[k].queuedPrefillTokens -= r.uncachedTokens
            s.states[k].queueDelay = max(0, s.states[k].queueDelay - r.prefillSeconds)
            s.states[k].activeDecodeBlocks += r.decodeBlocks
            return learned
        }
        if let (model, counters) = learned {
            counters.prefillBase.record(model.base)
            counters.prefillPerToken.record(model.perToken)
        }
    }

    /// Records that a request finished; its load leaves the node.
    public func requestFinished(id: UInt64) {
        state.withLock { s in
            s.operations += 1
            guard let r = s.inFlight.removeValue(forKey: id) else { return }
            release(&s, r)
        }
    }

    func release(_ s: inout State, _ r: InFlight) {
        guard s.nodes[r.node] != nil else { return }
        if r.prefilling {
            s.nodes[r.node]!.prefilling -= 1
            let k = s.nodes[r.node]!.slot
            s.states[k].queuedPrefillTokens -= r.uncachedTokens
            s.states[k].queueDelay = max(0, s.states[k].queueDelay - r.prefillSeconds)
            if s.states[k].queuedPrefillTokens == 0 { s.states[k].queueDelay = 0 }  // no drift
        } else {
            s.states[s.nodes[r.node]!.slot].activeDecodeBlocks -= r.decodeBlocks
        }
        s.states[s.nodes[r.node]!.slot].activeRequests -= 1
    }

    func reclaimExpired(_ s: inout State, now t: Double) {
        guard !s.inFlight.isEmpty else { return }
        let timeout = configuration.requestTimeout
        // a full scan at most once per second of router time
        guard t - s.lastReclaimScan >= min(1, timeout) else { return }
        s.lastReclaimScan = t
        for (id, r) in s.inFlight where t - r.started > timeout {
            s.inFlight[id] = nil
            release(&s, r)
            metrics.reclaimed.increment()
            configuration.logger.warning("reclaimed request \(id) on node \(r.node) after \(timeout) s without requestFinished")
        }
    }

    // MARK: Events

    /// Applies events already in the router's hash scheme (e.g. from in-process pools), each
    /// in its node's event-ID order (an event that overtook an earlier one waits for it).
    ///
    /// - Returns: The gaps they revealed (ask those nodes to replay: replayed events are
    ///   applied when they arrive).
    @discardableResult
    public func apply(_ events: some Sequence<KVEvent>) -> [EventGap] {
        let events = Array(events)
        _makeRoom(entries: Self._entries(storedBy: events))
        var applied = 0, rejected = 0
        let gaps = state.withLock { s -> [EventGap] in
            s.operations += 1
            let before = s.index.statistics.eventsApplied
            var gaps: [EventGap] = []
            for e in events {
                guard s.nodes[e.node] != nil else { rejected += 1; continue }
                do throws(IndexError) {
                    if let g = try s.index.apply(e) { gaps.append(g) }
                } catch {
                    rejected += 1
                }
            }
            applied = s.index.statistics.eventsApplied - before
            metrics.indexBlocks.record(s.index.blockCount)
            return gaps
        }
        metrics.eventsApplied.increment(by: Int64(applied))
        if rejected > 0 { configuration.logger.warning("ignored \(rejected) events for unknown nodes") }
        reportGaps(gaps)
        return gaps
    }

    /// Applies engines' events: each stored block is re-hashed from its tokens (and adapter
    /// and extra keys) into the router's scheme, removals are mapped back through the
    /// engine hashes the node announced (``EngineBlockIdentity``), all in each node's
    /// event-ID order (an event that overtook an earlier one waits for it).
    ///
    /// A stored run the router cannot hash (a block size other than ``blockSize``, tokens
    /// that do not fill its blocks) is not applied: it is counted in
    /// ``Snapshot/engine`` and logged as an error once per node.
    ///
    /// - Returns: The gaps they revealed (ask those nodes to replay).
    /// - Complexity: O(tokens + blocks) per event, expected.
    @discardableResult
    public func apply(_ events: some Sequence<EngineEvent>) -> [EventGap] {
        let events = Array(events)
        let stores = Self._stores(of: events)
        _makeRoom(stores: stores.perNode, entries: stores.entries)
        var applied = 0, rejected = 0, orphans = 0
        var refused: [(NodeID, EngineEventError)] = []
        let gaps = state.withLock { s -> [EventGap] in
            s.operations += 1
            let orphansBefore = s.identity.statistics.orphanBlocks
            var gaps: [EventGap] = []
            func translateAndApply(_ e: EngineEvent) {
                do throws(EngineEventError) {
                    let kind = try s.identity.translate(e)
                    s.index._apply(kind, node: e.node)
                    applied += 1
                } catch {
                    if s.refusedNodes.insert(e.node).inserted { refused.append((e.node, error)) }
                    metrics.refusedEvents.increment()
                }
            }
            for e in events {
                guard s.nodes[e.node] != nil else { rejected += 1; continue }
                switch s.engineOrder.admit(e, id: e.eventID, node: e.node) {
                case .inOrder:
                    translateAndApply(e)
                case .held(let gap):
                    if let gap { gaps.append(gap) }
                case .duplicate, .invalid:
                    continue
                }
                while let next = s.engineOrder.nextReady(of: e.node) { translateAndApply(next) }
            }
            orphans = s.identity.statistics.orphanBlocks - orphansBefore
            metrics.indexBlocks.record(s.index.blockCount)
            return gaps
        }
        metrics.eventsApplied.increment(by: Int64(applied))
        if orphans > 0 { metrics.orphanBlocks.increment(by: Int64(orphans)) }
        if rejected > 0 { configuration.logger.warning("ignored \(rejected) events for unknown nodes") }
        for (node, error) in refused {
            configuration.logger.error("events of node \(node) refused: \(error)")
        }
        reportGaps(gaps)
        return gaps
    }

    /// Gives up the events `node` is missing (it cannot replay them): events held behind its
    /// gaps are applied now, in order.
    public func skipGap(of node: NodeID) {
        let applied = state.withLock { s -> Int in
            s.operations += 1
            let before = s.index.statistics.eventsApplied
            s.index.skipGap(of: node)
            s.engineOrder.skipGap(of: node)
            while let next = s.engineOrder.nextReady(of: node) {
                if let kind = try? s.identity.translate(next) { s.index._apply(kind, node: node) }
            }
            metrics.indexBlocks.record(s.index.blockCount)
            return s.index.statistics.eventsApplied - before
        }
        metrics.eventsApplied.increment(by: Int64(applied))
    }

    func reportGaps(_ gaps: [EventGap]) {
        for g in gaps {
            metrics.gaps.increment()
            configuration.logger.notice("event gap: \(g)")
        }
    }

    // MARK: Introspection

    /// A consistent snapshot of the router: nodes with their load, and index counters.
    public var snapshot: Snapshot {
        state.withLock { s in
            Snapshot(
                nodes: s.states, inFlight: s.inFlight.count, indexedBlocks: s.index.blockCount, index: s.index.statistics,
                engine: s.identity.statistics, engineOrder: s.engineOrder.statistics, mappedEngineBlocks: s.identity.mappedBlocks,
                indexBytesPerBlock: s.index.bytesPerBlock, engineMapBytes: s.identity.byteCount, operations: s.operations)
        }
    }

    /// Blocks the index holds for `node` (a block counted once per tier it is in).
    public func indexedBlocks(of node: NodeID) -> Int { state.withLock { $0.index.blockCount(of: node) } }

    /// The index's overlaps for a chain (for tests and diagnostics).
    public func overlaps(_ chain: [BlockHash]) -> OverlapScores { state.withLock { $0.index.overlaps(chain) } }

    /// Whether `node` takes requests and runs at most `slack` more requests than the least
    /// busy node that takes requests: the test a sticky placement (a session's node, say)
    /// passes to keep its node.
    /// - Complexity: O(nodes).
    public func isWithinLoad(_ node: NodeID, slack: Int) -> Bool {
        state.withLock { s in
            guard let info = s.nodes[node], s.states[info.slot].isAvailable else { return false }
            var least = Int.max
            for n in s.states where n.isAvailable { least = min(least, n.activeRequests) }
            return s.states[info.slot].activeRequests - least <= max(0, slack)
        }
    }

    /// What ``snapshot`` returns.
    public struct Snapshot: Sendable, Hashable {
        /// Nodes with their current load.
        public var nodes: [NodeState]
        /// Requests started and not finished.
        public var inFlight: Int
        /// Blocks the index holds.
        public var indexedBlocks: Int
        /// The index's counters.
        public var index: IndexStatistics
        /// Counters of engine events' re-hashing (orphans, refused stores).
        public var engine: EngineBlockIdentity.Statistics
        /// Ordering counters of engine events (held, duplicates, gaps).
        public var engineOrder: EventSequencer<EngineEvent>.Statistics
        /// Engine block hashes mapped to router blocks, all nodes.
        public var mappedEngineBlocks: Int
        /// The index's memory per entry (``PrefixIndex/bytesPerBlock``).
        public var indexBytesPerBlock: Double
        /// Memory of the engine-hash tables (``EngineBlockIdentity/byteCount``).
        public var engineMapBytes: Int
        /// Operations performed under the lock.
        public var operations: UInt64
    }
}
