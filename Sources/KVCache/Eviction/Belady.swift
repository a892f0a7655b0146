/// Belady's MIN, the offline optimum: the victim is the block whose next use is farthest in
/// the future (never used again first).
///
/// Belady, "A study of replacement algorithms for a virtual-storage computer", IBM Systems
/// Journal 5(2), 1966. It needs the future, so it only serves simulation as an upper bound:
/// the caller passes each access's next-use time in ``BlockInfo/nextUse`` (the simulator
/// computes them from the trace). An indexed binary max-heap over slots keyed by next use.
/// Ties between equal next uses (typically "never") go to the lowest slot in heap order.
public struct Belady: EvictionAlgorithm, Sendable {
    /// The policy name: `belady`.
    public static var name: String { "belady" }
    /// Belady needs each access's next use.
    public static var needsFuture: Bool { true }
    @usableFromInline internal var _heap: [Int32] = []
    @usableFromInline internal var _index: [Int32]
    @usableFromInline internal var _next: [Int64]

    /// Creates a Belady MIN for `capacity` slots.
    @inlinable
    public init(capacity: Int) {
        _index = Array(repeating: -1, count: capacity)
        _next = Array(repeating: .max, count: capacity)
        _heap.reserveCapacity(capacity)
    }

    /// - Complexity: O(log n)
    @inlinable public mutating func didInsert(_ slot: BlockSlot, _ block: BlockInfo) {
        _next[Int(slot)] = block.nextUse
        _index[Int(slot)] = Int32(_heap.count)
        _heap.append(slot)
        _siftUp(_heap.count - 1)
    }

    /// - Complexity: O(log n)
    @inlinable public mutating func didAccess(_ slot: BlockSlot, _ block: BlockInfo) {
        let i = Int(_index[Int(slot)])
        let old = _next[Int(slot)]
        _next[Int(slot)] = block.nextUse
        if block.nextUse > old { _siftUp(i) } else { _siftDown(i) }
    }

    /// - Complexity: O(log n)
    @inlinable public mutating func didRemove(_ slot: BlockSlot) { _removeAt(Int(_index[Int(slot)])) }

    /// The block used farthest in the future.
    /// - Complexity: O(log n)
    @inlinable public mutating func evict(for incoming: BlockInfo) -> BlockSlot? {
        guard let top = _heap.first else { return nil }
        _removeAt(0)
        return top
    }

    @inlinable mutating func _removeAt(_ i: Int) {
        let slot = _heap[i]
        let last = _heap.removeLast()
        _index[Int(slot)] = -1
        guard i < _heap.count else { return }
        _heap[i] = last
        _index[Int(last)] = Int32(i)
        _siftUp(i)
        _siftDown(Int(_index[Int(last)]))
    }

    @inlinable func _above(_ a: Int32, _ b: Int32) -> Bool { _next[Int(a)] > _next[Int(b)] }

    @inlinable mutating func _siftUp(_ start: Int) {
        var i = start
        while i > 0 {
            let parent = (i - 1) / 2
            guard _above(_heap[i], _heap[parent]) else { break }
            _swap(i, parent)
            i = parent
        }
    }

    @inlinable mutating func _siftDown(_ start: Int) {
        var i = start
        while true {
            let l = 2 * i + 1, r = l + 1
            var top = i
            if l < _heap.count && _above(_heap[l], _heap[top]) { top = l }
            if r < _heap.count && _above(_heap[r], _heap[top]) { top = r }
            guard top != i else { return }
            _swap(i, top)
            i = top
        }
    }

    @inlinable mutating func _swap(_ a: Int, _ b: Int) {
        _heap.swapAt(a, b)
        _index[Int(_heap[a])] = Int32(a)
        _index[Int(_heap[b])] = Int32(b)
    }
}
