/// Least recently used: the victim is the block whose last insertion or access is oldest.
///
/// The classic policy (Mattson et al., "Evaluation techniques for storage hierarchies",
/// IBM Systems Journal 9(2), 1970); vLLM's prefix cache evicts this way. One intrusive list
/// over slots: access moves to the head, the victim is the tail.
@frozen
public struct LRU: EvictionAlgorithm, Sendable {
    /// The policy name: `lru`.
    public static var name: String { "lru" }
    @usableFromInline internal var _links: _SlotRecords<_Link>
    @usableFromInline internal var _list = _SlotList()

    /// Creates an LRU for `capacity` slots.
    @inlinable
    public init(capacity: Int) { _links = _SlotRecords(repeating: _Link(), count: capacity) }

    /// - Complexity: O(1)
    @inlinable @inline(__always)
    public mutating func didInsert(_ slot: BlockSlot, _ block: BlockInfo) { _list.pushFront(slot, _links.mutablePointer) }
    /// - Complexity: O(1)
    @inlinable @inline(__always)
    public mutating func didAccess(_ slot: BlockSlot, _ block: BlockInfo) {
        if _list.head != slot { _list.moveToFront(slot, _links.mutablePointer) }
    }
    /// The oldest block, which the next eviction takes.
    @inlinable public var victimHint: BlockSlot { _list.tail }
    /// - Complexity: O(1)
    @inlinable public mutating func didRemove(_ slot: BlockSlot) { _list.remove(slot, _links.mutablePointer) }
    /// The least recently used block.
    /// - Complexity: O(1)
    @inlinable @inline(__always)
    public mutating func evict(for incoming: BlockInfo) -> BlockSlot? { _list.popBack(_links.mutablePointer) }
    @inlinable public mutating func _beginExclusiveAccess() { _links.beginExclusive() }
    @inlinable public mutating func _endExclusiveAccess() { _links.endExclusive() }
}
