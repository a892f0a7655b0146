/// A change to one node's KV cache in the router's block identity, as the index applies it.
///
/// The router's own hashes name the blocks; engines' events in their own hashes
/// (``EngineEvent``) become these through ``EngineBlockIdentity``.
public typealias KVEvent = NodeEvent<KVEventKind>

/// What happened to a node's cache, in the router's hashes (the kind of a ``KVEvent``).
public enum KVEventKind: Sendable, Hashable {
    /// `blocks` (a run of a chain, in order) were stored under `parent` (`nil`: the run
    /// starts a chain).
    case stored(parent: BlockHash?, blocks: [BlockHash], tier: StorageTier)
    /// `blocks` were removed from `tier`.
    case removed(blocks: [BlockHash], tier: StorageTier)
    /// The node dropped every block (restart, reset).
    case cleared
}

extension KVEvent {
    /// A `stored` event.
    public static func stored(
        node: NodeID, eventID: UInt64, parent: BlockHash?, blocks: [BlockHash],
        tier: StorageTier = .device
    ) -> KVEvent {
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
