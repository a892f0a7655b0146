/// One node's engine hashes and the router block each names, reference-counted per tier.
///
/// Open addressing with linear probing over one contiguous array. The home bucket is the
/// engine hash through a Fibonacci (multiply-shift) mix: engine hashes are usually digests
/// already, but an engine may publish small integers, and the mix spreads those too, without
/// the cost of a keyed hash per lookup. Removal shifts the rest of the probe run back instead
/// of leaving tombstones, so a long-lived table never slows down with churn. An entry is empty
/// when all its reference counts are zero: a mapped block always has at least one.
struct _EngineHashTable: Sendable {
    struct _Entry: Sendable {
        var key: UInt64
        var value: EngineBlockIdentity._Mapped

        static let empty = _Entry(key: 0, value: .init(router: 0, refs: (0, 0, 0)))
    }

    var _entries: [_Entry] = []
    /// `64 − log₂(bucket count)`: the mix's high bits pick the home bucket.
    var _shift = 64
    /// Mapped engine hashes.
    private(set) var count = 0

    /// Bytes the buckets take.
    var byteCount: Int { _entries.capacity * MemoryLayout<_Entry>.stride }

    @inline(__always)
    static func _home(_ key: UInt64, shift: Int) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> UInt64(shift))
    }

    /// The bucket holding `key`, or `nil`.
    /// - Complexity: O(1) expected.
    @inline(__always)
    static func _find(_ e: UnsafeBufferPointer<_Entry>, _ key: UInt64, shift: Int) -> Int? {
        guard !e.isEmpty else { return nil }
        let mask = e.count - 1
        var i = _home(key, shift: shift)
        while !e[i].value.isEmpty {
            if e[i].key == key { return i }
            i = (i + 1) & mask
        }
        return nil
    }

    /// What `key` names, if the node holds it.
    /// - Complexity: O(1) expected.
    func value(for key: UInt64) -> EngineBlockIdentity._Mapped? {
        let shift = _shift
        return _entries.withUnsafeBufferPointer { e in Self._find(e, key, shift: shift).map { e[$0].value } }
    }

    /// Records one more store of `key` in `tier`, naming `router`.
    /// - Returns: Whether `key` was new to the table.
    /// - Complexity: O(1) amortized.
    mutating func store(_ key: UInt64, router: UInt64, tier: Int) -> Bool {
        if (count + 1) * 4 > _entries.count * 3 { _grow() }
        let shift = _shift
        let inserted = _entries.withUnsafeMutableBufferPointer { e -> Bool in
            let mask = e.count - 1
            var i = Self._home(key, shift: shift)
            while !e[i].value.isEmpty {
                if e[i].key == key {
                    e[i].value.router = router
                    if e[i].value[tier] < .max { e[i].value[tier] += 1 }
                    return false
                }
                i = (i + 1) & mask
            }
            e[i] = _Entry(key: key, value: .init(router: router, refs: (0, 0, 0)))
            e[i].value[tier] = 1
            return true
        }
        if inserted { count += 1 }
        return inserted
    }

    /// Records the removal of `key` from `tier`.
    /// - Returns: The router hash `key` named, or `nil` when the node held no such block in
    ///   `tier`; the entry goes when no tier holds it any more.
    /// - Complexity: O(1) expected.
    mutating func release(_ key: UInt64, tier: Int) -> UInt64? {
        let shift = _shift
        let (router, emptied) = _entries.withUnsafeMutableBufferPointer { e -> (UInt64?, Bool) in
            guard let i = Self._find(UnsafeBufferPointer(e), key, shift: shift), e[i].value[tier] > 0 else { return (nil, false) }
            let router = e[i].value.router
            e[i].value[tier] -= 1
            guard e[i].value.isEmpty else { return (router, false) }
            Self._shiftBack(e, from: i, shift: shift)
            return (router, true)
        }
        if emptied { count -= 1 }
        return router
    }

    /// Empties bucket `hole` and moves later entries of its probe run back, so every entry
    /// stays reachable from its home bucket without tombstones.
    static func _shiftBack(_ e: UnsafeMutableBufferPointer<_Entry>, from hole: Int, shift: Int) {
        let mask = e.count - 1
        var hole = hole
        var j = hole
        while true {
            j = (j + 1) & mask
            if e[j].value.isEmpty { break }
            let home = _home(e[j].key, shift: shift)
            // The entry at j stays when its home lies cyclically in (hole, j].
            let stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j)
            if stays { continue }
            e[hole] = e[j]
            hole = j
        }
        e[hole] = .empty
    }

    mutating func _grow() {
        let buckets = max(16, _entries.count * 2)
        let shift = 64 - buckets.trailingZeroBitCount
        var grown = [_Entry](repeating: .empty, count: buckets)
        grown.withUnsafeMutableBufferPointer { g in
            let mask = buckets - 1
            for entry in _entries where !entry.value.isEmpty {
                var i = Self._home(entry.key, shift: shift)
                while !g[i].value.isEmpty { i = (i + 1) & mask }
                g[i] = entry
            }
        }
        _entries = grown
        _shift = shift
    }
}
