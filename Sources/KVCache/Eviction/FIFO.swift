/// First in, first out: the victim is the oldest insertion; accesses change nothing.
///
/// The baseline of every cache study (Belady, "A study of replacement algorithms for a
/// virtual-storage computer", IBM Systems Journal 5(2), 1966). One intrusive list over slots,
/// newest at the head.
@frozen
public struct FIFO: EvictionAlgorithm, Sendable {
    /// The policy name: `fifo`.
    public static var name: String { "fifo" }
    @usableFromInline internal var _links: _SlotRecords<_Link<Void>>
    @usableFromInline internal var _list = _SlotList()

    /// Creates a FIFO for `capacity` slots.
    @inlinable
    public init(capacity: Int) { _links = _SlotRecords(repeating: _Link(()), count: capacity) }

    /// - Complexity: O(1)
    @inlinable @inline(__always)
    public mutating func didInsert(_ slot: BlockSlot, _ block: BlockInfo) { _list.pushFront(slot, _links.mutablePointer) }
    /// Does nothing: FIFO ignores hits.
    /// - Complexity: O(1)
    @inlinable public mutating func didAccess(_ slot: BlockSlot, _ block: BlockInfo) {}
    /// The oldest block, which the next eviction takes.
    @inlinable public var victimHint: BlockSlot { _list.tail }
    /// - Complexity: O(1)
    @inlinable public mutating func didRemove(_ slot: BlockSlot) { _list.remove(slot, _links.mutablePointer) }
    /// The oldest insertion.
    /// - Complexity: O(1)
    @inlinable @inline(__always)
    public mutating func evict(for incoming: BlockInfo) -> BlockSlot? { _list.popBack(_links.mutablePointer) }
    @inlinable public mutating func _beginExclusiveAccess() { _links.beginExclusive() }
    @inlinable public mutating func _endExclusiveAccess() { _links.endExclusive() }

    /// Makes `slot` the newest block, as if it had just been inserted (``LRU`` on a hit).
    /// - Complexity: O(1)
    @inlinable @inline(__always)
    mutating func _requeue(_ slot: BlockSlot) {
        if _list.head != slot { _list.moveToFront(slot, _links.mutablePointer) }
    }
}
