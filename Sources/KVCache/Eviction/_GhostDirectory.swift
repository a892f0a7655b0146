/// Keys of recently evicted blocks ("ghosts"), kept in one or more FIFO/LRU lists with a
/// key → entry table, for policies that remember what they evicted (S3-FIFO, ARC).
@usableFromInline
internal struct _GhostDirectory: Sendable {
    @usableFromInline var keys: [UInt64]
    @usableFromInline var listOf: [UInt8]
    @usableFromInline var links: [_Link]
    @usableFromInline var lists: [_SlotList]
    @usableFromInline var table: _BlockTable
    @usableFromInline var free: [Int32]

    @inlinable
    init(capacity: Int, lists count: Int) {
        let n = max(capacity, 1)
        keys = Array(repeating: 0, count: n)
        listOf = Array(repeating: 0, count: n)
        links = Array(repeating: _Link(), count: n)
        lists = Array(repeating: _SlotList(), count: count)
        table = _BlockTable(maximumCount: n)
        free = Array((0..<Int32(n)).reversed())
    }

    /// The entry and list of `key`, if it is a ghost.
    /// - Complexity: O(1) expected
    @inlinable
    func find(_ key: UInt64) -> (entry: Int32, list: Int)? {
        let b = table.find(key)
        guard b >= 0 else { return nil }
        let e = table.entries[b].slot
        return (e, Int(listOf[Int(e)]))
    }

    /// Adds `key` at the head of `list`; the caller keeps room (see ``count(_:)``).
    /// - Complexity: O(1) expected
    @inlinable
    mutating func pushFront(_ key: UInt64, list: Int) {
        guard let e = free.popLast() else { return }
        keys[Int(e)] = key
        listOf[Int(e)] = UInt8(list)
        lists[list].pushFront(e, &links)
        table.insert(key, slot: e)
    }

    /// Forgets `entry`.
    /// - Complexity: O(1) expected
    @inlinable
    mutating func remove(_ entry: Int32) {
        lists[Int(listOf[Int(entry)])].remove(entry, &links)
        let b = table.find(keys[Int(entry)])
        table.remove(at: b)
        free.append(entry)
    }

    /// Forgets the oldest ghost of `list`.
    /// - Complexity: O(1) expected
    @inlinable
    mutating func removeOldest(list: Int) {
        let t = lists[list].tail
        if t >= 0 { remove(t) }
    }

    @inlinable
    func count(_ list: Int) -> Int { lists[list].count }
}
