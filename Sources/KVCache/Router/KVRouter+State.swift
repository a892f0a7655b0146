extension KVRouter {
    /// What the router learned from engines' events, for ``restore(_:)`` here or in another
    /// process (a restart, or a new replica).
    ///
    /// Every node the engine events built is in it, with ``RouterState/Node/source`` empty and
    /// ``RouterState/Node/lastBatch`` `nil`: the caller that knows them fills them in.
    /// - Complexity: O(1) under the router's lock (the tables are shared until the next
    ///   event copies them); O(entries + blocks) after it.
    public func captureState() -> RouterState { state.withLock { $0.core }.captureState() }

    /// Replaces what the router knows of each node in `saved` with the node's blocks there: the
    /// index answers for them as the router that took the state did, and later engine events
    /// (numbered from 0 again, as a new subscriber numbers them) continue from them.
    ///
    /// - Throws: ``RouterStateError`` when the state was taken with another block size or
    ///   hash scheme, or names a node the router does not have (or one twice); nothing is
    ///   changed then.
    /// - Complexity: O(entries + blocks of the state) expected.
    public func restore(_ saved: RouterState) throws(RouterStateError) {
        try saved._check(against: configuration.hasher, nodes: Set(nodes))
        var stores: [NodeID: Int] = [:]
        for n in saved.nodes { stores[n.id] = n.blockCount }
        _makeRoom(stores: stores, entries: saved.entryCount)
        let blocks = state.withLock { g -> Int in
            try? g.core.restore(saved)
            metrics.indexBlocks.record(g.core.index.blockCount)
            return g.core.index.blockCount
        }
        configuration.logger.info("restored \(saved.blockCount) engine blocks of \(saved.nodes.count) nodes; \(blocks) blocks indexed")
    }
}

extension RouterCore {
    /// What the core learned from engines' events (see ``KVRouter/captureState()``).
    /// - Complexity: O(entries + blocks)
    public func captureState() -> RouterState {
        RouterState(index: index, identity: identity, hasher: configuration.hasher)
    }

    /// Replaces what the core knows of each node in `saved` with the node's blocks there (see
    /// ``KVRouter/restore(_:)``).
    /// - Throws: ``RouterStateError`` when the state does not fit the core; nothing changes then.
    /// - Complexity: O(entries + blocks of the state) expected.
    public mutating func restore(_ saved: RouterState) throws(RouterStateError) {
        try saved._check(against: configuration.hasher, nodes: Set(nodes))
        operations += 1
        for n in saved.nodes {
            index._clear(node: n.id)
            identity.forget(node: n.id)
            engineOrder.reset(node: n.id)
            index._noteNode(n.id)
            identity._restore(n, entries: saved._hashes)
            saved._restore(n, into: &index)
        }
    }
}

extension RouterState {
    /// Throws unless the state was taken with `hasher`'s block hashes and names each of
    /// `nodes` at most once and no other.
    func _check(against hasher: PrefixHasher, nodes known: Set<NodeID>) throws(RouterStateError) {
        guard blockSize == hasher.blockSize else { throw .blockSizeMismatch(state: blockSize, router: hasher.blockSize) }
        guard matches(hasher) else { throw .hasherMismatch }
        var seen: Set<NodeID> = []
        for n in nodes {
            guard known.contains(n.id) else { throw .unknownNode(n.id) }
            guard seen.insert(n.id).inserted else { throw .duplicateNode(n.id) }
        }
    }

    /// The state of an index and the identity map that fed it.
    init(index: PrefixIndex, identity: EngineBlockIdentity, hasher: PrefixHasher) {
        let none = Self._none
        var ordinal = [UInt32](repeating: none, count: index._entries.count)
        var hashes: [UInt64] = []
        hashes.reserveCapacity(index._table.count)
        for (e, entry) in index._entries.enumerated() where entry.alive {
            ordinal[e] = UInt32(hashes.count)
            hashes.append(entry.hash)
        }
        var parents: [UInt32] = []
        parents.reserveCapacity(hashes.count)
        for entry in index._entries where entry.alive {
            parents.append(entry.parent >= 0 ? ordinal[Int(entry.parent)] : none)
        }
        var nodes: [Node] = []
        for (id, map) in identity._maps.sorted(by: { $0.key < $1.key }) {
            var node = Node(id: id)
            node._engine.reserveCapacity(map.count)
            node._entry.reserveCapacity(map.count)
            node._refs.reserveCapacity(map.count)
            for bucket in map._entries where bucket.isOccupied {
                let b = index._table.find(bucket.value.router)
                guard b >= 0 else { continue }  // a mapping the index no longer has: nothing to restore
                let refs = bucket.value.refs
                node._engine.append(bucket.key)
                node._entry.append(ordinal[Int(index._table.entries[b].slot)])
                if refs.0 <= 1 && refs.1 <= 1 && refs.2 <= 1 {
                    node._refs.append(UInt8(refs.0) | UInt8(refs.1) << 1 | UInt8(refs.2) << 2)
                } else {
                    node._refs.append(Node._explicit)
                    node._counts.append(contentsOf: [refs.0, refs.1, refs.2])
                }
            }
            nodes.append(node)
        }
        self.init(hasher: hasher, nodes: nodes, hashes: hashes, parents: parents)
    }

    /// The references of block `i` of `node` in each tier.
    static func _references(_ node: Node, _ i: Int, explicit: inout Int) -> (UInt16, UInt16, UInt16) {
        let r = node._refs[i]
        guard r & Node._explicit != 0 else { return (UInt16(r & 1), UInt16(r >> 1 & 1), UInt16(r >> 2 & 1)) }
        defer { explicit += 3 }
        return (node._counts[explicit], node._counts[explicit + 1], node._counts[explicit + 2])
    }

    /// Stores `node`'s blocks in `index`, each under its parent, as many times per tier as
    /// it was referenced.
    func _restore(_ node: Node, into index: inout PrefixIndex) {
        var explicit = 0
        for i in 0..<node.blockCount {
            let e = Int(node._entry[i])
            let parent = _parents[e] == Self._none ? nil : _hashes[Int(_parents[e])]
            let refs = Self._references(node, i, explicit: &explicit)
            for (tier, count) in [refs.0, refs.1, refs.2].enumerated() where count > 0 {
                for _ in 0..<count { index._store(_hashes[e], parent: parent, node: node.id, tier: tier) }
            }
        }
    }
}

extension EngineBlockIdentity {
    /// Maps `node`'s engine blocks to their router blocks in `entries`.
    mutating func _restore(_ node: RouterState.Node, entries: [UInt64]) {
        var map = _maps.removeValue(forKey: node.id) ?? _EngineHashTable()
        map.reserve(map.count + node.blockCount)
        var explicit = 0
        for i in 0..<node.blockCount {
            let refs = RouterState._references(node, i, explicit: &explicit)
            let router = entries[Int(node._entry[i])]
            for (tier, count) in [refs.0, refs.1, refs.2].enumerated() where count > 0 {
                for _ in 0..<count where map.store(node._engine[i], router: router, tier: tier) { _mapped += 1 }
            }
        }
        if map.count > 0 { _maps[node.id] = map }
    }
}
