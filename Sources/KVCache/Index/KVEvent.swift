/// A serving node, as a small integer (0 ..< the index's node capacity).
public typealias NodeID = Int

/// The level of a tiered KV cache a block lives in (vLLM/Dynamo's G1, G2, G3).
public enum StorageTier: Int, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Accelerator memory (G1).
    case device = 0
    /// Host memory (G2).
    case host = 1
    /// Local or remote disk (G3).
    case disk = 2

    public var description: String {
        switch self {
        case .device: return "device"
        case .host: return "host"
        case .disk: return "disk"
        }
    }
}

/// A change to one node's KV cache, as engines publish it.
///
/// Every event carries the node's monotonically increasing `eventID`; a ``PrefixIndex`` uses
/// it to spot lost events (gaps) and stale or repeated ones.
public struct KVEvent: Sendable, Hashable {
    /// What happened.
    public enum Kind: Sendable, Hashable {
        /// `blocks` (a run of a chain, in order) were stored under `parent` (`nil`: the run
        /// starts a chain).
        case stored(parent: BlockHash?, blocks: [BlockHash], tier: StorageTier)
        /// `blocks` were removed from `tier`.
        case removed(blocks: [BlockHash], tier: StorageTier)
        /// The node dropped every block (restart, reset).
        case cleared
    }

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

    /// A `stored` event.
    public static func stored(node: NodeID, eventID: UInt64, parent: BlockHash?, blocks: [BlockHash],
                              tier: StorageTier = .device) -> KVEvent {
        KVEvent(node: node, eventID: eventID, kind: .stored(parent: parent, blocks: blocks, tier: tier))
    }

    /// A `removed` event.
    public static func removed(node: NodeID, eventID: UInt64, blocks: [BlockHash], tier: StorageTier = .device) -> KVEvent {
        KVEvent(node: node, eventID: eventID, kind: .removed(blocks: blocks, tier: tier))
    }

    /// A `cleared` event.
    public static func cleared(node: NodeID, eventID: UInt64) -> KVEvent {
        KVEvent(node: node, eventID: eventID, kind: .cleared)
    }
}

/// Events a node's ``PrefixIndex`` never saw: `from ... to` (inclusive) were skipped, so the
/// caller can ask the node to replay them.
public struct EventGap: Sendable, Hashable, CustomStringConvertible {
    /// The node.
    public var node: NodeID
    /// The first missing event ID.
    public var from: UInt64
    /// The last missing event ID.
    public var to: UInt64

    /// Creates a gap.
    public init(node: NodeID, from: UInt64, to: UInt64) {
        self.node = node
        self.from = from
        self.to = to
    }

    public var description: String { "node \(node) missed events \(from)...\(to)" }
}

/// One change a pool made while recording (see ``BlockPool/update(_:recordingInto:)``).
public enum PoolChange: Sendable, Hashable {
    /// A block entered the pool; `parent` is the chain block before it, when there is one.
    case inserted(BlockHash, parent: BlockHash?)
    /// A block was evicted to make room.
    case evicted(BlockHash)
    /// A block was removed by the pool's owner.
    case removed(BlockHash)
}

extension KVEvent {
    /// Turns a pool's recorded changes into the events that node would publish: each run of
    /// insertions that continue one another becomes one `stored` event, each run of evictions
    /// and removals one `removed` event, in order.
    ///
    /// - Parameters:
    ///   - changes: What the pool recorded.
    ///   - node: The pool's node.
    ///   - tier: The pool's tier.
    ///   - nextEventID: The node's next event ID; advanced by the number of events made.
    ///   - events: Receives the events.
    /// - Complexity: O(`changes.count`)
    public static func append(
        _ changes: [PoolChange], node: NodeID, tier: StorageTier = .device,
        nextEventID: inout UInt64, to events: inout [KVEvent]
    ) {
        var stored: [BlockHash] = []
        var storedParent: BlockHash?
        var removed: [BlockHash] = []
        func flushStored() {
            guard !stored.isEmpty else { return }
            events.append(.stored(node: node, eventID: nextEventID, parent: storedParent, blocks: stored, tier: tier))
            nextEventID += 1
            stored = []
        }
        func flushRemoved() {
            guard !removed.isEmpty else { return }
            events.append(.removed(node: node, eventID: nextEventID, blocks: removed, tier: tier))
            nextEventID += 1
            removed = []
        }
        for change in changes {
            switch change {
            case .inserted(let block, let parent):
                flushRemoved()
                if !stored.isEmpty && parent != stored.last { flushStored() }
                if stored.isEmpty { storedParent = parent }
                stored.append(block)
            case .evicted(let block), .removed(let block):
                flushStored()
                removed.append(block)
            }
        }
        flushStored()
        flushRemoved()
    }
}
