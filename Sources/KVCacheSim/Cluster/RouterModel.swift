import KVCache

/// The routers in front of a simulated cluster: how many share the traffic, and what each knows
/// of the nodes' caches and loads.
///
/// The default is the ideal router: one router fed every node's cache changes as they happen,
/// that knows every node's true queue — the view the simulator gives a selector unless told
/// otherwise. Every other setting runs the routers as ``KVCache/RouterCore``s, the code
/// `KVRouter` and the gateway run, on simulated time; each counts the load it sent itself as a
/// gateway does (a request counts from dispatch, its prefill until the node finishes it). They
/// answer an operator's questions about deployments that are not ideal:
///
/// - **One real router** (``LoadView-swift.enum/local`` with one router): what a gateway knows.
/// - **Several routers** (``replicas`` > 1): request *i* goes to router *i* mod *k*. Each router
///   has its own selector and counts only the load it sent itself.
/// - **Load from the engines** (``LoadView-swift.enum/engine``): each router also reads every
///   node's true request count every ``loadIntervalSeconds`` (as a gateway reads an engine's
///   metrics) and counts, until the next read, its own requests now plus what the node ran
///   beyond its own at the read (``KVCache/RouterCore/reportLoad(_:running:waiting:)``).
/// - **Event lag** (``eventLagSeconds``): a node's cache changes reach the routers that long
///   after the node made them.
/// - **Speculative entries** (``speculativeTTL``): a router that sends a chain to a node counts
///   it held there at once, for that many seconds; the node's events, when they arrive, are
///   what holds after that. A node's depth is the longer of the two views.
/// - **No events** (``View-swift.enum/approximate``): each router records its own routing
///   decisions and assumes each lasts ``approximateTTL`` seconds.
/// - **Shadow pools** (``View-swift.enum/shadow``): for engines that publish nothing, each
///   router runs, per node, a pool with the engine's eviction policy (or ``shadowEviction``)
///   and capacity (or ``shadowCapacity``) over the chains it sent there, and reads residency
///   from it.
///
/// The nodes' real pools decide every hit and every prefill time; the router's view only
/// decides where requests go. ``ClusterResult/prediction`` compares the two.
public struct RouterModel: Sendable, Hashable {
    /// Where a router's knowledge of the nodes' caches comes from.
    public enum View: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        /// The nodes' KV events, the same stream for every router.
        case events
        /// Each router's own routing decisions, each held for ``RouterModel/approximateTTL``.
        case approximate
        /// Each router's own pools replaying the chains it routed.
        case shadow

        public var description: String { rawValue }
    }

    /// Where a router's knowledge of the nodes' loads comes from.
    public enum LoadView: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        /// Every node's true queue at every decision: the ideal router. Only one router that
        /// sees every event at once can be ideal; any other model counts its own load
        /// (``local``).
        case ideal
        /// The requests the router sent itself.
        case local
        /// The nodes' own reports, read every ``RouterModel/loadIntervalSeconds``, plus the
        /// router's own requests since.
        case engine

        public var description: String { rawValue }
    }

    /// Routers splitting the traffic round-robin (default 1).
    public var replicas: Int
    /// What the routers know of the loads (default ``LoadView-swift.enum/ideal``).
    public var loadView: LoadView = .ideal
    /// Seconds between a router's reads of the nodes' loads (``LoadView-swift.enum/engine``
    /// only; default 0.1).
    public var loadIntervalSeconds = 0.1
    /// What the routers know of the caches (default ``View-swift.enum/events``).
    public var view: View
    /// Seconds from a node's cache change to the routers' seeing it (``View-swift.enum/events``
    /// only; default 0).
    public var eventLagSeconds: Double
    /// Seconds a route-time speculative entry counts as held (``View-swift.enum/events`` only;
    /// 0, the default: none).
    public var speculativeTTL: Double
    /// Seconds a routing decision counts as held in the ``View-swift.enum/approximate`` view
    /// (default 120, as ``ApproximateMode``).
    public var approximateTTL: Double
    /// The eviction policy of the shadow pools (`nil`, the default: the nodes' own).
    public var shadowEviction: EvictionPolicy?
    /// The capacity of each shadow pool, in blocks (`nil`, the default: the nodes' own).
    public var shadowCapacity: Int?

    /// Creates a router model; the defaults are one router fed every change as it happens.
    public init(
        replicas: Int = 1, view: View = .events, eventLagSeconds: Double = 0, speculativeTTL: Double = 0,
        approximateTTL: Double = 120, shadowEviction: EvictionPolicy? = nil, shadowCapacity: Int? = nil
    ) {
        self.replicas = replicas
        self.view = view
        self.eventLagSeconds = eventLagSeconds
        self.speculativeTTL = speculativeTTL
        self.approximateTTL = approximateTTL
        self.shadowEviction = shadowEviction
        self.shadowCapacity = shadowCapacity
    }

    /// Whether this is the default, the ideal router: one router that sees every change and
    /// every node's true queue at once.
    public var isImmediate: Bool {
        replicas == 1 && view == .events && eventLagSeconds == 0 && speculativeTTL == 0 && loadView == .ideal
    }

    /// A short label: `k4/events+lag50ms+spec2s`, `k1/shadow(fifo)`.
    public var label: String {
        var s = "k\(replicas)/\(view)"
        if view == .events && eventLagSeconds > 0 { s += "+lag\(_compact(eventLagSeconds * 1000))ms" }
        if view == .events && speculativeTTL > 0 { s += "+spec\(_compact(speculativeTTL))s" }
        if view == .approximate { s += "(ttl \(_compact(approximateTTL))s)" }
        if view == .shadow && (shadowEviction != nil || shadowCapacity != nil) {
            s += "(" + [shadowEviction?.rawValue, shadowCapacity.map(String.init)].compactMap { $0 }.joined(separator: ",") + ")"
        }
        if loadView == .engine { s += "+load\(_compact(loadIntervalSeconds * 1000))ms" }
        if loadView == .local && replicas == 1 && view == .events && eventLagSeconds == 0 && speculativeTTL == 0 { s += "+local" }
        return s
    }

    /// Checks the settings against each other and the cluster.
    /// - Throws: ``ConfigurationError`` naming the setting.
    func validate(_ c: ClusterConfiguration) throws(ConfigurationError) {
        guard replicas >= 1 else { throw ConfigurationError(message: "routers must be at least 1, got \(replicas)") }
        guard eventLagSeconds >= 0 && eventLagSeconds <= 1e7 else {
            throw ConfigurationError(message: "event lag must be in 0...1e7 seconds, got \(eventLagSeconds)")
        }
        guard speculativeTTL >= 0 && speculativeTTL.isFinite else {
            throw ConfigurationError(message: "speculative TTL must be a finite number of seconds ≥ 0, got \(speculativeTTL)")
        }
        guard approximateTTL > 0 && approximateTTL.isFinite else {
            throw ConfigurationError(message: "approximate TTL must be a finite number of seconds > 0, got \(approximateTTL)")
        }
        if view != .events && (eventLagSeconds > 0 || speculativeTTL > 0) {
            throw ConfigurationError(message: "event lag and speculative entries apply to the events view, not \(view)")
        }
        if view != .shadow && (shadowEviction != nil || shadowCapacity != nil) {
            throw ConfigurationError(message: "a shadow policy or capacity applies to the shadow view, not \(view)")
        }
        guard loadIntervalSeconds >= 0.001 && loadIntervalSeconds <= 1e7 else {
            throw ConfigurationError(message: "load interval must be in 0.001...1e7 seconds, got \(loadIntervalSeconds)")
        }
        if let shadowCapacity, shadowCapacity < 1 {
            throw ConfigurationError(message: "shadow capacity must be at least 1 block, got \(shadowCapacity)")
        }
        if shadowEviction?.needsFuture == true {
            throw ConfigurationError(message: "a shadow pool cannot be \(shadowEviction!): a router does not know the future")
        }
        if !isImmediate && (c.hostCapacity > 0 || c.diskCapacity > 0) {
            throw ConfigurationError(
                message: "router models other than one immediate router simulate device pools only: no host or disk tier")
        }
    }
}

/// `x` to three decimals as Swift writes it, without a trailing `.0` (`50`, `0.5`): a
/// millisecond lag given as 7 reads `7`, not `7.000000000000001`.
func _compact(_ x: Double) -> String {
    let s = "\((x * 1000).rounded() / 1000)"
    return s.hasSuffix(".0") ? String(s.dropLast(2)) : s
}
