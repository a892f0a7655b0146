/// Which node holds which blocks: the prefix tree a KV-aware router consults, kept current by
/// the events engines publish (``KVEvent``), answering "how many leading blocks of this request
/// does each node hold?" in one walk (``overlaps(_:)``).
///
/// Storage is contiguous: a block-hash table (the pool's `_BlockTable`) maps each block to an
/// entry; an entry is 32 bytes, half a cache line, holding its hash, its parent entry, its
/// child count and its holders: a bitset word per tier for up to 64 nodes, else up to four
/// (node, tiers) holders that spill to a bitset only for blocks more nodes hold (see
/// `_Holders`). So storing, removing or walking a block reads one line of the table and one
/// of the entries. No class instance per entry.
///
/// - Stores are reference-counted per (block, node, tier): duplicates (several data-parallel
///   ranks) need as many removals.
/// - A block stored under a parent no node holds hangs under a *placeholder* entry for that
///   parent (held by nobody, so every walk stops there: the block acts as a root); when the
///   parent is stored, the placeholder simply becomes held and the tree is whole again. An
///   entry disappears once no node holds it and it has no children, so a parent evicted before
///   its children stays as a placeholder for them. No lookup table of orphans is needed.
/// - Removing a block a node does not hold is counted, not an error.
/// - A parent link that would close a cycle (a malformed stream storing 1 under 2 and 2 under
///   1) is not made, so every entry is freed once nothing holds it.
/// - Events are applied in each node's event-ID order (an ``EventSequencer``): an event that
///   arrives before an earlier one is held until the earlier one arrives, a jump ahead is
///   reported as an ``EventGap`` (replay it: the replayed events are applied when they
///   arrive), and a repeated ID is ignored and counted. A node's first ID is expected to be
///   `0`; a later one is a gap too.
public struct PrefixIndex: Sendable {
    /// The most nodes the index tracks (node ids `0 ..< nodeCapacity`).
    public let nodeCapacity: Int
    @usableFromInline let _words: Int
    @usableFromInline static var _tiers: Int { StorageTier.allCases.count }

    @usableFromInline var _table: _BlockTable
    @usableFromInline var _entries: [_Entry] = []
    @usableFromInline var _diskMembership: [UInt64] = []  // ≤ 64 nodes: per entry once a disk block is stored
    @usableFromInline var _spill: [UInt64] = []  // > 64 nodes: (spill * tiers + tier) * words + word
    @usableFromInline var _freeSpill: [Int32] = []
    @usableFromInline var _tiersInUse: UInt8 = 0  // tiers ever held: walks skip the rest
    @usableFromInline var _freeHead: Int32 = -1  // freed entries, linked through `children`
    @usableFromInline var _extraRefs: [UInt64: UInt32] = [:]  // key: _refKey(entry, node, tier)
    @usableFromInline var _heldCount = 0
    @usableFromInline var _nodeMemberships: [Int]  // per node: (block, tier) pairs held
    @usableFromInline var _sequencer: EventSequencer<KVEvent>
    @usableFromInline var _knownNodes: [UInt64]  // bitset of nodes ever seen
    @usableFromInline var _nodeLimit: Int = 0  // highest node seen + 1
    @usableFromInline var _approximate: _ApproximateState

    /// The index's own counters; ``IndexStatistics/sequencing`` is filled in on reading.
    @usableFromInline var _counts = IndexStatistics()
    /// Counters of what the index has seen.
    public var statistics: IndexStatistics {
        var s = _counts
        s.sequencing = _sequencer.statistics
        return s
    }

    /// The largest ``nodeCapacity`` an index accepts.
    public static let maximumNodeCapacity = 1 << 28

    /// Creates an empty index.
    ///
    /// - Parameters:
    ///   - nodeCapacity: The most nodes (rounded up to a multiple of 64; at least 64, at most
    ///     ``maximumNodeCapacity``).
    ///   - expectedBlocks: Blocks to reserve room for (the table grows past it).
    ///   - approximate: Settings of approximate mode (``recordRouting(_:to:at:)``).
    ///   - maximumHeldEvents: The most events held per node behind a gap before the gap is
    ///     given up (see ``EventSequencer``).
    /// - Precondition: `nodeCapacity <= PrefixIndex.maximumNodeCapacity`.
    public init(
        nodeCapacity: Int = 64, expectedBlocks: Int = 1 << 12, approximate: ApproximateMode = ApproximateMode(),
        maximumHeldEvents: Int = 10_000
    ) {
        precondition(
            nodeCapacity <= Self.maximumNodeCapacity,
            "PrefixIndex nodeCapacity \(nodeCapacity) is above the maximum \(Self.maximumNodeCapacity)")
        let words = max(1, (nodeCapacity + 63) / 64)
        self.nodeCapacity = words * 64
        _words = words
        _table = _BlockTable(maximumCount: max(expectedBlocks, 16))
        _sequencer = EventSequencer(firstEventID: 0, maximumHeld: maximumHeldEvents)
        _knownNodes = Array(repeating: 0, count: words)
        _nodeMemberships = Array(repeating: 0, count: words * 64)
        _approximate = _ApproximateState(mode: approximate)
    }

    /// Blocks indexed (held by at least one node).
    /// - Complexity: O(1)
    public var blockCount: Int { _heldCount }

    /// Entries kept only as parents of held blocks (held by no node).
    /// - Complexity: O(1)
    public var placeholderCount: Int { _table.count - _heldCount }

    /// The blocks `node` holds, counting a block once per tier it is in.
    /// - Complexity: O(1)
    public func blockCount(of node: NodeID) -> Int {
        node >= 0 && node < nodeCapacity ? _nodeMemberships[node] : 0
    }

    /// The number of node ids the index has seen (highest id + 1).
    public var nodeCount: Int { _nodeLimit }

    /// Memory held per index entry, in bytes: the table, the entry arrays, the holders (and
    /// spilled bitsets) and the free lists, over the entries held now.
    public var bytesPerBlock: Double {
        let bytes =
            _table.byteCount + _entries.capacity * MemoryLayout<_Entry>.stride
            + _diskMembership.capacity * 8 + _spill.capacity * 8 + _freeSpill.capacity * 4
        return Double(bytes) / Double(max(_table.count, 1))
    }

    // MARK: Events

    /// Applies one event in its node's event-ID order: now, with any held events it makes
    /// next, or later, when the events before it arrive.
    ///
    /// - Returns: The gap this event revealed: IDs before it that were never seen.
    /// - Throws: ``IndexError/nodeOutOfRange(node:capacity:)`` for a node id outside the index.
    /// - Complexity: O(blocks in the events applied) expected; O(entries) for `cleared`.
    @discardableResult
    public mutating func apply(_ event: KVEvent) throws(IndexError) -> EventGap? {
        let node = event.node
        guard node >= 0 && node < nodeCapacity else { throw .nodeOutOfRange(node: node, capacity: nodeCapacity) }
        switch _sequencer.admit(event, id: event.eventID, node: node) {
        case .inOrder:
            _apply(event.kind, node: node)
            _drainHeld(of: node)
            return nil
        case .held(let gap):
            _drainHeld(of: node)
            return gap
        case .duplicate, .invalid:
            return nil
        }
    }

    /// Gives up the events `node` is missing: the events held behind its gaps are applied
    /// now, in ID order, and the missing ones counted as skipped. Use it when the node cannot
    /// replay them (its replay buffer no longer has the range).
    /// - Complexity: O(blocks in the held events + held events × gaps)
    public mutating func skipGap(of node: NodeID) {
        guard node >= 0 && node < nodeCapacity else { return }
        _sequencer.skipGap(of: node)
        _drainHeld(of: node)
    }

    /// Events held behind gaps, all nodes.
    public var heldEventCount: Int { _sequencer.heldCount }

    @usableFromInline
    mutating func _drainHeld(of node: NodeID) {
        while let next = _sequencer.nextReady(of: node) { _apply(next.kind, node: node) }
    }

    /// Applies what an event says, with no ordering check (the caller has ordered it).
    @usableFromInline
    mutating func _apply(_ kind: KVEventKind, node: NodeID) {
        _noteNode(node)
        _counts.eventsApplied += 1
        switch kind {
        case .stored(let parent, let blocks, let tier):
            var p = parent?.rawValue
            for (i, b) in blocks.enumerated() {
                _LinearProbing.prefetchAhead(of: i, count: blocks.count) { _table.prefetch(blocks[$0].rawValue) }
                _store(b.rawValue, parent: p, node: node, tier: tier.rawValue)
                p = b.rawValue
            }
        case .removed(let blocks, let tier):
            for (i, b) in blocks.enumerated() {
                _LinearProbing.prefetchAhead(of: i, count: blocks.count) { _table.prefetch(blocks[$0].rawValue) }
                _remove(b.rawValue, node: node, tier: tier.rawValue)
            }
        case .cleared:
            _clear(node: node)
        }
    }

    /// Applies events in order.
    ///
    /// - Returns: The gaps they revealed.
    /// - Throws: ``IndexError`` at the first event for a node outside the index (earlier
    ///   events stay applied).
    @discardableResult
    public mutating func apply(_ events: [KVEvent]) throws(IndexError) -> [EventGap] {
        var gaps: [EventGap] = []
        for e in events { if let g = try apply(e) { gaps.append(g) } }
        return gaps
    }

    /// Applies a co-located pool's changes directly (no events, no event IDs): the in-process
    /// path when the pools and the index live in one process, as in a simulator or a router
    /// that owns its engines' block managers. Equivalent to applying the events
    /// ``KVEvent/append(_:node:tier:nextEventID:to:)`` would make.
    /// - Throws: ``IndexError/nodeOutOfRange(node:capacity:)``.
    /// - Complexity: O(changes) expected
    public mutating func apply(_ changes: [PoolChange], node: NodeID, tier: StorageTier = .device) throws(IndexError) {
        guard node >= 0 && node < nodeCapacity else { throw .nodeOutOfRange(node: node, capacity: nodeCapacity) }
        _noteNode(node)
        for change in changes {
            switch change {
            case .inserted(let block, let parent): _store(block.rawValue, parent: parent?.rawValue, node: node, tier: tier.rawValue)
            case .evicted(let block), .removed(let block): _remove(block.rawValue, node: node, tier: tier.rawValue)
            }
        }
    }

    /// Drops every block of `node` (as a `cleared` event would, without an event ID) and
    /// forgets its event sequence, e.g. when the node leaves the cluster.
    /// - Complexity: O(entries)
    public mutating func removeNode(_ node: NodeID) {
        guard node >= 0 && node < nodeCapacity else { return }
        _clear(node: node)
        _sequencer.reset(node: node)
        _knownNodes[node >> 6] &= ~(1 << UInt64(node & 63))
    }

    /// The last event ID applied for `node`, if any.
    public func lastEventID(of node: NodeID) -> UInt64? {
        guard node >= 0 && node < nodeCapacity else { return nil }
        return _sequencer.lastApplied(of: node)
    }

    // MARK: Queries

    /// Whether `node` holds `block` in `tier` (any tier when `nil`).
    /// - Complexity: O(1) expected
    public func contains(_ block: BlockHash, node: NodeID, tier: StorageTier? = nil) -> Bool {
        guard node >= 0 && node < nodeCapacity else { return false }
        let b = _table.find(block.rawValue)
        guard b >= 0 else { return false }
        let mask = _tierMask(Int(_table.entries[b].slot), node)
        return tier.map { mask & (1 << UInt32($0.rawValue)) != 0 } ?? (mask != 0)
    }

    /// The parent recorded for `block`, how many entries hang under it, and whether any node
    /// holds it (`false`: a placeholder for children stored before or kept after it).
    public func entry(_ block: BlockHash) -> (parent: BlockHash?, children: Int, held: Bool)? {
        let b = _table.find(block.rawValue)
        guard b >= 0 else { return nil }
        let e = Int(_table.entries[b].slot)
        let t = _entries[e]
        return (t.parent >= 0 ? BlockHash(_entries[Int(t.parent)].hash) : nil, Int(t.children), _isHeld(e))
    }

    /// For every node, the number of leading blocks of `chain` it holds (any tier and per
    /// tier), in one walk that stops once no node matches.
    /// - Complexity: O(matched blocks × node words + nodes)
    public func overlaps(_ chain: some Collection<BlockHash>) -> OverlapScores {
        var scores = OverlapScores()
        overlaps(chain, into: &scores)
        return scores
    }

    /// ``overlaps(_:)`` into reused storage: no allocation once `scores` has the node count.
    /// - Complexity: O(matched blocks × node words + nodes)
    public func overlaps(_ chain: some Collection<BlockHash>, into scores: inout OverlapScores) {
        if let done: Void = chain.withContiguousStorageIfAvailable({ overlaps($0, into: &scores) }) { return done }
        Array(chain).withUnsafeBufferPointer { overlaps($0, into: &scores) }
    }

    /// ``overlaps(_:)`` of a chain in contiguous memory, into reused storage.
    /// - Complexity: O(matched blocks × node words + nodes)
    public func overlaps(_ chain: UnsafeBufferPointer<BlockHash>, into scores: inout OverlapScores) {
        let n = _nodeLimit
        scores.reset(nodeCount: n, chainLength: chain.count)
        guard n > 0 else { return }
        if _words == 1 {
            _overlapsOneWord(chain, n, &scores)
        } else {
            _overlapsHolders(chain, &scores)
        }
        if _tiersInUse & ~1 != 0 { _countLowerTierLeads(chain, &scores) }
    }

    /// For ``OverlapScores/score(of:)``: per node, the leading blocks whose fastest tier is the
    /// host or the disk. A second walk over the deepest match, only for indexes that ever
    /// held a lower tier.
    /// - Complexity: O(deepest match × nodes)
    @usableFromInline
    func _countLowerTierLeads(_ chain: UnsafeBufferPointer<BlockHash>, _ scores: inout OverlapScores) {
        let n = scores.nodeCount
        scores._beginLowerTierLeads()
        let deepest = scores.depths.reduce(0) { max($0, Int($1)) }
        for j in 0..<deepest {
            let b = _table.find(chain[j].rawValue)
            guard b >= 0 else { break }
            let e = Int(_table.entries[b].slot)
            for k in 0..<n where Int(scores.depths[k]) > j {
                let mask = _tierMask(e, k)
                guard mask & 1 == 0 else { continue }
                scores._lowerTierLeads[(mask & 2 != 0 ? 0 : n) + k] += 1
            }
        }
    }

    @usableFromInline
    func _overlapsOneWord(_ chain: UnsafeBufferPointer<BlockHash>, _ n: Int, _ scores: inout OverlapScores) {
        var alive = _knownNodes[0]
        var aliveTier = (alive, alive, alive)
        var depth: Int32 = 0
        _entries.withUnsafeBufferPointer { en in
            _diskMembership.withUnsafeBufferPointer { disk in
                let hasDisk = !disk.isEmpty
                _withChainCursor(chain, records: en.baseAddress!, stride: 1) { cursor in
                    while let entry = cursor.nextEntry() {
                        let h = en[entry].holders
                        let m0 = h.lo, m1 = h.hi, m2 = hasDisk ? disk[entry] : 0
                        let any = m0 | m1 | m2
                        var dropped = alive & ~any
                        if depth > 0 {
                            while dropped != 0 {
                                scores._set(dropped.trailingZeroBitCount, depth)
                                dropped &= dropped - 1
                            }
                        }
                        Self._drop(&aliveTier.0, m0, 0, depth, &scores)
                        Self._drop(&aliveTier.1, m1, 1, depth, &scores)
                        Self._drop(&aliveTier.2, m2, 2, depth, &scores)
                        alive &= any
                        if alive == 0 { return }
                        depth += 1
                    }
                }
            }
        }
        // nodes still matching hold the whole walked prefix
        var rest = alive
        while rest != 0 { scores._set(rest.trailingZeroBitCount, depth); rest &= rest - 1 }
        for (t, a) in [aliveTier.0, aliveTier.1, aliveTier.2].enumerated() {
            var r = a & alive
            while r != 0 { scores._set(r.trailingZeroBitCount, tier: t, depth); r &= r - 1 }
        }
    }

    @inline(__always)
    static func _drop(_ alive: inout UInt64, _ member: UInt64, _ tier: Int, _ depth: Int32, _ scores: inout OverlapScores) {
        var dropped = alive & ~member
        guard dropped != 0 else { return }
        alive &= member
        if depth == 0 { return }
        while dropped != 0 {
            scores._set(dropped.trailingZeroBitCount, tier: tier, depth)
            dropped &= dropped - 1
        }
    }

    // MARK: Entries

    @usableFromInline @inline(__always)
    mutating func _noteNode(_ node: Int) {
        guard node >= _nodeLimit || _knownNodes[node >> 6] & (1 << UInt64(node & 63)) == 0 else { return }
        _knownNodes[node >> 6] |= 1 << UInt64(node & 63)
        if node >= _nodeLimit { _nodeLimit = node + 1 }
    }

    /// The entry of `hash`, created when missing (under the entry of `parent`, made a
    /// placeholder when no one holds it).
    @usableFromInline
    mutating func _entry(_ hash: UInt64, parent: UInt64?) -> Int {
        let b = _table.find(hash)
        if b >= 0 {
            let e = Int(_table.entries[b].slot)
            if let parent, parent != hash, _entries[e].parent < 0, !_isAncestor(e, of: parent) {
                // a placeholder made before its own parent was known: link it now
                let p = _entry(parent, parent: nil)
                _entries.withUnsafeMutableBufferPointer { en in
                    en[e].parent = Int32(p)
                    en[p].children += 1
                }
            }
            return e
        }
        let parentEntry = parent.flatMap { $0 == hash ? nil : _entry($0, parent: nil) } ?? -1
        if _table.needsGrowth { _table.grow() }
        let e: Int
        let fresh = _Entry(hash: hash, parent: Int32(parentEntry))
        if _freeHead >= 0 {
            e = Int(_freeHead)
            _freeHead = _entries[e].children
            _entries[e] = fresh
        } else {
            e = _entries.count
            _entries.append(fresh)
        }
        _resetMembership(e)
        _table.insert(hash, slot: Int32(e))
        if parentEntry >= 0 { _entries.withUnsafeMutableBufferPointer { $0[parentEntry].children += 1 } }
        return e
    }

    /// The buckets the block table needs so that `entries` more fit without growing: `nil`
    /// when it has them (see ``_growTable(into:)``).
    /// - Complexity: O(log blocks)
    @usableFromInline
    func _tableBucketsNeeded(adding entries: Int) -> Int? { _table.bucketsNeeded(adding: entries) }

    /// The entries an index filled from the route path (approximate entries)
    /// asks room for ahead: none while it has room for a quarter more of what it holds (4,096
    /// at least), else that much. A quarter leaves the allocation, which routes do not wait
    /// for, time to finish before they fill the table.
    /// - Complexity: O(log blocks)
    @usableFromInline
    func _headroomNeeded() -> Int {
        let margin = max(1 << 12, _table.count / 4)
        return _tableBucketsNeeded(adding: margin) == nil ? 0 : margin
    }

    /// Rehashes the block table into `fresh` (empty buckets, `_BlockTable.vacant(buckets:)`)
    /// unless it already has as many: another update may have grown it since they were asked for.
    /// - Complexity: O(buckets)
    @usableFromInline
    mutating func _growTable(into fresh: consuming [_BlockTable.Entry]) {
        if fresh.count > _table.buckets { _table.grow(into: consume fresh) }
    }

    /// Whether entry `e` is `hash` or one of its ancestors (linking `e` under `hash` would
    /// then close a cycle).
    @usableFromInline
    func _isAncestor(_ e: Int, of hash: UInt64) -> Bool {
        let b = _table.find(hash)
        guard b >= 0 else { return false }
        var a = Int(_table.entries[b].slot)
        while a >= 0 {
            if a == e { return true }
            a = Int(_entries[a].parent)
        }
        return false
    }

    /// Deletes entry `e` if no node holds it and nothing hangs under it, then its parent if
    /// that leaves the parent an empty placeholder.
    @usableFromInline
    mutating func _collect(_ e: Int) {
        var e = e
        while e >= 0, _entries[e].children == 0, !_isHeld(e) {
            _releaseSpill(e)
            let (parent, hash) = _entries.withUnsafeMutableBufferPointer { en -> (Int, UInt64) in
                let p = Int(en[e].parent), h = en[e].hash
                if p >= 0 { en[p].children -= 1 }
                en[e] = _Entry(hash: 0, parent: _Entry.freed)
                en[e].children = _freeHead
                return (p, h)
            }
            _table.remove(at: _table.find(hash))
            _freeHead = Int32(e)
            e = parent
        }
    }

    /// The key of a (entry, node, tier) reference count: entry in the high 32 bits, node in
    /// the next 30 (node ids stay below ``maximumNodeCapacity``), tier in the low 2.
    @usableFromInline
    static func _refKey(_ e: Int, _ node: Int, _ tier: Int) -> UInt64 {
        UInt64(UInt32(truncatingIfNeeded: e)) << 32 | UInt64(node) << 2 | UInt64(tier)
    }

    @usableFromInline
    mutating func _store(_ hash: UInt64, parent: UInt64?, node: Int, tier: Int) {
        let e = _entry(hash, parent: parent)
        _counts.blocksStored += 1
        let (wasHeld, already) = _addHolder(e, node, tier)
        if !wasHeld {
            _heldCount += 1
            let p = Int(_entries[e].parent)
            if p >= 0 && !_isHeld(p) { _counts.storedUnderUnheldParent += 1 }
        }
        if already {
            _extraRefs[Self._refKey(e, node, tier), default: 0] += 1
            _counts.duplicateStores += 1
        } else {
            _nodeMemberships[node] += 1
        }
    }

    @usableFromInline
    mutating func _remove(_ hash: UInt64, node: Int, tier: Int) {
        let b = _table.find(hash)
        guard b >= 0 else { _counts.unknownRemovals += 1; return }
        let e = Int(_table.entries[b].slot)
        guard _tierMask(e, node) & (1 << UInt32(tier)) != 0 else { _counts.unknownRemovals += 1; return }
        _counts.blocksRemoved += 1
        if !_extraRefs.isEmpty {
            let key = Self._refKey(e, node, tier)
            if let extra = _extraRefs[key] {
                if extra <= 1 { _extraRefs[key] = nil } else { _extraRefs[key] = extra - 1 }
                return
            }
        }
        _nodeMemberships[node] -= 1
        if !_removeHolder(e, node, tier) {
            _heldCount -= 1
            _collect(e)
        }
    }

    /// Bookkeeping after a holder of `e` was removed.
    @usableFromInline
    mutating func _released(_ e: Int) {
        guard !_isHeld(e) else { return }
        _heldCount -= 1
        _collect(e)
    }

    @usableFromInline
    mutating func _clear(node: Int) {
        for e in 0..<_entries.count where _entries[e].alive {
            let mask = _tierMask(e, node)
            guard mask != 0 else { continue }
            for t in 0..<Self._tiers where mask & (1 << UInt32(t)) != 0 {
                _nodeMemberships[node] -= 1
                _ = _removeHolder(e, node, t)
                if !_extraRefs.isEmpty { _extraRefs[Self._refKey(e, node, t)] = nil }
            }
            _released(e)
        }
        _approximate.forget(node: node)
    }
}

/// An index entry: its block hash, its parent entry (-1: none; `freed`: the entry is on the
/// free list), how many entries hang under it (the next free entry, on the free list) and
/// who holds it, in 32 bytes.
@usableFromInline
struct _Entry: Sendable {
    @usableFromInline static let freed: Int32 = -2
    @usableFromInline var hash: UInt64
    @usableFromInline var parent: Int32
    @usableFromInline var children: Int32 = 0
    @usableFromInline var holders = _Holders()
    @usableFromInline var alive: Bool { parent != Self.freed }
    @usableFromInline init(hash: UInt64, parent: Int32) {
        self.hash = hash
        self.parent = parent
    }
}

/// What a ``PrefixIndex`` has counted.
public struct IndexStatistics: Sendable, Hashable {
    /// Events applied (not stale).
    public var eventsApplied = 0
    /// How the events arrived: repeated ones ignored, early ones held, gaps found, missing IDs
    /// given up (``PrefixIndex/skipGap(of:)`` or too many held), invalid IDs ignored.
    public var sequencing = EventSequencer<KVEvent>.Statistics()
    /// Block stores applied (each block of each `stored` event).
    public var blocksStored = 0
    /// Stores of a block the node already held in that tier (reference-counted).
    public var duplicateStores = 0
    /// Block removals applied.
    public var blocksRemoved = 0
    /// Removals of blocks the node did not hold (no-ops).
    public var unknownRemovals = 0
    /// Blocks stored under a parent no node held at the time (they act as roots until the
    /// parent is stored).
    public var storedUnderUnheldParent = 0
    /// Approximate-mode entries dropped by TTL.
    public var expired = 0
    /// Approximate-mode entries dropped to keep the size bound.
    public var pruned = 0

    /// All zero.
    public init() {}
}

/// A problem with an index call.
public enum IndexError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The node id is outside `0 ..< capacity`.
    case nodeOutOfRange(node: NodeID, capacity: Int)

    public var description: String {
        switch self {
        case .nodeOutOfRange(let node, let capacity):
            return "node \(node) is outside the index's 0..<\(capacity) (raise nodeCapacity)"
        }
    }
}
