import CKVCore

/// An open-addressing hash table from 64-bit block hashes to slots, built for keys that are
/// already hashes.
///
/// Linear probing over a power-of-two array of 16-byte entries (key, slot, pin count, a 16-bit
/// side value), at most half full for its expected count (measured: a 70 % load costs a 1M-block LRU pool a third more
/// time per operation). The home bucket is `⌊mix(key) · buckets / 2⁶⁴⌋` where `mix` is one
/// multiply by 2⁶⁴/φ (Fibonacci hashing: no SipHash, still well spread when keys are small trace
/// ids). Deletion shifts later entries back: no tombstones, probes stay short forever.
///
/// A slot of -1 marks an empty bucket; other negative slots are the owner's to use (a pool
/// stores its algorithm's ghosts as `-2 - id`), so ``find(_:)`` reports any entry and
/// ``findLive(_:)`` only entries with a slot ≥ 0.
@usableFromInline
internal struct _BlockTable: Sendable {
    @frozen
    @usableFromInline
    internal struct Entry: Sendable {
        @usableFromInline var key: UInt64
        @usableFromInline var slot: Int32      // -1: empty
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
        self.init(expectedCount: maximumCount, maximumCount: maximumCount)
    }

    /// A table at most half full with `expectedCount` keys and at most three quarters full
    /// with `maximumCount`.
    @inlinable
    init(expectedCount: Int, maximumCount: Int) {
        var n = 16
        // small tables (≤ 512 KB at half load) at most a quarter full: shorter probe runs, still cache-resident
        let spread = expectedCount <= 16_384 ? 4 : 2
        while n < expectedCount * spread || n * 3 < maximumCount * 4 { n <<= 1 }
        buckets = n
        entries = _largeArray(repeating: Entry(), count: n)
    }

    @inlinable @inline(__always)
    func _home(_ key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15).multipliedFullWidth(by: UInt64(buckets)).high)
    }

    /// Starts loading bucket `index`.
    @inlinable @inline(__always)
    func prefetch(bucket index: Int) {
        entries.withUnsafeBufferPointer { kvc_prefetch($0.baseAddress! + index) }
    }

    /// The bucket holding `key`, or -1.
    /// - Complexity: O(1) expected
    @inlinable @inline(__always)
    func find(_ key: UInt64) -> Int { _probe(key, liveOnly: false) }

    /// The bucket holding `key` with a slot ≥ 0, or -1.
    /// - Complexity: O(1) expected
    @inlinable @inline(__always)
    func findLive(_ key: UInt64) -> Int { _probe(key, liveOnly: true) }

    @inlinable @inline(__always)
    func _probe(_ key: UInt64, liveOnly: Bool) -> Int {
        let n = buckets
        return entries.withUnsafeBufferPointer { e in
            var i = _home(key)
            while true {
                if e[i].slot == -1 { return -1 }
                if e[i].key == key { return !liveOnly || e[i].slot >= 0 ? i : -1 }
                i += 1
                if i == n { i = 0 }
            }
        }
    }

    /// Inserts `key` (absent) with `slot`; returns its bucket.
    /// - Complexity: O(1) expected
    @inlinable @discardableResult
    mutating func insert(_ key: UInt64, slot: Int32, aux: UInt16 = 0) -> Int {
        count += 1
        let home = _home(key)
        let n = buckets
        return entries.withUnsafeMutableBufferPointer { e in
            var i = home
            while e[i].slot != -1 {
                i += 1
                if i == n { i = 0 }
            }
            e[i].key = key
            e[i].slot = slot
            e[i].pins = 0
            e[i].aux = aux
            return i
        }
    }

    /// Removes the entry in bucket `index`, shifting later entries of the probe run back.
    /// - Complexity: O(1) expected
    @inlinable
    mutating func remove(at index: Int) { remove(at: index) { _, _ in } }

    /// Removes the entry in bucket `index`, shifting later entries of the probe run back, and
    /// reports each entry that moves (its slot and new bucket) to `moved`, for owners that
    /// remember where their entries are.
    /// - Complexity: O(1) expected
    @inlinable @inline(__always)
    mutating func remove(at index: Int, moved: (_ slot: Int32, _ bucket: Int) -> Void) {
        count -= 1
        let n = buckets
        let mult = UInt64(n)
        entries.withUnsafeMutableBufferPointer { e in
            var hole = index
            var i = index + 1 == n ? 0 : index + 1
            while e[i].slot != -1 {
                let home = Int(truncatingIfNeeded: (e[i].key &* 0x9E37_79B9_7F4A_7C15).multipliedFullWidth(by: mult).high)
                // the entry at i may fill the hole when its home is not in (hole, i]
                var toI = i - home
                if toI < 0 { toI += n }
                var toHole = hole - home
                if toHole < 0 { toHole += n }
                if toHole < toI {
                    e[hole] = e[i]
                    moved(e[hole].slot, hole)
                    hole = i
                }
                i += 1
                if i == n { i = 0 }
            }
            e[hole] = Entry()
        }
    }

    /// Whether one more key would take the table past half full.
    @inlinable var needsGrowth: Bool { (count + 1) * 2 > buckets }

    /// Rehashes into a table twice as large, keeping every entry's slot, pins and side value.
    /// - Complexity: O(buckets)
    @inlinable
    mutating func grow() {
        var bigger = _BlockTable(maximumCount: buckets)
        for e in entries where e.slot != -1 {
            let b = bigger.insert(e.key, slot: e.slot, aux: e.aux)
            bigger.entries[b].pins = e.pins
        }
        self = bigger
    }

    /// Approximate bytes held.
    @inlinable var byteCount: Int { entries.capacity * MemoryLayout<Entry>.stride }
}
