/// Least recently used: the victim is the block whose last insertion or access is oldest.
///
/// The classic policy (Mattson et al., "Evaluation techniques for storage hierarchies",
/// IBM Systems Journal 9(2), 1970); vLLM's prefix cache evicts this way. LRU is ``FIFO`` that
/// requeues a block at every hit: the queue's tail is then the least recently used block.
@frozen
public struct LRU: EvictionAlgorithm, Sendable {
    /// The policy name: `lru`.
    public static var name: String { "lru" }
    @usableFromInline internal var _queue: FIFO

    /// Creates an LRU for `capacity` slots.
    @inlinable
    public init(capacity: Int) { _queue = FIFO(capacity: capacity) }

    /// - Complexity: O(1)
    @inlinable @inline(__always)
    public mutating func didInsert(_ slot: BlockSlot, _ block: BlockInfo) { _queue.didInsert(slot, block) }
    /// Requeues the block as the newest.
    /// - Complexity: O(1)
    @inlinable @inline(__always)
    public mutating func didAccess(_ slot: BlockSlot, _ block: BlockInfo) { _queue._requeue(slot) }
    /// The least recently used block, which the next eviction takes.
    @inlinable public var victimHint: BlockSlot { _queue.victimHint }
    /// - Complexity: O(1)
    @inlinable public mutating func didRemove(_ slot: BlockSlot) { _queue.didRemove(slot) }
    /// The least recently used block.
    /// - Complexity: O(1)
    @inlinable @inline(__always)
    public mutating func evict(for incoming: BlockInfo) -> BlockSlot? { _queue.evict(for: incoming) }
    @inlinable public mutating func _beginExclusiveAccess() { _queue._beginExclusiveAccess() }
    @inlinable public mutating func _endExclusiveAccess() { _queue._endExclusiveAccess() }
}
