/// A block pool whose eviction algorithm is chosen at run time (see
/// ``EvictionPolicy/makePool(capacity:)``).
///
/// Every call goes through the ``BlockPoolProtocol`` existential, to code not specialised
/// for the algorithm. Where pool calls are the hot path (a simulator, a benchmark), write the
/// loop generic over the algorithm and run it with ``EvictionPolicy/open(_:)`` instead.
public struct AnyBlockPool: BlockPoolProtocol {
    @usableFromInline internal var _base: any BlockPoolProtocol

    /// Wraps a pool.
    public init(_ pool: some BlockPoolProtocol) { _base = pool }

    public var capacity: Int { _base.capacity }
    public var count: Int { _base.count }
    public var statistics: PoolStatistics { _base.statistics }
    public var recordsChanges: Bool {
        get { _base.recordsChanges }
        set { _base.recordsChanges = newValue }
    }
    public func contains(_ hash: BlockHash) -> Bool { _base.contains(hash) }
    public func pinCount(_ hash: BlockHash) -> Int { _base.pinCount(hash) }
    public func lookup(_ chain: UnsafeBufferPointer<BlockHash>) -> (prefix: Int, hits: Int) { _base.lookup(chain) }
    @discardableResult
    public mutating func getOrInsert(_ block: BlockInfo, parent: BlockHash? = nil) throws(PoolError) -> Bool {
        try _base.getOrInsert(block, parent: parent)
    }
    @discardableResult
    public mutating func update(
        _ chain: UnsafeBufferPointer<BlockHash>, nextUses: UnsafeBufferPointer<Int64>? = nil
    ) throws(PoolError) -> Int {
        try _base.update(chain, nextUses: nextUses)
    }
    @discardableResult
    public mutating func lookupAndUpdate(
        _ chain: UnsafeBufferPointer<BlockHash>, nextUses: UnsafeBufferPointer<Int64>? = nil
    )
        throws(PoolError) -> (prefix: Int, hits: Int, accessHits: Int)
    {
        try _base.lookupAndUpdate(chain, nextUses: nextUses)
    }
    @discardableResult public mutating func pin(_ hash: BlockHash) -> Bool { _base.pin(hash) }
    @discardableResult public mutating func unpin(_ hash: BlockHash) -> Bool { _base.unpin(hash) }
    @discardableResult public mutating func remove(_ hash: BlockHash) -> Bool { _base.remove(hash) }
    public mutating func takeChanges(into changes: inout [PoolChange]) { _base.takeChanges(into: &changes) }
}
