/// Settings of a ``PrefixIndex``'s approximate mode, for nodes that publish no KV events: the
/// router records where it sent each chain and assumes the node keeps it for a while.
public struct ApproximateMode: Sendable, Hashable {
    /// How long a recorded block is assumed cached, in seconds (default 120).
    public var ttl: Double
    /// The most (block, node) records kept (default 2²⁰).
    public var maxBlocks: Int
    /// When over ``maxBlocks``, prune the least recently recorded down to this fraction of it
    /// (default 0.8).
    public var pruneTarget: Double

    /// Creates settings.
    public init(ttl: Double = 120, maxBlocks: Int = 1 << 20, pruneTarget: Double = 0.8) {
        self.ttl = ttl
        self.maxBlocks = max(1, maxBlocks)
        self.pruneTarget = min(max(pruneTarget, 0), 1)
    }
}

/// Records of approximate mode, oldest first; a record is live while it is the latest for its
/// (block, node) pair.
@usableFromInline
struct _ApproximateState: Sendable {
    struct Record: Sendable { var time: Double; var hash: UInt64; var node: Int32 }

    let mode: ApproximateMode
    var records: [Record] = []
    var head = 0
    /// Each live pair's latest record time.
    var latest = _ApproximateTimes()

    init(mode: ApproximateMode) { self.mode = mode }

    var count: Int { latest.count }

    mutating func popOldest() -> Record? {
        guard head < records.count else { return nil }
        let r = records[head]
        head += 1
        if head > 4096 && head * 2 > records.count {
            records.removeFirst(head)
            head = 0
        }
        return r
    }

    var oldest: Record? { head < records.count ? records[head] : nil }

    mutating func forget(node: Int) {
        latest.forget(node: Int32(node))
    }
}

extension PrefixIndex {
    /// Approximate mode: records that `chain` was routed to `node` at time `now` (seconds on
    /// any monotonic clock), so later ``overlaps(_:)`` count those blocks as held by `node`
    /// until they expire after the TTL or are pruned least-recently-recorded first.
    ///
    /// Use it for nodes that publish no events; mixing it with events of the same node would
    /// let an expiry remove a block the node reported.
    /// - Throws: ``IndexError/nodeOutOfRange(node:capacity:)``.
    /// - Complexity: O(`chain.count`) amortised.
    public mutating func recordRouting(_ chain: some Sequence<BlockHash>, to node: NodeID, at now: Double) throws(IndexError) {
        guard node >= 0 && node < nodeCapacity else { throw .nodeOutOfRange(node: node, capacity: nodeCapacity) }
        expire(now: now)
        _noteNode(node)
        var parent: UInt64?
        for block in chain {
            if _approximate.latest.record(block.rawValue, node: Int32(node), at: now) {
                _store(block.rawValue, parent: parent, node: node, tier: StorageTier.device.rawValue)
            }
            _approximate.records.append(.init(time: now, hash: block.rawValue, node: Int32(node)))
            parent = block.rawValue
        }
        if _approximate.count > _approximate.mode.maxBlocks {
            let target = Int(Double(_approximate.mode.maxBlocks) * _approximate.mode.pruneTarget)
            while _approximate.count > target, let r = _approximate.popOldest() {
                if _dropApproximate(r) { _counts.pruned += 1 }
            }
        }
    }

    /// Approximate mode: drops every record older than the TTL at time `now`.
    /// - Complexity: O(expired records)
    public mutating func expire(now: Double) {
        while let r = _approximate.oldest, r.time + _approximate.mode.ttl <= now {
            _ = _approximate.popOldest()
            if _dropApproximate(r) { _counts.expired += 1 }
        }
    }

    /// The number of live approximate (block, node) records.
    public var approximateRecordCount: Int { _approximate.count }

    /// Removes the pair of `r` when `r` is its latest record.
    mutating func _dropApproximate(_ r: _ApproximateState.Record) -> Bool {
        guard _approximate.latest.remove(r.hash, node: r.node, ifRecordedAt: r.time) else { return false }
        _remove(r.hash, node: Int(r.node), tier: StorageTier.device.rawValue)
        return true
    }
}
