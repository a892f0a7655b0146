/// Prefix-aware LRU: the victim is the least recently used block that has no cached child, so
/// a pool stays prefix-closed (a block is never kept without the blocks before it).
///
/// The leaf-first rule of SGLang's RadixAttention tree cache (Zheng et al., "SGLang: Efficient
/// Execution of Structured Language Model Programs", NeurIPS'24), which evicts least recently
/// used leaves of the radix tree. Only blocks without cached children sit in an LRU list. When
/// a block loses its last child it re-enters that list at the place its own last use gives it;
/// a parent is always touched before its child in a request, so after its child was evicted as
/// the oldest leaf it is older than every leaf and goes to the tail in O(1). Only an explicit
/// ``BlockPool/remove(_:)`` of a younger child needs the ordered walk.
public struct LeafLRU: EvictionAlgorithm, Sendable {
    /// The policy name: `leaf-lru`.
    public static var name: String { "leaf-lru" }
    /// What a slot's record keeps beside its links in the leaf list: the last-use stamp,
    /// whether the block has a cached child and whether the algorithm tracks it (not pinned).
    @frozen
    @usableFromInline
    internal struct _Slot: Sendable {
        @usableFromInline var stamp: UInt64 = 0
        @usableFromInline var hasChild = false, tracked = false
        @inlinable init() {}
    }

    @usableFromInline internal var _nodes: _SlotRecords<_Link<_Slot>>
    /// Evictable blocks without a cached child, least recently used at the tail.
    @usableFromInline internal var _leaves = _SlotList()
    @usableFromInline internal var _clock: UInt64 = 0

    /// LeafLRU needs the pool's parent/child links.
    @inlinable public static var tracksChildren: Bool { true }

    /// Creates a LeafLRU for `capacity` slots.
    @inlinable
    public init(capacity: Int) {
        _nodes = _SlotRecords(repeating: _Link(_Slot()), count: capacity)
    }

    @inlinable mutating func _tick() -> UInt64 { _clock &+= 1; return _clock }

    /// A new block is a leaf (the pool links its children later).
    /// - Complexity: O(1)
    @inlinable @inline(__always)
    public mutating func didInsert(_ slot: BlockSlot, _ block: BlockInfo) {
        let t = _tick()
        let n = _nodes.mutablePointer
        n[Int(slot)].payload.stamp = t
        n[Int(slot)].payload.hasChild = false
        n[Int(slot)].payload.tracked = true
        _leaves.pushFront(slot, n)
    }

    /// Stamps the block; a leaf moves to the list's head.
    /// - Complexity: O(1)
    @inlinable @inline(__always)
    public mutating func didAccess(_ slot: BlockSlot, _ block: BlockInfo) {
        let t = _tick()
        let n = _nodes.mutablePointer
        n[Int(slot)].payload.stamp = t
        if !n[Int(slot)].payload.hasChild && _leaves.head != slot {
            _leaves.remove(slot, n)
            _leaves.pushFront(slot, n)
        }
    }

    /// - Complexity: O(1)
    @inlinable public mutating func didRemove(_ slot: BlockSlot) {
        let n = _nodes.mutablePointer
        if n[Int(slot)].payload.tracked && !n[Int(slot)].payload.hasChild { _leaves.remove(slot, n) }
        n[Int(slot)].payload.tracked = false
    }

    /// The least recently used leaf.
    /// - Complexity: O(1)
    @inlinable @inline(__always)
    public mutating func evict(for incoming: BlockInfo) -> BlockSlot? {
        let s = _leaves.tail
        guard s >= 0 else { return nil }
        let n = _nodes.mutablePointer
        _leaves.remove(s, n)
        n[Int(s)].payload.tracked = false
        return s
    }

    /// The leaf the next eviction takes.
    @inlinable public var victimHint: BlockSlot { _leaves.tail }

    /// The block stops being a leaf.
    /// - Complexity: O(1)
    @inlinable @inline(__always)
    public mutating func didGainFirstChild(_ slot: BlockSlot) {
        let n = _nodes.mutablePointer
        if n[Int(slot)].payload.tracked && !n[Int(slot)].payload.hasChild { _leaves.remove(slot, n) }
        n[Int(slot)].payload.hasChild = true
    }

    /// The block is a leaf again; it re-enters the list at its last-use position.
    /// - Complexity: O(1) when its child was evicted (the parent is then older than every
    ///   leaf); O(k) for the k younger leaves after an explicit removal of a child
    @inlinable @inline(__always)
    public mutating func didLoseLastChild(_ slot: BlockSlot) {
        let n = _nodes.mutablePointer
        n[Int(slot)].payload.hasChild = false
        guard n[Int(slot)].payload.tracked else { return }
        let stamp = n[Int(slot)].payload.stamp
        var after = _leaves.tail
        while after >= 0 && n[Int(after)].payload.stamp < stamp { after = n[Int(after)].prev }
        if after < 0 { _leaves.pushFront(slot, n) } else { _leaves.insert(slot, after: after, n) }
    }

    /// - Complexity: O(1)
    @inlinable public mutating func didPin(_ slot: BlockSlot) { didRemove(slot) }

    /// Returns an unpinned block as just used.
    /// - Complexity: O(1)
    @inlinable public mutating func didUnpin(_ slot: BlockSlot, _ block: BlockInfo) {
        let t = _tick()
        let n = _nodes.mutablePointer
        n[Int(slot)].payload.stamp = t
        n[Int(slot)].payload.tracked = true
        if !n[Int(slot)].payload.hasChild { _leaves.pushFront(slot, n) }
    }
    @inlinable public mutating func _beginExclusiveAccess() { _nodes.beginExclusive() }
    @inlinable public mutating func _endExclusiveAccess() { _nodes.endExclusive() }
}
