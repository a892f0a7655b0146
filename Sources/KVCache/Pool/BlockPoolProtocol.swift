/// The operations every ``BlockPool`` offers, whatever its algorithm.
///
/// Code that runs pools is best written generic over ``EvictionAlgorithm`` on `BlockPool`
/// itself and opened with a policy (``EvictionPolicy/open(_:)``); this protocol is what
/// ``AnyBlockPool`` erases, for code that holds pools of policies it does not know.
public protocol BlockPoolProtocol {
    /// The most blocks the pool holds.
    var capacity: Int { get }
    /// The number of blocks in the pool.
    var count: Int { get }
    /// Hit, miss, insertion, eviction and removal counts.
    var statistics: PoolStatistics { get }
    /// Whether insertions, evictions and removals are logged for ``takeChanges(into:)``.
    var recordsChanges: Bool { get set }
    /// Whether `hash` is in the pool (not an access).
    func contains(_ hash: BlockHash) -> Bool
    /// The number of pins on `hash`.
    func pinCount(_ hash: BlockHash) -> Int
    /// Leading blocks of `chain` present, and all blocks present, in one read-only walk.
    func lookup(_ chain: UnsafeBufferPointer<BlockHash>) -> (prefix: Int, hits: Int)
    /// Accesses one block (get-or-insert); returns whether it was a hit.
    mutating func getOrInsert(_ block: BlockInfo, parent: BlockHash?) throws(PoolError) -> Bool
    /// The update walk of a request's chain; returns hits at access.
    mutating func update(_ chain: UnsafeBufferPointer<BlockHash>, nextUses: UnsafeBufferPointer<Int64>?) throws(PoolError) -> Int
    /// ``lookup(_:)`` then ``update(_:nextUses:)`` of one chain, in one walk where the pool can.
    mutating func lookupAndUpdate(
        _ chain: UnsafeBufferPointer<BlockHash>, nextUses: UnsafeBufferPointer<Int64>?
    )
        throws(PoolError) -> (prefix: Int, hits: Int, accessHits: Int)
    /// Pins a block (it is not evicted until unpinned); returns whether it is present.
    mutating func pin(_ hash: BlockHash) -> Bool
    /// Releases one pin; returns whether the block was pinned.
    mutating func unpin(_ hash: BlockHash) -> Bool
    /// Removes an unpinned block; returns whether it was removed.
    mutating func remove(_ hash: BlockHash) -> Bool
    /// Moves the logged changes out.
    mutating func takeChanges(into changes: inout [PoolChange])
}

extension BlockPoolProtocol {
    /// ``lookup(_:)``, then ``update(_:nextUses:)``.
    public mutating func lookupAndUpdate(
        _ chain: UnsafeBufferPointer<BlockHash>, nextUses: UnsafeBufferPointer<Int64>?
    )
        throws(PoolError) -> (prefix: Int, hits: Int, accessHits: Int)
    {
        let (prefix, hits) = lookup(chain)
        return (prefix, hits, try update(chain, nextUses: nextUses))
    }

    /// Leading blocks of `chain` present (read-only).
    /// - Complexity: O(`chain.count`)
    public func prefixHits(of chain: some Sequence<BlockHash>) -> Int { _withBuffer(of: chain) { lookup($0).prefix } }

    /// Blocks of `chain` present, leading or not (read-only).
    /// - Complexity: O(`chain.count`)
    public func hits(in chain: some Sequence<BlockHash>) -> Int { _withBuffer(of: chain) { lookup($0).hits } }

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
internal func _withBuffer<R>(of chain: [BlockHash], _ body: (UnsafeBufferPointer<BlockHash>) throws(PoolError) -> R) throws(PoolError) -> R
{
    var result: Result<R, PoolError>?
    chain.withUnsafeBufferPointer { buffer in
        do throws(PoolError) { result = .success(try body(buffer)) } catch { result = .failure(error) }
    }
    return try result!.get()
}

/// Calls `body` with `chain`'s elements as a buffer (in place when they are contiguous).
@inlinable
internal func _withBuffer<R>(of chain: some Sequence<BlockHash>, _ body: (UnsafeBufferPointer<BlockHash>) -> R) -> R {
    if let r = chain.withContiguousStorageIfAvailable(body) { return r }
    return Array(chain).withUnsafeBufferPointer(body)
}

extension BlockPool: BlockPoolProtocol {}
