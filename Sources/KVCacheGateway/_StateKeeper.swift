import Metrics
import Synchronization

/// Where the gateway's router state came from at start, and its writes since: for `/health`
/// and the metrics.
final class _StateKeeper: Sendable {
    struct Record: Sendable {
        var restoredFrom: String?
        var restoredBlocks = 0
        var writes = 0
        var lastBytes = 0
        var lastSeconds = 0.0
    }

    private let record = Mutex(Record())
    let writes: Counter
    let writeTime: Timer
    let size: Gauge

    init(prefix: String) {
        writes = Counter(label: "\(prefix)_state_writes_total")
        writeTime = Timer(label: "\(prefix)_state_write_seconds", preferredDisplayUnit: .seconds)
        size = Gauge(label: "\(prefix)_state_bytes")
    }

    func restored(from origin: String, blocks: Int) {
        record.withLock {
            $0.restoredFrom = origin
            $0.restoredBlocks = blocks
        }
    }

    func wrote(bytes: Int, seconds: Double) {
        record.withLock {
            $0.writes += 1
            $0.lastBytes = bytes
            $0.lastSeconds = seconds
        }
        writes.increment()
        writeTime.recordSeconds(seconds)
        size.record(bytes)
    }

    var current: Record { record.withLock { $0 } }
}
