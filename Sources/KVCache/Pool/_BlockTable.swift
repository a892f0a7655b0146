/// An open-addressing hash table from 64-bit block hashes to slots, built for keys that are
/// already hashes.
///
/// Linear probing over a power-of-two array of 16-byte entries (key, slot, pin count), at most
/// half full; the bucket is the top bits of `key × 2⁶⁴/φ` (Fibonacci hashing: one multiply,
/// no SipHash, and still well spread when keys are small trace ids). Deletion shifts later
/// entries back, so there are no tombstones and probes stay short forever.
@usableFromInline
internal struct _BlockTable: Sendable {
    @frozen
    @usableFromInline
    internal struct Entry: Sendable {
        @usableFromInline var key: UInt64
        @usableFromInline var slot: Int32      // -1: empty
        @usableFromInline var pins: UInt32
        @inlinable init() { key = 0; slot = -1; pins = 0 }
    }

    @usableFromInline var entries: [Entry]
    @usableFromInline let shift: UInt64
    @usableFromInline let mask: Int
    @usableFromInline var count: Int = 0

    /// A table for at most `maximumCount` keys.
    @inlinable
    init(maximumCount: Int) {
        var buckets = 8
        while buckets < maximumCount * 2 { buckets <<= 1 }
        entries = Array(repeating: Entry(), count: buckets)
        mask = buckets - 1
        shift = UInt64(64 - buckets.trailingZeroBitCount)
    }

    @inlinable @inline(__always)
    func _home(_ key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) &>> shift)
    }

    /// The bucket holding `key`, or -1.
    /// - Complexity: O(1) expected
    @inlinable @inline(__always)
    func find(_ key: UInt64) -> Int {
        entries.withUnsafeBufferPointer { e in
            var i = _home(key)
            while true {
                let s = e[i].slot
                if s < 0 { return -1 }
                if e[i].key == key { return i }
                i = (i + 1) & mask
            }
        }
    }

    /// Inserts `key` (absent) with `slot`; returns its bucket.
    /// - Complexity: O(1) expected
    @inlinable @discardableResult
    mutating func insert(_ key: UInt64, slot: Int32) -> Int {
        count += 1
        let home = _home(key)
        let m = mask
        return entries.withUnsafeMutableBufferPointer { e in
            var i = home
            while e[i].slot >= 0 { i = (i + 1) & m }
            e[i].key = key
            e[i].slot = slot
            e[i].pins = 0
            return i
        }
    }

    /// Removes the entry in bucket `index`, shifting later entries of the probe run back.
    /// - Complexity: O(1) expected
    @inlinable
    mutating func remove(at index: Int) {
        count -= 1
        let m = mask
        let shift = self.shift
        entries.withUnsafeMutableBufferPointer { e in
            var hole = index
            var i = (index + 1) & m
            while e[i].slot >= 0 {
                let home = Int(truncatingIfNeeded: (e[i].key &* 0x9E37_79B9_7F4A_7C15) &>> shift)
                // can the entry at i move to the hole? yes if its home is not in (hole, i]
                let distanceToI = (i &- home) & m
                let distanceToHole = (hole &- home) & m
                if distanceToHole < distanceToI || distanceToHole == distanceToI {
                    e[hole] = e[i]
                    hole = i
                }
                i = (i + 1) & m
            }
            e[hole] = Entry()
        }
    }

    /// Removes every entry.
    @inlinable
    mutating func removeAll() {
        for i in entries.indices { entries[i] = Entry() }
        count = 0
    }
}
