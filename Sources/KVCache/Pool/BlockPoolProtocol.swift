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
    /// Pins a block.
    mutating func pin(_ hash: BlockHash) -> Bool
    /// Releases one pin.
    mutating func unpin(_ hash: BlockHash) -> Bool
    /// Removes an unpinned block.
    mutating func remove(_ hash: BlockHash) -> Bool
    /// Moves the logged changes out.
    mutating func takeChanges(into changes: inout [PoolChange])
}

extension BlockPool: BlockPoolProtocol {}

/// A block pool whose eviction algorithm is chosen at run time (see ``EvictionPolicy``).
///
/// The pool lives in a box with one concrete subclass per built-in algorithm, so every call
/// runs that algorithm's specialised code after one dynamic dispatch (any other
/// ``BlockPoolProtocol`` is held as an existential). Copies share the box until one of them
/// mutates (copy on write). Prefer whole-chain calls (``update(_:nextUses:)``) on hot paths.
public struct AnyBlockPool: BlockPoolProtocol {
    @usableFromInline internal var _box: _PoolBox

    /// Wraps a pool.
    public init(_ pool: some BlockPoolProtocol) {
        switch pool {
        case let p as BlockPool<LRU>: _box = _LRUPoolBox(p)
        case let p as BlockPool<FIFO>: _box = _FIFOPoolBox(p)
        case let p as BlockPool<LFU>: _box = _LFUPoolBox(p)
        case let p as BlockPool<SIEVE>: _box = _SIEVEPoolBox(p)
        case let p as BlockPool<S3FIFO>: _box = _S3FIFOPoolBox(p)
        case let p as BlockPool<ARC>: _box = _ARCPoolBox(p)
        case let p as BlockPool<LengthAware>: _box = _LengthAwarePoolBox(p)
        case let p as BlockPool<LeafLRU>: _box = _LeafLRUPoolBox(p)
        case let p as BlockPool<Belady>: _box = _BeladyPoolBox(p)
        default: _box = _ExistentialPoolBox(pool)
        }
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

    /// The update walk of a request's chain; returns hits at access.
    @discardableResult
    public mutating func update(_ chain: [BlockHash]) throws(PoolError) -> Int {
        var result: Result<Int, PoolError> = .success(0)
        chain.withUnsafeBufferPointer { buffer in
            do throws(PoolError) { result = .success(try update(buffer)) } catch { result = .failure(error) }
        }
        return try result.get()
    }

    public mutating func takeChanges(into changes: inout [PoolChange]) {
        _unique()
        _box.takeChanges(into: &changes)
    }

    @discardableResult public mutating func pin(_ hash: BlockHash) -> Bool { _unique(); return _box.pin(hash) }
    @discardableResult public mutating func unpin(_ hash: BlockHash) -> Bool { _unique(); return _box.unpin(hash) }
    @discardableResult public mutating func remove(_ hash: BlockHash) -> Bool { _unique(); return _box.remove(hash) }
}

/// The box behind ``AnyBlockPool``: one concrete subclass per built-in algorithm (calls run
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
    func takeChanges(into changes: inout [PoolChange]) { fatalError("abstract") }
    func pin(_ hash: BlockHash) -> Bool { fatalError("abstract") }
    func unpin(_ hash: BlockHash) -> Bool { fatalError("abstract") }
    func remove(_ hash: BlockHash) -> Bool { fatalError("abstract") }
}

/// ``AnyBlockPool``'s box for a pool type it does not know.
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
    override func takeChanges(into changes: inout [PoolChange]) { pool.takeChanges(into: &changes) }
    override func pin(_ hash: BlockHash) -> Bool { pool.pin(hash) }
    override func unpin(_ hash: BlockHash) -> Bool { pool.unpin(hash) }
    override func remove(_ hash: BlockHash) -> Bool { pool.remove(hash) }
}

/// ``AnyBlockPool``'s box for `BlockPool<LRU>` (concrete, so its calls are specialised).
final class _LRUPoolBox: _PoolBox, @unchecked Sendable {
    // The pool lives behind a pointer the box owns: class stored properties would pay a
    // dynamic exclusivity check on every access, and the box is only used under
    // AnyBlockPool's uniqueness check.
    let storage: UnsafeMutablePointer<BlockPool<LRU>>
    var pool: BlockPool<LRU> {
        _read { yield storage.pointee }
        _modify { yield &storage.pointee }
    }
    init(_ pool: BlockPool<LRU>) {
        storage = .allocate(capacity: 1)
        storage.initialize(to: pool)
    }
    deinit {
        storage.deinitialize(count: 1)
        storage.deallocate()
    }
    override var base: any BlockPoolProtocol { pool }
    override func copy() -> _PoolBox { _LRUPoolBox(pool) }
    override var count: Int { pool.count }
    override func contains(_ hash: BlockHash) -> Bool { pool.contains(hash) }
    override func lookup(_ chain: UnsafeBufferPointer<BlockHash>) -> (prefix: Int, hits: Int) { pool.lookup(chain) }
    override func prefixHits(of chain: UnsafeBufferPointer<BlockHash>) -> Int { pool.prefixHits(of: chain) }
    override func getOrInsert(_ block: BlockInfo, parent: BlockHash?) throws(PoolError) -> Bool { try pool.getOrInsert(block, parent: parent) }
    override func update(_ chain: UnsafeBufferPointer<BlockHash>, nextUses: UnsafeBufferPointer<Int64>?) throws(PoolError) -> Int {
        try pool.update(chain, nextUses: nextUses)
    }
    override func takeChanges(into changes: inout [PoolChange]) { pool.takeChanges(into: &changes) }
    override var capacity: Int { pool.capacity }
    override var statistics: PoolStatistics { pool.statistics }
    override var onEvict: (@Sendable (BlockHash) -> Void)? { get { pool.onEvict } set { pool.onEvict = newValue } }
    override var recordsChanges: Bool { get { pool.recordsChanges } set { pool.recordsChanges = newValue } }
    override func lookup(_ hash: BlockHash) -> BlockSlot? { pool.lookup(hash) }
    override func pinCount(_ hash: BlockHash) -> Int { pool.pinCount(hash) }
    override func pin(_ hash: BlockHash) -> Bool { pool.pin(hash) }
    override func unpin(_ hash: BlockHash) -> Bool { pool.unpin(hash) }
    override func remove(_ hash: BlockHash) -> Bool { pool.remove(hash) }
}

/// ``AnyBlockPool``'s box for `BlockPool<FIFO>` (concrete, so its calls are specialised).
final class _FIFOPoolBox: _PoolBox, @unchecked Sendable {
    // The pool lives behind a pointer the box owns: class stored properties would pay a
    // dynamic exclusivity check on every access, and the box is only used under
    // AnyBlockPool's uniqueness check.
    let storage: UnsafeMutablePointer<BlockPool<FIFO>>
    var pool: BlockPool<FIFO> {
        _read { yield storage.pointee }
        _modify { yield &storage.pointee }
    }
    init(_ pool: BlockPool<FIFO>) {
        storage = .allocate(capacity: 1)
        storage.initialize(to: pool)
    }
    deinit {
        storage.deinitialize(count: 1)
        storage.deallocate()
    }
    override var base: any BlockPoolProtocol { pool }
    override func copy() -> _PoolBox { _FIFOPoolBox(pool) }
    override var count: Int { pool.count }
    override func contains(_ hash: BlockHash) -> Bool { pool.contains(hash) }
    override func lookup(_ chain: UnsafeBufferPointer<BlockHash>) -> (prefix: Int, hits: Int) { pool.lookup(chain) }
    override func prefixHits(of chain: UnsafeBufferPointer<BlockHash>) -> Int { pool.prefixHits(of: chain) }
    override func getOrInsert(_ block: BlockInfo, parent: BlockHash?) throws(PoolError) -> Bool { try pool.getOrInsert(block, parent: parent) }
    override func update(_ chain: UnsafeBufferPointer<BlockHash>, nextUses: UnsafeBufferPointer<Int64>?) throws(PoolError) -> Int {
        try pool.update(chain, nextUses: nextUses)
    }
    override func takeChanges(into changes: inout [PoolChange]) { pool.takeChanges(into: &changes) }
    override var capacity: Int { pool.capacity }
    override var statistics: PoolStatistics { pool.statistics }
    override var onEvict: (@Sendable (BlockHash) -> Void)? { get { pool.onEvict } set { pool.onEvict = newValue } }
    override var recordsChanges: Bool { get { pool.recordsChanges } set { pool.recordsChanges = newValue } }
    override func lookup(_ hash: BlockHash) -> BlockSlot? { pool.lookup(hash) }
    override func pinCount(_ hash: BlockHash) -> Int { pool.pinCount(hash) }
    override func pin(_ hash: BlockHash) -> Bool { pool.pin(hash) }
    override func unpin(_ hash: BlockHash) -> Bool { pool.unpin(hash) }
    override func remove(_ hash: BlockHash) -> Bool { pool.remove(hash) }
}

/// ``AnyBlockPool``'s box for `BlockPool<LFU>` (concrete, so its calls are specialised).
final class _LFUPoolBox: _PoolBox, @unchecked Sendable {
    // The pool lives behind a pointer the box owns: class stored properties would pay a
    // dynamic exclusivity check on every access, and the box is only used under
    // AnyBlockPool's uniqueness check.
    let storage: UnsafeMutablePointer<BlockPool<LFU>>
    var pool: BlockPool<LFU> {
        _read { yield storage.pointee }
        _modify { yield &storage.pointee }
    }
    init(_ pool: BlockPool<LFU>) {
        storage = .allocate(capacity: 1)
        storage.initialize(to: pool)
    }
    deinit {
        storage.deinitialize(count: 1)
        storage.deallocate()
    }
    override var base: any BlockPoolProtocol { pool }
    override func copy() -> _PoolBox { _LFUPoolBox(pool) }
    override var count: Int { pool.count }
    override func contains(_ hash: BlockHash) -> Bool { pool.contains(hash) }
    override func lookup(_ chain: UnsafeBufferPointer<BlockHash>) -> (prefix: Int, hits: Int) { pool.lookup(chain) }
    override func prefixHits(of chain: UnsafeBufferPointer<BlockHash>) -> Int { pool.prefixHits(of: chain) }
    override func getOrInsert(_ block: BlockInfo, parent: BlockHash?) throws(PoolError) -> Bool { try pool.getOrInsert(block, parent: parent) }
    override func update(_ chain: UnsafeBufferPointer<BlockHash>, nextUses: UnsafeBufferPointer<Int64>?) throws(PoolError) -> Int {
        try pool.update(chain, nextUses: nextUses)
    }
    override func takeChanges(into changes: inout [PoolChange]) { pool.takeChanges(into: &changes) }
    override var capacity: Int { pool.capacity }
    override var statistics: PoolStatistics { pool.statistics }
    override var onEvict: (@Sendable (BlockHash) -> Void)? { get { pool.onEvict } set { pool.onEvict = newValue } }
    override var recordsChanges: Bool { get { pool.recordsChanges } set { pool.recordsChanges = newValue } }
    override func lookup(_ hash: BlockHash) -> BlockSlot? { pool.lookup(hash) }
    override func pinCount(_ hash: BlockHash) -> Int { pool.pinCount(hash) }
    override func pin(_ hash: BlockHash) -> Bool { pool.pin(hash) }
    override func unpin(_ hash: BlockHash) -> Bool { pool.unpin(hash) }
    override func remove(_ hash: BlockHash) -> Bool { pool.remove(hash) }
}

/// ``AnyBlockPool``'s box for `BlockPool<SIEVE>` (concrete, so its calls are specialised).
final class _SIEVEPoolBox: _PoolBox, @unchecked Sendable {
    // The pool lives behind a pointer the box owns: class stored properties would pay a
    // dynamic exclusivity check on every access, and the box is only used under
    // AnyBlockPool's uniqueness check.
    let storage: UnsafeMutablePointer<BlockPool<SIEVE>>
    var pool: BlockPool<SIEVE> {
        _read { yield storage.pointee }
        _modify { yield &storage.pointee }
    }
    init(_ pool: BlockPool<SIEVE>) {
        storage = .allocate(capacity: 1)
        storage.initialize(to: pool)
    }
    deinit {
        storage.deinitialize(count: 1)
        storage.deallocate()
    }
    override var base: any BlockPoolProtocol { pool }
    override func copy() -> _PoolBox { _SIEVEPoolBox(pool) }
    override var count: Int { pool.count }
    override func contains(_ hash: BlockHash) -> Bool { pool.contains(hash) }
    override func lookup(_ chain: UnsafeBufferPointer<BlockHash>) -> (prefix: Int, hits: Int) { pool.lookup(chain) }
    override func prefixHits(of chain: UnsafeBufferPointer<BlockHash>) -> Int { pool.prefixHits(of: chain) }
    override func getOrInsert(_ block: BlockInfo, parent: BlockHash?) throws(PoolError) -> Bool { try pool.getOrInsert(block, parent: parent) }
    override func update(_ chain: UnsafeBufferPointer<BlockHash>, nextUses: UnsafeBufferPointer<Int64>?) throws(PoolError) -> Int {
        try pool.update(chain, nextUses: nextUses)
    }
    override func takeChanges(into changes: inout [PoolChange]) { pool.takeChanges(into: &changes) }
    override var capacity: Int { pool.capacity }
    override var statistics: PoolStatistics { pool.statistics }
    override var onEvict: (@Sendable (BlockHash) -> Void)? { get { pool.onEvict } set { pool.onEvict = newValue } }
    override var recordsChanges: Bool { get { pool.recordsChanges } set { pool.recordsChanges = newValue } }
    override func lookup(_ hash: BlockHash) -> BlockSlot? { pool.lookup(hash) }
    override func pinCount(_ hash: BlockHash) -> Int { pool.pinCount(hash) }
    override func pin(_ hash: BlockHash) -> Bool { pool.pin(hash) }
    override func unpin(_ hash: BlockHash) -> Bool { pool.unpin(hash) }
    override func remove(_ hash: BlockHash) -> Bool { pool.remove(hash) }
}

/// ``AnyBlockPool``'s box for `BlockPool<S3FIFO>` (concrete, so its calls are specialised).
final class _S3FIFOPoolBox: _PoolBox, @unchecked Sendable {
    // The pool lives behind a pointer the box owns: class stored properties would pay a
    // dynamic exclusivity check on every access, and the box is only used under
    // AnyBlockPool's uniqueness check.
    let storage: UnsafeMutablePointer<BlockPool<S3FIFO>>
    var pool: BlockPool<S3FIFO> {
        _read { yield storage.pointee }
        _modify { yield &storage.pointee }
    }
    init(_ pool: BlockPool<S3FIFO>) {
        storage = .allocate(capacity: 1)
        storage.initialize(to: pool)
    }
    deinit {
        storage.deinitialize(count: 1)
        storage.deallocate()
    }
    override var base: any BlockPoolProtocol { pool }
    override func copy() -> _PoolBox { _S3FIFOPoolBox(pool) }
    override var count: Int { pool.count }
    override func contains(_ hash: BlockHash) -> Bool { pool.contains(hash) }
    override func lookup(_ chain: UnsafeBufferPointer<BlockHash>) -> (prefix: Int, hits: Int) { pool.lookup(chain) }
    override func prefixHits(of chain: UnsafeBufferPointer<BlockHash>) -> Int { pool.prefixHits(of: chain) }
    override func getOrInsert(_ block: BlockInfo, parent: BlockHash?) throws(PoolError) -> Bool { try pool.getOrInsert(block, parent: parent) }
    override func update(_ chain: UnsafeBufferPointer<BlockHash>, nextUses: UnsafeBufferPointer<Int64>?) throws(PoolError) -> Int {
        try pool.update(chain, nextUses: nextUses)
    }
    override func takeChanges(into changes: inout [PoolChange]) { pool.takeChanges(into: &changes) }
    override var capacity: Int { pool.capacity }
    override var statistics: PoolStatistics { pool.statistics }
    override var onEvict: (@Sendable (BlockHash) -> Void)? { get { pool.onEvict } set { pool.onEvict = newValue } }
    override var recordsChanges: Bool { get { pool.recordsChanges } set { pool.recordsChanges = newValue } }
    override func lookup(_ hash: BlockHash) -> BlockSlot? { pool.lookup(hash) }
    override func pinCount(_ hash: BlockHash) -> Int { pool.pinCount(hash) }
    override func pin(_ hash: BlockHash) -> Bool { pool.pin(hash) }
    override func unpin(_ hash: BlockHash) -> Bool { pool.unpin(hash) }
    override func remove(_ hash: BlockHash) -> Bool { pool.remove(hash) }
}

/// ``AnyBlockPool``'s box for `BlockPool<ARC>` (concrete, so its calls are specialised).
final class _ARCPoolBox: _PoolBox, @unchecked Sendable {
    // The pool lives behind a pointer the box owns: class stored properties would pay a
    // dynamic exclusivity check on every access, and the box is only used under
    // AnyBlockPool's uniqueness check.
    let storage: UnsafeMutablePointer<BlockPool<ARC>>
    var pool: BlockPool<ARC> {
        _read { yield storage.pointee }
        _modify { yield &storage.pointee }
    }
    init(_ pool: BlockPool<ARC>) {
        storage = .allocate(capacity: 1)
        storage.initialize(to: pool)
    }
    deinit {
        storage.deinitialize(count: 1)
        storage.deallocate()
    }
    override var base: any BlockPoolProtocol { pool }
    override func copy() -> _PoolBox { _ARCPoolBox(pool) }
    override var count: Int { pool.count }
    override func contains(_ hash: BlockHash) -> Bool { pool.contains(hash) }
    override func lookup(_ chain: UnsafeBufferPointer<BlockHash>) -> (prefix: Int, hits: Int) { pool.lookup(chain) }
    override func prefixHits(of chain: UnsafeBufferPointer<BlockHash>) -> Int { pool.prefixHits(of: chain) }
    override func getOrInsert(_ block: BlockInfo, parent: BlockHash?) throws(PoolError) -> Bool { try pool.getOrInsert(block, parent: parent) }
    override func update(_ chain: UnsafeBufferPointer<BlockHash>, nextUses: UnsafeBufferPointer<Int64>?) throws(PoolError) -> Int {
        try pool.update(chain, nextUses: nextUses)
    }
    override func takeChanges(into changes: inout [PoolChange]) { pool.takeChanges(into: &changes) }
    override var capacity: Int { pool.capacity }
    override var statistics: PoolStatistics { pool.statistics }
    override var onEvict: (@Sendable (BlockHash) -> Void)? { get { pool.onEvict } set { pool.onEvict = newValue } }
    override var recordsChanges: Bool { get { pool.recordsChanges } set { pool.recordsChanges = newValue } }
    override func lookup(_ hash: BlockHash) -> BlockSlot? { pool.lookup(hash) }
    override func pinCount(_ hash: BlockHash) -> Int { pool.pinCount(hash) }
    override func pin(_ hash: BlockHash) -> Bool { pool.pin(hash) }
    override func unpin(_ hash: BlockHash) -> Bool { pool.unpin(hash) }
    override func remove(_ hash: BlockHash) -> Bool { pool.remove(hash) }
}

/// ``AnyBlockPool``'s box for `BlockPool<LengthAware>` (concrete, so its calls are specialised).
final class _LengthAwarePoolBox: _PoolBox, @unchecked Sendable {
    // The pool lives behind a pointer the box owns: class stored properties would pay a
    // dynamic exclusivity check on every access, and the box is only used under
    // AnyBlockPool's uniqueness check.
    let storage: UnsafeMutablePointer<BlockPool<LengthAware>>
    var pool: BlockPool<LengthAware> {
        _read { yield storage.pointee }
        _modify { yield &storage.pointee }
    }
    init(_ pool: BlockPool<LengthAware>) {
        storage = .allocate(capacity: 1)
        storage.initialize(to: pool)
    }
    deinit {
        storage.deinitialize(count: 1)
        storage.deallocate()
    }
    override var base: any BlockPoolProtocol { pool }
    override func copy() -> _PoolBox { _LengthAwarePoolBox(pool) }
    override var count: Int { pool.count }
    override func contains(_ hash: BlockHash) -> Bool { pool.contains(hash) }
    override func lookup(_ chain: UnsafeBufferPointer<BlockHash>) -> (prefix: Int, hits: Int) { pool.lookup(chain) }
    override func prefixHits(of chain: UnsafeBufferPointer<BlockHash>) -> Int { pool.prefixHits(of: chain) }
    override func getOrInsert(_ block: BlockInfo, parent: BlockHash?) throws(PoolError) -> Bool { try pool.getOrInsert(block, parent: parent) }
    override func update(_ chain: UnsafeBufferPointer<BlockHash>, nextUses: UnsafeBufferPointer<Int64>?) throws(PoolError) -> Int {
        try pool.update(chain, nextUses: nextUses)
    }
    override func takeChanges(into changes: inout [PoolChange]) { pool.takeChanges(into: &changes) }
    override var capacity: Int { pool.capacity }
    override var statistics: PoolStatistics { pool.statistics }
    override var onEvict: (@Sendable (BlockHash) -> Void)? { get { pool.onEvict } set { pool.onEvict = newValue } }
    override var recordsChanges: Bool { get { pool.recordsChanges } set { pool.recordsChanges = newValue } }
    override func lookup(_ hash: BlockHash) -> BlockSlot? { pool.lookup(hash) }
    override func pinCount(_ hash: BlockHash) -> Int { pool.pinCount(hash) }
    override func pin(_ hash: BlockHash) -> Bool { pool.pin(hash) }
    override func unpin(_ hash: BlockHash) -> Bool { pool.unpin(hash) }
    override func remove(_ hash: BlockHash) -> Bool { pool.remove(hash) }
}

/// ``AnyBlockPool``'s box for `BlockPool<LeafLRU>` (concrete, so its calls are specialised).
final class _LeafLRUPoolBox: _PoolBox, @unchecked Sendable {
    // The pool lives behind a pointer the box owns: class stored properties would pay a
    // dynamic exclusivity check on every access, and the box is only used under
    // AnyBlockPool's uniqueness check.
    let storage: UnsafeMutablePointer<BlockPool<LeafLRU>>
    var pool: BlockPool<LeafLRU> {
        _read { yield storage.pointee }
        _modify { yield &storage.pointee }
    }
    init(_ pool: BlockPool<LeafLRU>) {
        storage = .allocate(capacity: 1)
        storage.initialize(to: pool)
    }
    deinit {
        storage.deinitialize(count: 1)
        storage.deallocate()
    }
    override var base: any BlockPoolProtocol { pool }
    override func copy() -> _PoolBox { _LeafLRUPoolBox(pool) }
    override var count: Int { pool.count }
    override func contains(_ hash: BlockHash) -> Bool { pool.contains(hash) }
    override func lookup(_ chain: UnsafeBufferPointer<BlockHash>) -> (prefix: Int, hits: Int) { pool.lookup(chain) }
    override func prefixHits(of chain: UnsafeBufferPointer<BlockHash>) -> Int { pool.prefixHits(of: chain) }
    override func getOrInsert(_ block: BlockInfo, parent: BlockHash?) throws(PoolError) -> Bool { try pool.getOrInsert(block, parent: parent) }
    override func update(_ chain: UnsafeBufferPointer<BlockHash>, nextUses: UnsafeBufferPointer<Int64>?) throws(PoolError) -> Int {
        try pool.update(chain, nextUses: nextUses)
    }
    override func takeChanges(into changes: inout [PoolChange]) { pool.takeChanges(into: &changes) }
    override var capacity: Int { pool.capacity }
    override var statistics: PoolStatistics { pool.statistics }
    override var onEvict: (@Sendable (BlockHash) -> Void)? { get { pool.onEvict } set { pool.onEvict = newValue } }
    override var recordsChanges: Bool { get { pool.recordsChanges } set { pool.recordsChanges = newValue } }
    override func lookup(_ hash: BlockHash) -> BlockSlot? { pool.lookup(hash) }
    override func pinCount(_ hash: BlockHash) -> Int { pool.pinCount(hash) }
    override func pin(_ hash: BlockHash) -> Bool { pool.pin(hash) }
    override func unpin(_ hash: BlockHash) -> Bool { pool.unpin(hash) }
    override func remove(_ hash: BlockHash) -> Bool { pool.remove(hash) }
}

/// ``AnyBlockPool``'s box for `BlockPool<Belady>` (concrete, so its calls are specialised).
final class _BeladyPoolBox: _PoolBox, @unchecked Sendable {
    // The pool lives behind a pointer the box owns: class stored properties would pay a
    // dynamic exclusivity check on every access, and the box is only used under
    // AnyBlockPool's uniqueness check.
    let storage: UnsafeMutablePointer<BlockPool<Belady>>
    var pool: BlockPool<Belady> {
        _read { yield storage.pointee }
        _modify { yield &storage.pointee }
    }
    init(_ pool: BlockPool<Belady>) {
        storage = .allocate(capacity: 1)
        storage.initialize(to: pool)
    }
    deinit {
        storage.deinitialize(count: 1)
        storage.deallocate()
    }
    override var base: any BlockPoolProtocol { pool }
    override func copy() -> _PoolBox { _BeladyPoolBox(pool) }
    override var count: Int { pool.count }
    override func contains(_ hash: BlockHash) -> Bool { pool.contains(hash) }
    override func lookup(_ chain: UnsafeBufferPointer<BlockHash>) -> (prefix: Int, hits: Int) { pool.lookup(chain) }
    override func prefixHits(of chain: UnsafeBufferPointer<BlockHash>) -> Int { pool.prefixHits(of: chain) }
    override func getOrInsert(_ block: BlockInfo, parent: BlockHash?) throws(PoolError) -> Bool { try pool.getOrInsert(block, parent: parent) }
    override func update(_ chain: UnsafeBufferPointer<BlockHash>, nextUses: UnsafeBufferPointer<Int64>?) throws(PoolError) -> Int {
        try pool.update(chain, nextUses: nextUses)
    }
    override func takeChanges(into changes: inout [PoolChange]) { pool.takeChanges(into: &changes) }
    override var capacity: Int { pool.capacity }
    override var statistics: PoolStatistics { pool.statistics }
    override var onEvict: (@Sendable (BlockHash) -> Void)? { get { pool.onEvict } set { pool.onEvict = newValue } }
    override var recordsChanges: Bool { get { pool.recordsChanges } set { pool.recordsChanges = newValue } }
    override func lookup(_ hash: BlockHash) -> BlockSlot? { pool.lookup(hash) }
    override func pinCount(_ hash: BlockHash) -> Int { pool.pinCount(hash) }
    override func pin(_ hash: BlockHash) -> Bool { pool.pin(hash) }
    override func unpin(_ hash: BlockHash) -> Bool { pool.unpin(hash) }
    override func remove(_ hash: BlockHash) -> Bool { pool.remove(hash) }
}
