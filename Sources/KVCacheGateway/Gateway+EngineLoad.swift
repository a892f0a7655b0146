import KVCache
import Logging
import Metrics
import NIOCore
import Synchronization

/// The engines' own load reports: the gauges they are exported as, and which engines could
/// not be read (each logged once until it can be read again).
final class _EngineLoad: Sendable {
    struct Gauges: Sendable {
        let running, waiting, usage: Gauge
    }

    let gauges: [NodeID: Gauges]
    private let unreadable = Mutex<Set<String>>([])

    init(specs: [EngineSpec], prefix: String) {
        var gauges: [NodeID: Gauges] = [:]
        for spec in specs {
            for node in spec.nodes {
                gauges[node] = Gauges(
                    running: Gauge(label: "\(prefix)_engine_requests", dimensions: [("node", "\(node)"), ("state", "running")]),
                    waiting: Gauge(label: "\(prefix)_engine_requests", dimensions: [("node", "\(node)"), ("state", "waiting")]),
                    usage: Gauge(label: "\(prefix)_engine_kv_cache_usage", dimensions: [("node", "\(node)")]))
            }
        }
        self.gauges = gauges
    }

    /// Whether the engine at `url` just became unreadable (`true` once, until it is read again).
    func markUnreadable(_ url: String) -> Bool { unreadable.withLock { $0.insert(url).inserted } }

    /// Whether the engine at `url` was unreadable until now.
    func markReadable(_ url: String) -> Bool { unreadable.withLock { $0.remove(url) != nil } }
}

extension Gateway {
    /// One round of load reads: each engine's `GET /metrics`, its running and waiting requests
    /// given to the router for each of its ranks (``KVRouter/reportLoad(_:running:waiting:)``)
    /// and exported as `<prefix>_engine_requests{node,state}`. An engine whose metrics cannot
    /// be read, or carry no running-requests gauge, is counted from this gateway's own
    /// requests alone, and logged once.
    func readEngineLoads() async {
        await withTaskGroup(of: Void.self) { group in
            for spec in directory.specs { group.addTask { await self.readLoad(of: spec) } }
        }
    }

    private func readLoad(of spec: EngineSpec) async {
        var reading: _EngineLoadReading?
        var why = "its /metrics has no vllm:num_requests_running or sglang:num_running_reqs"
        do {
            let answer = try await client.call(
                spec.url + "/metrics", body: nil, timeout: configuration.healthTimeout, maximumBytes: 16 << 20)
            if answer.status == 200 {
                reading = _EngineLoadReading(prometheus: Substring(String(buffer: answer.body)))
            } else {
                why = "its /metrics answered \(answer.status)"
            }
        } catch {
            why = "its /metrics cannot be read (\(error))"
        }
        guard let reading else {
            for node in spec.nodes { router.clearReportedLoad(node) }
            if engineLoad.markUnreadable(spec.url) {
                configuration.logger.notice(
                    "engine load: \(why); its load is this gateway's own requests", metadata: ["engine": "\(spec.url)"])
            }
            return
        }
        if engineLoad.markReadable(spec.url) {
            configuration.logger.notice("engine load: its /metrics can be read again", metadata: ["engine": "\(spec.url)"])
        }
        for (rank, node) in spec.nodes.enumerated() {
            let r = reading.ranks[rank] ?? .init()
            let running = Int(r.running.rounded()), waiting = Int(r.waiting.rounded())
            router.reportLoad(node, running: running, waiting: waiting)
            guard let g = engineLoad.gauges[node] else { continue }
            g.running.record(running)
            g.waiting.record(waiting)
            if let usage = r.kvCacheUsage { g.usage.record(usage) }
        }
    }
}
