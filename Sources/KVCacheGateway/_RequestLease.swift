import KVCache
import Synchronization

/// What a request holds while it runs — a place in the admission gate and its load on a node
/// in the router — given back exactly once: when the response ends, fails, or the client goes
/// away, and at the latest when the response is dropped without ever being written.
final class _RequestLease: Sendable {
    let id: UInt64
    let router: KVRouter
    let gate: AdmissionGate
    let audit: CacheAudit
    let metrics: _GatewayMetrics
    let started: ContinuousClock.Instant
    struct State {
        var node: NodeID?
        /// The cached tokens the index predicted on the node, when the node's answer says how
        /// many it found (not so on a decode engine the prompt's KV cache was sent to).
        var predicted: Int?
        var finished = false
        var firstByte = false
    }
    private let state = Mutex(State())

    init(id: UInt64, router: KVRouter, gate: AdmissionGate, audit: CacheAudit, metrics: _GatewayMetrics) {
        self.id = id
        self.router = router
        self.gate = gate
        self.audit = audit
        self.metrics = metrics
        started = .now
        metrics.inFlight.increment()
    }

    /// The request now runs on `node`, which the index expects to hold `predicted` of its
    /// tokens (`nil`: nothing to check the engine's answer against).
    func dispatched(to node: NodeID, predicted: Int?) {
        state.withLock {
            $0.node = node
            $0.predicted = predicted
        }
    }

    /// The attempt on the current node failed before any byte reached the client.
    func attemptFailed() {
        state.withLock { $0.node = nil }
        router.requestFinished(id: id)
    }

    /// The first response byte arrived: prefill is over.
    func firstByte() {
        let first = state.withLock { s -> Bool in
            defer { s.firstByte = true }
            return !s.firstByte
        }
        guard first else { return }
        router.prefillFinished(id: id)
        metrics.firstByte.recordNanoseconds(Int64((ContinuousClock.now - started) / .nanoseconds(1)))
    }

    /// The request is over; `realized` is the engine's reported cached tokens, if it said.
    func finish(realized: Int?) {
        let s = state.withLock { s -> State? in
            guard !s.finished else { return nil }
            s.finished = true
            return s
        }
        guard let s else { return }
        router.requestFinished(id: id)
        gate.leave()
        metrics.inFlight.decrement()
        metrics.duration.recordNanoseconds(Int64((ContinuousClock.now - started) / .nanoseconds(1)))
        if let node = s.node, let predicted = s.predicted, s.firstByte {
            audit.record(predicted: predicted, realized: realized, node: node)
        }
    }

    deinit {
        if !state.withLock({ $0.finished }) { metrics.abandoned.increment() }
        finish(realized: nil)
    }
}
