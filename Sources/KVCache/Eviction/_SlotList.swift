/// Links of one slot in an intrusive doubly-linked list (`-1` = none).
@frozen
@usableFromInline
internal struct _Link: Sendable {
    @usableFromInline var prev: Int32
    @usableFromInline var next: Int32
    @inlinable init() { prev = -1; next = -1 }
}

/// An intrusive doubly-linked list of slots whose links live in a shared `[_Link]` array.
///
/// `head` is the newest end (MRU / most recently inserted), `tail` the oldest. Several lists
/// may share one links array as long as a slot is in at most one of them.
@frozen
@usableFromInline
internal struct _SlotList: Sendable {
    @usableFromInline var head: Int32 = -1
    @usableFromInline var tail: Int32 = -1
    @usableFromInline var count: Int = 0

    @inlinable init() {}

    @inlinable var isEmpty: Bool { count == 0 }

    /// Inserts `slot` at the head (newest end).
    /// - Complexity: O(1)
    @inlinable
    mutating func pushFront(_ slot: Int32, _ links: inout [_Link]) {
        links.withUnsafeMutableBufferPointer { l in
            l[Int(slot)].prev = -1
            l[Int(slot)].next = head
            if head >= 0 { l[Int(head)].prev = slot } else { tail = slot }
        }
        head = slot
        count += 1
    }

    /// Inserts `slot` right after (older side of) `anchor`.
    /// - Complexity: O(1)
    @inlinable
    mutating func insert(_ slot: Int32, after anchor: Int32, _ links: inout [_Link]) {
        links.withUnsafeMutableBufferPointer { l in
            let next = l[Int(anchor)].next
            l[Int(slot)].prev = anchor
            l[Int(slot)].next = next
            l[Int(anchor)].next = slot
            if next >= 0 { l[Int(next)].prev = slot } else { tail = slot }
        }
        count += 1
    }

    /// Inserts `slot` at the tail (oldest end).
    /// - Complexity: O(1)
    @inlinable
    mutating func pushBack(_ slot: Int32, _ links: inout [_Link]) {
        if tail < 0 { pushFront(slot, &links); return }
        insert(slot, after: tail, &links)
    }

    /// Unlinks `slot`, which must be in this list.
    /// - Complexity: O(1)
    @inlinable
    mutating func remove(_ slot: Int32, _ links: inout [_Link]) {
        links.withUnsafeMutableBufferPointer { l in
            let p = l[Int(slot)].prev, n = l[Int(slot)].next
            if p >= 0 { l[Int(p)].next = n } else { head = n }
            if n >= 0 { l[Int(n)].prev = p } else { tail = p }
            l[Int(slot)].prev = -1
            l[Int(slot)].next = -1
        }
        count -= 1
    }

    /// Moves `slot` (in this list) to the head.
    /// - Complexity: O(1)
    @inlinable
    mutating func moveToFront(_ slot: Int32, _ links: inout [_Link]) {
        guard head != slot else { return }
        remove(slot, &links)
        pushFront(slot, &links)
    }

    /// Removes and returns the tail (oldest), or `nil` when empty.
    /// - Complexity: O(1)
    @inlinable
    mutating func popBack(_ links: inout [_Link]) -> Int32? {
        let t = tail
        guard t >= 0 else { return nil }
        remove(t, &links)
        return t
    }
}
