/// A record with the links of an intrusive doubly-linked list; per-slot records of several
/// policies carry their other fields beside the links, so one cache line serves both.
@usableFromInline
internal protocol _LinkedNode {
    var prev: Int32 { get set }
    var next: Int32 { get set }
}

/// Links of one slot in an intrusive doubly-linked list (`-1` = none).
@frozen
@usableFromInline
internal struct _Link: _LinkedNode, Sendable {
    @usableFromInline var prev: Int32
    @usableFromInline var next: Int32
    @inlinable init() { prev = -1; next = -1 }
}

/// Links plus a table bucket (12 bytes): the record of a remembered ghost (``GhostKeys``).
@frozen
@usableFromInline
internal struct _BucketLink: _LinkedNode, Sendable {
    @usableFromInline var prev: Int32 = -1
    @usableFromInline var next: Int32 = -1
    @usableFromInline var bucket: Int32 = -1
    @inlinable init() {}
}

/// Links plus one flag (12 bytes): the per-slot record of policies that keep each block in
/// one of two lists (``ARC``: T1 or T2).
@frozen
@usableFromInline
internal struct _FlaggedLink: _LinkedNode, Sendable {
    @usableFromInline var prev: Int32 = -1
    @usableFromInline var next: Int32 = -1
    @usableFromInline var flag: Bool = false
    @inlinable init() {}
}

/// Links plus a state byte (12 bytes): the per-slot record of ``S3FIFO`` (hit counter and
/// queue in the byte, so one cache line serves the whole slot).
@frozen
@usableFromInline
internal struct _StateLink: _LinkedNode, Sendable {
    @usableFromInline var prev: Int32 = -1
    @usableFromInline var next: Int32 = -1
    @usableFromInline var state: UInt8 = 0
    @inlinable init() {}
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
    mutating func pushFront<Node: _LinkedNode>(_ slot: Int32, _ l: UnsafeMutablePointer<Node>) {
        l[Int(slot)].prev = -1
        l[Int(slot)].next = head
        if head >= 0 { l[Int(head)].prev = slot } else { tail = slot }
        head = slot
        count &+= 1
    }

    /// Inserts `slot` right after (older side of) `anchor`.
    /// - Complexity: O(1)
    @inlinable @inline(__always)
    mutating func insert<Node: _LinkedNode>(_ slot: Int32, after anchor: Int32, _ l: UnsafeMutablePointer<Node>) {
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
    mutating func remove<Node: _LinkedNode>(_ slot: Int32, _ l: UnsafeMutablePointer<Node>) {
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
    mutating func moveToFront<Node: _LinkedNode>(_ slot: Int32, _ l: UnsafeMutablePointer<Node>) {
        guard head != slot else { return }
        remove(slot, l)
        pushFront(slot, l)
    }

    /// Removes and returns the tail (oldest), or `nil` when empty.
    /// - Complexity: O(1)
    @inlinable @inline(__always)
    mutating func popBack<Node: _LinkedNode>(_ l: UnsafeMutablePointer<Node>) -> Int32? {
        let t = tail
        guard t >= 0 else { return nil }
        remove(t, l)
        return t
    }
}
