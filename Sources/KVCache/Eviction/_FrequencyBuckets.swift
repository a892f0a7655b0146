/// Frequency buckets for O(1) LFU-style policies (Shah, Mitra and Matani, "An O(1) algorithm
/// for implementing the LFU cache eviction scheme", 2010).
///
/// Each live frequency has a bucket; buckets form a list ordered by frequency (head = lowest).
/// A bucket holds `classes` sub-lists of slots (LFU uses one; `LengthAware` one per position
/// class) and a bit mask of the non-empty ones. Within a sub-list the head is the most recent
/// arrival, so the tail is the least recently touched or inserted block of that frequency.
/// Each slot's links, bucket and class share one 12-byte record; the frequency lives in the
/// bucket (a 16-byte record with the frequency inline would grow the working set of a large
/// pool by a third), and while a slot is out of the lists (pinned) its unused `next` link
/// keeps it.
///
/// Storage is one object of raw pointers, made unique once per mutating call (copy-on-write),
/// like ``_SlotRecords`` but over four arrays copied in part: an access touches slot records,
/// bucket records, sub-lists and the free-bucket stack, and as Swift arrays each of those
/// writes would check uniqueness.
@usableFromInline
internal struct _FrequencyBuckets: Sendable {
    /// A slot's place: its bucket id in the low 24 bits (all ones: none), its class in the
    /// high 8.
    @frozen
    @usableFromInline
    struct Place: Sendable {
        @usableFromInline var _bits: UInt32
        @inlinable init(bucket: Int32, class c: Int) { _bits = UInt32(c) << 24 | UInt32(bitPattern: bucket) & 0x00FF_FFFF }
        @inlinable var bucket: Int32 { Int32(bitPattern: _bits & 0x00FF_FFFF) }
        @inlinable var positionClass: Int { Int(_bits >> 24) }
    }

    /// A bucket's frequency and its non-empty classes (a bit each).
    @frozen
    @usableFromInline
    struct Count: Sendable {
        @usableFromInline var frequency: UInt32
        @usableFromInline var mask: UInt64 = 0
        @inlinable init(frequency: UInt32) { self.frequency = frequency }
    }

    /// A slot's record: its links in its class list, and its place.
    @usableFromInline typealias Node = _Link<Place>
    /// A bucket's record: its links in the frequency order, and its count.
    @usableFromInline typealias Bucket = _Link<Count>

    /// Slot records, bucket records, sub-lists and free bucket ids. Only constants are stored
    /// here (a `var` in a class is checked for exclusive access on every use).
    @usableFromInline
    final class _Storage: @unchecked Sendable {
        @usableFromInline let capacity: Int
        @usableFromInline let classes: Int
        /// At most one bucket per slot plus the one an increment creates before it frees one.
        @usableFromInline let maxBuckets: Int
        @usableFromInline let nodes: UnsafeMutablePointer<Node>
        @usableFromInline let buckets: UnsafeMutablePointer<Bucket>
        @usableFromInline let lists: UnsafeMutablePointer<_SlotList>  // bucket * classes + class
        @usableFromInline let freeBuckets: UnsafeMutablePointer<Int32>

        @inlinable
        init(capacity: Int, classes: Int) {
            self.capacity = capacity
            self.classes = classes
            maxBuckets = capacity + 2
            nodes = _allocateLarge(repeating: Node(Place(bucket: -1, class: 0)), count: capacity)
            // written before read: a bucket id is initialised when it is first handed out
            buckets = _allocateUninitialized(Bucket.self, capacity: maxBuckets)
            lists = _allocateUninitialized(_SlotList.self, capacity: maxBuckets * classes)
            freeBuckets = _allocateUninitialized(Int32.self, capacity: maxBuckets)
        }

        /// A copy of `other`'s first `bucketCount` buckets and `freeCount` free ids.
        @inlinable
        init(copying other: _Storage, bucketCount: Int, freeCount: Int) {
            capacity = other.capacity
            classes = other.classes
            maxBuckets = other.maxBuckets
            nodes = _allocateCopy(of: other.nodes, count: capacity, capacity: capacity)
            buckets = _allocateCopy(of: other.buckets, count: bucketCount, capacity: maxBuckets)
            lists = _allocateCopy(of: other.lists, count: bucketCount * classes, capacity: maxBuckets * classes)
            freeBuckets = _allocateCopy(of: other.freeBuckets, count: freeCount, capacity: maxBuckets)
        }

        deinit {
            _deallocateLarge(nodes, capacity: capacity)
            _deallocateLarge(buckets, capacity: maxBuckets)
            _deallocateLarge(lists, capacity: maxBuckets * classes)
            _deallocateLarge(freeBuckets, capacity: maxBuckets)
        }
    }

    @usableFromInline let classes: Int
    @usableFromInline var _storage: _Storage
    /// Bucket ids handed out so far (ids `0 ..< bucketCount` are initialised).
    @usableFromInline var bucketCount = 0
    @usableFromInline var freeCount = 0
    @usableFromInline var order = _SlotList()  // buckets by frequency, head = lowest
    /// Inside a pool's operation (see `_SlotRecords`): the storage is known to be unique.
    @usableFromInline var _exclusive = false

    @inlinable
    init(capacity: Int, classes: Int) {
        precondition(classes >= 1 && classes <= 64)
        precondition(capacity < 0x00FF_FFFF, "at most 16M slots")
        self.classes = classes
        _storage = _Storage(capacity: capacity, classes: classes)
    }

    /// The storage's pointers (constants of the storage object). Methods work through these
    /// rather than through a local reference to the object, which, held across calls that
    /// mutate `self`, would be retained and released on every access.
    @frozen
    @usableFromInline
    struct _Pointers {
        @usableFromInline let nodes: UnsafeMutablePointer<Node>
        @usableFromInline let buckets: UnsafeMutablePointer<Bucket>
        @usableFromInline let lists: UnsafeMutablePointer<_SlotList>
        @usableFromInline let freeBuckets: UnsafeMutablePointer<Int32>
        @inlinable init(_ s: _Storage) { (nodes, buckets, lists, freeBuckets) = (s.nodes, s.buckets, s.lists, s.freeBuckets) }
    }

    @inlinable
    var _pointers: _Pointers { _Pointers(_storage) }

    @inlinable @inline(__always)
    mutating func _makeUnique() {
        if !_exclusive && !isKnownUniquelyReferenced(&_storage) {
            _storage = _Storage(copying: _storage, bucketCount: bucketCount, freeCount: freeCount)
        }
    }

    /// Makes the storage unique and skips the check until `endExclusive()`.
    @inlinable
    mutating func beginExclusive() {
        _exclusive = false
        _makeUnique()
        _exclusive = true
    }

    /// Every mutation checks again.
    @inlinable
    mutating func endExclusive() { _exclusive = false }

    /// The access count of `slot`: its bucket's, or the one kept while the slot is unlinked.
    @inlinable
    func frequency(_ slot: Int32) -> UInt32 {
        let node = _storage.nodes[Int(slot)]
        let b = node.payload.bucket
        return b == 0x00FF_FFFF ? UInt32(bitPattern: node.next) : _storage.buckets[Int(b)].payload.frequency
    }

    @inlinable
    mutating func _newBucket(frequency f: UInt32) -> Int32 {
        let s = _pointers
        let b: Int32
        if freeCount > 0 {
            freeCount &-= 1
            b = s.freeBuckets[freeCount]
        } else {
            b = Int32(bucketCount)
            bucketCount &+= 1
        }
        s.buckets[Int(b)] = Bucket(Count(frequency: f))
        for c in 0..<classes { s.lists[Int(b) &* classes &+ c] = _SlotList() }
        return b
    }

    @inlinable @inline(__always)
    mutating func _freeBucketIfEmpty(_ b: Int32) {
        let s = _pointers
        guard s.buckets[Int(b)].payload.mask == 0 else { return }
        order.remove(b, s.buckets)
        s.freeBuckets[freeCount] = b
        freeCount &+= 1
    }

    /// Links `slot` (whose class is set) at the head of its class list in bucket `b`.
    @inlinable @inline(__always)
    mutating func _link(_ slot: Int32, into b: Int32) {
        let s = _pointers
        let c = s.nodes[Int(slot)].payload.positionClass
        s.nodes[Int(slot)].payload = Place(bucket: b, class: c)
        s.lists[Int(b) &* classes &+ c].pushFront(slot, s.nodes)
        s.buckets[Int(b)].payload.mask |= 1 << UInt64(c)
    }

    /// Unlinks `slot` from its bucket (keeps its frequency); returns the bucket.
    @inlinable @inline(__always)
    mutating func _unlink(_ slot: Int32) -> Int32 {
        let s = _pointers
        let node = s.nodes[Int(slot)]
        let b = node.payload.bucket, c = node.payload.positionClass
        let i = Int(b) &* classes &+ c
        s.lists[i].remove(slot, s.nodes)
        s.nodes[Int(slot)].payload = Place(bucket: -1, class: c)
        s.nodes[Int(slot)].next = Int32(bitPattern: s.buckets[Int(b)].payload.frequency)
        if s.lists[i].isEmpty { s.buckets[Int(b)].payload.mask &= ~(1 << UInt64(c)) }
        return b
    }

    /// The bucket of frequency `f` placed right after bucket `after` (`-1`: at the head),
    /// created when missing.
    @inlinable
    mutating func _bucket(frequency f: UInt32, after: Int32) -> Int32 {
        let s = _pointers
        let next = after < 0 ? order.head : s.buckets[Int(after)].next
        if next >= 0 && s.buckets[Int(next)].payload.frequency == f { return next }
        let b = _newBucket(frequency: f)
        if after < 0 { order.pushFront(b, s.buckets) } else { order.insert(b, after: after, s.buckets) }
        return b
    }

    /// Adds `slot` with frequency `f` and class `c`. O(1) for `f == 1`; otherwise walks the
    /// buckets to find the place for `f` (used when a pinned block returns).
    @inlinable @inline(__always)
    mutating func add(_ slot: Int32, frequency f: UInt32, class c: Int) {
        _makeUnique()
        let s = _pointers
        s.nodes[Int(slot)].payload = Place(bucket: -1, class: c)
        s.nodes[Int(slot)].next = -1
        if f == 1 {
            // the common case: the lowest bucket, at the head of the order
            let head = order.head
            _link(slot, into: head >= 0 && s.buckets[Int(head)].payload.frequency == 1 ? head : _bucket(frequency: 1, after: -1))
            return
        }
        var after: Int32 = -1
        var cursor = order.head
        while cursor >= 0 && s.buckets[Int(cursor)].payload.frequency < f {
            after = cursor
            cursor = s.buckets[Int(cursor)].next
        }
        _link(slot, into: _bucket(frequency: f, after: after))
    }

    /// Increments `slot`'s frequency, moving it to the next bucket.
    /// - Complexity: O(1)
    @inlinable @inline(__always)
    mutating func increment(_ slot: Int32) {
        _makeUnique()
        let s = _pointers
        let node = s.nodes[Int(slot)]
        let old = node.payload.bucket, c = node.payload.positionClass
        let i = Int(old) &* classes &+ c
        let f = s.buckets[Int(old)].payload.frequency &+ 1
        // A slot alone in its bucket, with no bucket of frequency f + 1 after it, takes the
        // bucket along: only the bucket's frequency changes (the common case for hot blocks).
        if s.lists[i].head == slot && s.lists[i].tail == slot && s.buckets[Int(old)].payload.mask == 1 << UInt64(c) {
            let next = s.buckets[Int(old)].next
            if next < 0 || s.buckets[Int(next)].payload.frequency != f {
                s.buckets[Int(old)].payload.frequency = f
                return
            }
        }
        s.lists[i].remove(slot, s.nodes)
        if s.lists[i].isEmpty { s.buckets[Int(old)].payload.mask &= ~(1 << UInt64(c)) }
        let b = _bucket(frequency: f, after: old)
        s.nodes[Int(slot)].payload = Place(bucket: b, class: c)
        s.lists[Int(b) &* classes &+ c].pushFront(slot, s.nodes)
        s.buckets[Int(b)].payload.mask |= 1 << UInt64(c)
        _freeBucketIfEmpty(old)
    }

    /// Removes `slot` (keeping its recorded frequency).
    /// - Complexity: O(1)
    @inlinable @inline(__always)
    mutating func remove(_ slot: Int32) {
        _makeUnique()
        let b = _unlink(slot)
        _freeBucketIfEmpty(b)
    }

    /// Removes and returns the least recently arrived slot of the highest non-empty class of
    /// the lowest frequency.
    /// - Complexity: O(1)
    @inlinable @inline(__always)
    mutating func popVictim() -> Int32? {
        _makeUnique()
        let s = _pointers
        let b = order.head
        guard b >= 0, s.buckets[Int(b)].payload.mask != 0 else { return nil }
        let c = 63 - s.buckets[Int(b)].payload.mask.leadingZeroBitCount
        let slot = s.lists[Int(b) &* classes &+ c].tail
        guard slot >= 0 else { return nil }
        _ = _unlink(slot)
        _freeBucketIfEmpty(b)
        return slot
    }

    /// The slot ``popVictim()`` would return, or -1.
    @inlinable
    var victimHint: Int32 {
        let s = _pointers
        let b = order.head
        guard b >= 0 else { return -1 }
        let mask = s.buckets[Int(b)].payload.mask
        guard mask != 0 else { return -1 }
        return s.lists[Int(b) &* classes &+ (63 &- mask.leadingZeroBitCount)].tail
    }
}
