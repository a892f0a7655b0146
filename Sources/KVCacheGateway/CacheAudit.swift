import Logging
import Metrics
import Synchronization

/// Routing quality, closed loop: the cached tokens the index predicted for each request against
/// the cached tokens the engine reports (`usage.prompt_tokens_details.cached_tokens`).
///
/// Both go to Prometheus as counters and histograms. Over each window of ``window`` requests
/// that reported usage, a window in which predictions were made but the engines reported no
/// cached token at all logs a warning: the router and the engines no longer agree on block
/// identity (another block size, hash seed, tokenizer or adapter), so cache-aware routing is
/// steering blind.
final class CacheAudit: Sendable {
    struct Window {
        var requests = 0
        var predicted = 0
        var realized = 0
    }

    let window: Int
    let logger: Logger
    private let current = Mutex(Window())
    private let predictedTotal: Counter
    private let realizedTotal: Counter
    private let predictedHistogram: Recorder
    private let realizedHistogram: Recorder
    private let unreported: Counter
    private let alarms: Counter

    init(prefix: String, window: Int, logger: Logger) {
        self.window = max(1, window)
        self.logger = logger
        predictedTotal = Counter(label: "\(prefix)_predicted_cached_tokens_total")
        realizedTotal = Counter(label: "\(prefix)_realized_cached_tokens_total")
        predictedHistogram = Recorder(label: "\(prefix)_predicted_cached_tokens_per_request", aggregate: true)
        realizedHistogram = Recorder(label: "\(prefix)_realized_cached_tokens_per_request", aggregate: true)
        unreported = Counter(label: "\(prefix)_usage_unreported_total")
        alarms = Counter(label: "\(prefix)_identity_mismatch_alarms_total")
    }

    /// Records one finished request: `realized` is `nil` when the engine reported no usage.
    func record(predicted: Int, realized: Int?, node: Int) {
        predictedTotal.increment(by: Int64(predicted))
        predictedHistogram.record(predicted)
        guard let realized else {
            unreported.increment()
            return
        }
        realizedTotal.increment(by: Int64(realized))
        realizedHistogram.record(realized)
        let closed = current.withLock { w -> Window? in
            w.requests += 1
            w.predicted += predicted
            w.realized += realized
            guard w.requests >= window else { return nil }
            defer { w = Window() }
            return w
        }
        if let closed, closed.predicted > 0, closed.realized == 0 {
            alarms.increment()
            logger.warning(
                "the index predicted cached tokens but the engines report none: block identity mismatch?",
                metadata: [
                    "requests": "\(closed.requests)", "predictedCachedTokens": "\(closed.predicted)",
                    "hint": "check --block-size, the engines' hash seed, tokenizer and adapters",
                ])
        }
    }
}
