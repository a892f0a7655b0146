/// Least frequently used, in O(1): the victim has the lowest access count; ties go to the
/// least recently touched or inserted block. An evicted or removed block keeps no history.
///
/// Frequency-bucket LFU after Shah, Mitra and Matani, "An O(1) algorithm for implementing the
/// LFU cache eviction scheme" (2010). Insertion counts 1, every access adds 1.
/// A pinned block keeps its count and returns to its bucket when unpinned.
public struct LFU: EvictionAlgorithm, Sendable {
    /// The policy name: `lfu`.
    public static var name: String { "lfu" }
    @usableFromInline internal var _buckets: _FrequencyBuckets

    /// Creates an LFU for `capacity` slots.
    @inlinable
    public init(capacity: Int) { self.init(capacity: capacity, classes: 1) }

    /// - Complexity: O(1)
    @inlinable public mutating func didInsert(_ slot: BlockSlot, _ block: BlockInfo) { _insert(slot, class: 0) }
    /// - Complexity: O(1)
    @inlinable public mutating func didAccess(_ slot: BlockSlot, _ block: BlockInfo) { _buckets.increment(slot) }
    /// The block the next eviction takes.
    @inlinable public var victimHint: BlockSlot { _buckets.victimHint }
    /// - Complexity: O(1)
    @inlinable public mutating func didRemove(_ slot: BlockSlot) { _buckets.remove(slot) }
    /// The least frequently used block, least recently touched among equals.
    /// - Complexity: O(1)
    @inlinable public mutating func evict(for incoming: BlockInfo) -> BlockSlot? { _buckets.popVictim() }
    /// Keeps the block's count while pinned.
    /// - Complexity: O(1)
    @inlinable public mutating func didPin(_ slot: BlockSlot) { _buckets.remove(slot) }
    /// Returns the block with its count (+1 for the use that pinned it).
    /// - Complexity: O(number of distinct frequencies)
    @inlinable public mutating func didUnpin(_ slot: BlockSlot, _ block: BlockInfo) { _return(slot, class: 0) }
    @inlinable public mutating func _beginExclusiveAccess() { _buckets.beginExclusive() }
    @inlinable public mutating func _endExclusiveAccess() { _buckets.endExclusive() }

    /// An LFU whose buckets keep `classes` sub-lists, evicted from the highest class first
    /// among equal counts (``LengthAware``).
    @inlinable
    init(capacity: Int, classes: Int) { _buckets = _FrequencyBuckets(capacity: capacity, classes: classes) }

    /// Inserts `slot` with count 1 in position class `c`.
    @inlinable mutating func _insert(_ slot: BlockSlot, class c: Int) { _buckets.add(slot, frequency: 1, class: c) }

    /// Returns a pinned block to class `c` with its count plus one (the use that pinned it).
    @inlinable mutating func _return(_ slot: BlockSlot, class c: Int) {
        _buckets.add(slot, frequency: _buckets.frequency(slot) &+ 1, class: c)
    }
}
