/// Keys of recently evicted blocks ("ghosts"), kept in one or more FIFO/LRU lists with a
/// key → entry table, for policies that remember what they evicted (S3-FIFO, ARC).
///
/// An entry's key and links share one record; its list id rides in the table entry,
/// so a lookup answers "which list" without touching the record.
@usableFromInline
internal struct _GhostDirectory: Sendable {
    @usableFromInline var nodes: [_KeyedLink]
    @usableFromInline var lists: [_SlotList]
    @usableFromInline var table: _BlockTable
    @usableFromInline var free: [Int32]

    @inlinable
    init(capacity: Int, lists count: Int) {
        let n = max(capacity, 1)
        nodes = _largeArray(repeating: _KeyedLink(), count: n)
        lists = Array(repeating: _SlotList(), count: count)
        table = _BlockTable(maximumCount: n)
        free = Array((0..<Int32(n)).reversed())
    }

    /// The table bucket and list of `key`, if it is a ghost.
    /// - Complexity: O(1) expected
    @inlinable
    func find(_ key: UInt64) -> (bucket: Int, list: Int)? {
        let b = table.find(key)
        guard b >= 0 else { return nil }
        return (b, Int(table.entries[b].aux))
    }

    /// Adds `key` (not a ghost) at the head of `list`; the caller keeps room (``count(_:)``).
    /// - Complexity: O(1) expected
    @inlinable
    mutating func pushFront(_ key: UInt64, list: Int) {
        guard let e = free.popLast() else { return }
        nodes[Int(e)].key = key
        lists[list].pushFront(e, &nodes)
        table.insert(key, slot: e, aux: UInt16(list))
    }

    /// Forgets the ghost found at table `bucket`.
    /// - Complexity: O(1) expected
    @inlinable
    mutating func remove(bucket: Int) {
        let e = table.entries[bucket].slot
        lists[Int(table.entries[bucket].aux)].remove(e, &nodes)
        table.remove(at: bucket)
        free.append(e)
    }

    /// Forgets the oldest ghost of `list`.
    /// - Complexity: O(1) expected
    @inlinable
    mutating func removeOldest(list: Int) {
        let t = lists[list].tail
        guard t >= 0 else { return }
        lists[list].remove(t, &nodes)
        table.remove(at: table.find(nodes[Int(t)].key))
        free.append(t)
    }

    /// Adds `key` (not a ghost) at the head of `list`, reusing the record of that list's
    /// oldest ghost, which is forgotten.
    /// - Complexity: O(1) expected
    @inlinable
    mutating func replaceOldest(with key: UInt64, list: Int) {
        let t = lists[list].tail
        guard t >= 0 else { pushFront(key, list: list); return }
        let old = nodes[Int(t)].key
        table.remove(at: table.find(old))
        nodes.withUnsafeMutableBufferPointer { n in
            lists[list].remove(t, n.baseAddress!)
            n[Int(t)].key = key
            lists[list].pushFront(t, n.baseAddress!)
        }
        table.insert(key, slot: t, aux: UInt16(list))
    }

    @inlinable
    func count(_ list: Int) -> Int { lists[list].count }
}
