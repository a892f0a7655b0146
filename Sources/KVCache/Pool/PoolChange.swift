/// One change a pool made while recording (``BlockPool/recordsChanges``), taken with
/// ``BlockPool/takeChanges(into:)``.
public enum PoolChange: Sendable, Hashable {
    /// A block entered the pool; `parent` is the chain block before it, when there is one.
    case inserted(BlockHash, parent: BlockHash?)
    /// A block was evicted to make room.
    case evicted(BlockHash)
    /// A block was removed by the pool's owner.
    case removed(BlockHash)
}
