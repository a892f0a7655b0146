/// A KV transfer a decision implies: copy chain blocks `blocks` from `source` to the chosen
/// node before prefill, instead of recomputing them.
public struct KVTransfer: Sendable, Hashable {
    /// The node the blocks come from.
    public var source: NodeID
    /// Chain positions transferred.
    public var blocks: Range<Int>
    /// Estimated transfer time in seconds.
    public var estimatedSeconds: Double

    /// Creates a transfer.
    public init(source: NodeID, blocks: Range<Int>, estimatedSeconds: Double) {
        self.source = source
        self.blocks = blocks
        self.estimatedSeconds = estimatedSeconds
    }
}
