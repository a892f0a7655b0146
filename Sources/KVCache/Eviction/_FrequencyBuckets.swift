/// Frequency buckets for O(1) LFU-style policies (Shah, Mitra and Matani, "An O(1) algorithm
/// for implementing the LFU cache eviction scheme", 2010).
///
/// Each live frequency has a bucket; buckets form a list ordered by frequency (head = lowest).
/// A bucket holds `classes` sub-lists of slots (LFU uses one; `LengthAware` one per position
/// class) and a bit mask of the non-empty ones. Within a sub-list the head is the most recent
/// arrival, so the tail is the least recently touched or inserted block of that frequency.
/// Each slot's links, bucket and class share one 12-byte record; the frequency lives in the
/// bucket, and while a slot is out of the lists (pinned) its unused `next` link keeps it.
/// (A 16-byte record with the frequency inline makes a 1M-slot LFU's working set 4 MB larger,
/// which costs throughput once the pool outgrows the last-level cache.)
@usableFromInline
internal struct _FrequencyBuckets: Sendable {
    @frozen
    @usableFromInline
    struct Node: _LinkedNode, Sendable {
        @usableFromInline var prev: Int32 = -1
        @usableFromInline var next: Int32 = -1
        /// bucket id in the low 24 bits (all ones: none), class in the high 8.
        @usableFromInline var bucketAndClass: UInt32 = 0x00FF_FFFF
        @inlinable init() {}
        @inlinable var bucket: Int32 { Int32(bitPattern: bucketAndClass & 0x00FF_FFFF) }
        @inlinable var positionClass: Int { Int(bucketAndClass >> 24) }
    }

    @usableFromInline let classes: Int
    @usableFromInline var nodes: [Node]
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
        precondition(capacity < 0x00FF_FFFF, "at most 16M slots")
        self.classes = classes
        nodes = _largeArray(repeating: Node(), count: capacity)
    }

    /// The access count of `slot`: its bucket's, or the one kept while the slot is unlinked.
    @inlinable
    func frequency(_ slot: Int32) -> UInt32 {
        let node = nodes[Int(slot)]
        let b = node.bucket
        return b == 0x00FF_FFFF ? UInt32(bitPattern: node.next) : bucketFrequency[Int(b)]
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

    /// Links `slot` (whose class is set) at the head of its class list in bucket `b`.
    @inlinable
    mutating func _link(_ slot: Int32, into b: Int32) {
        let c = nodes[Int(slot)].positionClass
        nodes[Int(slot)].bucketAndClass = UInt32(c) << 24 | UInt32(bitPattern: b)
        lists[Int(b) * classes + c].pushFront(slot, &nodes)
        bucketMask[Int(b)] |= 1 << UInt64(c)
    }

    /// Unlinks `slot` from its bucket (keeps its frequency); returns the bucket.
    @inlinable
    mutating func _unlink(_ slot: Int32) -> Int32 {
        let classes = self.classes
        let (b, c, empty) = nodes.withUnsafeMutableBufferPointer { n in
            lists.withUnsafeMutableBufferPointer { l -> (Int32, Int, Bool) in
                let node = n[Int(slot)]
                let b = node.bucket, c = node.positionClass
                let i = Int(b) * classes + c
                l[i].remove(slot, n.baseAddress!)
                n[Int(slot)].bucketAndClass = UInt32(c) << 24 | 0x00FF_FFFF
                return (b, c, l[i].isEmpty)
            }
        }
        nodes[Int(slot)].next = Int32(bitPattern: bucketFrequency[Int(b)])
        if empty { bucketMask[Int(b)] &= ~(1 << UInt64(c)) }
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
        nodes[Int(slot)].bucketAndClass = UInt32(c) << 24 | 0x00FF_FFFF
        nodes[Int(slot)].next = -1
        if f == 1 {
            // the common case: the lowest bucket, at the head of the order
            let head = order.head
            _link(slot, into: head >= 0 && bucketFrequency[Int(head)] == 1 ? head : _bucket(frequency: 1, after: -1))
            return
        }
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
        let classes = self.classes
        // A slot alone in its bucket, with no bucket of frequency f + 1 after it, takes the
        // bucket along: only the bucket's frequency changes (the common case for hot blocks).
        let node = nodes[Int(slot)]
        let current = node.bucket
        let list = lists[Int(current) &* classes &+ node.positionClass]
        if list.head == slot && list.tail == slot && bucketMask[Int(current)] == 1 << UInt64(node.positionClass) {
            let f = bucketFrequency[Int(current)] &+ 1
            let next = bucketLinks[Int(current)].next
            if next < 0 || bucketFrequency[Int(next)] != f {
                bucketFrequency[Int(current)] = f
                return
            }
        }
        let (old, c, f) = nodes.withUnsafeMutableBufferPointer { n in
            lists.withUnsafeMutableBufferPointer { lists in
                let node = n[Int(slot)]
                let old = node.bucket, c = node.positionClass
                let i = Int(old) * classes + c
                lists[i].remove(slot, n.baseAddress!)
                return (old, c, bucketFrequency[Int(old)] &+ 1)
            }
        }
        if lists[Int(old) * classes + c].isEmpty { bucketMask[Int(old)] &= ~(1 << UInt64(c)) }
        let b = _bucket(frequency: f, after: old)
        nodes.withUnsafeMutableBufferPointer { n in
            lists.withUnsafeMutableBufferPointer { lists in
                n[Int(slot)].bucketAndClass = UInt32(c) << 24 | UInt32(bitPattern: b)
                lists[Int(b) * classes + c].pushFront(slot, n.baseAddress!)
            }
        }
        bucketMask[Int(b)] |= 1 << UInt64(c)
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
        let c = 63 - bucketMask[Int(b)].leadingZeroBitCount
        let slot = lists[Int(b) * classes + c].tail
        guard slot >= 0 else { return nil }
        _ = _unlink(slot)
        if bucketMask[Int(b)] == 0 {
            order.remove(b, &bucketLinks)
            freeBuckets.append(b)
        }
        return slot
    }

    /// The slot ``popVictim()`` would return, or -1.
    @inlinable
    var victimHint: Int32 {
        let b = order.head
        guard b >= 0 else { return -1 }
        return lists[Int(b) * classes + (63 - bucketMask[Int(b)].leadingZeroBitCount)].tail
    }
}
