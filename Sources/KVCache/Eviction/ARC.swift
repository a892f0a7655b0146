/// ARC, the adaptive replacement cache: two LRU lists (seen once, seen at least twice) whose
/// balance adapts through ghost lists of recently evicted keys.
///
/// Megiddo and Modha, "ARC: A Self-Tuning, Low Overhead Replacement Cache", FAST'03. T1 and T2
/// hold cached blocks, B1 and B2 the keys evicted from them; the target size `p` of T1 grows on
/// a B1 ghost hit by max(|B2|/|B1|, 1) and shrinks on a B2 hit by max(|B1|/|B2|, 1), real
/// divisions as in the paper (current libCacheSim divides integers, which on the Mooncake
/// conversation trace moves the hit ratio by up to 0.3 points at 5,000 blocks). Where the paper
/// leaves the order of steps open, we follow libCacheSim's `ARC.c`: a ghost hit runs REPLACE at once (even when the pool is not full) and puts the block
/// at T2's head; a full miss with |T1| + |B1| ≥ c drops B1's oldest key and runs REPLACE when
/// |T1| < c, or evicts T1's oldest block without a ghost otherwise; with |T1| + |B1| < c and
/// all four lists at 2c it drops B2's oldest key, then runs REPLACE. REPLACE evicts T1's LRU
/// (into B1) when |T1| > p, or |T1| = p and the incoming key is a B2 ghost; else T2's LRU (into B2).
public struct ARC: EvictionAlgorithm, Sendable {
    @usableFromInline let _capacity: Int
    /// Per slot: links, key and list (`flag`: in T2), in one record.
    @usableFromInline internal var _nodes: [_KeyedLink]
    @usableFromInline internal var _t1 = _SlotList()
    @usableFromInline internal var _t2 = _SlotList()
    @usableFromInline internal var _ghosts: _GhostDirectory   // list 0 = B1, list 1 = B2
    /// The adaptive target size of T1 (a real number, as in the paper).
    public private(set) var p: Double = 0
    @usableFromInline internal var _incomingInB1 = false
    @usableFromInline internal var _incomingInB2 = false

    /// Creates an ARC for `capacity` slots.
    @inlinable
    public init(capacity: Int) {
        _capacity = capacity
        _nodes = _largeArray(repeating: _KeyedLink(), count: capacity)
        _ghosts = _GhostDirectory(capacity: 2 * capacity, lists: 2)
    }

    /// Handles a ghost hit: adapts `p`, runs REPLACE and returns the block it evicted.
    /// - Complexity: O(1) expected
    public mutating func willInsert(_ incoming: BlockInfo) -> BlockSlot? {
        _incomingInB1 = false
        _incomingInB2 = false
        guard let ghost = _ghosts.find(incoming.hash.rawValue) else { return nil }
        let b1 = _ghosts.count(0), b2 = _ghosts.count(1)
        if ghost.list == 0 {
            _incomingInB1 = true
            p = min(p + max(Double(b2) / Double(b1), 1), Double(_capacity))
        } else {
            _incomingInB2 = true
            p = max(p - max(Double(b1) / Double(b2), 1), 0)
        }
        let victim = _replace()     // only inserts into the ghost table: `ghost.bucket` stays valid
        _ghosts.remove(bucket: ghost.bucket)
        return victim
    }

    /// - Complexity: O(1) expected
    public mutating func evict(for incoming: BlockInfo) -> BlockSlot? {
        let t1 = _t1.count, b1 = _ghosts.count(0)
        if t1 + b1 + 1 > _capacity {
            if t1 < _capacity {
                _ghosts.removeOldest(list: 0)
                return _replace()
            }
            guard let s = _t1.popBack(&_nodes) else { return nil }
            return s
        }
        if t1 + _t2.count + b1 + _ghosts.count(1) >= 2 * _capacity {
            _ghosts.removeOldest(list: 1)
        }
        return _replace()
    }

    /// The block REPLACE would take now.
    public var victimHint: BlockSlot {
        let t1 = _t1.count
        return (t1 > 0 && Double(t1) >= p) || _t2.isEmpty ? _t1.tail : _t2.tail
    }

    /// REPLACE of the paper: evicts T1's or T2's LRU block into the matching ghost list.
    @usableFromInline mutating func _replace() -> Int32? {
        let t1 = _t1.count
        let size = Double(t1)
        let fromT1 = t1 > 0 && (size > p || (size == p && _incomingInB2))
        if (fromT1 || _t2.isEmpty), let s = _t1.popBack(&_nodes) {
            _ghosts.pushFront(_nodes[Int(s)].key, list: 0)
            return s
        }
        if let s = _t2.popBack(&_nodes) {
            _ghosts.pushFront(_nodes[Int(s)].key, list: 1)
            return s
        }
        return nil
    }

    /// Puts the block at T2's head after a ghost hit, else at T1's head.
    /// - Complexity: O(1)
    @inlinable public mutating func didInsert(_ slot: BlockSlot, _ block: BlockInfo) {
        _nodes[Int(slot)].key = block.hash.rawValue
        if _incomingInB1 || _incomingInB2 {
            _nodes[Int(slot)].flag = true
            _t2.pushFront(slot, &_nodes)
        } else {
            _nodes[Int(slot)].flag = false
            _t1.pushFront(slot, &_nodes)
        }
        _incomingInB1 = false
        _incomingInB2 = false
    }

    /// Returns an unpinned block to T1's head as a new block.
    /// - Complexity: O(1)
    @inlinable public mutating func didUnpin(_ slot: BlockSlot, _ block: BlockInfo) {
        _incomingInB1 = false
        _incomingInB2 = false
        didInsert(slot, block)
    }

    /// Moves the block to T2's head.
    /// - Complexity: O(1)
    @inlinable public mutating func didAccess(_ slot: BlockSlot, _ block: BlockInfo) {
        if _nodes[Int(slot)].flag {
            _t2.moveToFront(slot, &_nodes)
        } else {
            _t1.remove(slot, &_nodes)
            _nodes[Int(slot)].flag = true
            _t2.pushFront(slot, &_nodes)
        }
    }

    /// - Complexity: O(1)
    @inlinable public mutating func didRemove(_ slot: BlockSlot) {
        if _nodes[Int(slot)].flag { _t2.remove(slot, &_nodes) } else { _t1.remove(slot, &_nodes) }
    }
}
