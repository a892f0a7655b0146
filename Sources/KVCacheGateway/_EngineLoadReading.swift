/// What an engine's Prometheus `/metrics` says of its load, per data-parallel rank: vLLM's
/// `vllm:num_requests_running`, `vllm:num_requests_waiting` and `vllm:kv_cache_usage_perc`
/// (`vllm:gpu_cache_usage_perc` before it), or SGLang's `sglang:num_running_reqs`,
/// `sglang:num_queue_reqs` and `sglang:token_usage`. A sample's rank is its `engine` label
/// (vLLM numbers its data-parallel engines so) or `dp_rank` label, 0 without either; samples
/// of one rank add up (one per model, say).
struct _EngineLoadReading: Equatable {
    struct Rank: Equatable {
        var running = 0.0
        var waiting = 0.0
        /// The share of the KV cache in use, 0...1, when reported.
        var kvCacheUsage: Double?
    }

    var ranks: [Int: Rank] = [:]

    enum Gauge { case running, waiting, usage }

    static let names: [(String, Gauge)] = [
        ("vllm:num_requests_running", .running), ("vllm:num_requests_waiting", .waiting),
        ("vllm:kv_cache_usage_perc", .usage), ("vllm:gpu_cache_usage_perc", .usage),
        ("sglang:num_running_reqs", .running), ("sglang:num_queue_reqs", .waiting), ("sglang:token_usage", .usage),
    ]

    /// Reads the gauges out of Prometheus text.
    /// - Returns: `nil` when the text has no running-requests gauge at all.
    init?(prometheus text: Substring) {
        var sawRunning = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            guard let first = line.first, first == "v" || first == "s" else { continue }
            guard let (name, gauge) = Self.names.first(where: { line.hasPrefix($0.0) }) else { continue }
            var rest = line.dropFirst(name.count)
            var rank = 0
            if rest.first == "{" {
                guard let close = rest.firstIndex(of: "}") else { continue }
                let labels = rest[rest.index(after: rest.startIndex)..<close]
                rank = Self.rank(in: labels) ?? 0
                rest = rest[rest.index(after: close)...]
            } else if rest.first != " " {
                continue  // another metric whose name starts the same way
            }
            let fields = rest.split(separator: " ", omittingEmptySubsequences: true)
            guard let text = fields.first, let value = Double(text), value.isFinite, value >= 0, value <= 1e9,
                (0...4_096).contains(rank)
            else { continue }
            switch gauge {
            case .running:
                ranks[rank, default: Rank()].running += value
                sawRunning = true
            case .waiting: ranks[rank, default: Rank()].waiting += value
            case .usage: ranks[rank, default: Rank()].kvCacheUsage = max(ranks[rank]?.kvCacheUsage ?? 0, min(value, 1))
            }
        }
        guard sawRunning else { return nil }
    }

    /// The value of an `engine="N"` or `dp_rank="N"` label.
    static func rank(in labels: Substring) -> Int? {
        for key in ["engine=\"", "dp_rank=\""] {
            guard let r = labels.range(of: key) else { continue }
            let value = labels[r.upperBound...].prefix { $0 != "\"" }
            return Int(value)
        }
        return nil
    }
}
