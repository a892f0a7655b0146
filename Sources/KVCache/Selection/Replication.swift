/// A replication a decision implies: place chain blocks `blocks` on `node` too (hot prefixes).
public struct Replication: Sendable, Hashable {
    /// The node that receives a copy.
    public var node: NodeID
    /// Chain positions copied.
    public var blocks: Range<Int>

    /// Creates a replication.
    public init(node: NodeID, blocks: Range<Int>) {
        self.node = node
        self.blocks = blocks
    }
}
