/// Events a node's ``PrefixIndex`` never saw: `from ... to` (inclusive) were skipped, so the
/// caller can ask the node to replay them.
public struct EventGap: Sendable, Hashable, CustomStringConvertible {
    /// The node.
    public var node: NodeID
    /// The first missing event ID.
    public var from: UInt64
    /// The last missing event ID.
    public var to: UInt64

    public var description: String { "node \(node) missed events \(from)...\(to)" }
}
