extension RouterCore {
    /// What applying a batch of events did, for the caller to count and log.
    public struct EventOutcome: Sendable {
        /// Events applied (router-scheme events the index took; engine events translated).
        public var applied = 0
        /// Events for nodes the core does not have (ignored).
        public var unknownNodes = 0
        /// Gaps revealed: ask those nodes to replay.
        public var gaps: [EventGap] = []
        /// Engine blocks stored under a parent their node never announced (not indexed).
        public var orphanBlocks = 0
        /// Engine events refused (block size, token count), with why; each node's first only.
        public var refused: [(node: NodeID, error: EngineEventError)] = []
        /// Engine events refused in all.
        public var refusedCount = 0
    }

    /// Applies events already in the router's hash scheme, each in its node's event-ID order.
    /// - Complexity: O(blocks in the events applied) expected.
    public mutating func apply(_ events: some Sequence<KVEvent>) -> EventOutcome {
        operations += 1
        var out = EventOutcome()
        let before = index.statistics.eventsApplied
        for e in events {
            guard Self._has(records, e.node) else {
                out.unknownNodes += 1
                continue
            }
            do throws(IndexError) {
                if let g = try index.apply(e) { out.gaps.append(g) }
                settleSpeculative(after: e.kind, node: e.node)
            } catch {
                out.unknownNodes += 1
            }
        }
        out.applied = index.statistics.eventsApplied - before
        return out
    }

    /// Applies engines' events: stored blocks re-hashed into the router's scheme, removals
    /// mapped back through the engine hashes each node announced (``EngineBlockIdentity``), in
    /// each node's event-ID order. A store the router cannot hash is refused (its node's first
    /// refusal is in ``EventOutcome/refused``).
    /// - Complexity: O(tokens + blocks) per event, expected.
    public mutating func apply(_ events: some Sequence<EngineEvent>) -> EventOutcome {
        operations += 1
        var out = EventOutcome()
        let orphansBefore = identity.statistics.orphanBlocks
        for e in events {
            guard Self._has(records, e.node) else {
                out.unknownNodes += 1
                continue
            }
            switch engineOrder.admit(e, id: e.eventID, node: e.node) {
            case .inOrder:
                translateAndApply(e, &out)
            case .held(let gap):
                if let gap { out.gaps.append(gap) }
            case .duplicate, .invalid:
                continue
            }
            while let next = engineOrder.nextReady(of: e.node) { translateAndApply(next, &out) }
        }
        out.orphanBlocks = identity.statistics.orphanBlocks - orphansBefore
        return out
    }

    mutating func translateAndApply(_ e: EngineEvent, _ out: inout EventOutcome) {
        do throws(EngineEventError) {
            let kind = try identity.translate(e)
            index._apply(kind, node: e.node)
            settleSpeculative(after: kind, node: e.node)
            out.applied += 1
        } catch {
            out.refusedCount += 1
            if refusedNodes.insert(e.node).inserted { out.refused.append((e.node, error)) }
        }
    }

    /// Applies a co-located pool's changes to `node` directly (no events, no event IDs), as
    /// ``PrefixIndex/apply(_:node:tier:)`` does: the in-process path of a simulator.
    /// - Complexity: O(changes) expected
    public mutating func apply(_ changes: [PoolChange], node: NodeID, tier: StorageTier = .device) {
        guard Self._has(records, node) else { return }
        operations += 1
        try? index.apply(changes, node: node, tier: tier)
    }

    /// Gives up the events `node` is missing (it cannot replay them): events held behind its
    /// gaps are applied now, in order.
    /// - Returns: The events applied.
    @discardableResult
    public mutating func skipGap(of node: NodeID) -> Int {
        operations += 1
        let before = index.statistics.eventsApplied
        index.skipGap(of: node)
        engineOrder.skipGap(of: node)
        while let next = engineOrder.nextReady(of: node) {
            guard let kind = try? identity.translate(next) else { continue }
            index._apply(kind, node: node)
            settleSpeculative(after: kind, node: node)
        }
        return index.statistics.eventsApplied - before
    }

    /// What an event means for its node's route-time entries: a stored run is reported, so
    /// the index answers for those blocks from now on and their entries go; an emptied cache
    /// (the engine restarted, or lost a range it cannot replay) takes every entry of the node
    /// with it, since what was routed there before is not computed there.
    mutating func settleSpeculative(after kind: KVEventKind, node: NodeID) {
        guard speculative != nil else { return }
        switch kind {
        case .stored(_, let blocks, _): speculative!.confirm(blocks, node: node)
        case .cleared: speculative!.forget(node: node)
        case .removed: break
        }
    }
}
