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
