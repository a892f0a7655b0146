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
        /// Seconds a chain routed to a node that publishes events counts as held there at most,
        /// while the node's own events have not reported it (0, the default: no such entries).
        /// Covers the time an engine takes to report what it just cached, so that a burst of
        /// requests sharing a new prefix finds it. An entry ends when the node's stored event
        /// reports its block, so the events alone say what the node holds from then on; a node's
        /// depth is its indexed device blocks extended by the entries that follow them.
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

    /// What the lock guards: the core, and each node's metrics by node id.
    struct _Guarded: Sendable {
        var core: RouterCore
        var counters: [_NodeCounters?] = []

        mutating func counters(_ node: NodeID, prefix: String) -> _NodeCounters {
            while counters.count <= node { counters.append(nil) }
            if let c = counters[node] { return c }
            let c = _NodeCounters(prefix: prefix, node: node)
            counters[node] = c
            return c
        }
    }

    let configuration: Configuration
    let state: _Locked<_Guarded>
    /// Set while a task grows the tables ahead of routes (``_growAhead(entries:)``).
    let _growing = Atomic<Bool>(false)
    let metrics: _RouterMetrics
    let clock = ContinuousClock()
    let origin: ContinuousClock.Instant

    /// Creates a router with no nodes.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        state = _Locked(_Guarded(core: RouterCore(configuration: configuration)))
        metrics = _RouterMetrics(prefix: configuration.metricsPrefix)
        origin = clock.now
    }

    /// Each node's learned prefill speed, when ``Configuration/learnsPrefillSpeed`` is on.
    public var prefillSpeeds: [NodeID: PrefillSpeedEstimator] { state.withLock { $0.core.prefillSpeeds } }

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
        let added = state.withLock { g in
            let added = g.core.addNode(id, capacityBlocks: capacityBlocks, approximate: approximate)
            if added { _ = g.counters(id, prefix: configuration.metricsPrefix) }
            return added
        }
        guard added else {
            configuration.logger.error("addNode rejected: node \(id) outside 0..<\(configuration.nodeCapacity)")
            return false
        }
        configuration.logger.info("node \(id) added", metadata: ["approximate": "\(approximate)"])
        return true
    }

    /// Stops routing new requests to a node; requests in flight finish normally.
    public func drainNode(_ id: NodeID) {
        state.withLock { $0.core.drainNode(id) }
        configuration.logger.info("node \(id) draining")
    }

    /// Removes a node: its blocks leave the index and its in-flight requests are forgotten.
    public func removeNode(_ id: NodeID) {
        state.withLock { $0.core.removeNode(id) }
        configuration.logger.info("node \(id) removed")
    }

    /// The current node ids, ascending.
    public var nodes: [NodeID] { state.withLock { $0.core.nodes } }

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
    ///   - id: When given, the request starts on the chosen node under the same lock as the
    ///     choice (``requestStarted(_:id:expectedOutputTokens:)``), so that requests routed at
    ///     the same moment each see the load of those routed before them. `nil`: call
    ///     ``requestStarted(_:id:expectedOutputTokens:)`` yourself.
    /// - Complexity: O(tokens) hashing + O(matched blocks) index walk + O(nodes) selection.
    public func route(
        tokens: [UInt32], adapter: String? = nil, cacheSalt: String? = nil, expectedOutputTokens: Int = 0,
        excluding excluded: [NodeID] = [], startingRequest id: UInt64? = nil
    ) -> Routed {
        let chain = configuration.hasher.adapted(to: adapter).blockHashes(tokens, cacheSalt: cacheSalt)
        return route(
            blockHashes: chain, inputTokens: tokens.count, expectedOutputTokens: expectedOutputTokens, excluding: excluded,
            startingRequest: id)
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
    ///   - id: When given, the request starts on the chosen node under the same lock as the
    ///     choice, with the overlap as its cached tokens (see
    ///     ``route(tokens:adapter:cacheSalt:expectedOutputTokens:excluding:startingRequest:)``).
    public func route(
        blockHashes: [BlockHash], inputTokens: Int? = nil, expectedOutputTokens: Int = 0, excluding excluded: [NodeID] = [],
        startingRequest id: UInt64? = nil
    ) -> Routed {
        let start = clock.now
        let t = Self.seconds(start - origin)
        var headroom = 0
        var reclaimed: [(id: UInt64, node: NodeID)] = []
        let (routed, counters) = state.withLock { g -> (Routed, _NodeCounters?) in
            // every read of the core through one mutating call: a read of an address-only
            // field of `g` here would copy the whole core
            let routed = g.core._route(
                blockHashes: blockHashes, inputTokens: inputTokens, expectedOutputTokens: expectedOutputTokens,
                excluding: excluded, now: t, headroom: &headroom, reclaimed: &reclaimed)
            if let id, let node = routed.node {
                g.core.requestStarted(
                    id: id, node: node, promptTokens: routed.inputTokens,
                    cachedTokens: cachedTokens(of: routed),
                    expectedOutputTokens: expectedOutputTokens, now: t)
            }
            return (routed, routed.node.map { g.counters($0, prefix: configuration.metricsPrefix) })
        }
        if headroom > 0 { _growAhead(entries: headroom) }
        for r in reclaimed {
            metrics.reclaimed.increment()
            configuration.logger.warning(
                "reclaimed request \(r.id) on node \(r.node) after \(configuration.requestTimeout) s without requestFinished")
        }
        if let counters {
            configuration.logger.trace(
                "routed to node \(routed.node!): \(routed.decision.reason)",
                metadata: [
                    "chainBlocks": "\(blockHashes.count)", "overlapBlocks": "\(routed.overlapBlocks)",
                    "inputTokens": "\(routed.inputTokens)",
                ])
            counters.routed.increment()
            metrics.prefixHitBlocks.increment(by: Int64(routed.overlapBlocks))
            metrics.prefixHitTokens.increment(by: Int64(cachedTokens(of: routed)))
        } else {
            metrics.rejected.increment()
            configuration.logger.debug("request rejected: \(routed.decision.reason)")
        }
        metrics.routeLatency.recordNanoseconds(Int64(Self.seconds(clock.now - start) * 1e9))
        return routed
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
        let cached = cachedTokens(of: routed)
        requestStarted(
            id: id, node: node, promptTokens: routed.inputTokens, cachedTokens: cached, expectedOutputTokens: expectedOutputTokens)
    }

    /// The prompt tokens `routed`'s overlap covers: whole matched blocks, at most the prompt.
    func cachedTokens(of routed: Routed) -> Int {
        min(routed.overlapBlocks * configuration.hasher.blockSize, routed.inputTokens)
    }

    /// Records that a request started on `node`.
    ///
    /// Token counts are clamped to `0 ... maximumTokenCount` (cached tokens to the prompt).
    public func requestStarted(id: UInt64, node: NodeID, promptTokens: Int, cachedTokens: Int = 0, expectedOutputTokens: Int = 0) {
        let t = now
        state.withLock {
            $0.core.requestStarted(
                id: id, node: node, promptTokens: promptTokens, cachedTokens: cachedTokens, expectedOutputTokens: expectedOutputTokens,
                now: t)
        }
    }

    /// Records that a request's prefill finished (it now decodes).
    ///
    /// With ``Configuration/learnsPrefillSpeed``, the time since ``requestStarted(id:node:promptTokens:cachedTokens:expectedOutputTokens:)``
    /// is one observation of the node's prefill speed.
    public func prefillFinished(id: UInt64) {
        let t = now
        let learned = state.withLock { g -> (LinearPrefillModel, _NodeCounters)? in
            guard let (node, speed) = g.core.prefillFinished(id: id, now: t) else { return nil }
            return (speed, g.counters(node, prefix: configuration.metricsPrefix))
        }
        if let (model, counters) = learned {
            counters.prefillBase.record(model.base)
            counters.prefillPerToken.record(model.perToken)
        }
    }

    /// Records that a request finished; its load leaves the node.
    public func requestFinished(id: UInt64) {
        state.withLock { $0.core.requestFinished(id: id) }
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
        return applying { $0.apply(events) }
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
        return applying { $0.apply(events) }
    }

    /// Applies events to the core under the lock, then counts and logs what that did.
    func applying(_ body: (inout RouterCore) -> RouterCore.EventOutcome) -> [EventGap] {
        let outcome = state.withLock { g in
            let o = body(&g.core)
            metrics.indexBlocks.record(g.core.index.blockCount)
            return o
        }
        report(outcome)
        return outcome.gaps
    }

    /// Counts and logs what applying events did.
    func report(_ outcome: RouterCore.EventOutcome) {
        metrics.eventsApplied.increment(by: Int64(outcome.applied))
        if outcome.orphanBlocks > 0 { metrics.orphanBlocks.increment(by: Int64(outcome.orphanBlocks)) }
        if outcome.refusedCount > 0 { metrics.refusedEvents.increment(by: Int64(outcome.refusedCount)) }
        if outcome.unknownNodes > 0 { configuration.logger.warning("ignored \(outcome.unknownNodes) events for unknown nodes") }
        for (node, error) in outcome.refused {
            configuration.logger.error("events of node \(node) refused: \(error)")
        }
        for g in outcome.gaps {
            metrics.gaps.increment()
            configuration.logger.notice("event gap: \(g)")
        }
    }

    /// Gives up the events `node` is missing (it cannot replay them): events held behind its
    /// gaps are applied now, in order.
    public func skipGap(of node: NodeID) {
        let applied = state.withLock { g in
            let applied = g.core.skipGap(of: node)
            metrics.indexBlocks.record(g.core.index.blockCount)
            return applied
        }
        metrics.eventsApplied.increment(by: Int64(applied))
    }

    // MARK: Introspection

    /// A consistent snapshot of the router: nodes with their load, and index counters.
    public var snapshot: Snapshot { state.withLock { $0.core.snapshot } }

    /// Blocks the index holds for `node` (a block counted once per tier it is in).
    public func indexedBlocks(of node: NodeID) -> Int { state.withLock { $0.core.indexedBlocks(of: node) } }

    /// The index's overlaps for a chain (for tests and diagnostics).
    public func overlaps(_ chain: [BlockHash]) -> OverlapScores { state.withLock { $0.core.overlaps(chain) } }

    /// Whether `node` takes requests and runs at most `slack` more requests than the least
    /// busy node that takes requests: the test a sticky placement (a session's node, say)
    /// passes to keep its node.
    /// - Complexity: O(nodes).
    public func isWithinLoad(_ node: NodeID, slack: Int) -> Bool {
        state.withLock { RouterCore._isWithinLoad($0.core.states, $0.core.records, node, slack: slack) }
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
