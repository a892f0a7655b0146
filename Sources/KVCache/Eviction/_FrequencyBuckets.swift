/// Frequency buckets for O(1) LFU-style policies (Shah, Mitra and Matani, "An O(1) algorithm
/// for implementing the LFU cache eviction scheme", 2010).
///
/// Each live frequency has a bucket; buckets form a list ordered by frequency (head = lowest).
/// A bucket holds `classes` sub-lists of slots (LFU uses one; `LengthAware` one per position
/// class) and a bit mask of the non-empty ones. Within a sub-list the head is the most recent
/// arrival, so the tail is the least recently touched or inserted block of that frequency.
@usableFromInline
internal struct _FrequencyBuckets: Sendable {
    @usableFromInline let classes: Int
    // per slot
    @usableFromInline var links: [_Link]
    @usableFromInline var frequency: [UInt32]
    @usableFromInline var bucketOf: [Int32]
    @usableFromInline var classOf: [UInt8]
    // per bucket
    @usableFromInline var bucketFrequency: [UInt32] = []
    @usableFromInline var bucketLinks: [_Link] = []
    @usableFromInline var bucketMask: [UInt64] = []
    @usableFromInline var lists: [_SlotList] = []   // bucket * classes + class
    @usableFromInline var freeBuckets: [Int32] = []
    @usableFromInline var order = _SlotList()       // buckets by frequency, head = lowest

    @inlinable
    init(capacity: Int, classes: Int) {
        precondition(classes >= 1 && classes <= 64)
        self.classes = classes
        links = Array(repeating: _Link(), count: capacity)
        frequency = Array(repeating: 0, count: capacity)
        bucketOf = Array(repeating: -1, count: capacity)
        classOf = Array(repeating: 0, count: capacity)
    }

    @inlinable
    mutating func _newBucket(frequency f: UInt32) -> Int32 {
        if let b = freeBuckets.popLast() {
            bucketFrequency[Int(b)] = f
            return b
        }
        let b = Int32(bucketFrequency.count)
        bucketFrequency.append(f)
        bucketLinks.append(_Link())
        bucketMask.append(0)
        lists.append(contentsOf: repeatElement(_SlotList(), count: classes))
        return b
    }

    @inlinable
    mutating func _freeBucketIfEmpty(_ b: Int32) {
        guard bucketMask[Int(b)] == 0 else { return }
        order.remove(b, &bucketLinks)
        freeBuckets.append(b)
    }

    @inlinable
    mutating func _link(_ slot: Int32, into b: Int32) {
        let c = Int(classOf[Int(slot)])
        lists[Int(b) * classes + c].pushFront(slot, &links)
        bucketMask[Int(b)] |= 1 << UInt64(c)
        bucketOf[Int(slot)] = b
    }

    /// Unlinks `slot` from its bucket (keeps its frequency); returns the bucket.
    @inlinable
    mutating func _unlink(_ slot: Int32) -> Int32 {
        let b = bucketOf[Int(slot)]
        let c = Int(classOf[Int(slot)])
        let i = Int(b) * classes + c
        lists[i].remove(slot, &links)
        if lists[i].isEmpty { bucketMask[Int(b)] &= ~(1 << UInt64(c)) }
        bucketOf[Int(slot)] = -1
        return b
    }

    /// The bucket of frequency `f` placed right after bucket `after` (`-1`: at the head),
    /// created when missing.
    @inlinable
    mutating func _bucket(frequency f: UInt32, after: Int32) -> Int32 {
        let next = after < 0 ? order.head : bucketLinks[Int(after)].next
        if next >= 0 && bucketFrequency[Int(next)] == f { return next }
        let b = _newBucket(frequency: f)
        if after < 0 { order.pushFront(b, &bucketLinks) } else { order.insert(b, after: after, &bucketLinks) }
        return b
    }

    /// Adds `slot` with frequency `f` and class `c`. O(1) for `f == 1`; otherwise walks the
    /// buckets to find the place for `f` (used when a pinned block returns).
    @inlinable
    mutating func add(_ slot: Int32, frequency f: UInt32, class c: Int) {
        frequency[Int(slot)] = f
        classOf[Int(slot)] = UInt8(c)
        var after: Int32 = -1
        var cursor = order.head
        while cursor >= 0 && bucketFrequency[Int(cursor)] < f {
            after = cursor
            cursor = bucketLinks[Int(cursor)].next
        }
        _link(slot, into: _bucket(frequency: f, after: after))
    }

    /// Increments `slot`'s frequency, moving it to the next bucket.
    /// - Complexity: O(1)
    @inlinable
    mutating func increment(_ slot: Int32) {
        let f = frequency[Int(slot)] &+ 1
        frequency[Int(slot)] = f
        let old = _unlink(slot)
        let b = _bucket(frequency: f, after: old)
        _link(slot, into: b)
        _freeBucketIfEmpty(old)
    }

    /// Removes `slot` (keeping its recorded frequency).
    /// - Complexity: O(1)
    @inlinable
    mutating func remove(_ slot: Int32) {
        let b = _unlink(slot)
        _freeBucketIfEmpty(b)
    }

    /// Removes and returns the least recently arrived slot of the highest non-empty class of
    /// the lowest frequency.
    /// - Complexity: O(1)
    @inlinable
    mutating func popVictim() -> Int32? {
        let b = order.head
        guard b >= 0 else { return nil }
        let mask = bucketMask[Int(b)]
        let c = 63 - mask.leadingZeroBitCount
        guard let slot = lists[Int(b) * classes + c].popBack(&links) else { return nil }
        bucketOf[Int(slot)] = -1
        if lists[Int(b) * classes + c].isEmpty { bucketMask[Int(b)] &= ~(1 << UInt64(c)) }
        _freeBucketIfEmpty(b)
        return slot
    }
}
