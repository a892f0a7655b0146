import Foundation
import KVCache
import Logging
import Metrics
import Synchronization

/// The engines behind the gateway, one entry per node (an engine with data-parallel ranks is
/// one node per rank), and a circuit breaker for each.
///
/// A node is *up* or *open* (out of rotation). Failures — a refused or broken connection,
/// a 502/503/504, a failed health check — count up; ``failureThreshold`` in a row open the
/// breaker and drain the node in the router, so no new request goes there. An open engine is
/// probed by the active health check; once ``cooldown`` has passed, a healthy answer closes
/// the breaker and the node takes requests again. Any success resets the count. The ranks of
/// one engine share its address: a health check speaks for all of them, and an engine that is
/// not there at all takes all its ranks out of rotation.
final class EngineDirectory: Sendable {
    struct Engine: Sendable {
        var spec: EngineSpec
        /// Which of the engine's data-parallel ranks this node is.
        var rank: Int
        var node: NodeID { spec.node + rank }
        var failures = 0
        var openedAt: ContinuousClock.Instant?
        var lastError: String?
        var adapters: Set<String> = []
        /// The base model's context length, as the engine's `/v1/models` lists it.
        var maximumModelLength: Int?
        /// The engine was gone (refused or reset), not slow: whatever it cached is lost.
        var vanished = false
        let up: Gauge
    }

    let router: KVRouter
    let failureThreshold: Int
    let cooldown: Duration
    let logger: Logger
    private let engines: Mutex<[Engine]>
    private let rotation = Atomic<Int>(0)
    /// Each node's endpoints, parsed once: the request path reads them without a lock.
    private let targets: [NodeID: [OpenAIEndpoint: _UpstreamTarget]]
    /// The rank of each node of an engine with several data-parallel ranks.
    private let ranks: [NodeID: Int]
    /// The nodes of each role, in the order the engines were given.
    let nodesByRole: [EngineRole: [NodeID]]

    init(specs: [EngineSpec], router: KVRouter, failureThreshold: Int, cooldown: Duration, metricsPrefix: String, logger: Logger) {
        self.router = router
        self.failureThreshold = max(1, failureThreshold)
        self.cooldown = cooldown
        self.logger = logger
        var targets: [NodeID: [OpenAIEndpoint: _UpstreamTarget]] = [:]
        var ranks: [NodeID: Int] = [:]
        var nodesByRole: [EngineRole: [NodeID]] = [:]
        var entries: [Engine] = []
        for spec in specs {
            guard let base = try? _UpstreamTarget(url: spec.url) else { continue }
            for (rank, node) in spec.nodes.enumerated() {
                for endpoint in OpenAIEndpoint.allCases { targets[node, default: [:]][endpoint] = base.appending(endpoint.rawValue) }
                if spec.dataParallelSize > 1 { ranks[node] = rank }
                nodesByRole[spec.role, default: []].append(node)
                var dimensions = [("node", "\(node)")]
                if spec.role != .whole { dimensions.append(("role", spec.role.rawValue)) }
                entries.append(Engine(spec: spec, rank: rank, up: Gauge(label: "\(metricsPrefix)_engine_up", dimensions: dimensions)))
                router.addNode(node, approximate: !spec.publishesEvents)
            }
        }
        self.targets = targets
        self.ranks = ranks
        self.nodesByRole = nodesByRole
        engines = Mutex(entries)
        engines.withLock { $0.forEach { $0.up.record(1) } }
    }

    /// The engines, each once.
    var specs: [EngineSpec] { engines.withLock { $0.filter { $0.rank == 0 }.map(\.spec) } }

    /// Where `node`'s `endpoint` is.
    /// - Complexity: O(1).
    func target(of node: NodeID, endpoint: OpenAIEndpoint) -> _UpstreamTarget? { targets[node]?[endpoint] }

    /// The data-parallel rank `node` is, when its engine has several.
    /// - Complexity: O(1).
    func dataParallelRank(of node: NodeID) -> Int? { ranks[node] }

    /// The nodes of engines of `role`.
    func nodes(_ role: EngineRole) -> [NodeID] { nodesByRole[role] ?? [] }

    func spec(of node: NodeID) -> EngineSpec? { engines.withLock { e in e.first { $0.spec.nodes.contains(node) }?.spec } }

    /// Whether the node takes requests now.
    func isUp(_ node: NodeID) -> Bool { engines.withLock { e in e.first { $0.node == node }?.openedAt == nil } }

    /// The base URLs of the engines with a node that takes requests now, in turn from a
    /// rotating start.
    func upURLs() -> [String] {
        var seen = Set<String>()
        let up = engines.withLock { $0.filter { $0.openedAt == nil }.map(\.spec.url) }.filter { seen.insert($0).inserted }
        guard !up.isEmpty else { return [] }
        let start = rotation.wrappingAdd(1, ordering: .relaxed).oldValue % up.count
        return Array(up[start...] + up[..<start])
    }

    /// Whether `model` is an adapter (LoRA) some engine lists (a model card with a `parent`).
    func isAdapter(_ model: String) -> Bool { engines.withLock { $0.contains { $0.adapters.contains(model) } } }

    /// What each engine's state is, for `/health`.
    func report() -> [[String: Any]] {
        let now = ContinuousClock.now
        return engines.withLock { list in
            list.map { e -> [String: Any] in
                var r: [String: Any] = [
                    "node": e.node, "url": e.spec.url, "up": e.openedAt == nil,
                    "mode": e.spec.publishesEvents ? "events" : "approximate", "consecutiveFailures": e.failures,
                    "role": e.spec.role == .whole ? "prefill+decode" : e.spec.role.rawValue,
                ]
                if e.spec.dataParallelSize > 1 { r["dataParallelRank"] = e.rank }
                if let openedAt = e.openedAt { r["openForSeconds"] = Double((now - openedAt).components.seconds) }
                if let lastError = e.lastError { r["lastError"] = lastError }
                return r
            }
        }
    }

    /// A request or health check on `node` went through.
    func recordSuccess(_ node: NodeID) {
        let now = ContinuousClock.now
        let closed = engines.withLock { list -> (vanished: Bool, events: Bool)? in
            guard let i = list.firstIndex(where: { $0.node == node }) else { return nil }
            list[i].failures = 0
            guard let openedAt = list[i].openedAt, now - openedAt >= cooldown else { return nil }
            list[i].openedAt = nil
            list[i].up.record(1)
            defer { list[i].vanished = false }
            return (list[i].vanished, list[i].spec.publishesEvents)
        }
        if let closed {
            // A restarted engine starts cold: the index must not promise what it held before.
            if closed.vanished { router.removeNode(node) }
            router.addNode(node, approximate: !closed.events)
            logger.notice("engine back in rotation", metadata: ["node": "\(node)"])
        }
    }

    /// A request or health check on `node` failed with `reason`.
    func recordFailure(_ node: NodeID, reason: String) {
        let opened = engines.withLock { list -> Bool in
            guard let i = list.firstIndex(where: { $0.node == node }) else { return false }
            list[i].failures += 1
            list[i].lastError = reason
            guard list[i].openedAt == nil, list[i].failures >= failureThreshold else { return false }
            list[i].openedAt = .now
            list[i].up.record(0)
            return true
        }
        if opened {
            router.drainNode(node)
            logger.warning("engine out of rotation", metadata: ["node": "\(node)", "reason": "\(reason)"])
        }
    }

    /// Opens the breakers of `node` and of the other ranks of its engine at once (its
    /// connection was refused or reset: the engine is gone, not slow).
    func recordUnreachable(_ node: NodeID, reason: String) {
        let ranks = engines.withLock { list -> Range<NodeID> in
            guard let spec = list.first(where: { $0.spec.nodes.contains(node) })?.spec else { return node..<node }
            for i in list.indices where list[i].spec.url == spec.url { list[i].vanished = true }
            return spec.nodes
        }
        for rank in ranks {
            for _ in 0..<failureThreshold { recordFailure(rank, reason: reason) }
        }
    }

    /// Records which adapters `node` lists and its context length.
    func setModelInfo(adapters: Set<String>, maximumModelLength: Int?, of node: NodeID) {
        engines.withLock { list in
            if let i = list.firstIndex(where: { $0.node == node }) {
                list[i].adapters = adapters
                list[i].maximumModelLength = maximumModelLength
            }
        }
    }

    /// The context length an engine in rotation lists, if any lists one.
    var maximumModelLength: Int? {
        engines.withLock { list in list.first { $0.openedAt == nil && $0.maximumModelLength != nil }?.maximumModelLength }
    }

    /// A call to `node` failed with `error`: an engine that is not there at all (by the
    /// error's type: refused, reset, unreachable) leaves rotation at once, any other failure
    /// counts toward the threshold.
    func recordFailure(_ node: NodeID, error: any Error) {
        if Gateway.isUnreachable(error) {
            recordUnreachable(node, reason: "\(error)")
        } else {
            recordFailure(node, reason: "\(error)")
        }
    }

    /// A call to the engine at `url` failed with `error` (see ``recordFailure(_:error:)``).
    func recordFailure(url: String, error: any Error) {
        guard let spec = engines.withLock({ list in list.first { $0.spec.url == url }?.spec }) else { return }
        recordFailure(engine: spec, error: error)
    }

    /// A call to `spec`'s address (one for all its ranks) failed with `error`: an engine that
    /// is not there takes all its ranks out of rotation at once (``recordUnreachable(_:reason:)``
    /// does that for any one of them); any other failure counts toward each rank's threshold.
    func recordFailure(engine spec: EngineSpec, error: any Error) {
        if Gateway.isUnreachable(error) {
            recordUnreachable(spec.node, reason: "\(error)")
        } else {
            for node in spec.nodes { recordFailure(node, reason: "\(error)") }
        }
    }
}
