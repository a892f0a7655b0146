/// Counters of a ``BlockPool``. `insertions − evictions − removals` is the block count, and
/// every miss of ``BlockPool/getOrInsert(_:)`` is one insertion (unless the pool was exhausted).
@frozen
public struct PoolStatistics: Sendable, Hashable {
    /// Accesses that found their block.
    public var hits: Int = 0
    /// Accesses that did not.
    public var misses: Int = 0
    /// Blocks inserted.
    public var insertions: Int = 0
    /// Blocks evicted to make room.
    public var evictions: Int = 0
    /// Blocks removed by ``BlockPool/remove(_:)``.
    public var removals: Int = 0

    @inlinable public init() {}
}
