/// S3-FIFO: a small FIFO that filters one-hit wonders, a main FIFO with reinsertion, and a
/// ghost FIFO of recently filtered keys.
///
/// Yang et al., "FIFO queues are all you need for cache eviction", SOSP'23. Defaults are the
/// paper's and libCacheSim's: small queue 10 % of capacity, ghost 90 % of capacity (in keys),
/// move-to-main threshold 2. The paper's Algorithm 1, with the details it leaves open settled
/// as libCacheSim's `S3FIFO.c` settles them: a hit adds 1 to the block's counter; a new block
/// enters the small queue, or the main queue when its key is a ghost; eviction takes from the main queue when it is over its share or the small
/// queue is empty, else from the small queue, where blocks with counter ≥ threshold move to
/// main (counter reset) and the rest are evicted into the ghost queue; main reinserts a block
/// with counter ≥ 1 at its head with `min(counter, 3) − 1` (a 2-bit clock) and evicts the first
/// block with counter 0.
public struct S3FIFO: EvictionAlgorithm, Sendable {
    @usableFromInline let _smallCapacity: Int
    @usableFromInline let _mainCapacity: Int
    @usableFromInline let _ghostCapacity: Int
    @usableFromInline let _threshold: UInt8
    @usableFromInline internal var _links: [_Link]
    @usableFromInline internal var _keys: [UInt64]
    @usableFromInline internal var _counter: [UInt8]
    @usableFromInline internal var _inMain: [Bool]
    @usableFromInline internal var _small = _SlotList()
    @usableFromInline internal var _main = _SlotList()
    @usableFromInline internal var _ghosts: _GhostDirectory
    @usableFromInline internal var _hasEvicted = false
    @usableFromInline internal var _incomingWasGhost = false
    @usableFromInline let _fillMainFirst: Bool

    /// Creates an S3-FIFO with the default ratios.
    @inlinable
    public init(capacity: Int) { self.init(capacity: capacity, smallRatio: 0.10, ghostRatio: 0.90, moveToMainThreshold: 2) }

    /// Looks the incoming key up in the ghost queue (and forgets it there) before any eviction,
    /// as the paper's `read` and libCacheSim's `find` do.
    /// - Complexity: O(1) expected
    @inlinable public mutating func willInsert(_ incoming: BlockInfo) -> BlockSlot? {
        if let ghost = _ghosts.find(incoming.hash.rawValue) {
            _ghosts.remove(ghost.entry)
            _incomingWasGhost = true
        } else {
            _incomingWasGhost = false
        }
        return nil
    }

    /// Creates an S3-FIFO.
    ///
    /// - Parameters:
    ///   - capacity: Pool slots.
    ///   - smallRatio: The small queue's share of capacity (default 0.10).
    ///   - ghostRatio: Ghost keys remembered, as a share of capacity (default 0.90).
    ///   - moveToMainThreshold: Hits a small-queue block needs to move to main (default 2).
    ///   - fillMainFirst: Before the first eviction, send new blocks to the main queue once the
    ///     small queue is full (a warm-up rule of recent libCacheSim releases, not in the paper).
    ///     Default `false`.
    @inlinable
    public init(capacity: Int, smallRatio: Double, ghostRatio: Double, moveToMainThreshold: Int, fillMainFirst: Bool = false) {
        _fillMainFirst = fillMainFirst
        _smallCapacity = Int(Double(capacity) * smallRatio)
        _mainCapacity = capacity - _smallCapacity
        _ghostCapacity = Int(Double(capacity) * ghostRatio)
        _threshold = UInt8(clamping: moveToMainThreshold)
        _links = Array(repeating: _Link(), count: capacity)
        _keys = Array(repeating: 0, count: capacity)
        _counter = Array(repeating: 0, count: capacity)
        _inMain = Array(repeating: false, count: capacity)
        _ghosts = _GhostDirectory(capacity: _ghostCapacity, lists: 1)
    }

    /// - Complexity: O(1) expected
    @inlinable public mutating func didInsert(_ slot: BlockSlot, _ block: BlockInfo) {
        _counter[Int(slot)] = 0
        _keys[Int(slot)] = block.hash.rawValue
        if _incomingWasGhost {
            _incomingWasGhost = false
            _pushMain(slot)
        } else if _fillMainFirst && !_hasEvicted && _small.count >= _smallCapacity {
            _pushMain(slot)
        } else {
            _inMain[Int(slot)] = false
            _small.pushFront(slot, &_links)
        }
    }

    @inlinable mutating func _pushMain(_ slot: Int32) {
        _inMain[Int(slot)] = true
        _main.pushFront(slot, &_links)
    }

    /// Returns an unpinned block to the small queue as a new block.
    /// - Complexity: O(1)
    @inlinable public mutating func didUnpin(_ slot: BlockSlot, _ block: BlockInfo) {
        _incomingWasGhost = false
        didInsert(slot, block)
    }

    /// - Complexity: O(1)
    @inlinable public mutating func didAccess(_ slot: BlockSlot, _ block: BlockInfo) {
        let c = _counter[Int(slot)]
        if c < 255 { _counter[Int(slot)] = c + 1 }
    }

    /// - Complexity: O(1)
    @inlinable public mutating func didRemove(_ slot: BlockSlot) {
        if _inMain[Int(slot)] { _main.remove(slot, &_links) } else { _small.remove(slot, &_links) }
    }

    /// - Complexity: amortised O(1) (each reinsertion spends a counter unit some hit added)
    @inlinable public mutating func evict(for incoming: BlockInfo) -> BlockSlot? {
        _hasEvicted = true
        while !_small.isEmpty || !_main.isEmpty {
            if _main.count > _mainCapacity || _small.isEmpty {
                if let s = _evictMain() { return s }
            } else {
                if let s = _evictSmall() { return s }
            }
        }
        return nil
    }

    @inlinable mutating func _evictSmall() -> Int32? {
        while let s = _small.popBack(&_links) {
            if _counter[Int(s)] >= _threshold {
                _counter[Int(s)] = 0
                _pushMain(s)
            } else {
                _remember(_keys[Int(s)])
                return s
            }
        }
        return nil
    }

    @inlinable mutating func _evictMain() -> Int32? {
        while let s = _main.popBack(&_links) {
            let c = _counter[Int(s)]
            if c >= 1 {
                _counter[Int(s)] = min(c, 3) - 1
                _main.pushFront(s, &_links)
            } else {
                return s
            }
        }
        return nil
    }

    @inlinable mutating func _remember(_ key: UInt64) {
        guard _ghostCapacity > 0, _ghosts.find(key) == nil else { return }
        if _ghosts.count(0) >= _ghostCapacity { _ghosts.removeOldest(list: 0) }
        _ghosts.pushFront(key, list: 0)
    }
}
