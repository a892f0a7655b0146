/// One event of a node's KV-cache stream: which node, its place in the node's order, and what
/// happened.
///
/// Every event carries the node's monotonically increasing `eventID` (0, 1, 2, … per node); a
/// ``PrefixIndex`` uses it to spot lost events (gaps) and stale or repeated ones. The kind says
/// in whose block identity the event speaks: ``KVEvent`` in the router's hashes,
/// ``EngineEvent`` in an engine's.
public struct NodeEvent<Kind: Sendable & Hashable>: Sendable, Hashable {
    /// The node the event comes from.
    public var node: NodeID
    /// The node's event sequence number.
    public var eventID: UInt64
    /// What happened.
    public var kind: Kind

    /// Creates an event.
    public init(node: NodeID, eventID: UInt64, kind: Kind) {
        self.node = node
        self.eventID = eventID
        self.kind = kind
    }
}
