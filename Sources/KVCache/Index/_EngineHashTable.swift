import CKVCore

/// One node's engine hashes and the router block each names, reference-counted per tier.
///
/// ``_LinearProbing`` over one contiguous array (on huge pages when large: it is probed at
/// random), at most three quarters full: engine hashes are usually digests already, and an
/// engine that publishes small integers is spread by the probing's mix too, without a keyed
/// hash per lookup. An entry is empty when all its reference counts are zero: a mapped block
/// always has at least one.
struct _EngineHashTable: Sendable {
    struct _Entry: Sendable, _ProbedEntry {
        var key: UInt64
        var value: EngineBlockIdentity._Mapped

        var isOccupied: Bool { !value.isEmpty }
        static var vacant: Self { _Entry(key: 0, value: .init(router: 0, refs: (0, 0, 0))) }
    }

    var _entries: [_Entry] = []
    /// Mapped engine hashes.
    private(set) var count = 0

    /// Bytes the buckets take.
    var byteCount: Int { _entries.capacity * MemoryLayout<_Entry>.stride }

    /// What `key` names, if the node holds it.
    /// - Complexity: O(1) expected.
    func value(for key: UInt64) -> EngineBlockIdentity._Mapped? {
        _entries.withUnsafeBufferPointer { e in
            guard let base = e.baseAddress else { return nil }
            let (i, found) = _LinearProbing.probe(base, e.count, key)
            return found ? e[i].value : nil
        }
    }

    /// Starts loading the home bucket of `key` into the cache (no effect on results): a run of
    /// blocks asks for the buckets of the blocks ahead, so their misses overlap.
    /// - Complexity: O(1)
    @inline(__always)
    func prefetch(_ key: UInt64) {
        _entries.withUnsafeBufferPointer { e in
            guard let base = e.baseAddress else { return }
            kvc_prefetch(base + _LinearProbing.home(key, e.count))
        }
    }

    /// Records one more store of `key` in `tier`, naming `router`.
    /// - Returns: Whether `key` was new to the table.
    /// - Complexity: O(1) amortized.
    mutating func store(_ key: UInt64, router: UInt64, tier: Int) -> Bool {
        if (count + 1) * 4 > _entries.count * 3 { _grow() }
        let inserted = _entries.withUnsafeMutableBufferPointer { e -> Bool in
            let (i, found) = _LinearProbing.probe(e.baseAddress!, e.count, key)
            if !found { e[i] = _Entry(key: key, value: .init(router: router, refs: (0, 0, 0))) }
            e[i].value.router = router
            if e[i].value[tier] < .max { e[i].value[tier] += 1 }
            return !found
        }
        if inserted { count += 1 }
        return inserted
    }

    /// Records the removal of `key` from `tier`.
    /// - Returns: The router hash `key` named, or `nil` when the node held no such block in
    ///   `tier`; the entry goes when no tier holds it any more.
    /// - Complexity: O(1) expected.
    mutating func release(_ key: UInt64, tier: Int) -> UInt64? {
        let (router, emptied) = _entries.withUnsafeMutableBufferPointer { e -> (UInt64?, Bool) in
            guard let base = e.baseAddress else { return (nil, false) }
            let (i, found) = _LinearProbing.probe(base, e.count, key)
            guard found, e[i].value[tier] > 0 else { return (nil, false) }
            let router = e[i].value.router
            e[i].value[tier] -= 1
            guard e[i].value.isEmpty else { return (router, false) }
            _LinearProbing.remove(base, e.count, at: i) { _, _ in }
            return (router, true)
        }
        if emptied { count -= 1 }
        return router
    }

    /// Grows the table, if needed, so that `count` entries fit without growing again.
    /// - Complexity: O(buckets) when it grows, else O(1)
    mutating func reserve(_ count: Int) {
        if let buckets = bucketsNeeded(for: count) { _grow(into: Self.vacant(buckets: buckets)) }
    }

    /// The buckets the table needs to hold `count` entries: `nil` when it has them.
    /// - Complexity: O(log count)
    func bucketsNeeded(for count: Int) -> Int? {
        var buckets = max(16, _entries.count)
        while count * 4 > buckets * 3 { buckets *= 2 }
        return buckets > _entries.count ? buckets : nil
    }

    /// `buckets` empty buckets, faulted in, for ``_grow(into:)`` (made before taking a lock
    /// around the table, since the kernel's zeroing of their pages is most of a growth's cost).
    /// - Complexity: O(buckets)
    static func vacant(buckets: Int) -> [_Entry] { _largeArray(repeating: _Entry.vacant, count: buckets) }

    /// Twice the buckets (16 at first), or the empty buckets `fresh` (a power of two, more
    /// than now); every entry probed into its place again.
    /// - Complexity: O(buckets)
    mutating func _grow(into fresh: consuming [_Entry]? = nil) {
        // taken out of the parameter: a second reference would make the first write copy them
        var grown: [_Entry]
        if let f = fresh.take() { grown = consume f } else { grown = Self.vacant(buckets: max(16, _entries.count * 2)) }
        precondition(
            grown.count > _entries.count && grown.count & (grown.count - 1) == 0, "a table grows into more buckets, a power of two")
        grown.withUnsafeMutableBufferPointer { g in
            for entry in _entries where entry.isOccupied {
                g[_LinearProbing.probe(g.baseAddress!, g.count, entry.key).bucket] = entry
            }
        }
        _entries = grown
    }
}
