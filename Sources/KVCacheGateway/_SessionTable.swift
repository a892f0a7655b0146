import KVCache
import KVCacheTokenizers
import Synchronization

/// The engine that served each session last, bounded by entries (the least recently used
/// forgotten first) and by age (a session unseen for its time to live is forgotten).
final class _SessionTable: Sendable {
    struct Entry {
        var node: NodeID
        var seen: ContinuousClock.Instant
    }

    let timeToLive: Duration
    private let entries: Mutex<_LRUCache<String, Entry>>

    init(entries: Int, timeToLive: Duration) {
        self.timeToLive = timeToLive
        self.entries = Mutex(_LRUCache(capacity: max(1, entries), maximumWeight: max(1, entries)))
    }

    /// The node that served `session` last, unless it was longer ago than the time to live.
    /// - Complexity: O(1) amortised, one hash of the session's name.
    func node(of session: String, now: ContinuousClock.Instant = .now) -> NodeID? {
        entries.withLock { table in
            guard let e = table.value(for: session), now - e.seen <= timeToLive else { return nil }
            return e.node
        }
    }

    /// `node` served `session` now.
    func record(_ session: String, node: NodeID, now: ContinuousClock.Instant = .now) {
        entries.withLock { $0.insert(Entry(node: node, seen: now), for: session, weight: 1) }
    }

    /// Sessions remembered (expired ones included until they are replaced or evicted).
    var count: Int { entries.withLock { $0.count } }
}
