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
    @usableFromInline internal var _links: [_Link]
    @usableFromInline internal var _visited: [Bool]
    @usableFromInline internal var _list = _SlotList()
    @usableFromInline internal var _hand: Int32 = -1

    /// Creates a SIEVE for `capacity` slots.
    @inlinable
    public init(capacity: Int) {
        _links = Array(repeating: _Link(), count: capacity)
        _visited = Array(repeating: false, count: capacity)
    }

    /// - Complexity: O(1)
    @inlinable public mutating func didInsert(_ slot: BlockSlot, _ block: BlockInfo) {
        _visited[Int(slot)] = false
        _list.pushFront(slot, &_links)
    }
    /// - Complexity: O(1)
    @inlinable public mutating func didAccess(_ slot: BlockSlot, _ block: BlockInfo) { _visited[Int(slot)] = true }
    /// Where the hand will start looking.
    @inlinable public var victimHint: BlockSlot { _hand >= 0 ? _hand : _list.tail }
    /// - Complexity: O(1)
    @inlinable public mutating func didRemove(_ slot: BlockSlot) {
        if _hand == slot { _hand = _links[Int(slot)].prev }
        _list.remove(slot, &_links)
    }
    /// The first unvisited block at or newer than the hand, wrapping to the oldest.
    /// - Complexity: amortised O(1) (each sweep step clears a bit some access set)
    @inlinable public mutating func evict(for incoming: BlockInfo) -> BlockSlot? {
        guard !_list.isEmpty else { return nil }
        var s = _hand >= 0 ? _hand : _list.tail
        while _visited[Int(s)] {
            _visited[Int(s)] = false
            let p = _links[Int(s)].prev
            s = p >= 0 ? p : _list.tail
        }
        _hand = _links[Int(s)].prev
        _list.remove(s, &_links)
        return s
    }
}
