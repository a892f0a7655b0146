import CKVCore

/// A pool's key table, each slot's table bucket, its free slots and (for prefix-aware
/// algorithms) its parent/child links, behind raw pointers in one object.
///
/// `BlockPool` is a value type: it makes this storage unique once at the start of each
/// mutating call (copying it when shared) and then writes through the pointers with no
/// further checks (Swift arrays would check uniqueness on every write, several times per
/// eviction). Only constants are stored here and the counts live in the pool, because a `var`
/// in a class is checked for exclusive access at run time on every use.
@usableFromInline
internal final class _PoolStorage: @unchecked Sendable {
    /// Slots (the pool's capacity).
    @usableFromInline let capacity: Int
    /// Table size (a power of two).
    @usableFromInline let buckets: Int
    @usableFromInline let entries: UnsafeMutablePointer<_BlockTable.Entry>
    /// Per slot: the bucket of its block's entry (-1 when free).
    @usableFromInline let slotBuckets: UnsafeMutablePointer<Int32>
    /// Free slots, a stack: `free[0 ..< freeCount]` (the count is the pool's).
    @usableFromInline let free: UnsafeMutablePointer<Int32>
    /// Per slot, for prefix-aware algorithms only (else empty): parent/child links.
    @usableFromInline let family: UnsafeMutablePointer<_Family>
    @usableFromInline let familyCount: Int

    /// A slot's place in the prefix tree: its parent slot and the parent's generation when
    /// linked (a parent evicted and reused has moved on), its own generation, its cached
    /// children.
    @frozen
    @usableFromInline
    internal struct _Family: Sendable {
        @usableFromInline var parent: Int32 = -1
        @usableFromInline var parentGeneration: UInt32 = 0
        @usableFromInline var generation: UInt32 = 0
        @usableFromInline var children: Int32 = 0
        @inlinable init() {}
    }

    /// Storage for `capacity` slots and a table sized for `expectedKeys` (at most half full)
    /// and `maximumKeys` (at most three quarters full); parent/child links when
    /// `tracksChildren`.
    @inlinable
    init(capacity: Int, expectedKeys: Int, maximumKeys: Int, tracksChildren: Bool) {
        self.capacity = capacity
        familyCount = tracksChildren ? capacity : 0
        family = _allocateLarge(repeating: _Family(), count: familyCount)
        buckets = _BlockTable._bucketCount(expected: expectedKeys, maximum: maximumKeys)
        entries = _allocateUninitialized(_BlockTable.Entry.self, capacity: buckets)
        // every bucket empty (slot -1; an empty bucket's other fields are never read) in one
        // fill instead of an entry-by-entry loop: building a 5,000-block pool is mostly this
        kvc_fill_ones(UnsafeMutableRawPointer(entries), buckets * MemoryLayout<_BlockTable.Entry>.stride)
        slotBuckets = _allocateLarge(repeating: -1, count: capacity)
        free = _allocateUninitialized(Int32.self, capacity: capacity)
        for i in 0..<capacity { free[i] = Int32(capacity - 1 - i) }
    }

    /// A copy of `other`.
    @inlinable
    init(copying other: _PoolStorage) {
        capacity = other.capacity
        buckets = other.buckets
        familyCount = other.familyCount
        family = _allocateCopy(of: other.family, count: familyCount, capacity: familyCount)
        entries = _allocateCopy(of: other.entries, count: buckets, capacity: buckets)
        slotBuckets = _allocateCopy(of: other.slotBuckets, count: capacity, capacity: capacity)
        free = _allocateCopy(of: other.free, count: capacity, capacity: capacity)
    }

    deinit {
        _deallocateLarge(entries, capacity: buckets)
        _deallocateLarge(slotBuckets, capacity: capacity)
        _deallocateLarge(free, capacity: capacity)
        _deallocateLarge(family, capacity: familyCount)
    }

    /// The bucket holding `key` (a block or a ghost), or -1.
    /// - Complexity: O(1) expected
    @inlinable @inline(__always)
    func find(_ key: UInt64) -> Int { _BlockTable._find(entries, buckets, key, liveOnly: false) }

    /// The bucket holding `key` as a block, or -1.
    /// - Complexity: O(1) expected
    @inlinable @inline(__always)
    func findLive(_ key: UInt64) -> Int { _BlockTable._find(entries, buckets, key, liveOnly: true) }

    /// How many leading blocks of `chain` are held (a ghost is not a block).
    /// - Complexity: O(hits + 1)
    @inlinable @inline(__always)
    func prefixHits(of chain: some Sequence<BlockHash>) -> Int {
        var n = 0
        for h in chain {
            guard findLive(h.rawValue) >= 0 else { break }
            n &+= 1
        }
        return n
    }

    /// How many blocks of `chain` are held, leading or not.
    /// - Complexity: O(`chain.count`)
    @inlinable @inline(__always)
    func hits(in chain: some Sequence<BlockHash>) -> Int {
        var n = 0
        for h in chain where findLive(h.rawValue) >= 0 { n &+= 1 }
        return n
    }

    /// Inserts `key` (absent) for `slot`; returns its bucket.
    /// - Complexity: O(1) expected
    @inlinable @inline(__always) @discardableResult
    func insert(_ key: UInt64, slot: Int32, aux: UInt16) -> Int {
        return _BlockTable._insert(entries, buckets, key, slot: slot, aux: aux)
    }

    /// Deletes the entry in `bucket`, reporting each entry the deletion shifts.
    /// - Complexity: O(1) expected
    @inlinable @inline(__always)
    func remove(at bucket: Int, moved: (_ slot: Int32, _ bucket: Int) -> Void) {
        _BlockTable._remove(entries, buckets, at: bucket, moved: moved)
    }

    /// Starts loading bucket `index`.
    @inlinable @inline(__always)
    func prefetch(bucket index: Int) { kvc_prefetch(entries + index) }
}
