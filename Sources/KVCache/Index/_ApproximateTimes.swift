import CKVCore

/// The latest time each (block, node) pair was recorded in approximate mode.
///
/// ``_LinearProbing`` over one contiguous array, at most three quarters full, instead of a
/// `Dictionary` keyed by the pair: every routed block is looked up here once when it is
/// recorded and once when its record expires, and a keyed hash (SipHash) of the pair on each
/// would be wasted on block hashes, which are digests already. The node is mixed into the
/// probe key, and a bucket matches only on the whole pair.
struct _ApproximateTimes: Sendable {
    struct _Entry: Sendable, _ProbedEntry {
        /// The probe key: the block hash with the node mixed in.
        var key: UInt64
        var hash: UInt64
        var time: Double
        var node: Int32

        var isOccupied: Bool { !time.isNaN }
        static var vacant: Self { _Entry(key: 0, hash: 0, time: .nan, node: 0) }
    }

    private var entries: [_Entry] = []
    /// Pairs recorded.
    private(set) var count = 0

    @inline(__always)
    static func _key(_ hash: UInt64, _ node: Int32) -> UInt64 {
        hash ^ (UInt64(UInt32(bitPattern: node)) &* 0xC2B2_AE3D_27D4_EB4F)
    }

    /// The bucket of the pair, or the empty bucket its probe run ends at.
    @inline(__always)
    private static func _find(_ e: UnsafePointer<_Entry>, _ n: Int, _ hash: UInt64, _ node: Int32) -> (bucket: Int, found: Bool) {
        var i = _LinearProbing.home(_key(hash, node), n)
        while e[i].isOccupied {
            if e[i].hash == hash && e[i].node == node { return (i, true) }
            i &+= 1
            if i == n { i = 0 }
        }
        return (i, false)
    }

    /// The latest time the pair was recorded, if it is.
    /// - Complexity: O(1) expected.
    func time(of hash: UInt64, node: Int32) -> Double? {
        entries.withUnsafeBufferPointer { e in
            guard let base = e.baseAddress else { return nil }
            let (i, found) = Self._find(base, e.count, hash, node)
            return found ? e[i].time : nil
        }
    }

    /// Asks for the pair's home bucket ahead of a look-up or record of it.
    /// - Complexity: O(1)
    @inline(__always)
    func prefetch(_ hash: UInt64, node: Int32) {
        entries.withUnsafeBufferPointer { e in
            guard let base = e.baseAddress else { return }
            kvc_prefetch(base + _LinearProbing.home(Self._key(hash, node), e.count))
        }
    }

    /// Records the pair at `time`.
    /// - Returns: Whether the pair was new.
    /// - Complexity: O(1) amortized.
    mutating func record(_ hash: UInt64, node: Int32, at time: Double) -> Bool {
        if (count + 1) * 4 > entries.count * 3 { _grow() }
        let inserted = entries.withUnsafeMutableBufferPointer { e -> Bool in
            let (i, found) = Self._find(e.baseAddress!, e.count, hash, node)
            if found {
                e[i].time = time
            } else {
                e[i] = _Entry(key: Self._key(hash, node), hash: hash, time: time, node: node)
            }
            return !found
        }
        if inserted { count += 1 }
        return inserted
    }

    /// Forgets the pair if `time` is its latest record time, or whenever it was recorded when
    /// `time` is `nil` (one probe: an expiring record removes its pair only when no newer
    /// record of the pair followed it; a node's stored event removes it outright).
    /// - Returns: Whether it did.
    /// - Complexity: O(1) expected.
    @discardableResult
    mutating func remove(_ hash: UInt64, node: Int32, ifRecordedAt time: Double? = nil) -> Bool {
        guard count > 0 else { return false }
        let removed = entries.withUnsafeMutableBufferPointer { e -> Bool in
            let base = e.baseAddress!
            let (i, found) = Self._find(base, e.count, hash, node)
            guard found && (time == nil || e[i].time == time) else { return false }
            _LinearProbing.remove(base, e.count, at: i) { _, _ in }
            return true
        }
        if removed { count -= 1 }
        return removed
    }

    /// Removes the pairs last recorded at or before `cutoff` among `buckets` buckets from
    /// `cursor` on (wrapping), and moves `cursor` past them. Called a little at a time, it keeps
    /// the table free of stale pairs without a whole pass that would hold up one caller; an
    /// entry that a removal shifts back behind the cursor waits for the next pass.
    /// - Returns: The pairs removed.
    /// - Complexity: O(`buckets`)
    @discardableResult
    mutating func sweep(_ buckets: Int, from cursor: inout Int, recordedAtOrBefore cutoff: Double) -> Int {
        guard count > 0 else { return 0 }
        let removed = entries.withUnsafeMutableBufferPointer { e -> Int in
            let base = e.baseAddress!, n = e.count
            var removed = 0
            var i = cursor >= 0 && cursor < n ? cursor : 0
            for _ in 0..<min(max(buckets, 0), n) {
                // a removal shifts the run's next entry into this bucket: look at it again
                while base[i].isOccupied && base[i].time <= cutoff {
                    _LinearProbing.remove(base, n, at: i) { _, _ in }
                    removed += 1
                }
                i &+= 1
                if i == n { i = 0 }
            }
            cursor = i
            return removed
        }
        count -= removed
        return removed
    }

    /// The number of buckets.
    var bucketCount: Int { entries.count }

    /// Forgets every pair of `node`.
    /// - Complexity: O(buckets)
    mutating func forget(node: Int32) {
        guard count > 0 else { return }
        let kept = entries.filter { $0.isOccupied && $0.node != node }
        entries = []
        count = 0
        for e in kept { _ = record(e.hash, node: e.node, at: e.time) }
    }

    /// Fewer buckets when the pairs fill at most a sixteenth of them: a quarter as many, never
    /// fewer than `minimumBuckets` nor so few that the pairs would fill more than three
    /// eighths. A table that grew for a burst of records does not keep its size (and its
    /// cache misses) once the burst is over.
    /// - Returns: Whether it shrank.
    /// - Complexity: O(buckets) when it shrinks, O(1) otherwise.
    @discardableResult
    mutating func shrinkIfSparse(minimumBuckets: Int) -> Bool {
        guard entries.count > minimumBuckets, count * 16 <= entries.count else { return false }
        var buckets = entries.count
        while buckets / 2 >= minimumBuckets, buckets / 2 * 3 >= count * 8, buckets * 4 > entries.count { buckets /= 2 }
        guard buckets < entries.count else { return false }
        _rehash(into: buckets)
        return true
    }

    /// Twice the buckets (16 at first), every pair probed into its place again.
    /// - Complexity: O(buckets)
    private mutating func _grow() { _rehash(into: max(16, entries.count * 2)) }

    /// Every pair probed into a table of `buckets` buckets, which must hold them.
    /// - Complexity: O(buckets)
    private mutating func _rehash(into buckets: Int) {
        var grown = _largeArray(repeating: _Entry.vacant, count: buckets)
        grown.withUnsafeMutableBufferPointer { g in
            for entry in entries where entry.isOccupied {
                g[Self._find(g.baseAddress!, g.count, entry.hash, entry.node).bucket] = entry
            }
        }
        entries = grown
    }
}
