/// SIEVE: a FIFO queue with one visited bit per block and a hand that sweeps from the oldest
/// end, clearing visited bits and evicting the first unvisited block.
///
/// Zhang et al., "SIEVE is Simpler than LRU: an Efficient Turn-Key Eviction Algorithm for Web
/// Caches", NSDI'24. New blocks enter at the head unvisited; a hit only sets the bit; the hand
/// resumes from where it stopped (the block newer than the last victim) and wraps to the tail.
/// This is the published algorithm as libCacheSim implements it.
public struct SIEVE: EvictionAlgorithm, Sendable {
    /// The policy name: `sieve`.
    public static var name: String { "sieve" }
    /// Per slot: links and the visited bit (payload), in one 12-byte record.
    @usableFromInline internal var _nodes: _SlotRecords<_Link<Bool>>
    @usableFromInline internal var _list = _SlotList()
    @usableFromInline internal var _hand: Int32 = -1

    /// Creates a SIEVE for `capacity` slots.
    @inlinable
    public init(capacity: Int) { _nodes = _SlotRecords(repeating: _Link(false), count: capacity) }

    /// - Complexity: O(1)
    @inlinable @inline(__always) public mutating func didInsert(_ slot: BlockSlot, _ block: BlockInfo) {
        let n = _nodes.mutablePointer
        n[Int(slot)].payload = false
        _list.pushFront(slot, n)
    }
    /// - Complexity: O(1)
    @inlinable @inline(__always) public mutating func didAccess(_ slot: BlockSlot, _ block: BlockInfo) {
        _nodes.mutablePointer[Int(slot)].payload = true
    }
    /// Where the hand will start looking.
    @inlinable public var victimHint: BlockSlot { _hand >= 0 ? _hand : _list.tail }
    /// - Complexity: O(1)
    @inlinable public mutating func didRemove(_ slot: BlockSlot) {
        let n = _nodes.mutablePointer
        if _hand == slot { _hand = n[Int(slot)].prev }
        _list.remove(slot, n)
    }
    /// The first unvisited block at or newer than the hand, wrapping to the oldest.
    /// - Complexity: amortised O(1) (each sweep step clears a bit some access set)
    @inlinable public mutating func evict(for incoming: BlockInfo) -> BlockSlot? {
        guard !_list.isEmpty else { return nil }
        let n = _nodes.mutablePointer
        var s = _hand >= 0 ? _hand : _list.tail
        while n[Int(s)].payload {
            n[Int(s)].payload = false
            let p = n[Int(s)].prev
            s = p >= 0 ? p : _list.tail
        }
        _hand = n[Int(s)].prev
        _list.remove(s, n)
        return s
    }
    @inlinable public mutating func _beginExclusiveAccess() { _nodes.beginExclusive() }
    @inlinable public mutating func _endExclusiveAccess() { _nodes.endExclusive() }
}
