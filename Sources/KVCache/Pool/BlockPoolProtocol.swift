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
    /// The slot holding `hash`, or `nil`.
    func lookup(_ hash: BlockHash) -> BlockSlot?
    /// Whether `hash` is in the pool.
    func contains(_ hash: BlockHash) -> Bool
    /// Leading blocks of `chain` present (read-only).
    func prefixHits(of chain: some Sequence<BlockHash>) -> Int
    /// Blocks of `chain` present, leading or not (read-only).
    func hits(in chain: some Sequence<BlockHash>) -> Int
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
    /// Whether insertions, evictions and removals are logged.
    var recordsChanges: Bool { get set }
    /// Moves the logged changes out.
    mutating func takeChanges(into changes: inout [PoolChange])
}

extension BlockPool: BlockPoolProtocol {}

/// A block pool whose eviction algorithm is chosen at run time (see ``EvictionPolicy``).
///
/// Each call goes through one existential dispatch; prefer ``BlockPool`` with a concrete
/// algorithm on hot paths, and whole-chain calls (``update(_:nextUses:)``) here.
public struct AnyBlockPool: BlockPoolProtocol {
    @usableFromInline internal var _base: any BlockPoolProtocol

    /// Wraps a pool.
    public init(_ pool: some BlockPoolProtocol) { _base = pool }

    public var capacity: Int { _base.capacity }
    public var count: Int { _base.count }
    public var statistics: PoolStatistics { _base.statistics }
    public var onEvict: (@Sendable (BlockHash) -> Void)? {
        get { _base.onEvict }
        set { _base.onEvict = newValue }
    }
    public func lookup(_ hash: BlockHash) -> BlockSlot? { _base.lookup(hash) }
    public func contains(_ hash: BlockHash) -> Bool { _base.contains(hash) }
    public func prefixHits(of chain: some Sequence<BlockHash>) -> Int { _base.prefixHits(of: chain) }
    public func hits(in chain: some Sequence<BlockHash>) -> Int { _base.hits(in: chain) }
    public func pinCount(_ hash: BlockHash) -> Int { _base.pinCount(hash) }
    @discardableResult
    public mutating func getOrInsert(_ block: BlockInfo, parent: BlockHash? = nil) throws(PoolError) -> Bool {
        try _base.getOrInsert(block, parent: parent)
    }
    @discardableResult
    public mutating func update(_ chain: UnsafeBufferPointer<BlockHash>, nextUses: UnsafeBufferPointer<Int64>? = nil) throws(PoolError) -> Int {
        try _base.update(chain, nextUses: nextUses)
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
    @discardableResult public mutating func pin(_ hash: BlockHash) -> Bool { _base.pin(hash) }
    @discardableResult public mutating func unpin(_ hash: BlockHash) -> Bool { _base.unpin(hash) }
    @discardableResult public mutating func remove(_ hash: BlockHash) -> Bool { _base.remove(hash) }
    public var recordsChanges: Bool {
        get { _base.recordsChanges }
        set { _base.recordsChanges = newValue }
    }
    public mutating func takeChanges(into changes: inout [PoolChange]) { _base.takeChanges(into: &changes) }
}
