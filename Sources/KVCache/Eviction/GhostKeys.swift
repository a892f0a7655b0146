import CKVCore

/// The keys of recently evicted blocks ("ghosts") an eviction algorithm remembers, in one or
/// two lists ordered from oldest to newest.
///
/// Policies such as ``ARC`` and ``S3FIFO`` learn from what they evicted: a block that comes
/// back soon after its eviction is admitted differently. The algorithm decides what is
/// remembered and forgotten; the ``BlockPool`` keeps the keys themselves in its own key→slot
/// table, so the one probe that tells the pool a block is absent also tells it the block is a
/// ghost, and of which list (it passes that to ``EvictionAlgorithm/willInsert(_:ghostOf:)``).
/// Remembering a victim relabels its table entry in place; nothing is hashed twice.
///
/// An algorithm that keeps ghosts declares ``EvictionAlgorithm/keepsGhosts``, stores one of
/// these as its ``EvictionAlgorithm/ghosts`` property and, from ``EvictionAlgorithm/evict(for:)``
/// or ``EvictionAlgorithm/willInsert(_:ghostOf:)``, calls ``remember(_:in:)`` for the slot that
/// call returns and ``forgetOldest(in:)`` to bound its lists.
///
/// Storage is one array of 12-byte records (links, and where the pool's table holds the key)
/// indexed by ghost id; unused records form a free list through their `next` links, so no
/// operation allocates.
public struct GhostKeys: Sendable {
    /// The most ghosts remembered at once (over all lists).
    public let capacity: Int
    /// The number of lists (1 or 2; 0 for ``none``).
    public let lists: Int
    /// Per ghost id: its links in its list (or, when free, in the free list) and the pool's
    /// table bucket holding its key as payload (kept current by the pool as entries shift).
    @usableFromInline internal var _records: _SlotRecords<_Link<Int32>>
    @usableFromInline internal var _list0 = _SlotList()
    @usableFromInline internal var _list1 = _SlotList()
    @usableFromInline internal var _freeHead: Int32
    /// The victim remembered by the current call, until the pool relabels its table entry.
    @usableFromInline internal var _pendingSlot: Int32 = -1
    @usableFromInline internal var _pendingID: Int32 = -1
    @usableFromInline internal var _pendingList: Int = 0
    /// Ghosts forgotten by the current call, until the pool deletes their table entries: the
    /// first inline, any more in `_moreForgotten`. Their records keep their buckets until then.
    @usableFromInline internal var _forgotten: Int32 = 0
    @usableFromInline internal var _forgottenCount = 0
    @usableFromInline internal var _moreForgotten: [Int32] = []

    /// Room for `capacity` ghosts in `lists` lists, numbered from 0.
    ///
    /// - Precondition: `lists` is 1 or 2 (0 only with capacity 0).
    @inlinable
    public init(capacity: Int, lists: Int) {
        precondition(lists <= 2 && (lists >= 1 || capacity <= 0), "GhostKeys holds one or two lists, got \(lists)")
        self.capacity = max(capacity, 0)
        self.lists = lists
        _records = _SlotRecords(repeating: _Link(Int32(-1)), count: self.capacity)
        let r = _records.mutablePointer
        for i in 0..<self.capacity { r[i].next = Int32(i + 1 < self.capacity ? i + 1 : -1) }
        _freeHead = self.capacity > 0 ? 0 : -1
    }

    /// No ghosts: the value of algorithms that keep none.
    @inlinable public static var none: GhostKeys { GhostKeys(capacity: 0, lists: 0) }

    /// Ghosts remembered, over all lists.
    /// - Complexity: O(1)
    @inlinable public var count: Int { _list0.count + _list1.count }

    /// Ghosts remembered in `list`.
    /// - Precondition: `list < lists`.
    /// - Complexity: O(1)
    @inlinable public func count(in list: Int) -> Int {
        precondition(list >= 0 && list < lists, "GhostKeys has \(lists) list(s), asked for list \(list)")
        return list == 0 ? _list0.count : _list1.count
    }

    /// Remembers the key of the block in `slot` — the victim the current ``EvictionAlgorithm``
    /// call returns — as the newest ghost of `list`.
    ///
    /// - Returns: `false` (nothing remembered) when ``capacity`` ghosts are remembered already.
    /// - Precondition: `list < lists`, and no other slot was remembered in the same call.
    /// - Complexity: O(1)
    @inlinable @discardableResult
    public mutating func remember(_ slot: BlockSlot, in list: Int) -> Bool {
        precondition(list >= 0 && list < lists, "GhostKeys has \(lists) list(s), asked to remember in list \(list)")
        precondition(_pendingSlot < 0, "GhostKeys.remember called twice in one eviction")
        let id = _freeHead
        guard id >= 0 else { return false }
        _records.withMutableRecords { r in
            _freeHead = r[Int(id)].next
            if list == 0 { _list0.pushFront(id, r) } else { _list1.pushFront(id, r) }
        }
        _pendingSlot = slot
        _pendingID = id
        _pendingList = list
        return true
    }

    /// Forgets the oldest ghost of `list`; nothing when it is empty.
    /// - Precondition: `list < lists`.
    /// - Complexity: O(1)
    @inlinable
    public mutating func forgetOldest(in list: Int) {
        precondition(list >= 0 && list < lists, "GhostKeys has \(lists) list(s), asked to forget in list \(list)")
        let t = list == 0 ? _list0.tail : _list1.tail
        guard t >= 0 else { return }
        _records.withMutableRecords { r in
            if list == 0 { _list0.remove(t, r) } else { _list1.remove(t, r) }
            r[Int(t)].next = _freeHead
        }
        _freeHead = t
        if t == _pendingID && _pendingSlot >= 0 {
            _pendingSlot = -1  // remembered and forgotten in one call: never in the table
        } else {
            if _forgottenCount == 0 { _forgotten = t } else { _moreForgotten.append(t) }
            _forgottenCount += 1
        }
    }

    // MARK: Pool side

    /// Makes the records unique for one pool operation; the pool brackets each of its
    /// operations with this and ``_endExclusive()`` for an algorithm that keeps ghosts.
    @inlinable
    internal mutating func _beginExclusive() { _records.beginExclusive() }

    /// Ends ``_beginExclusive()``.
    @inlinable
    internal mutating func _endExclusive() { _records.endExclusive() }

    /// Calls `body` with the table bucket of each list's oldest ghost (the next ones
    /// forgotten), and prefetches the record of the ghost after it.
    @inlinable @inline(__always)
    internal func _oldestBuckets(_ body: (Int) -> Void) {
        _records.withRecords { r in
            func visit(_ t: Int32) {
                guard t >= 0 else { return }
                body(Int(r[Int(t)].payload))
                let p = r[Int(t)].prev
                if p >= 0 { kvc_prefetch(r + Int(p)) }
            }
            visit(_list0.tail)
            visit(_list1.tail)
        }
    }

    /// Takes ghost `id` out of `list` (its key is coming back as a block).
    @inlinable
    internal mutating func _take(_ id: Int32, list: Int) {
        _records.withMutableRecords { r in
            if list == 0 { _list0.remove(id, r) } else { _list1.remove(id, r) }
            r[Int(id)].next = _freeHead
        }
        _freeHead = id
    }

    /// Completes the pending ``remember(_:in:)`` of `slot`, whose key is in table `bucket`;
    /// returns the ghost id and list, or nil when `slot` was not remembered.
    @inlinable
    internal mutating func _settle(_ slot: Int32, bucket: Int) -> (id: Int32, list: Int)? {
        guard _pendingSlot == slot else { return nil }
        _pendingSlot = -1
        _records.mutablePointer[Int(_pendingID)].payload = Int32(truncatingIfNeeded: bucket)
        return (_pendingID, _pendingList)
    }

    /// Drops a pending remember no victim settled (an algorithm that remembered a slot it did
    /// not return).
    @inlinable
    internal mutating func _cancelPending() {
        guard _pendingSlot >= 0 else { return }
        _pendingSlot = -1
        _take(_pendingID, list: _pendingList)
    }
}
