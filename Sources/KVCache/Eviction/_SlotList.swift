/// The record of one slot in an intrusive doubly-linked list: its links (`-1`: none) and what
/// its policy keeps beside them, so one cache line serves both. ``FIFO`` keeps nothing,
/// ``SIEVE`` and ``ARC`` a flag, ``S3FIFO`` a state byte, ``GhostKeys`` a table bucket,
/// ``LeafLRU`` and ``_FrequencyBuckets`` a small struct of their own.
@frozen
@usableFromInline
internal struct _Link<Payload: Sendable>: Sendable {
    @usableFromInline var prev: Int32, next: Int32
    @usableFromInline var payload: Payload

    /// An unlinked record.
    @inlinable init(_ payload: Payload) {
        prev = -1
        next = -1
        self.payload = payload
    }
}

/// An intrusive doubly-linked list of slots whose links live in a shared array of records.
///
/// `head` is the newest end (MRU / most recently inserted), `tail` the oldest. Several lists
/// may share one records array as long as a slot is in at most one of them. Every operation
/// takes the records as a pointer (``_SlotRecords/mutablePointer``).
@frozen
@usableFromInline
internal struct _SlotList: Sendable {
    @usableFromInline var head: Int32 = -1
    @usableFromInline var tail: Int32 = -1
    @usableFromInline var count: Int = 0

    @inlinable init() {}

    @inlinable var isEmpty: Bool { count == 0 }

    // MARK: Pointer forms

    /// Inserts `slot` at the head (newest end).
    /// - Complexity: O(1)
    @inlinable @inline(__always)
    mutating func pushFront<Payload>(_ slot: Int32, _ l: UnsafeMutablePointer<_Link<Payload>>) {
        l[Int(slot)].prev = -1
        l[Int(slot)].next = head
        if head >= 0 { l[Int(head)].prev = slot } else { tail = slot }
        head = slot
        count &+= 1
    }

    /// Inserts `slot` right after (older side of) `anchor`.
    /// - Complexity: O(1)
    @inlinable @inline(__always)
    mutating func insert<Payload>(_ slot: Int32, after anchor: Int32, _ l: UnsafeMutablePointer<_Link<Payload>>) {
        let next = l[Int(anchor)].next
        l[Int(slot)].prev = anchor
        l[Int(slot)].next = next
        l[Int(anchor)].next = slot
        if next >= 0 { l[Int(next)].prev = slot } else { tail = slot }
        count &+= 1
    }

    /// Unlinks `slot`, which must be in this list.
    /// - Complexity: O(1)
    @inlinable @inline(__always)
    mutating func remove<Payload>(_ slot: Int32, _ l: UnsafeMutablePointer<_Link<Payload>>) {
        let p = l[Int(slot)].prev, n = l[Int(slot)].next
        if p >= 0 { l[Int(p)].next = n } else { head = n }
        if n >= 0 { l[Int(n)].prev = p } else { tail = p }
        l[Int(slot)].prev = -1
        l[Int(slot)].next = -1
        count &-= 1
    }

    /// Moves `slot` (in this list) to the head.
    /// - Complexity: O(1)
    @inlinable @inline(__always)
    mutating func moveToFront<Payload>(_ slot: Int32, _ l: UnsafeMutablePointer<_Link<Payload>>) {
        guard head != slot else { return }
        remove(slot, l)
        pushFront(slot, l)
    }

    /// Removes and returns the tail (oldest), or `nil` when empty.
    /// - Complexity: O(1)
    @inlinable @inline(__always)
    mutating func popBack<Payload>(_ l: UnsafeMutablePointer<_Link<Payload>>) -> Int32? {
        let t = tail
        guard t >= 0 else { return nil }
        remove(t, l)
        return t
    }
}
