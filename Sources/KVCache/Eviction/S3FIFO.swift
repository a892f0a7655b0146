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
    /// The policy name: `s3fifo`.
    public static var name: String { "s3fifo" }
    @usableFromInline let _smallCapacity: Int
    @usableFromInline let _mainCapacity: Int
    @usableFromInline let _ghostCapacity: Int
    @usableFromInline let _threshold: UInt8
    /// Per slot: links, and a payload byte of the hit counter (low 7 bits) and "in main queue"
    /// (top bit).
    @usableFromInline internal var _nodes: _SlotRecords<_Link<UInt8>>
    @usableFromInline internal var _small = _SlotList()
    @usableFromInline internal var _main = _SlotList()
    /// Keys filtered out by the small queue (one list); the pool holds them in its table.
    public var ghosts: GhostKeys
    @usableFromInline internal var _hasEvicted = false
    @usableFromInline internal var _incomingWasGhost = false
    @usableFromInline let _fillMainFirst: Bool

    /// Creates an S3-FIFO with the default ratios.
    @inlinable
    public init(capacity: Int) { self.init(capacity: capacity, smallRatio: 0.10, ghostRatio: 0.90, moveToMainThreshold: 2) }

    /// S3-FIFO remembers keys the small queue evicted.
    @inlinable public static var keepsGhosts: Bool { true }

    /// Notes whether the incoming key is a ghost (the pool found it in its table and has
    /// forgotten it), as the paper's `read` and libCacheSim's `find` do before any eviction.
    /// - Complexity: O(1)
    @inlinable public mutating func willInsert(_ incoming: BlockInfo, ghostOf list: Int?) -> BlockSlot? {
        _incomingWasGhost = list != nil
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
        _threshold = UInt8(clamping: min(moveToMainThreshold, 127))
        _nodes = _SlotRecords(repeating: _Link(UInt8(0)), count: capacity)
        ghosts = GhostKeys(capacity: _ghostCapacity, lists: 1)
    }

    /// - Complexity: O(1) expected
    @inlinable @inline(__always) public mutating func didInsert(_ slot: BlockSlot, _ block: BlockInfo) {
        let toMain = _incomingWasGhost || (_fillMainFirst && !_hasEvicted && _small.count >= _smallCapacity)
        _incomingWasGhost = false
        _nodes.withMutableRecords { n in
            if toMain {
                n[Int(slot)].payload = 0x80
                _main.pushFront(slot, n)
            } else {
                n[Int(slot)].payload = 0
                _small.pushFront(slot, n)
            }
        }
    }

    /// Returns an unpinned block to the small queue as a new block.
    /// - Complexity: O(1)
    @inlinable public mutating func didUnpin(_ slot: BlockSlot, _ block: BlockInfo) {
        _incomingWasGhost = false
        didInsert(slot, block)
    }

    /// The block the next eviction most likely takes (the oldest of the queue it evicts from).
    @inlinable public var victimHint: BlockSlot {
        _main.count > _mainCapacity || _small.isEmpty ? _main.tail : _small.tail
    }

    /// - Complexity: O(1)
    @inlinable @inline(__always) public mutating func didAccess(_ slot: BlockSlot, _ block: BlockInfo) {
        let s = _nodes.pointer[Int(slot)].payload
        if s & 0x7F < 0x7F { _nodes.mutablePointer[Int(slot)].payload = s + 1 }
    }

    /// - Complexity: O(1)
    @inlinable public mutating func didRemove(_ slot: BlockSlot) {
        _nodes.withMutableRecords { n in
            if n[Int(slot)].payload & 0x80 != 0 { _main.remove(slot, n) } else { _small.remove(slot, n) }
        }
    }

    /// Evicts from main when it is over its share or small is empty (reinserting blocks with
    /// a counter ≥ 1), else from small (moving blocks with counter ≥ threshold to main); a
    /// block evicted from small is remembered as a ghost.
    /// - Complexity: amortised O(1) (each reinsertion spends a counter unit some hit added)
    @inlinable public mutating func evict(for incoming: BlockInfo) -> BlockSlot? {
        _hasEvicted = true
        var fromSmall = false
        let victim: Int32 = _nodes.withMutableRecords { n in
            while !_small.isEmpty || !_main.isEmpty {
                if _main.count > _mainCapacity || _small.isEmpty {
                    while _main.tail >= 0 {
                        let s = _main.tail
                        _main.remove(s, n)
                        let c = n[Int(s)].payload & 0x7F
                        guard c >= 1 else { return s }
                        n[Int(s)].payload = 0x80 | (min(c, 3) - 1)
                        _main.pushFront(s, n)
                    }
                } else {
                    while _small.tail >= 0 {
                        let s = _small.tail
                        _small.remove(s, n)
                        guard n[Int(s)].payload & 0x7F >= _threshold else { fromSmall = true; return s }
                        n[Int(s)].payload = 0x80
                        _main.pushFront(s, n)
                    }
                }
            }
            return -1
        }
        guard victim >= 0 else { return nil }
        if fromSmall { _remember(victim) }
        return victim
    }

    /// Remembers the key of the block in `slot`, being evicted from the small queue, as the
    /// newest ghost (forgetting the oldest when the ghost queue is full). It cannot be a ghost
    /// already: a ghost hit takes the key out of the queue before the block comes back.
    @inlinable mutating func _remember(_ slot: Int32) {
        guard _ghostCapacity > 0 else { return }
        if ghosts.count(in: 0) >= _ghostCapacity { ghosts.forgetOldest(in: 0) }
        ghosts.remember(slot, in: 0)
    }
    @inlinable public mutating func _beginExclusiveAccess() { _nodes.beginExclusive() }
    @inlinable public mutating func _endExclusiveAccess() { _nodes.endExclusive() }
}
