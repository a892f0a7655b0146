/// The operations every ``BlockPool`` offers, whatever its algorithm; ``AnyBlockPool`` erases
/// the algorithm behind it for run-time choice.
public protocol BlockPoolProtocol {
    /// The most blocks the pool holds.
    var capacity: Int { get }
    /// The number of blocks in the pool.
    var count: Int { get }
    /// Hit, miss, insertion, eviction and removal counts.
    var statistics: PoolStatistics { get }
    /// Called with every evicted block's hash.
    var onEvict: (@Sendable (BlockHash) -> Void)? { get set }
    /// Whether insertions, evictions and removals are logged.
    var recordsChanges: Bool { get set }
    /// The slot holding `hash`, or `nil`.
    func lookup(_ hash: BlockHash) -> BlockSlot?
    /// Whether `hash` is in the pool.
    func contains(_ hash: BlockHash) -> Bool
    /// Leading blocks of `chain` present, and all blocks present, in one read-only walk.
    func lookup(_ chain: UnsafeBufferPointer<BlockHash>) -> (prefix: Int, hits: Int)
    /// Leading blocks of `chain` present (read-only).
    func prefixHits(of chain: UnsafeBufferPointer<BlockHash>) -> Int
    /// Blocks of `chain` present, leading or not (read-only).
    func hits(in chain: UnsafeBufferPointer<BlockHash>) -> Int
    /// The number of pins on `hash`.
    func pinCount(_ hash: BlockHash) -> Int
    /// Accesses one block (get-or-insert).
    mutating func getOrInsert(_ block: BlockInfo, parent: BlockHash?) throws(PoolError) -> Bool
    /// The update walk of a request's chain; returns hits at access.
    mutating func update(_ chain: UnsafeBufferPointer<BlockHash>, nextUses: UnsafeBufferPointer<Int64>?) throws(PoolError) -> Int
    /// ``lookup(_:)`` then ``update(_:nextUses:)`` of one chain (one walk where the pool can).
    mutating func lookupAndUpdate(_ chain: UnsafeBufferPointer<BlockHash>, nextUses: UnsafeBufferPointer<Int64>?)
        throws(PoolError) -> (prefix: Int, hits: Int, accessHits: Int)
    /// Pins a block.
    mutating func pin(_ hash: BlockHash) -> Bool
    /// Releases one pin.
    mutating func unpin(_ hash: BlockHash) -> Bool
    /// Removes an unpinned block.
    mutating func remove(_ hash: BlockHash) -> Bool
    /// Moves the logged changes out.
    mutating func takeChanges(into changes: inout [PoolChange])
}

extension BlockPoolProtocol {
    /// ``lookup(_:)``, then ``update(_:nextUses:)``.
    public mutating func lookupAndUpdate(_ chain: UnsafeBufferPointer<BlockHash>, nextUses: UnsafeBufferPointer<Int64>?)
        throws(PoolError) -> (prefix: Int, hits: Int, accessHits: Int) {
        let (prefix, hits) = lookup(chain)
        return (prefix, hits, try update(chain, nextUses: nextUses))
    }

    /// The update walk of a request's chain held in an array; returns hits at access.
    /// - Complexity: O(`chain.count`)
    @inlinable @discardableResult
    public mutating func update(_ chain: [BlockHash]) throws(PoolError) -> Int {
        try _withBuffer(of: chain) { buffer throws(PoolError) in try update(buffer, nextUses: nil) }
    }

    /// ``lookupAndUpdate(_:nextUses:)`` for a chain held in an array.
    /// - Complexity: O(`chain.count`)
    @inlinable @discardableResult
    public mutating func lookupAndUpdate(_ chain: [BlockHash]) throws(PoolError) -> (prefix: Int, hits: Int, accessHits: Int) {
        try _withBuffer(of: chain) { buffer throws(PoolError) in try lookupAndUpdate(buffer, nextUses: nil) }
    }
}

/// Calls `body` with `chain`'s elements as a buffer, keeping the error type (the array's
/// `withUnsafeBufferPointer` rethrows untyped errors).
@inlinable
internal func _withBuffer<R>(of chain: [BlockHash], _ body: (UnsafeBufferPointer<BlockHash>) throws(PoolError) -> R) throws(PoolError) -> R {
    var result: Result<R, PoolError>?
    chain.withUnsafeBufferPointer { buffer in
        do throws(PoolError) { result = .success(try body(buffer)) } catch { result = .failure(error) }
    }
    return try result!.get()
}

extension BlockPool: BlockPoolProtocol {}

/// A block pool whose eviction algorithm is chosen at run time (see ``EvictionPolicy``).
///
/// The pool lives in a box whose pool calls run the built-in algorithm's specialised code
/// after one dynamic dispatch (any other
/// ``BlockPoolProtocol`` is held as an existential). Copies share the box until one of them
/// mutates (copy on write). Prefer whole-chain calls (``update(_:nextUses:)``) on hot paths.
public struct AnyBlockPool: BlockPoolProtocol {
    @usableFromInline internal var _box: _PoolBox

    /// Wraps a pool.
    public init(_ pool: some BlockPoolProtocol) {
        _box = (pool as? any _BoxablePool)?._makeBox() ?? _ExistentialPoolBox(pool)
    }

    /// The wrapped pool as an existential (a copy).
    public var base: any BlockPoolProtocol { _box.base }

    @inline(__always)
    mutating func _unique() {
        if !isKnownUniquelyReferenced(&_box) { _box = _box.copy() }
    }

    public var capacity: Int { _box.capacity }
    public var count: Int { _box.count }
    public var statistics: PoolStatistics { _box.statistics }
    public var onEvict: (@Sendable (BlockHash) -> Void)? {
        get { _box.onEvict }
        set { _unique(); _box.onEvict = newValue }
    }
    public var recordsChanges: Bool {
        get { _box.recordsChanges }
        set { _unique(); _box.recordsChanges = newValue }
    }
    public func lookup(_ hash: BlockHash) -> BlockSlot? { _box.lookup(hash) }
    public func contains(_ hash: BlockHash) -> Bool { _box.contains(hash) }
    public func lookup(_ chain: UnsafeBufferPointer<BlockHash>) -> (prefix: Int, hits: Int) { _box.lookup(chain) }
    public func prefixHits(of chain: UnsafeBufferPointer<BlockHash>) -> Int { _box.prefixHits(of: chain) }
    public func hits(in chain: UnsafeBufferPointer<BlockHash>) -> Int { _box.lookup(chain).hits }
    /// For a router whose nodes' own pools answer overlaps (no ``PrefixIndex``): sets node
    /// `k`'s depth in `scores` to the leading blocks of `chain` that `pools[k]` holds, for
    /// every `k`, and zeroes the rest of `scores`.
    ///
    /// One call for all pools: each pool is read where it lies, without the reference
    /// counting a call per pool pays.
    /// - Complexity: O(pools.count + total hits)
    public static func prefixHits(of chain: UnsafeBufferPointer<BlockHash>, in pools: UnsafeBufferPointer<AnyBlockPool>,
                                  into scores: inout OverlapScores) {
        scores.reset(nodeCount: pools.count, chainLength: chain.count)
        scores._setDeviceDepths(count: pools.count) { k in
            Unmanaged.passUnretained(pools[k]._box)._withUnsafeGuaranteedRef { $0.prefixHits(of: chain) }
        }
    }

    /// Leading blocks of `chain` present (read-only).
    public func prefixHits(of chain: [BlockHash]) -> Int { chain.withUnsafeBufferPointer { prefixHits(of: $0) } }
    /// Blocks of `chain` present (read-only).
    public func hits(in chain: [BlockHash]) -> Int { chain.withUnsafeBufferPointer { hits(in: $0) } }
    public func pinCount(_ hash: BlockHash) -> Int { _box.pinCount(hash) }

    @discardableResult
    public mutating func getOrInsert(_ block: BlockInfo, parent: BlockHash? = nil) throws(PoolError) -> Bool {
        _unique()
        return try _box.getOrInsert(block, parent: parent)
    }

    @discardableResult
    public mutating func update(_ chain: UnsafeBufferPointer<BlockHash>, nextUses: UnsafeBufferPointer<Int64>? = nil) throws(PoolError) -> Int {
        _unique()
        return try _box.update(chain, nextUses: nextUses)
    }

    @discardableResult
    public mutating func lookupAndUpdate(_ chain: UnsafeBufferPointer<BlockHash>, nextUses: UnsafeBufferPointer<Int64>? = nil)
        throws(PoolError) -> (prefix: Int, hits: Int, accessHits: Int) {
        _unique()
        return try _box.lookupAndUpdate(chain, nextUses: nextUses)
    }

    public mutating func takeChanges(into changes: inout [PoolChange]) {
        _unique()
        _box.takeChanges(into: &changes)
    }

    @discardableResult public mutating func pin(_ hash: BlockHash) -> Bool { _unique(); return _box.pin(hash) }
    @discardableResult public mutating func unpin(_ hash: BlockHash) -> Bool { _unique(); return _box.unpin(hash) }
    @discardableResult public mutating func remove(_ hash: BlockHash) -> Bool { _unique(); return _box.remove(hash) }
}

/// A pool type that ``AnyBlockPool`` boxes without an existential.
protocol _BoxablePool { func _makeBox() -> _PoolBox }

extension BlockPool: _BoxablePool {
    func _makeBox() -> _PoolBox { _ConcretePoolBox(self) }
}

/// The box behind ``AnyBlockPool``: one generic subclass for `BlockPool` (its hot calls run
/// specialised code), and one holding an existential for any other pool type.
@usableFromInline
class _PoolBox: @unchecked Sendable {
    var base: any BlockPoolProtocol { fatalError("abstract") }
    func copy() -> _PoolBox { fatalError("abstract") }
    var capacity: Int { fatalError("abstract") }
    var count: Int { fatalError("abstract") }
    var statistics: PoolStatistics { fatalError("abstract") }
    var onEvict: (@Sendable (BlockHash) -> Void)? { get { fatalError("abstract") } set { fatalError("abstract") } }
    var recordsChanges: Bool { get { fatalError("abstract") } set { fatalError("abstract") } }
    func lookup(_ hash: BlockHash) -> BlockSlot? { fatalError("abstract") }
    func contains(_ hash: BlockHash) -> Bool { fatalError("abstract") }
    func lookup(_ chain: UnsafeBufferPointer<BlockHash>) -> (prefix: Int, hits: Int) { fatalError("abstract") }
    func prefixHits(of chain: UnsafeBufferPointer<BlockHash>) -> Int { fatalError("abstract") }
    func pinCount(_ hash: BlockHash) -> Int { fatalError("abstract") }
    func getOrInsert(_ block: BlockInfo, parent: BlockHash?) throws(PoolError) -> Bool { fatalError("abstract") }
    func update(_ chain: UnsafeBufferPointer<BlockHash>, nextUses: UnsafeBufferPointer<Int64>?) throws(PoolError) -> Int { fatalError("abstract") }
    func lookupAndUpdate(_ chain: UnsafeBufferPointer<BlockHash>, nextUses: UnsafeBufferPointer<Int64>?)
        throws(PoolError) -> (prefix: Int, hits: Int, accessHits: Int) { fatalError("abstract") }
    func takeChanges(into changes: inout [PoolChange]) { fatalError("abstract") }
    func pin(_ hash: BlockHash) -> Bool { fatalError("abstract") }
    func unpin(_ hash: BlockHash) -> Bool { fatalError("abstract") }
    func remove(_ hash: BlockHash) -> Bool { fatalError("abstract") }
}

/// ``AnyBlockPool``'s box for a pool type other than `BlockPool`.
final class _ExistentialPoolBox: _PoolBox, @unchecked Sendable {
    var pool: any BlockPoolProtocol
    init(_ pool: any BlockPoolProtocol) { self.pool = pool }
    override var base: any BlockPoolProtocol { pool }
    override func copy() -> _PoolBox { _ExistentialPoolBox(pool) }
    override var capacity: Int { pool.capacity }
    override var count: Int { pool.count }
    override var statistics: PoolStatistics { pool.statistics }
    override var onEvict: (@Sendable (BlockHash) -> Void)? { get { pool.onEvict } set { pool.onEvict = newValue } }
    override var recordsChanges: Bool { get { pool.recordsChanges } set { pool.recordsChanges = newValue } }
    override func lookup(_ hash: BlockHash) -> BlockSlot? { pool.lookup(hash) }
    override func contains(_ hash: BlockHash) -> Bool { pool.contains(hash) }
    override func lookup(_ chain: UnsafeBufferPointer<BlockHash>) -> (prefix: Int, hits: Int) { pool.lookup(chain) }
    override func prefixHits(of chain: UnsafeBufferPointer<BlockHash>) -> Int { pool.prefixHits(of: chain) }
    override func pinCount(_ hash: BlockHash) -> Int { pool.pinCount(hash) }
    override func getOrInsert(_ block: BlockInfo, parent: BlockHash?) throws(PoolError) -> Bool { try pool.getOrInsert(block, parent: parent) }
    override func update(_ chain: UnsafeBufferPointer<BlockHash>, nextUses: UnsafeBufferPointer<Int64>?) throws(PoolError) -> Int {
        try pool.update(chain, nextUses: nextUses)
    }
    override func lookupAndUpdate(_ chain: UnsafeBufferPointer<BlockHash>, nextUses: UnsafeBufferPointer<Int64>?)
        throws(PoolError) -> (prefix: Int, hits: Int, accessHits: Int) {
        try pool.lookupAndUpdate(chain, nextUses: nextUses)
    }
    override func takeChanges(into changes: inout [PoolChange]) { pool.takeChanges(into: &changes) }
    override func pin(_ hash: BlockHash) -> Bool { pool.pin(hash) }
    override func unpin(_ hash: BlockHash) -> Bool { pool.unpin(hash) }
    override func remove(_ hash: BlockHash) -> Bool { pool.remove(hash) }
}

/// ``AnyBlockPool``'s box for a `BlockPool<Algorithm>`, written once for every algorithm.
///
/// The members called per request (`count`, the chain lookups, `getOrInsert`, `update`,
/// `takeChanges`) are specialised for each built-in algorithm with `@_specialize`: the generic
/// entry checks the type and jumps to a body compiled for it, so they run the same code as
/// a `BlockPool<LRU>` used directly (without it the reference matrix ran 1.8× slower: generic
/// code copies the pool to read a property and calls the algorithm through witness tables).
/// The pool lives behind a pointer the box owns: class stored properties would pay a dynamic
/// exclusivity check on every access, and the box is only used under ``AnyBlockPool``'s
/// uniqueness check.
final class _ConcretePoolBox<Algorithm: EvictionAlgorithm>: _PoolBox, @unchecked Sendable {
    let storage: UnsafeMutablePointer<BlockPool<Algorithm>>
    init(_ pool: BlockPool<Algorithm>) {
        storage = .allocate(capacity: 1)
        storage.initialize(to: pool)
    }
    deinit {
        storage.deinitialize(count: 1)
        storage.deallocate()
    }
    override var base: any BlockPoolProtocol { storage.pointee }
    override func copy() -> _PoolBox { _ConcretePoolBox(storage.pointee) }
    override var capacity: Int { storage.pointee.capacity }
    override var count: Int {
        @_specialize(where Algorithm == LRU)
        @_specialize(where Algorithm == FIFO)
        @_specialize(where Algorithm == LFU)
        @_specialize(where Algorithm == SIEVE)
        @_specialize(where Algorithm == S3FIFO)
        @_specialize(where Algorithm == ARC)
        @_specialize(where Algorithm == LengthAware)
        @_specialize(where Algorithm == LeafLRU)
        @_specialize(where Algorithm == Belady)
        get { storage.pointee.count }
    }
    override var statistics: PoolStatistics { storage.pointee.statistics }
    override var onEvict: (@Sendable (BlockHash) -> Void)? { get { storage.pointee.onEvict } set { storage.pointee.onEvict = newValue } }
    override var recordsChanges: Bool { get { storage.pointee.recordsChanges } set { storage.pointee.recordsChanges = newValue } }
    override func lookup(_ hash: BlockHash) -> BlockSlot? { storage.pointee.lookup(hash) }
    override func contains(_ hash: BlockHash) -> Bool { storage.pointee.contains(hash) }
    @_specialize(where Algorithm == LRU)
    @_specialize(where Algorithm == FIFO)
    @_specialize(where Algorithm == LFU)
    @_specialize(where Algorithm == SIEVE)
    @_specialize(where Algorithm == S3FIFO)
    @_specialize(where Algorithm == ARC)
    @_specialize(where Algorithm == LengthAware)
    @_specialize(where Algorithm == LeafLRU)
    @_specialize(where Algorithm == Belady)
    override func lookup(_ chain: UnsafeBufferPointer<BlockHash>) -> (prefix: Int, hits: Int) { storage.pointee.lookup(chain) }
    @_specialize(where Algorithm == LRU)
    @_specialize(where Algorithm == FIFO)
    @_specialize(where Algorithm == LFU)
    @_specialize(where Algorithm == SIEVE)
    @_specialize(where Algorithm == S3FIFO)
    @_specialize(where Algorithm == ARC)
    @_specialize(where Algorithm == LengthAware)
    @_specialize(where Algorithm == LeafLRU)
    @_specialize(where Algorithm == Belady)
    override func prefixHits(of chain: UnsafeBufferPointer<BlockHash>) -> Int { storage.pointee._prefixHitsInPlace(of: chain) }
    override func pinCount(_ hash: BlockHash) -> Int { storage.pointee.pinCount(hash) }
    @_specialize(where Algorithm == LRU)
    @_specialize(where Algorithm == FIFO)
    @_specialize(where Algorithm == LFU)
    @_specialize(where Algorithm == SIEVE)
    @_specialize(where Algorithm == S3FIFO)
    @_specialize(where Algorithm == ARC)
    @_specialize(where Algorithm == LengthAware)
    @_specialize(where Algorithm == LeafLRU)
    @_specialize(where Algorithm == Belady)
    override func getOrInsert(_ block: BlockInfo, parent: BlockHash?) throws(PoolError) -> Bool { try storage.pointee.getOrInsert(block, parent: parent) }
    @_specialize(where Algorithm == LRU)
    @_specialize(where Algorithm == FIFO)
    @_specialize(where Algorithm == LFU)
    @_specialize(where Algorithm == SIEVE)
    @_specialize(where Algorithm == S3FIFO)
    @_specialize(where Algorithm == ARC)
    @_specialize(where Algorithm == LengthAware)
    @_specialize(where Algorithm == LeafLRU)
    @_specialize(where Algorithm == Belady)
    override func update(_ chain: UnsafeBufferPointer<BlockHash>, nextUses: UnsafeBufferPointer<Int64>?) throws(PoolError) -> Int {
        try storage.pointee.update(chain, nextUses: nextUses)
    }
    @_specialize(where Algorithm == LRU)
    @_specialize(where Algorithm == FIFO)
    @_specialize(where Algorithm == LFU)
    @_specialize(where Algorithm == SIEVE)
    @_specialize(where Algorithm == S3FIFO)
    @_specialize(where Algorithm == ARC)
    @_specialize(where Algorithm == LengthAware)
    @_specialize(where Algorithm == LeafLRU)
    @_specialize(where Algorithm == Belady)
    override func lookupAndUpdate(_ chain: UnsafeBufferPointer<BlockHash>, nextUses: UnsafeBufferPointer<Int64>?)
        throws(PoolError) -> (prefix: Int, hits: Int, accessHits: Int) {
        try storage.pointee.lookupAndUpdate(chain, nextUses: nextUses)
    }
    @_specialize(where Algorithm == LRU)
    @_specialize(where Algorithm == FIFO)
    @_specialize(where Algorithm == LFU)
    @_specialize(where Algorithm == SIEVE)
    @_specialize(where Algorithm == S3FIFO)
    @_specialize(where Algorithm == ARC)
    @_specialize(where Algorithm == LengthAware)
    @_specialize(where Algorithm == LeafLRU)
    @_specialize(where Algorithm == Belady)
    override func takeChanges(into changes: inout [PoolChange]) { storage.pointee.takeChanges(into: &changes) }
    override func pin(_ hash: BlockHash) -> Bool { storage.pointee.pin(hash) }
    override func unpin(_ hash: BlockHash) -> Bool { storage.pointee.unpin(hash) }
    override func remove(_ hash: BlockHash) -> Bool { storage.pointee.remove(hash) }
}
