/// What went wrong in a ``BlockPool``.
public enum PoolError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A pool's capacity must be at least one block.
    case invalidCapacity(Int)
    /// The pool is full and its algorithm has no block to evict: every block is pinned (or,
    /// for ``LeafLRU``, every unpinned block has a cached child — which only happens when
    /// blocks' parents change between chains, i.e. the chains do not form a prefix tree).
    case poolExhausted(capacity: Int)

    public var description: String {
        switch self {
        case .invalidCapacity(let c): return "pool capacity must be at least 1 block, got \(c)"
        case .poolExhausted(let c):
            return "pool exhausted: none of its \(c) blocks can be evicted (all pinned, or for LeafLRU none without a cached child)"
        }
    }
}

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
