/// Turns engines' events into router-scheme events: re-hashes every stored block from its
/// tokens (and adapter, and extra keys) with the router's ``PrefixHasher``, and remembers,
/// per node, which router block each engine hash names, so that removals (which carry only
/// engine hashes) remove the right blocks.
///
/// This is how a router keeps one block identity for every engine, whatever scheme (and
/// seed) each engine hashes with: a prompt routed with ``PrefixHasher/blockHashes(_:)-([UInt32])``
/// meets exactly the blocks engines announced for the same tokens.
///
/// Rules:
/// - A stored run's first block chains from the router hash of `parent` (none: a chain root).
/// - A run whose `parent` the node never announced (or already removed) cannot be given its
///   router identity: it is not indexed, and its blocks are counted as
///   ``Statistics/orphanBlocks`` (later runs under them are orphans too). Routing then
///   under-counts that node's cache; it never reports a prefix the node does not hold.
/// - An adapter (``EngineStoredBlocks/adapter``) selects ``PrefixHasher/adapted(to:)``; a block's
///   extra keys are mixed in after dropping the adapter's name where vLLM repeats it as the
///   first extra key, so a text-only prompt routed for adapter A equals A's stored blocks.
/// - A run whose block size differs from the hasher's, or whose token count is not
///   `blocks × blockSize`, is refused with an ``EngineEventError`` (nothing is applied).
/// - Engine hashes are reference-counted per node and tier, as the index counts stores.
///
/// Memory: one table entry per (node, engine block) held; ``byteCount`` says how much.
public struct EngineBlockIdentity: Sendable {
    /// Counters.
    public struct Statistics: Sendable, Hashable {
        /// Blocks stored under a parent the node never announced (not indexed).
        public var orphanBlocks = 0
        /// Stored runs refused because their block size differed from the router's.
        public var blockSizeMismatches = 0
        /// Stored runs refused because their token count did not match their blocks.
        public var malformedStores = 0
        /// Removals of engine hashes the node did not hold (no-ops).
        public var unknownRemovals = 0
        /// All zero.
        public init() {}
    }

    struct _Mapped: Sendable {
        var router: UInt64
        var refs: (UInt16, UInt16, UInt16)

        subscript(tier: Int) -> UInt16 {
            get { tier == 0 ? refs.0 : tier == 1 ? refs.1 : refs.2 }
            set {
                switch tier {
                case 0: refs.0 = newValue
                case 1: refs.1 = newValue
                default: refs.2 = newValue
                }
            }
        }

        var isEmpty: Bool { refs.0 == 0 && refs.1 == 0 && refs.2 == 0 }
    }

    /// The router's hasher (its block size is the one engines must use).
    public let hasher: PrefixHasher
    /// The counters so far.
    public private(set) var statistics = Statistics()
    var _maps: [NodeID: _EngineHashTable] = [:]
    var _mapped = 0

    /// Creates an empty identity map for the router's `hasher`.
    public init(hasher: PrefixHasher) { self.hasher = hasher }

    /// Engine blocks mapped, all nodes.
    public var mappedBlocks: Int { _mapped }

    /// Memory the per-node tables hold, in bytes: their buckets, each an engine hash and what
    /// it names.
    public var byteCount: Int { _maps.values.reduce(0) { $0 + $1.byteCount } }

    /// The router hash `engine` names on `node`, if the node holds that block.
    public func routerHash(of engine: EngineBlockHash, node: NodeID) -> BlockHash? {
        _maps[node]?.value(for: engine.rawValue).map { BlockHash($0.router) }
    }

    /// Translates one engine event into what the router's index applies.
    ///
    /// - Returns: The router-scheme change (a store of fewer blocks, or none, when blocks
    ///   are orphans).
    /// - Throws: ``EngineEventError`` when a stored run cannot be hashed (block size, token
    ///   count); nothing is changed then.
    /// - Complexity: O(tokens + blocks) expected; O(blocks of the node) for `cleared`.
    public mutating func translate(_ event: EngineEvent) throws(EngineEventError) -> KVEventKind {
        let node = event.node
        switch event.kind {
        case .stored(let run):
            return try _store(run, node: node)
        case .removed(let blocks, let tier):
            var routerBlocks: [BlockHash] = []
            routerBlocks.reserveCapacity(blocks.count)
            let t = tier.rawValue
            var map = _maps.removeValue(forKey: node) ?? _EngineHashTable()  // one lookup of the node's map
            let before = map.count
            for (i, b) in blocks.enumerated() {
                _LinearProbing.prefetchAhead(of: i, count: blocks.count) { map.prefetch(blocks[$0].rawValue) }
                guard let router = map.release(b.rawValue, tier: t) else {
                    statistics.unknownRemovals += 1
                    continue
                }
                routerBlocks.append(BlockHash(router))
            }
            _mapped -= before - map.count
            if map.count > 0 { _maps[node] = map }
            return .removed(blocks: routerBlocks, tier: tier)
        case .cleared:
            forget(node: node)
            return .cleared
        }
    }

    /// Forgets every engine hash of `node` (it cleared its cache or left).
    public mutating func forget(node: NodeID) {
        if let map = _maps.removeValue(forKey: node) { _mapped -= map.count }
    }

    /// The buckets each node's table needs so that `stores[node]` more engine hashes fit
    /// without growing; nodes whose tables have them are left out (see ``_growTables(into:)``).
    /// - Complexity: O(nodes in `stores`)
    func _bucketsNeeded(storing stores: [NodeID: Int]) -> [NodeID: Int] {
        var needed: [NodeID: Int] = [:]
        for (node, n) in stores {
            let map = _maps[node] ?? _EngineHashTable()
            if let buckets = map.bucketsNeeded(for: map.count + n) { needed[node] = buckets }
        }
        return needed
    }

    /// Rehashes each node's table into its empty buckets in `fresh`
    /// (`_EngineHashTable.vacant(buckets:)`), unless it already has as many.
    /// - Complexity: O(buckets)
    mutating func _growTables(into fresh: consuming [NodeID: [_EngineHashTable._Entry]]) {
        // each array taken out of the dictionary, so the table that adopts it holds the only reference
        while let node = fresh.keys.first, let buckets = fresh.removeValue(forKey: node) {
            var map = _maps.removeValue(forKey: node) ?? _EngineHashTable()
            if buckets.count > map._entries.count { map._grow(into: consume buckets) }
            _maps[node] = map
        }
    }

    mutating func _store(_ run: EngineStoredBlocks, node: NodeID) throws(EngineEventError) -> KVEventKind {
        guard run.blockSize == hasher.blockSize else {
            statistics.blockSizeMismatches += 1
            throw .blockSizeMismatch(node: node, engine: run.blockSize, router: hasher.blockSize)
        }
        let (expected, overflow) = run.blocks.count.multipliedReportingOverflow(by: run.blockSize)
        guard !overflow, run.tokens.count == expected, run.extraKeys.isEmpty || run.extraKeys.count == run.blocks.count else {
            statistics.malformedStores += 1
            throw .malformedStore(
                node: node, blocks: run.blocks.count, tokens: run.tokens.count, blockSize: run.blockSize,
                extraKeys: run.extraKeys.count)
        }
        var parent: BlockHash?
        if let p = run.parent {
            guard let known = _maps[node]?.value(for: p.rawValue) else {
                statistics.orphanBlocks += run.blocks.count
                return .stored(parent: nil, blocks: [], tier: run.tier)
            }
            parent = BlockHash(known.router)
        }
        let routerParent = parent
        let h = hasher.adapted(to: run.adapter)
        let size = h.blockSize
        let t = run.tier.rawValue
        var routerBlocks: [BlockHash] = []
        routerBlocks.reserveCapacity(run.blocks.count)
        var map = _maps.removeValue(forKey: node) ?? _EngineHashTable()
        map.reserve(map.count + run.blocks.count)  // no growth mid-run: the buckets asked for ahead stay valid
        run.tokens.withUnsafeBufferPointer { tokens in
            for (i, engine) in run.blocks.enumerated() {
                _LinearProbing.prefetchAhead(of: i, count: run.blocks.count) { map.prefetch(run.blocks[$0].rawValue) }
                let block = UnsafeBufferPointer(rebasing: tokens[(i * size)..<((i + 1) * size)])
                let extra = run.extraKeys.isEmpty ? nil : Self.extraDigest(run.extraKeys[i], adapter: run.adapter)
                let routerHash = h.hashBlock(block, parent: parent, extra: extra).hash
                if map.store(engine.rawValue, router: routerHash.rawValue, tier: t) { _mapped += 1 }
                routerBlocks.append(routerHash)
                parent = routerHash
            }
        }
        _maps[node] = map
        return .stored(parent: routerParent, blocks: routerBlocks, tier: run.tier)
    }

    /// The digest of a block's extra keys without the adapter's own name (vLLM lists it
    /// first), so that an adapter's text blocks hash as ``PrefixHasher/adapted(to:)`` alone.
    static func extraDigest(_ keys: [BlockExtraKey], adapter: String?) -> UInt64? {
        guard !keys.isEmpty else { return nil }
        if let adapter, keys.first == .string(adapter) { return BlockExtraKey.digest(keys.dropFirst()) }
        return BlockExtraKey.digest(keys)
    }
}

/// Why an engine event could not be applied.
public enum EngineEventError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The engine's blocks hold a different number of tokens than the router's.
    case blockSizeMismatch(node: NodeID, engine: Int, router: Int)
    /// A stored run's tokens (or extra keys) do not fit its blocks.
    case malformedStore(node: NodeID, blocks: Int, tokens: Int, blockSize: Int, extraKeys: Int)

    public var description: String {
        switch self {
        case .blockSizeMismatch(let node, let engine, let router):
            return "node \(node) publishes blocks of \(engine) tokens but the router hashes blocks of \(router) "
                + "(set the router's block size to the engine's); its stored blocks are not indexed"
        case .malformedStore(let node, let blocks, let tokens, let blockSize, let extraKeys):
            return "node \(node) stored \(blocks) blocks of \(blockSize) tokens with \(tokens) token ids"
                + (extraKeys == 0 || extraKeys == blocks ? "" : " and \(extraKeys) extra-key entries")
                + "; the store is not indexed"
        }
    }
}
