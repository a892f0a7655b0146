/// A bucket of an open-addressing table whose 64-bit keys are already hashes.
@usableFromInline
internal protocol _ProbedEntry {
    /// The key of an occupied bucket.
    var key: UInt64 { get }
    /// Whether the bucket holds an entry.
    var isOccupied: Bool { get }
    /// An empty bucket.
    static var vacant: Self { get }
}

/// Linear probing over `n` buckets, shared by every table of the library that maps block
/// hashes (a pool's, the prefix index's, the engine-hash map's).
///
/// The home bucket is `⌊mix(key) · n / 2⁶⁴⌋` where `mix` is one multiply by 2⁶⁴/φ (Fibonacci
/// hashing: no SipHash, still well spread when keys are small integers). Removal shifts later
/// entries of the probe run back, so there are no tombstones and probes stay short however
/// long a table lives.
@usableFromInline
internal enum _LinearProbing {
    /// How many keys ahead a loop over a run of keys asks for their buckets: far enough that
    /// a bucket has arrived by the time the loop reaches it, near enough that it is still there.
    @inlinable static var prefetchDistance: Int { 8 }

    /// Calls `prefetch` with the positions a loop over `count` keys should ask for while it is
    /// at position `i`: the one ``prefetchDistance`` ahead, and at the start every position up
    /// to there, so each key's bucket is on its way before the loop needs it.
    @inlinable @inline(__always)
    static func prefetchAhead(of i: Int, count: Int, _ prefetch: (Int) -> Void) {
        if i == 0 { for k in 0..<min(prefetchDistance, count) { prefetch(k) } }
        if i + prefetchDistance < count { prefetch(i + prefetchDistance) }
    }

    /// The bucket a key's probe run starts at.
    @inlinable @inline(__always)
    static func home(_ key: UInt64, _ n: Int) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15).multipliedFullWidth(by: UInt64(n)).high)
    }

    /// The bucket holding `key` (`found`), or else the empty bucket that ends its probe run,
    /// where it would be inserted. The table must have an empty bucket.
    /// - Complexity: O(1) expected
    @inlinable @inline(__always)
    static func probe<E: _ProbedEntry>(_ e: UnsafePointer<E>, _ n: Int, _ key: UInt64) -> (bucket: Int, found: Bool) {
        var i = home(key, n)
        while e[i].isOccupied {
            if e[i].key == key { return (i, true) }
            i &+= 1
            if i == n { i = 0 }
        }
        return (i, false)
    }

    /// Empties bucket `index`, shifting later entries of its probe run back and reporting
    /// each entry that moves (as it now is, and its new bucket) to `moved`.
    /// - Complexity: O(1) expected
    @inlinable @inline(__always)
    static func remove<E: _ProbedEntry>(_ e: UnsafeMutablePointer<E>, _ n: Int, at index: Int, moved: (E, Int) -> Void) {
        var hole = index
        var i = index &+ 1 == n ? 0 : index &+ 1
        while e[i].isOccupied {
            let home = home(e[i].key, n)
            // the entry at i may fill the hole when its home is not in (hole, i]
            var toI = i &- home
            if toI < 0 { toI &+= n }
            var toHole = hole &- home
            if toHole < 0 { toHole &+= n }
            if toHole < toI {
                e[hole] = e[i]
                moved(e[hole], hole)
                hole = i
            }
            i &+= 1
            if i == n { i = 0 }
        }
        e[hole] = .vacant
    }
}
