/// Mooncake's length-aware policy: LFU that, among equally frequent blocks, evicts the ones
/// that occur later in requests first.
///
/// Mooncake's technical report (Qin et al., "Mooncake: A KVCache-centric Disaggregated
/// Architecture for LLM Serving", FAST'25, §"KVCache eviction") describes *LengthAwareCache*
/// as "similar to LFU but prioritizing evicting cache blocks occurring later in requests".
/// Our exact reading: the victim minimises (access count, −position class, last touch),
/// i.e. lowest count first; among equal counts the block in the latest position class; within
/// a class the least recently touched. Position classes grow logarithmically,
/// `class = ⌊log₂(position + 1)⌋` capped at 7: positions 0, 1, 2–3, 4–7, …, 64–127 and ≥ 127
/// share a class, fine where chains differ most and coarse for long chains; eight classes keep
/// a frequency bucket's lists on three cache lines and every operation O(1).
public struct LengthAware: EvictionAlgorithm, Sendable {
    /// The policy name: `length-aware`.
    public static var name: String { "length-aware" }
    /// The number of position classes.
    public static let positionClasses = 8
    /// The frequency buckets, one sub-list per position class.
    @usableFromInline internal var _lfu: LFU

    /// Creates a length-aware LFU for `capacity` slots.
    @inlinable
    public init(capacity: Int) { _lfu = LFU(capacity: capacity, classes: Self.positionClasses) }

    /// `⌊log₂(position + 1)⌋`, capped at `positionClasses − 1`.
    @inlinable static func _class(_ block: BlockInfo) -> Int {
        let p = UInt32(max(block.position, 0)) + 1
        return min(31 - p.leadingZeroBitCount, positionClasses - 1)
    }

    /// - Complexity: O(1)
    @inlinable public mutating func didInsert(_ slot: BlockSlot, _ block: BlockInfo) { _lfu._insert(slot, class: Self._class(block)) }
    /// - Complexity: O(1)
    @inlinable public mutating func didAccess(_ slot: BlockSlot, _ block: BlockInfo) { _lfu.didAccess(slot, block) }
    /// The block the next eviction takes.
    @inlinable public var victimHint: BlockSlot { _lfu.victimHint }
    /// - Complexity: O(1)
    @inlinable public mutating func didRemove(_ slot: BlockSlot) { _lfu.didRemove(slot) }
    /// Lowest count, then latest position, then least recently touched.
    /// - Complexity: O(1)
    @inlinable public mutating func evict(for incoming: BlockInfo) -> BlockSlot? { _lfu.evict(for: incoming) }
    /// Keeps the block's count while pinned.
    @inlinable public mutating func didPin(_ slot: BlockSlot) { _lfu.didPin(slot) }
    /// Returns the block with its count (+1 for the use that pinned it).
    /// - Complexity: O(number of distinct frequencies)
    @inlinable public mutating func didUnpin(_ slot: BlockSlot, _ block: BlockInfo) { _lfu._return(slot, class: Self._class(block)) }
    @inlinable public mutating func _beginExclusiveAccess() { _lfu._beginExclusiveAccess() }
    @inlinable public mutating func _endExclusiveAccess() { _lfu._endExclusiveAccess() }
}
