/// ARC, the adaptive replacement cache: two LRU lists (seen once, seen at least twice) whose
/// balance adapts through ghost lists of recently evicted keys.
///
/// Megiddo and Modha, "ARC: A Self-Tuning, Low Overhead Replacement Cache", FAST'03. T1 and T2
/// hold cached blocks, B1 and B2 the keys evicted from them; the target size `p` of T1 grows on
/// a B1 ghost hit by max(|B2|/|B1|, 1) and shrinks on a B2 hit by max(|B1|/|B2|, 1), real
/// divisions as in the paper (libCacheSim divides integers, so its hit ratios differ
/// slightly). Where the paper leaves the order of steps open, ARC follows libCacheSim's
/// `ARC.c`: a ghost hit runs REPLACE at once (even when the pool is not full) and puts the
/// block at T2's head; a full miss with |T1| + |B1| ≥ c drops B1's oldest key and runs REPLACE when
/// |T1| < c, or evicts T1's oldest block without a ghost otherwise; with |T1| + |B1| < c and
/// all four lists at 2c it drops B2's oldest key, then runs REPLACE. REPLACE evicts T1's LRU
/// (into B1) when |T1| > p, or |T1| = p and the incoming key is a B2 ghost; else T2's LRU (into B2).
public struct ARC: EvictionAlgorithm, Sendable {
    /// The policy name: `arc`.
    public static var name: String { "arc" }
    @usableFromInline let _capacity: Int
    /// Per slot: links and list (payload: in T2), in one 12-byte record.
    @usableFromInline internal var _nodes: _SlotRecords<_Link<Bool>>
    @usableFromInline internal var _t1 = _SlotList()
    @usableFromInline internal var _t2 = _SlotList()
    /// B1 (list 0) and B2 (list 1); the pool holds their keys in its table.
    public var ghosts: GhostKeys
    /// The adaptive target size of T1 (a real number, as in the paper).
    @inlinable public var p: Double { _p }
    @usableFromInline internal var _p: Double = 0
    @usableFromInline internal var _incomingInB1 = false
    @usableFromInline internal var _incomingInB2 = false

    /// ARC remembers evicted keys (B1 and B2).
    @inlinable public static var keepsGhosts: Bool { true }

    /// Creates an ARC for `capacity` slots.
    @inlinable
    public init(capacity: Int) {
        _capacity = capacity
        _nodes = _SlotRecords(repeating: _Link(false), count: capacity)
        // |B1| + |B2| ≤ c while nothing is pinned; pinned blocks leave T1/T2, so up to 2c then
        ghosts = GhostKeys(capacity: 2 * capacity, lists: 2)
    }

    /// Handles a ghost hit: adapts `p`, runs REPLACE and returns the block it evicted.
    /// - Complexity: O(1)
    @inlinable
    public mutating func willInsert(_ incoming: BlockInfo, ghostOf list: Int?) -> BlockSlot? {
        _incomingInB1 = false
        _incomingInB2 = false
        guard let list else { return nil }
        // the pool took the key out of its list already; the paper's sizes still count it
        let b1 = ghosts.count(in: 0) + (list == 0 ? 1 : 0), b2 = ghosts.count(in: 1) + (list == 1 ? 1 : 0)
        if list == 0 {
            _incomingInB1 = true
            _p = min(_p + max(Double(b2) / Double(b1), 1), Double(_capacity))
        } else {
            _incomingInB2 = true
            _p = max(_p - max(Double(b1) / Double(b2), 1), 0)
        }
        return _replace()
    }

    /// - Complexity: O(1)
    @inlinable
    public mutating func evict(for incoming: BlockInfo) -> BlockSlot? {
        let t1 = _t1.count, b1 = ghosts.count(in: 0)
        if t1 + b1 + 1 > _capacity {
            if t1 < _capacity {
                ghosts.forgetOldest(in: 0)
                return _replace()
            }
            return _t1.popBack(_nodes.mutablePointer)
        }
        if t1 + _t2.count + b1 + ghosts.count(in: 1) >= 2 * _capacity {
            ghosts.forgetOldest(in: 1)
        }
        return _replace()
    }

    /// The block REPLACE would take now.
    @inlinable public var victimHint: BlockSlot {
        let t1 = _t1.count
        return (t1 > 0 && Double(t1) >= _p) || _t2.isEmpty ? _t1.tail : _t2.tail
    }

    /// REPLACE of the paper: evicts T1's or T2's LRU block into the matching ghost list.
    @inlinable mutating func _replace() -> Int32? {
        let t1 = _t1.count
        let size = Double(t1)
        let fromT1 = t1 > 0 && (size > _p || (size == _p && _incomingInB2))
        let takeT1 = (fromT1 || _t2.isEmpty) && t1 > 0
        let s = takeT1 ? _t1.tail : _t2.tail
        guard s >= 0 else { return nil }
        _nodes.withMutableRecords { n in
            if takeT1 { _t1.remove(s, n) } else { _t2.remove(s, n) }
        }
        ghosts.remember(s, in: takeT1 ? 0 : 1)
        return s
    }

    /// Puts the block at T2's head after a ghost hit, else at T1's head.
    /// - Complexity: O(1)
    @inlinable @inline(__always) public mutating func didInsert(_ slot: BlockSlot, _ block: BlockInfo) {
        let toT2 = _incomingInB1 || _incomingInB2
        _nodes.withMutableRecords { n in
            n[Int(slot)].payload = toT2
            if toT2 { _t2.pushFront(slot, n) } else { _t1.pushFront(slot, n) }
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
    @inlinable @inline(__always) public mutating func didAccess(_ slot: BlockSlot, _ block: BlockInfo) {
        if _nodes.pointer[Int(slot)].payload && _t2.head == slot { return }
        _nodes.withMutableRecords { l in
            if l[Int(slot)].payload { _t2.remove(slot, l) } else { _t1.remove(slot, l) }
            l[Int(slot)].payload = true
            _t2.pushFront(slot, l)
        }
    }

    /// - Complexity: O(1)
    @inlinable public mutating func didRemove(_ slot: BlockSlot) {
        if _nodes.pointer[Int(slot)].payload { _t2.remove(slot, _nodes.mutablePointer) } else { _t1.remove(slot, _nodes.mutablePointer) }
    }
    @inlinable public mutating func _beginExclusiveAccess() { _nodes.beginExclusive() }
    @inlinable public mutating func _endExclusiveAccess() { _nodes.endExclusive() }
}
