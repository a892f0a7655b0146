import Metrics

/// The router's swift-metrics instruments, made once (creating them per call would ask the
/// factory each time). Names use `_` and a `_total` suffix for counters, as Prometheus wants.
struct _RouterMetrics: Sendable {
    let prefixHitBlocks, prefixHitTokens, eventsApplied, gaps, rejected, reclaimed, refusedEvents, orphanBlocks: Counter
    let indexBlocks: Gauge
    let routeLatency: Metrics.Timer

    init(prefix: String) {
        prefixHitBlocks = Counter(label: "\(prefix)_prefix_hit_blocks_total")
        prefixHitTokens = Counter(label: "\(prefix)_prefix_hit_tokens_total")
        eventsApplied = Counter(label: "\(prefix)_events_applied_total")
        gaps = Counter(label: "\(prefix)_event_gaps_total")
        rejected = Counter(label: "\(prefix)_rejected_requests_total")
        reclaimed = Counter(label: "\(prefix)_reclaimed_requests_total")
        refusedEvents = Counter(label: "\(prefix)_refused_events_total")
        orphanBlocks = Counter(label: "\(prefix)_orphan_blocks_total")
        indexBlocks = Gauge(label: "\(prefix)_index_blocks")
        routeLatency = Metrics.Timer(label: "\(prefix)_route_duration_seconds")
    }
}

/// Per-node instruments, labelled `node="<id>"`.
struct _NodeCounters: Sendable {
    let routed: Counter
    /// The node's learned prefill speed (``KVRouter/Configuration/learnsPrefillSpeed``).
    let prefillBase, prefillPerToken: Gauge

    init(prefix: String, node: Int) {
        routed = Counter(label: "\(prefix)_routed_requests_total", dimensions: [("node", "\(node)")])
        prefillBase = Gauge(label: "\(prefix)_prefill_base_seconds", dimensions: [("node", "\(node)")])
        prefillPerToken = Gauge(label: "\(prefix)_prefill_seconds_per_token", dimensions: [("node", "\(node)")])
    }
}
