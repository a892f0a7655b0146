import CKVCore

/// An open-addressing hash table from 64-bit block hashes to slots, built for keys that are
/// already hashes.
///
/// ``_LinearProbing`` over a power-of-two array of 16-byte entries (key, slot, pin count, a
/// 16-bit side value), at most half full for its expected count (fuller tables make probe runs,
/// and so operations on large pools, markedly slower).
///
/// A slot of -1 marks an empty bucket; other negative slots are the owner's to use (a pool
/// stores its algorithm's ghosts as `-2 - id`), so ``find(_:)`` reports any entry and
/// ``findLive(_:)`` only entries with a slot ≥ 0.
///
/// The operations themselves are static functions over a raw entry pointer (`_find`,
/// `_insert`, `_remove`), shared by this array-backed form (the prefix index's) and the
/// pool's storage, which checks uniqueness once per call instead of once per write.
@usableFromInline
internal struct _BlockTable: Sendable {
    @frozen
    @usableFromInline
    internal struct Entry: Sendable {
        @usableFromInline var key: UInt64
        @usableFromInline var slot: Int32  // -1: empty
        @usableFromInline var pins: UInt16
        @usableFromInline var aux: UInt16
        @inlinable init() { key = 0; slot = -1; pins = 0; aux = 0 }
    }

    @usableFromInline var entries: [Entry]
    @usableFromInline let buckets: Int
    @usableFromInline var count: Int = 0

    /// A table for at most `maximumCount` keys, at most half full.
    @inlinable
    init(maximumCount: Int) {
        buckets = Self._bucketCount(expected: maximumCount, maximum: maximumCount)
        entries = _largeArray(repeating: Entry(), count: buckets)
    }

    /// The number of buckets for a table at most half full with `expected` keys (a quarter
    /// when that stays within 512 KB: shorter probe runs and backward shifts, still resident
    /// in a core's L2; beyond that, quarter-full tables cost more in cache misses than they
    /// save) and at most three quarters full with `maximum`.
    @inlinable
    static func _bucketCount(expected: Int, maximum: Int) -> Int {
        var n = 16
        let spread = expected <= 8_192 ? 4 : 2
        while n < expected * spread || n * 3 < maximum * 4 { n <<= 1 }
        return n
    }

    // MARK: Operations on raw entries

    @inlinable @inline(__always)
    static func _home(_ key: UInt64, _ n: Int) -> Int { _LinearProbing.home(key, n) }

    /// The bucket of `key` among `n` entries (with a slot ≥ 0 when `liveOnly`), or -1.
    /// - Complexity: O(1) expected
    @inlinable @inline(__always)
    static func _find(_ e: UnsafePointer<Entry>, _ n: Int, _ key: UInt64, liveOnly: Bool) -> Int {
        let (i, found) = _LinearProbing.probe(e, n, key)
        return found && (!liveOnly || e[i].slot >= 0) ? i : -1
    }

    /// Inserts `key` (absent) with `slot`; returns its bucket.
    /// - Complexity: O(1) expected
    @inlinable @inline(__always)
    static func _insert(_ e: UnsafeMutablePointer<Entry>, _ n: Int, _ key: UInt64, slot: Int32, aux: UInt16) -> Int {
        let i = _LinearProbing.probe(e, n, key).bucket
        e[i].key = key
        e[i].slot = slot
        e[i].pins = 0
        e[i].aux = aux
        return i
    }

    /// Removes the entry in bucket `index`, shifting later entries of the probe run back and
    /// reporting each entry that moves (its slot and new bucket) to `moved`.
    /// - Complexity: O(1) expected
    @inlinable @inline(__always)
    static func _remove(
        _ e: UnsafeMutablePointer<Entry>, _ n: Int, at index: Int,
        moved: (_ slot: Int32, _ bucket: Int) -> Void
    ) {
        _LinearProbing.remove(e, n, at: index) { entry, bucket in moved(entry.slot, bucket) }
    }

    // MARK: The array-backed table

    /// The bucket holding `key`, or -1.
    /// - Complexity: O(1) expected
    @inlinable @inline(__always)
    func find(_ key: UInt64) -> Int {
        entries.withUnsafeBufferPointer { Self._find($0.baseAddress!, buckets, key, liveOnly: false) }
    }

    /// Starts loading the home bucket of `key` into the cache (no effect on results): a walk
    /// down a chain asks for it before it needs it, so one lookup's miss overlaps another's.
    @inlinable @inline(__always)
    func prefetch(_ key: UInt64) {
        entries.withUnsafeBufferPointer { kvc_prefetch($0.baseAddress! + Self._home(key, buckets)) }
    }

    /// The bucket holding `key` with a slot ≥ 0, or -1.
    /// - Complexity: O(1) expected
    @inlinable @inline(__always)
    func findLive(_ key: UInt64) -> Int {
        entries.withUnsafeBufferPointer { Self._find($0.baseAddress!, buckets, key, liveOnly: true) }
    }

    /// Inserts `key` (absent) with `slot`; returns its bucket.
    /// - Complexity: O(1) expected
    @inlinable @discardableResult
    mutating func insert(_ key: UInt64, slot: Int32, aux: UInt16 = 0) -> Int {
        count += 1
        let n = buckets
        return entries.withUnsafeMutableBufferPointer { Self._insert($0.baseAddress!, n, key, slot: slot, aux: aux) }
    }

    /// Removes the entry in bucket `index`, shifting later entries of the probe run back.
    /// - Complexity: O(1) expected
    @inlinable
    mutating func remove(at index: Int) {
        count -= 1
        let n = buckets
        entries.withUnsafeMutableBufferPointer { Self._remove($0.baseAddress!, n, at: index) { _, _ in } }
    }

    /// Whether one more key would take the table past half full.
    @inlinable var needsGrowth: Bool { (count + 1) * 2 > buckets }

    /// Rehashes into a table twice as large (four times while small), keeping every entry's
    /// slot, pins and side value.
    /// - Complexity: O(buckets)
    @inlinable
    mutating func grow() {
        grow(into: Self.vacant(buckets: Self._bucketCount(expected: buckets, maximum: buckets)))
    }

    /// The buckets a table needs so that `n` more keys fit without growing: `nil` when this
    /// one's do; else the size ``grow()`` would reach after as many steps as it takes.
    /// - Complexity: O(log buckets)
    @inlinable
    func bucketsNeeded(adding n: Int) -> Int? {
        var b = buckets
        while (count + n) * 2 > b { b = Self._bucketCount(expected: b, maximum: b) }
        return b == buckets ? nil : b
    }

    /// `buckets` empty buckets, faulted in: what ``grow(into:)`` takes. Allocating them is
    /// the costly part of growing a large table (the kernel zeroes every page), so a caller
    /// that holds a lock around the table makes them before taking it.
    /// - Complexity: O(buckets)
    @inlinable
    static func vacant(buckets: Int) -> [Entry] { _largeArray(repeating: Entry(), count: buckets) }

    /// Rehashes into `fresh`: empty buckets from ``vacant(buckets:)``, a power of two above
    /// ``buckets``.
    /// - Complexity: O(buckets)
    @inlinable
    mutating func grow(into fresh: consuming [Entry]) {
        precondition(fresh.count > buckets && fresh.count & (fresh.count - 1) == 0, "a table grows into more buckets, a power of two")
        // consumed, not copied: a second reference would make the first insert copy them all
        var bigger = _BlockTable(_vacant: consume fresh)
        for e in entries where e.slot != -1 {
            let b = bigger.insert(e.key, slot: e.slot, aux: e.aux)
            bigger.entries[b].pins = e.pins
        }
        self = bigger
    }

    /// A table over `entries`, all empty, a power of two of them.
    @inlinable
    init(_vacant entries: consuming [Entry]) {
        buckets = entries.count
        self.entries = consume entries
    }

    /// Approximate bytes held.
    @inlinable var byteCount: Int { entries.capacity * MemoryLayout<Entry>.stride }
}

extension _BlockTable.Entry: _ProbedEntry {
    @inlinable var isOccupied: Bool { slot != -1 }
    @inlinable static var vacant: Self { Self() }
}
