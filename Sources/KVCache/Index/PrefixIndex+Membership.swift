import CKVCore

/// Which nodes hold an entry, in which tiers: 16 bytes inside the entry itself (`_Entry`), so a
/// block's tree links and its holders are one cache line, read and written together.
///
/// Two representations, chosen once by the index's node capacity:
/// - up to 64 nodes: one bitset word per tier, so a walk intersects all nodes at once. The
///   device tier's word is `lo` and the host tier's `hi`; the disk tier's lives beside the
///   entries (`PrefixIndex._diskMembership`), allocated at the first disk store, so only
///   indexes that see disk blocks pay for it;
/// - more nodes: up to four *holders* (node + 1 and a tier mask packed in 32 bits, holder 0
///   in the low half of `lo` to holder 3 in the high half of `hi`), since most blocks are
///   held by one or a few nodes; an entry with a fifth holder spills to a bitset of three
///   tiers × ⌈nodes/64⌉ words (`_spill`), kept until the entry is freed. Memory then follows
///   how many nodes hold a block, not how many exist.
@usableFromInline
struct _Holders: Sendable {
    /// ≤ 64 nodes: the device tier's bitset; more: holders 0 and 1.
    @usableFromInline var lo: UInt64 = 0
    /// ≤ 64 nodes: the host tier's bitset; more: holders 2 and 3.
    @usableFromInline var hi: UInt64 = 0

    @usableFromInline init() {}

    @usableFromInline init(h0: UInt32, h1: UInt32, h2: UInt32, h3: UInt32) {
        lo = UInt64(h0) | UInt64(h1) << 32
        hi = UInt64(h2) | UInt64(h3) << 32
    }

    @usableFromInline var h0: UInt32 { UInt32(truncatingIfNeeded: lo) }
    @usableFromInline var h1: UInt32 { UInt32(truncatingIfNeeded: lo >> 32) }

    @usableFromInline static let spilled: UInt32 = .max
    @usableFromInline var isSpilled: Bool { h0 == Self.spilled }
    /// The spill block of a spilled entry.
    @usableFromInline var spill: Int { Int(h1) }

    @usableFromInline @inline(__always)
    subscript(_ k: Int) -> UInt32 {
        get {
            let word = k < 2 ? lo : hi
            return UInt32(truncatingIfNeeded: k & 1 == 0 ? word : word >> 32)
        }
        set {
            let shift = UInt64(k & 1) * 32
            let cleared = (k < 2 ? lo : hi) & ~(0xFFFF_FFFF << shift)
            let word = cleared | UInt64(newValue) << shift
            if k < 2 { lo = word } else { hi = word }
        }
    }

    @usableFromInline @inline(__always)
    static func pack(node: Int, mask: UInt32) -> UInt32 { UInt32(node + 1) << 3 | mask }
    @usableFromInline @inline(__always)
    static func node(_ h: UInt32) -> Int { Int(h >> 3) - 1 }

    /// The tier mask of `node` (0: not a holder); inline entries only.
    @usableFromInline @inline(__always)
    func mask(of node: Int) -> UInt32 {
        let key = UInt32(node + 1)
        for k in 0..<4 where self[k] >> 3 == key { return self[k] & 7 }
        return 0
    }
}

extension PrefixIndex {
    @usableFromInline var _isWide: Bool { _words > 1 }

    /// Where word `w` of tier `t` of spill block `s` is: tier-major, so a walk over the tiers
    /// in use reads only their words, contiguously.
    @usableFromInline @inline(__always)
    func _spillIndex(_ s: Int, _ t: Int, _ w: Int) -> Int { (s * Self._tiers + t) * _words + w }

    /// The first word of spill block `s` (`3 × words` words).
    @usableFromInline @inline(__always)
    func _spillBlock(_ s: Int) -> Int { s * _words * Self._tiers }

    /// Tiers of entry `e` that `node` holds, as a 3-bit mask.
    @usableFromInline
    func _tierMask(_ e: Int, _ node: Int) -> UInt32 {
        let w = node >> 6, bit = UInt64(1) << UInt64(node & 63)
        let h = _entries.withUnsafeBufferPointer { $0[e].holders }
        if !_isWide {
            return (h.lo & bit != 0 ? 1 : 0) | (h.hi & bit != 0 ? 2 : 0) | (_diskWord(e) & bit != 0 ? 4 : 0)
        }
        guard h.isSpilled else { return h.mask(of: node) }
        return _spill.withUnsafeBufferPointer { m in
            var mask: UInt32 = 0
            for t in 0..<Self._tiers where m[_spillIndex(h.spill, t, w)] & bit != 0 { mask |= 1 << UInt32(t) }
            return mask
        }
    }

    /// Whether any node holds entry `e`.
    @usableFromInline
    func _isHeld(_ e: Int) -> Bool {
        let h = _entries.withUnsafeBufferPointer { $0[e].holders }
        if !_isWide { return h.lo | h.hi | _diskWord(e) != 0 }
        guard h.isSpilled else { return h.h0 != 0 }
        return _spill.withUnsafeBufferPointer { m in
            let base = _spillBlock(h.spill)
            for k in base..<(base + Self._tiers * _words) where m[k] != 0 { return true }
            return false
        }
    }

    /// The disk tier's bitset of entry `e` (≤ 64 nodes; 0 until a disk block is stored).
    @usableFromInline @inline(__always)
    func _diskWord(_ e: Int) -> UInt64 {
        _diskMembership.isEmpty ? 0 : _diskMembership.withUnsafeBufferPointer { $0[e] }
    }

    /// Empties the disk-tier bitset of a new or reused entry `e` (the entry's own holders start
    /// empty with it). The disk bitsets are either none or one per entry.
    @usableFromInline
    mutating func _resetMembership(_ e: Int) {
        guard !_isWide, !_diskMembership.isEmpty else { return }
        if e == _diskMembership.count {
            // grow with the entries, not by doubling on its own
            if _diskMembership.capacity < _entries.capacity { _diskMembership.reserveCapacity(_entries.capacity) }
            _diskMembership.append(0)
        } else {
            _diskMembership[e] = 0
        }
    }

    /// Frees entry `e`'s spill block, if it has one.
    @usableFromInline
    mutating func _releaseSpill(_ e: Int) {
        guard _isWide, _entries[e].holders.isSpilled else { return }
        _freeSpill.append(Int32(_entries[e].holders.spill))
        _entries[e].holders = _Holders()
    }

    /// Adds `node` in `tier` to entry `e`.
    /// - Returns: whether any node held `e` before, and whether `node` already held it in `tier`.
    @usableFromInline
    mutating func _addHolder(_ e: Int, _ node: Int, _ tier: Int) -> (wasHeld: Bool, already: Bool) {
        let bit = UInt64(1) << UInt64(node & 63), w = node >> 6
        _tiersInUse |= 1 << UInt8(tier)
        if !_isWide {
            if tier == 2 && _diskMembership.isEmpty {
                _diskMembership.reserveCapacity(_entries.capacity)
                _diskMembership.append(contentsOf: repeatElement(0, count: _entries.count))
            }
            let disk = _diskWord(e)
            let before = _entries.withUnsafeMutableBufferPointer { en in
                let h = en[e].holders
                if tier == 0 { en[e].holders.lo |= bit } else if tier == 1 { en[e].holders.hi |= bit }
                return h
            }
            if tier == 2 { _diskMembership[e] = disk | bit }
            let had = (tier == 0 ? before.lo : tier == 1 ? before.hi : disk) & bit != 0
            return (before.lo | before.hi | disk != 0, had)
        }
        var h = _entries[e].holders
        if h.isSpilled {
            let base = _spillBlock(h.spill), i = _spillIndex(h.spill, tier, w), n = Self._tiers * _words
            return _spill.withUnsafeMutableBufferPointer { m in
                var any: UInt64 = 0
                for k in base..<(base + n) { any |= m[k] }
                let had = m[i] & bit != 0
                m[i] |= bit
                return (any != 0, had)
            }
        }
        let tierBit = UInt32(1) << UInt32(tier)
        let key = UInt32(node + 1)
        for k in 0..<4 {
            let x = h[k]
            if x == 0 {
                h[k] = _Holders.pack(node: node, mask: tierBit)
                _entries[e].holders = h
                return (k > 0, false)
            }
            if x >> 3 == key {
                h[k] = x | tierBit
                _entries[e].holders = h
                return (true, x & tierBit != 0)
            }
        }
        // a fifth holder: move all of them to a spill block
        let s: Int
        if let free = _freeSpill.popLast() {
            s = Int(free)
            let base = _spillBlock(s)
            _spill.withUnsafeMutableBufferPointer { m in for k in base..<(base + Self._tiers * _words) { m[k] = 0 } }
        } else {
            s = _spill.count / (Self._tiers * _words)
            _spill.append(contentsOf: repeatElement(0, count: Self._tiers * _words))
        }
        for k in 0..<4 {
            let x = h[k], n = _Holders.node(x)
            for t in 0..<Self._tiers where x & (1 << UInt32(t)) != 0 {
                _spill[_spillIndex(s, t, (n >> 6))] |= UInt64(1) << UInt64(n & 63)
            }
        }
        _spill[_spillIndex(s, tier, w)] |= bit
        _entries[e].holders = _Holders(h0: _Holders.spilled, h1: UInt32(s), h2: 0, h3: 0)
        return (true, false)
    }

    /// Removes `node` from `tier` of entry `e` (which it holds there).
    /// - Returns: whether any node still holds `e`.
    @usableFromInline
    mutating func _removeHolder(_ e: Int, _ node: Int, _ tier: Int) -> Bool {
        let bit = UInt64(1) << UInt64(node & 63), w = node >> 6
        if !_isWide {
            if tier == 2 { _diskMembership[e] &= ~bit }
            let disk = _diskWord(e)
            return _entries.withUnsafeMutableBufferPointer { en in
                if tier == 0 { en[e].holders.lo &= ~bit } else if tier == 1 { en[e].holders.hi &= ~bit }
                return en[e].holders.lo | en[e].holders.hi | disk != 0
            }
        }
        var h = _entries[e].holders
        if h.isSpilled {
            let base = _spillBlock(h.spill), i = _spillIndex(h.spill, tier, w), n = Self._tiers * _words
            return _spill.withUnsafeMutableBufferPointer { m in
                m[i] &= ~bit
                var any: UInt64 = 0
                for k in base..<(base + n) { any |= m[k] }
                return any != 0
            }
        }
        let key = UInt32(node + 1), tierBit = UInt32(1) << UInt32(tier)
        for k in 0..<4 where h[k] >> 3 == key {
            let x = h[k] & ~tierBit
            if x & 7 != 0 {
                h[k] = x
            } else {
                // keep holders packed at the front
                var last = 3
                while last > k && h[last] == 0 { last -= 1 }
                h[k] = h[last]
                h[last] = 0
            }
            break
        }
        _entries[e].holders = h
        return h.h0 != 0
    }
}

extension PrefixIndex {
    /// The overlaps walk of an index of more than 64 nodes. The nodes still matching are
    /// a bitset while every block so far is spilled (held by many nodes), and a list of at
    /// most four (node, tiers) from the first block with inline holders on: each later block
    /// costs a few comparisons, whatever the node count.
    @usableFromInline
    func _overlapsHolders(_ chain: UnsafeBufferPointer<BlockHash>, _ scores: inout OverlapScores) {
        let nodes = scores.nodeCount
        scores.depths.withUnsafeMutableBufferPointer { d in
            scores.tierDepths.withUnsafeMutableBufferPointer { td in
                _overlapsHolders(chain, depths: d.baseAddress!, tierDepths: td.baseAddress!, nodes: nodes)
            }
        }
    }

    @usableFromInline
    func _overlapsHolders(
        _ chain: UnsafeBufferPointer<BlockHash>, depths d: UnsafeMutablePointer<Int32>,
        tierDepths td: UnsafeMutablePointer<Int32>, nodes: Int
    ) {
        // tiers no node ever held are all zero: the walk leaves them out
        let tiers = UInt8.bitWidth - _tiersInUse.leadingZeroBitCount, words = _words
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: words * (tiers + 2) + 4) { state in
            let alive = state.baseAddress!  // words: nodes matching in any tier
            let aliveTier = alive + words  // tiers × words: matching within a tier
            let live = aliveTier + tiers * words  // the words of `alive` that are not zero
            let list = live + words  // ≤ 4 matching nodes: node << 3 | tier mask
            var liveCount = 0, listCount = 0
            var bitsetMode = false
            var depth: Int32 = 0
            func node(_ k: Int) -> Int { Int(list[k] >> 3) }
            func mask(_ k: Int) -> UInt32 { UInt32(truncatingIfNeeded: list[k] & 7) }
            func setItem(_ k: Int, _ n: Int, _ m: UInt32) { list[k] = UInt64(n) << 3 | UInt64(m) }
            /// Writes `value` for every node of `bits` (word `w`) into `out`.
            func write(_ bits: UInt64, _ w: Int, _ out: UnsafeMutablePointer<Int32>, _ value: Int32) {
                if bits == .max {  // 64 matching nodes: one vector fill
                    (out + w * 64).update(repeating: value, count: 64)
                    return
                }
                var r = bits
                while r != 0 { out[w * 64 + r.trailingZeroBitCount] = value; r &= r - 1 }
            }
            func writeTiers(_ n: Int, _ m: UInt32, _ value: Int32) {
                if m & 1 != 0 { td[n] = value }
                if m & 2 != 0 { td[nodes + n] = value }
                if m & 4 != 0 { td[2 * nodes + n] = value }
            }
            /// Writes `value` for every node still matching, in every tier it matches in.
            func writeAlive(_ value: Int32) {
                for j in 0..<liveCount {
                    let w = Int(live[j])
                    write(alive[w], w, d, value)
                    for t in 0..<tiers { write(aliveTier[t * words + w] & alive[w], w, td + t * nodes, value) }
                }
            }
            /// The tiers of `alive` that node `n` (alive) matches in.
            func aliveTiers(_ n: Int) -> UInt32 {
                let w = n >> 6, bit = UInt64(1) << UInt64(n & 63)
                var m: UInt32 = 0
                for t in 0..<tiers where aliveTier[t * words + w] & bit != 0 { m |= 1 << UInt32(t) }
                return m
            }
            _spill.withUnsafeBufferPointer { spill in
                _entries.withUnsafeBufferPointer { entries in
                    _withChainCursor(chain, records: entries.baseAddress!, stride: 1) { cursor in
                        while let entry = cursor.nextEntry() {
                            let held = entries[entry].holders
                            if depth == 0 {
                                if held.isSpilled {
                                    bitsetMode = true
                                    for w in 0..<words {
                                        var any: UInt64 = 0
                                        for t in 0..<tiers {
                                            let v = spill[_spillIndex(held.spill, t, w)]
                                            aliveTier[t * words + w] = v
                                            any |= v
                                        }
                                        alive[w] = any
                                        if any != 0 { live[liveCount] = UInt64(w); liveCount += 1 }
                                    }
                                } else {
                                    for k in 0..<4 where held[k] != 0 {
                                        setItem(listCount, _Holders.node(held[k]), held[k] & 7)
                                        listCount += 1
                                    }
                                    if listCount == 0 { return }
                                }
                            } else if bitsetMode && held.isSpilled {
                                var kept = 0, count = 0
                                for j in 0..<liveCount {
                                    let w = Int(live[j])
                                    var any: UInt64 = 0
                                    for t in 0..<tiers {
                                        let mt = spill[_spillIndex(held.spill, t, w)]
                                        any |= mt
                                        write(aliveTier[t * words + w] & ~mt, w, td + t * nodes, depth)
                                        aliveTier[t * words + w] &= mt
                                    }
                                    write(alive[w] & ~any, w, d, depth)
                                    alive[w] &= any
                                    if alive[w] != 0 {
                                        live[kept] = UInt64(w)
                                        kept += 1
                                        count += alive[w].nonzeroBitCount
                                    }
                                }
                                liveCount = kept
                                if kept == 0 { return }
                                // few nodes left: a list tests each with a word or a comparison
                                if count <= 4 {
                                    for j in 0..<liveCount {
                                        let w = Int(live[j])
                                        var r = alive[w]
                                        while r != 0 {
                                            let n = w * 64 + r.trailingZeroBitCount
                                            r &= r - 1
                                            setItem(listCount, n, aliveTiers(n))
                                            listCount += 1
                                        }
                                    }
                                    bitsetMode = false
                                }
                            } else if bitsetMode {
                                // from many matching nodes to the few holding this block: every
                                // matching node gets this depth now; the survivors are written
                                // again where they stop
                                writeAlive(depth)
                                for k in 0..<4 where held[k] != 0 {
                                    let n = _Holders.node(held[k])
                                    guard alive[n >> 6] & (UInt64(1) << UInt64(n & 63)) != 0 else { continue }
                                    setItem(listCount, n, aliveTiers(n) & held[k] & 7)
                                    listCount += 1
                                }
                                bitsetMode = false
                                if listCount == 0 { return }
                            } else {
                                var k = 0
                                while k < listCount {
                                    let n = node(k), m = mask(k)
                                    let hm: UInt32
                                    if held.isSpilled {
                                        var x: UInt32 = 0
                                        let bit = UInt64(1) << UInt64(n & 63)
                                        for t in 0..<tiers where spill[_spillIndex(held.spill, t, (n >> 6))] & bit != 0 {
                                            x |= 1 << UInt32(t)
                                        }
                                        hm = x
                                    } else {
                                        hm = held.mask(of: n)
                                    }
                                    if hm == 0 {
                                        d[n] = depth
                                        writeTiers(n, m, depth)
                                        listCount -= 1
                                        setItem(k, node(listCount), mask(listCount))
                                    } else {
                                        writeTiers(n, m & ~hm, depth)
                                        setItem(k, n, m & hm)
                                        k += 1
                                    }
                                }
                                if listCount == 0 { return }
                            }
                            depth += 1
                        }
                    }
                }
            }
            // nodes still matching hold the whole walked prefix
            if bitsetMode {
                writeAlive(depth)
            } else {
                for k in 0..<listCount {
                    d[node(k)] = depth
                    writeTiers(node(k), mask(k), depth)
                }
            }
        }
    }
}
