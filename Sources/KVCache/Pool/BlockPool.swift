import CKVCore

/// A bounded pool of KV blocks keyed by block hash, with pluggable O(1) eviction.
///
/// Blocks live in slots `0 ..< capacity`; a key→slot table built for block hashes (see
/// `_BlockTable`) finds them without SipHash, and the eviction `Algorithm` keeps its metadata
/// in arrays indexed by slot. Nothing is allocated per operation once the pool exists.
///
/// ```swift
/// var pool = try BlockPool<LRU>(capacity: 10_000)
/// let cached = pool.prefixHits(of: chain)      // read-only lookup
/// try pool.update(chain)                        // touch hits, insert misses (evicting)
/// ```
///
/// Pinned blocks (in use by a running request) are never evicted; when every block is pinned,
/// inserting throws ``PoolError/poolExhausted(capacity:)``.
public struct BlockPool<Algorithm: EvictionAlgorithm> {
    /// The most blocks the pool holds.
    public let capacity: Int
    /// Hit, miss, insertion, eviction and removal counts.
    @inlinable public var statistics: PoolStatistics { _statistics }
    @usableFromInline internal var _statistics = PoolStatistics()
    /// Called with every evicted block's hash (not for ``remove(_:)``); internal, for tests
    /// that check evictions as they happen. Observers use ``recordsChanges``.
    @usableFromInline internal var onEvict: (@Sendable (BlockHash) -> Void)?

    /// When `true`, the pool logs every insertion, eviction and removal for
    /// ``takeChanges(into:)`` (to publish them as ``KVEvent``s to a ``PrefixIndex``).
    public var recordsChanges = false
    @usableFromInline internal var _changes: [PoolChange] = []

    @usableFromInline internal var _algorithm: Algorithm
    /// The key table, each slot's bucket and the free slots (copy-on-write, one check per call).
    @usableFromInline internal var _storage: _PoolStorage
    /// Table entries in use (blocks and ghosts), and free slots on `_storage.free`.
    @usableFromInline internal var _tableCount = 0
    @usableFromInline internal var _freeCount: Int

    /// Creates an empty pool whose algorithm is `Algorithm(capacity:)`.
    ///
    /// - Throws: ``PoolError/invalidCapacity(_:)`` when `capacity < 1`.
    @inlinable
    public init(capacity: Int) throws(PoolError) {
        guard capacity >= 1 else { throw .invalidCapacity(capacity) }
        try self.init(capacity: capacity, algorithm: Algorithm(capacity: capacity))
    }

    /// Creates an empty pool with a configured algorithm (made for the same capacity).
    ///
    /// - Throws: ``PoolError/invalidCapacity(_:)`` when `capacity < 1`.
    @inlinable
    public init(capacity: Int, algorithm: Algorithm) throws(PoolError) {
        guard capacity >= 1 else { throw .invalidCapacity(capacity) }
        self.capacity = capacity
        _algorithm = algorithm
        let ghosts = Algorithm.keepsGhosts ? algorithm.ghosts.capacity : 0
        _freeCount = capacity
        _storage = _PoolStorage(
            capacity: capacity, expectedKeys: capacity + min(ghosts, capacity), maximumKeys: capacity + ghosts,
            tracksChildren: Algorithm.tracksChildren)
    }

    /// The number of blocks in the pool.
    /// - Complexity: O(1)
    @inlinable public var count: Int { capacity - _freeCount }

    /// Whether the pool holds `capacity` blocks.
    /// - Complexity: O(1)
    @inlinable public var isFull: Bool { _freeCount == 0 }

    /// The eviction algorithm (read-only; the pool drives it).
    @inlinable public var algorithm: Algorithm { _algorithm }

    // MARK: Lookup (read-only)

    /// The slot holding `hash`, or `nil`. Does not count as an access.
    /// - Complexity: O(1) expected
    @inlinable
    internal func lookup(_ hash: BlockHash) -> BlockSlot? {
        let b = _storage.findLive(hash.rawValue)
        return b < 0 ? nil : _storage.entries[b].slot
    }

    /// Whether `hash` is in the pool. Does not count as an access.
    /// - Complexity: O(1) expected
    @inlinable
    public func contains(_ hash: BlockHash) -> Bool { _storage.findLive(hash.rawValue) >= 0 }

    /// How many leading blocks of `chain` are in the pool (stops at the first absent block).
    /// Read-only.
    /// - Complexity: O(hits + 1)
    @inlinable
    public func prefixHits(of chain: some Sequence<BlockHash>) -> Int { _storage.prefixHits(of: chain) }

    /// How many blocks of `chain` are in the pool, leading or not. Read-only.
    /// - Complexity: O(`chain.count`)
    @inlinable
    public func hits(in chain: some Sequence<BlockHash>) -> Int { _storage.hits(in: chain) }

    /// Leading blocks of `chain` present, and all blocks of `chain` present, in one walk.
    /// Read-only.
    /// - Complexity: O(`chain.count`)
    @inlinable
    public func lookup(_ chain: UnsafeBufferPointer<BlockHash>) -> (prefix: Int, hits: Int) {
        var prefix = 0, hits = 0
        var leading = true
        for h in chain {
            if _storage.findLive(h.rawValue) >= 0 {
                hits &+= 1
                if leading { prefix &+= 1 }
            } else {
                leading = false
            }
        }
        return (prefix, hits)
    }

    /// The number of pins on `hash` (0 when absent or unpinned).
    /// - Complexity: O(1) expected
    @inlinable
    public func pinCount(_ hash: BlockHash) -> Int {
        let b = _storage.findLive(hash.rawValue)
        return b < 0 ? 0 : Int(_storage.entries[b].pins)
    }

    // MARK: Access and insertion

    /// Accesses `hash`: a hit touches it, a miss inserts it (evicting a victim when full).
    ///
    /// - Returns: `true` on a hit.
    /// - Throws: ``PoolError/poolExhausted(capacity:)`` when the pool is full and every block
    ///   is pinned (nothing is inserted).
    /// - Complexity: O(1) expected (amortised for algorithms that sweep)
    @inlinable @discardableResult
    package mutating func getOrInsert(_ hash: BlockHash) throws(PoolError) -> Bool {
        _beginMutation()
        defer { _endMutation() }
        let hit = try _getOrInsert(BlockInfo(hash: hash), parentSlot: -1).hit
        if !hit && recordsChanges { _changes.append(.inserted(hash, parent: nil)) }
        return hit
    }

    /// Accesses one block with full information (chain position, next use for ``Belady``).
    ///
    /// - Parameters:
    ///   - block: The block.
    ///   - parent: The block before it in its chain, if any, so prefix-aware policies know the
    ///     tree.
    /// - Returns: `true` on a hit.
    /// - Throws: ``PoolError/poolExhausted(capacity:)``.
    /// - Complexity: O(1) expected
    @inlinable @discardableResult
    public mutating func getOrInsert(_ block: BlockInfo, parent: BlockHash? = nil) throws(PoolError) -> Bool {
        _beginMutation()
        defer { _endMutation() }
        var parentSlot: Int32 = -1
        if Algorithm.tracksChildren, let parent { parentSlot = lookup(parent) ?? -1 }
        let hit = try _getOrInsert(block, parentSlot: parentSlot).hit
        if !hit && recordsChanges { _changes.append(.inserted(block.hash, parent: parent)) }
        return hit
    }

    /// The update walk of a request: touches each present block of `chain` and inserts each
    /// absent one, in chain order (block `i`'s parent is block `i − 1`).
    ///
    /// - Parameters:
    ///   - chain: The request's block hashes.
    ///   - nextUses: For ``Belady`` only: the logical time of each block's next access.
    /// - Returns: How many blocks were present when the walk reached them (hits at access).
    /// - Throws: ``PoolError/poolExhausted(capacity:)``; the blocks before the failing one
    ///   stay inserted.
    /// - Complexity: O(`chain.count`)
    @inlinable @discardableResult
    public mutating func update(
        _ chain: UnsafeBufferPointer<BlockHash>, nextUses: UnsafeBufferPointer<Int64>? = nil
    ) throws(PoolError) -> Int {
        _beginMutation()
        defer { _endMutation() }
        return try _update(chain, from: 0, parentSlot: -1, nextUses: nextUses)
    }

    /// Looks `chain` up and then stores it, in one walk: what ``lookup(_:)`` reports before
    /// the request, and what ``update(_:nextUses:)`` returns — the two calls a router makes
    /// when it dispatches a request to this pool, without probing the cached prefix twice.
    ///
    /// The leading present blocks are found and touched by one probe each (a touch evicts
    /// nothing, so they are the lookup's prefix and all hits at access); the rest of the chain
    /// is counted read-only, then updated.
    ///
    /// - Parameters:
    ///   - chain: The request's block hashes.
    ///   - nextUses: For ``Belady`` only: the logical time of each block's next access.
    /// - Returns: `prefix` and `hits` as ``lookup(_:)`` finds them before the walk, and
    ///   `accessHits`, the blocks present when the update reached them.
    /// - Throws: ``PoolError/poolExhausted(capacity:)``; the blocks before the failing one
    ///   stay inserted.
    /// - Complexity: O(`chain.count`)
    @inlinable @discardableResult
    public mutating func lookupAndUpdate(
        _ chain: UnsafeBufferPointer<BlockHash>, nextUses: UnsafeBufferPointer<Int64>? = nil
    )
        throws(PoolError) -> (prefix: Int, hits: Int, accessHits: Int)
    {
        _beginMutation()
        defer { _endMutation() }
        var parent: Int32 = -1
        var i = 0
        while i < chain.count {
            let b = _storage.findLive(chain[i].rawValue)
            guard b >= 0 else { break }
            _statistics.hits &+= 1
            parent = _touch(
                b, BlockInfo(hash: chain[i], position: Int32(truncatingIfNeeded: i), nextUse: nextUses?[i] ?? .max),
                parentSlot: parent)
            i &+= 1
        }
        let prefix = i
        guard prefix < chain.count else { return (prefix, prefix, prefix) }
        let rest = _storage.hits(in: chain[(prefix &+ 1)...])  // block `prefix` is absent
        let access = try _update(chain, from: prefix, parentSlot: parent, nextUses: nextUses)
        return (prefix, prefix + rest, prefix + access)
    }

    /// The update walk from `start` on, block `start − 1` being in `parentSlot`.
    @inlinable
    internal mutating func _update(
        _ chain: UnsafeBufferPointer<BlockHash>, from start: Int, parentSlot: Int32,
        nextUses: UnsafeBufferPointer<Int64>?
    ) throws(PoolError) -> Int {
        var hits = 0
        var parent = parentSlot
        for i in start..<chain.count {
            let info = BlockInfo(hash: chain[i], position: Int32(truncatingIfNeeded: i), nextUse: nextUses?[i] ?? .max)
            let r = try _getOrInsert(info, parentSlot: parent)
            if r.hit { hits &+= 1 } else if recordsChanges { _changes.append(.inserted(chain[i], parent: i > 0 ? chain[i - 1] : nil)) }
            parent = r.slot
        }
        return hits
    }

    /// A hit on the block in table bucket `b`: tells the algorithm (unless pinned) and keeps
    /// the prefix tree current; returns its slot.
    @inlinable @inline(__always)
    internal mutating func _touch(_ b: Int, _ info: BlockInfo, parentSlot: Int32) -> Int32 {
        let slot = _storage.entries[b].slot
        if _storage.entries[b].pins == 0 { _algorithm.didAccess(slot, info) }
        if Algorithm.tracksChildren && parentSlot >= 0 { _adopt(slot, parent: parentSlot) }
        return slot
    }

    @inlinable
    internal mutating func _getOrInsert(_ info: BlockInfo, parentSlot: Int32) throws(PoolError) -> (slot: Int32, hit: Bool) {
        let key = info.hash.rawValue
        // the likely victim's table entry, so an eviction finds it in cache (tables that fit
        // in a core's L2 cache are there already)
        if _storage.buckets > _prefetchAbove && _freeCount == 0 {
            let hint = _algorithm.victimHint
            if hint >= 0 { _storage.prefetch(bucket: Int(_storage.slotBuckets[Int(hint)])) }
        }
        let b = _storage.find(key)
        if b >= 0 && (!Algorithm.keepsGhosts || _storage.entries[b].slot >= 0) {
            _statistics.hits &+= 1
            return (_touch(b, info, parentSlot: parentSlot), true)
        }
        _statistics.misses &+= 1
        // the table entries of the ghosts an eviction may forget
        if Algorithm.keepsGhosts && _storage.buckets > _prefetchAbove && _freeCount == 0 {
            _algorithm.ghosts._oldestBuckets { _storage.prefetch(bucket: $0) }
        }
        // a ghost: its entry stays in the table (to become the block's) but leaves its list;
        // marked as neither ghost nor block until then
        var ghostList: Int? = nil
        if Algorithm.keepsGhosts && b >= 0 {
            let list = Int(_storage.entries[b].aux)
            _algorithm.ghosts._take(-2 - _storage.entries[b].slot, list: list)
            _storage.entries[b].slot = _returningGhost
            ghostList = list
        }
        var parentSlot = parentSlot
        if let victim = _algorithm.willInsert(info, ghostOf: ghostList) {
            if Algorithm.keepsGhosts { _forgetGhosts() }
            _release(victim, evicted: true)
            if victim == parentSlot { parentSlot = -1 }
        }
        if Algorithm.keepsGhosts { _forgetGhosts(); _algorithm.ghosts._cancelPending() }
        let slot: Int32
        if _freeCount == 0 {
            let victim = _algorithm.evict(for: info)
            if Algorithm.keepsGhosts { _forgetGhosts() }
            if let victim { _release(victim, evicted: true, recycle: false) }  // the new block takes its slot
            if Algorithm.keepsGhosts { _algorithm.ghosts._cancelPending() }
            guard let victim else {
                if ghostList != nil { _removeEntry(at: _storage.find(key)) }
                throw .poolExhausted(capacity: capacity)
            }
            if victim == parentSlot { parentSlot = -1 }
            slot = victim
        } else {
            _freeCount &-= 1
            slot = _storage.free[_freeCount]
        }
        let position = UInt16(clamping: info.position)
        if Algorithm.keepsGhosts && ghostList != nil {
            // the returning ghost's entry (deletions may have shifted it) becomes the block's
            let e = _storage.find(key)
            _storage.entries[e].slot = slot
            _storage.entries[e].pins = 0
            _storage.entries[e].aux = position
            _storage.slotBuckets[Int(slot)] = Int32(truncatingIfNeeded: e)
        } else {
            _storage.slotBuckets[Int(slot)] = Int32(truncatingIfNeeded: _storage.insert(key, slot: slot, aux: position))
            _tableCount &+= 1
        }
        _statistics.insertions &+= 1
        _algorithm.didInsert(slot, info)
        if Algorithm.tracksChildren && parentSlot >= 0 { _link(slot, parent: parentSlot) }
        return (slot, false)
    }

    /// Tables of more buckets than this (1 MB) get the victim and ghost prefetches.
    @inlinable internal var _prefetchAbove: Int { 65_536 }

    /// The slot of a table entry whose ghost is coming back as a block, until it is one.
    @inlinable internal var _returningGhost: Int32 { .min }

    /// Deletes the table entry in `bucket`; entries the deletion shifts get their new bucket
    /// recorded (a block's in `_buckets`, a ghost's in its record).
    @inlinable @inline(__always)
    internal mutating func _removeEntry(at bucket: Int) {
        _tableCount &-= 1
        let storage = _storage
        if Algorithm.keepsGhosts {
            _algorithm.ghosts._records.withMutableRecords { ghosts in
                storage.remove(at: bucket) { slot, to in
                    if slot >= 0 {
                        storage.slotBuckets[Int(slot)] = Int32(truncatingIfNeeded: to)
                    } else if slot != Int32.min {
                        ghosts[Int(-2 - slot)].payload = Int32(truncatingIfNeeded: to)
                    }
                }
            }
        } else {
            storage.remove(at: bucket) { slot, to in storage.slotBuckets[Int(slot)] = Int32(truncatingIfNeeded: to) }
        }
    }

    /// Makes the storage (and the algorithm's, ghosts included) this pool's own before a
    /// mutating call writes through it; the call ends with ``_endMutation()``.
    @inlinable @inline(__always)
    internal mutating func _beginMutation() {
        _makeUnique()
        _algorithm._beginExclusiveAccess()
        if Algorithm.keepsGhosts { _algorithm.ghosts._beginExclusive() }
    }

    /// Ends what ``_beginMutation()`` began: every write checks uniqueness again.
    @inlinable @inline(__always)
    internal mutating func _endMutation() {
        _algorithm._endExclusiveAccess()
        if Algorithm.keepsGhosts { _algorithm.ghosts._endExclusive() }
    }

    /// Makes the storage this pool's own before a mutating call writes through it.
    @inlinable @inline(__always)
    internal mutating func _makeUnique() {
        if !isKnownUniquelyReferenced(&_storage) { _storage = _PoolStorage(copying: _storage) }
    }

    /// Deletes the table entries of the ghosts the algorithm just forgot.
    @inlinable
    internal mutating func _forgetGhosts() {
        let n = _algorithm.ghosts._forgottenCount
        guard n > 0 else { return }
        _algorithm.ghosts._forgottenCount = 0
        _removeEntry(at: Int(_algorithm.ghosts._records.pointer[Int(_algorithm.ghosts._forgotten)].payload))
        if n > 1 {
            for _ in 1..<n {
                let id = _algorithm.ghosts._moreForgotten.removeLast()
                _removeEntry(at: Int(_algorithm.ghosts._records.pointer[Int(id)].payload))
            }
        }
    }

    // MARK: Pins

    /// Pins `hash` (in use by a running request): it is never evicted until unpinned as many
    /// times as it was pinned.
    ///
    /// - Returns: `false` when `hash` is not in the pool.
    /// - Complexity: O(1) expected
    @inlinable @discardableResult
    public mutating func pin(_ hash: BlockHash) -> Bool {
        _beginMutation()
        defer { _endMutation() }
        let b = _storage.findLive(hash.rawValue)
        guard b >= 0 else { return false }
        if _storage.entries[b].pins == 0 { _algorithm.didPin(_storage.entries[b].slot) }
        _storage.entries[b].pins &+= 1
        return true
    }

    /// Releases one pin of `hash`; at zero pins the block is evictable again.
    ///
    /// - Returns: `false` when `hash` is absent or not pinned.
    /// - Complexity: O(1) expected (see the algorithm's `didUnpin`)
    @inlinable @discardableResult
    public mutating func unpin(_ hash: BlockHash) -> Bool {
        _beginMutation()
        defer { _endMutation() }
        let b = _storage.findLive(hash.rawValue)
        guard b >= 0, _storage.entries[b].pins > 0 else { return false }
        _storage.entries[b].pins -= 1
        if _storage.entries[b].pins == 0 {
            let slot = _storage.entries[b].slot
            _algorithm.didUnpin(slot, BlockInfo(hash: hash, position: Int32(_storage.entries[b].aux)))
        }
        return true
    }

    // MARK: Removal

    /// Removes `hash` from the pool (not counted as an eviction; ``onEvict`` is not called).
    ///
    /// - Returns: `false` when `hash` is absent or pinned (a block in use stays).
    /// - Complexity: O(1) expected
    @inlinable @discardableResult
    public mutating func remove(_ hash: BlockHash) -> Bool {
        _beginMutation()
        defer { _endMutation() }
        let b = _storage.findLive(hash.rawValue)
        guard b >= 0, _storage.entries[b].pins == 0 else { return false }
        let slot = _storage.entries[b].slot
        _algorithm.didRemove(slot)
        _release(slot, evicted: false)
        return true
    }

    /// Frees `slot`, which the algorithm no longer tracks.
    @inlinable @inline(__always)
    internal mutating func _release(_ slot: Int32, evicted: Bool, recycle: Bool = true) {
        let b = Int(_storage.slotBuckets[Int(slot)])
        let key = _storage.entries[b].key
        if Algorithm.keepsGhosts, let ghost = _algorithm.ghosts._settle(slot, bucket: b) {
            _storage.entries[b].slot = -2 - ghost.id  // remembered: the entry stays, as a ghost
            _storage.entries[b].pins = 0
            _storage.entries[b].aux = UInt16(ghost.list)
        } else {
            _removeEntry(at: b)
        }
        if Algorithm.tracksChildren {
            _unlinkFromParent(slot)
            _storage.family[Int(slot)].generation &+= 1
            _storage.family[Int(slot)].children = 0
        }
        if recycle {
            _storage.free[_freeCount] = slot
            _freeCount &+= 1
        }
        if evicted {
            _statistics.evictions &+= 1
            onEvict?(BlockHash(key))
        } else {
            _statistics.removals &+= 1
        }
        if recordsChanges { _changes.append(evicted ? .evicted(BlockHash(key)) : .removed(BlockHash(key))) }
    }

    /// Moves the changes logged since the last call into `changes` (replacing its contents;
    /// storage is swapped, so a caller that reuses one array allocates nothing).
    /// - Complexity: O(1)
    @inlinable
    public mutating func takeChanges(into changes: inout [PoolChange]) {
        changes.removeAll(keepingCapacity: true)
        swap(&changes, &_changes)
    }

    // MARK: Parent/child links (prefix-aware policies)

    @inlinable
    internal mutating func _link(_ child: Int32, parent: Int32) {
        let f = _storage.family
        f[Int(child)].parent = parent
        f[Int(child)].parentGeneration = f[Int(parent)].generation
        f[Int(parent)].children &+= 1
        if f[Int(parent)].children == 1 { _algorithm.didGainFirstChild(parent) }
    }

    @inlinable
    internal mutating func _unlinkFromParent(_ child: Int32) {
        let f = _storage.family
        let p = f[Int(child)].parent
        f[Int(child)].parent = -1
        guard p >= 0, f[Int(child)].parentGeneration == f[Int(p)].generation else { return }
        f[Int(p)].children &-= 1
        if f[Int(p)].children == 0 { _algorithm.didLoseLastChild(p) }
    }

    /// Re-links a present block under `parent` when its recorded parent is stale (its parent
    /// was evicted and came back while the block stayed).
    @inlinable
    internal mutating func _adopt(_ slot: Int32, parent: Int32) {
        let f = _storage.family
        if f[Int(slot)].parent == parent && f[Int(slot)].parentGeneration == f[Int(parent)].generation { return }
        guard slot != parent else { return }
        _unlinkFromParent(slot)
        _link(slot, parent: parent)
    }
}

extension BlockPool: Sendable where Algorithm: Sendable {}
