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
    @usableFromInline internal var _links: [_Link]
    @usableFromInline internal var _stamp: [UInt64]
    @usableFromInline internal var _hasChild: [Bool]
    @usableFromInline internal var _tracked: [Bool]
    @usableFromInline internal var _leaves = _SlotList()
    @usableFromInline internal var _clock: UInt64 = 0

    /// The pool reports parent/child links to this policy.
    public static var tracksChildren: Bool { true }

    /// Creates a leaf-LRU for `capacity` slots.
    @inlinable
    public init(capacity: Int) {
        _links = Array(repeating: _Link(), count: capacity)
        _stamp = Array(repeating: 0, count: capacity)
        _hasChild = Array(repeating: false, count: capacity)
        _tracked = Array(repeating: false, count: capacity)
    }

    @inlinable mutating func _tick() -> UInt64 { _clock &+= 1; return _clock }

    /// - Complexity: O(1)
    @inlinable public mutating func didInsert(_ slot: BlockSlot, _ block: BlockInfo) {
        _stamp[Int(slot)] = _tick()
        _hasChild[Int(slot)] = false
        _tracked[Int(slot)] = true
        _leaves.pushFront(slot, &_links)
    }

    /// - Complexity: O(1)
    @inlinable public mutating func didAccess(_ slot: BlockSlot, _ block: BlockInfo) {
        _stamp[Int(slot)] = _tick()
        if !_hasChild[Int(slot)] { _leaves.moveToFront(slot, &_links) }
    }

    /// - Complexity: O(1)
    @inlinable public mutating func didRemove(_ slot: BlockSlot) {
        if _tracked[Int(slot)] && !_hasChild[Int(slot)] { _leaves.remove(slot, &_links) }
        _tracked[Int(slot)] = false
    }

    /// The least recently used leaf.
    /// - Complexity: O(1)
    @inlinable public mutating func evict(for incoming: BlockInfo) -> BlockSlot? {
        guard let s = _leaves.popBack(&_links) else { return nil }
        _tracked[Int(s)] = false
        return s
    }

    /// The least recently used leaf.
    @inlinable public var victimHint: BlockSlot { _leaves.tail }

    /// - Complexity: O(1)
    @inlinable public mutating func didGainFirstChild(_ slot: BlockSlot) {
        if _tracked[Int(slot)] && !_hasChild[Int(slot)] { _leaves.remove(slot, &_links) }
        _hasChild[Int(slot)] = true
    }

    /// - Complexity: O(1) when the block is older than every leaf (always, after an eviction);
    ///   otherwise O(leaves newer than it).
    @inlinable public mutating func didLoseLastChild(_ slot: BlockSlot) {
        _hasChild[Int(slot)] = false
        guard _tracked[Int(slot)] else { return }
        let stamp = _stamp[Int(slot)]
        var after = _leaves.tail
        while after >= 0 && _stamp[Int(after)] < stamp { after = _links[Int(after)].prev }
        if after < 0 { _leaves.pushFront(slot, &_links) } else { _leaves.insert(slot, after: after, &_links) }
    }

    /// - Complexity: O(1)
    @inlinable public mutating func didPin(_ slot: BlockSlot) { didRemove(slot) }

    /// Returns the block as just used.
    /// - Complexity: O(1)
    @inlinable public mutating func didUnpin(_ slot: BlockSlot, _ block: BlockInfo) {
        _stamp[Int(slot)] = _tick()
        _tracked[Int(slot)] = true
        if !_hasChild[Int(slot)] { _leaves.pushFront(slot, &_links) }
    }
}
