import Metrics
import Synchronization

/// The gateway's own swift-metrics instruments (the router's are its own), made once.
final class _GatewayMetrics: Sendable {
    let prefix: String
    let retries, queueRejections, queueTimeouts, abandoned: Counter
    let inFlight: Meter
    let sessionsKept, sessionsMoved, sessionsNew: Counter
    let firstByte, duration: Timer
    /// Prefill/decode deployments: how requests were prefilled, and the prefill hop's time.
    let remotePrefills, localPrefills: Counter
    let prefillHop: Timer
    /// `requests_total` by endpoint and status, made on first use: making a counter asks the
    /// metrics backend to look its labels up, which is not worth doing for every request.
    private let answeredCounters = Mutex<[AnsweredKey: Counter]>([:])

    private struct AnsweredKey: Hashable {
        var endpoint: String
        var status: Int
    }

    init(prefix: String) {
        self.prefix = prefix
        retries = Counter(label: "\(prefix)_retries_total")
        queueRejections = Counter(label: "\(prefix)_rejected_total", dimensions: [("reason", "queue_full")])
        queueTimeouts = Counter(label: "\(prefix)_rejected_total", dimensions: [("reason", "queue_timeout")])
        abandoned = Counter(label: "\(prefix)_abandoned_responses_total")
        inFlight = Meter(label: "\(prefix)_in_flight_requests")
        sessionsKept = Counter(label: "\(prefix)_session_requests_total", dimensions: [("outcome", "kept")])
        sessionsMoved = Counter(label: "\(prefix)_session_requests_total", dimensions: [("outcome", "moved")])
        sessionsNew = Counter(label: "\(prefix)_session_requests_total", dimensions: [("outcome", "new")])
        firstByte = Timer(label: "\(prefix)_first_byte_seconds", preferredDisplayUnit: .seconds)
        remotePrefills = Counter(label: "\(prefix)_prefills_total", dimensions: [("path", "remote")])
        localPrefills = Counter(label: "\(prefix)_prefills_total", dimensions: [("path", "local")])
        prefillHop = Timer(label: "\(prefix)_prefill_hop_seconds", preferredDisplayUnit: .seconds)
        duration = Timer(label: "\(prefix)_request_seconds", preferredDisplayUnit: .seconds)
    }

    /// One answered request, by endpoint and status code.
    func answered(_ endpoint: String, status: Int) {
        let key = AnsweredKey(endpoint: endpoint, status: status)
        let counter = answeredCounters.withLock { counters in
            if let c = counters[key] { return c }
            let c = Counter(label: "\(prefix)_requests_total", dimensions: [("endpoint", endpoint), ("status", "\(status)")])
            counters[key] = c
            return c
        }
        counter.increment()
    }

    /// One answered request of a session, by what became of the session.
    func session(_ outcome: _SessionOutcome) {
        switch outcome {
        case .kept: sessionsKept.increment()
        case .moved: sessionsMoved.increment()
        case .new: sessionsNew.increment()
        }
    }

    /// One request of a prefill/decode deployment, by how it was prefilled.
    func prefillPath(_ path: _PrefillPath) {
        switch path {
        case .remote: remotePrefills.increment()
        case .local: localPrefills.increment()
        }
    }

    /// One failed upstream attempt on `node`.
    func upstreamFailure(node: Int) {
        Counter(label: "\(prefix)_upstream_failures_total", dimensions: [("node", "\(node)")]).increment()
    }
}
