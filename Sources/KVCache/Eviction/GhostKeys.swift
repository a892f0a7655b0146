import CKVCore

/// The keys of recently evicted blocks ("ghosts") an eviction algorithm remembers, in one or
/// more lists ordered from oldest to newest.
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
public struct GhostKeys: Sendable {
    /// The most ghosts remembered at once (over all lists).
    public let capacity: Int
    /// Per ghost id: its key and its links in its list.
    @usableFromInline internal var _records: [_KeyLink]
    @usableFromInline internal var _lists: [_SlotList]
    @usableFromInline internal var _free: [Int32]
    /// The victim remembered by the current call, until the pool relabels its table entry.
    @usableFromInline internal var _pendingSlot: Int32 = -1
    @usableFromInline internal var _pendingID: Int32 = -1
    @usableFromInline internal var _pendingList: Int = 0
    /// Keys forgotten by the current call, until the pool deletes their table entries: the
    /// first inline, any more in `_moreForgotten`.
    @usableFromInline internal var _forgotten: UInt64 = 0
    @usableFromInline internal var _forgottenCount = 0
    @usableFromInline internal var _moreForgotten: [UInt64] = []

    /// Room for `capacity` ghosts in `lists` lists (numbered `0 ..< lists`).
    @inlinable
    public init(capacity: Int, lists: Int) {
        self.capacity = max(capacity, 0)
        _records = _largeArray(repeating: _KeyLink(), count: self.capacity)
        _lists = Array(repeating: _SlotList(), count: max(lists, 0))
        _free = Array((0..<Int32(self.capacity)).reversed())
    }

    /// No ghosts: the value of algorithms that keep none.
    @inlinable public static var none: GhostKeys { GhostKeys(capacity: 0, lists: 0) }

    /// Ghosts remembered, over all lists.
    /// - Complexity: O(1)
    @inlinable public var count: Int { capacity - _free.count }

    /// Ghosts remembered in `list`.
    /// - Complexity: O(1)
    @inlinable public func count(in list: Int) -> Int { _lists[list].count }

    /// Remembers the key of the block in `slot` — the victim the current ``EvictionAlgorithm``
    /// call returns — as the newest ghost of `list`.
    ///
    /// - Returns: `false` (nothing remembered) when ``capacity`` ghosts are remembered already.
    /// - Precondition: No other slot was remembered in the same call.
    /// - Complexity: O(1)
    @inlinable @discardableResult
    public mutating func remember(_ slot: BlockSlot, in list: Int) -> Bool {
        precondition(_pendingSlot < 0, "GhostKeys.remember called twice in one eviction")
        guard let id = _free.popLast() else { return false }
        _records.withUnsafeMutableBufferPointer { _lists[list].pushFront(id, $0.baseAddress!) }
        _pendingSlot = slot
        _pendingID = id
        _pendingList = list
        return true
    }

    /// Forgets the oldest ghost of `list`; nothing when it is empty.
    /// - Complexity: O(1)
    @inlinable
    public mutating func forgetOldest(in list: Int) {
        let t = _lists[list].tail
        guard t >= 0 else { return }
        _records.withUnsafeMutableBufferPointer { _lists[list].remove(t, $0.baseAddress!) }
        _free.append(t)
        if t == _pendingID && _pendingSlot >= 0 {
            _pendingSlot = -1           // remembered and forgotten in one call: never in the table
        } else {
            let key = _records[Int(t)].key
            if _forgottenCount == 0 { _forgotten = key } else { _moreForgotten.append(key) }
            _forgottenCount += 1
        }
    }

    // MARK: Pool side

    /// Calls `body` with the key of each list's oldest ghost (the next ones forgotten), and
    /// prefetches the record of the ghost after it.
    @inlinable @inline(__always)
    internal func _oldestKeys(_ body: (UInt64) -> Void) {
        _records.withUnsafeBufferPointer { r in
            for l in 0..<_lists.count {
                let t = _lists[l].tail
                guard t >= 0 else { continue }
                body(r[Int(t)].key)
                let p = r[Int(t)].prev
                if p >= 0 { kvc_prefetch(r.baseAddress! + Int(p)) }
            }
        }
    }

    /// Takes ghost `id` out of `list` (its key is coming back as a block).
    @inlinable
    internal mutating func _take(_ id: Int32, list: Int) {
        _records.withUnsafeMutableBufferPointer { _lists[list].remove(id, $0.baseAddress!) }
        _free.append(id)
    }

    /// Completes the pending ``remember(_:in:)`` of `slot` with its key; returns the ghost id
    /// and list, or nil when `slot` was not remembered.
    @inlinable
    internal mutating func _settle(_ slot: Int32, key: UInt64) -> (id: Int32, list: Int)? {
        guard _pendingSlot == slot else { return nil }
        _pendingSlot = -1
        _records[Int(_pendingID)].key = key
        return (_pendingID, _pendingList)
    }

    /// Drops a pending remember no victim settled (an algorithm that remembered a slot it did
    /// not return).
    @inlinable
    internal mutating func _cancelPending() {
        guard _pendingSlot >= 0 else { return }
        _pendingSlot = -1
        _records.withUnsafeMutableBufferPointer { _lists[_pendingList].remove(_pendingID, $0.baseAddress!) }
        _free.append(_pendingID)
    }
}
