import CKVCore

/// A block hash as an engine computes it, in the engine's own scheme (vLLM: sha256 of parent,
/// tokens and extra keys, published as a 64-bit integer or 32 raw bytes).
///
/// Engine hashes only *name* blocks at the engine boundary (so that a removal can say which
/// block went); the router identifies blocks by its own chain hashes, re-computed from the
/// tokens each stored block carries (see ``EngineBlockIdentity``).
public struct EngineBlockHash: Sendable, Hashable, CustomStringConvertible {
    /// The hash as a 64-bit key: the engine's integer, or the fold of its bytes.
    public var rawValue: UInt64

    /// An integer engine hash (a negative one keeps its bit pattern).
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }

    /// A binary engine hash (vLLM's 32-byte sha256), folded to 64 bits with XXH3-64, seed 0.
    /// - Complexity: O(`bytes.count`)
    public init(bytes: UnsafeRawBufferPointer) {
        rawValue = kvc_xxh3_64_seeded(bytes.baseAddress, bytes.count, 0)
    }

    /// A binary engine hash given as an array (see ``init(bytes:)-(UnsafeRawBufferPointer)``).
    public init(bytes: [UInt8]) {
        self = bytes.withUnsafeBytes { EngineBlockHash(bytes: $0) }
    }

    public var description: String { BlockHash(rawValue).hexString }
}

/// A change to one node's KV cache as the engine reports it: engine block hashes plus, for
/// stores, the tokens that let the router compute its own block identity.
public typealias EngineEvent = NodeEvent<EngineEventKind>

/// What happened to a node's cache, as the engine names it (the kind of an ``EngineEvent``).
public enum EngineEventKind: Sendable, Hashable {
    /// Blocks were stored.
    case stored(EngineStoredBlocks)
    /// Blocks (named by engine hash) were removed from `tier`.
    case removed(blocks: [EngineBlockHash], tier: StorageTier)
    /// The node dropped every block.
    case cleared
}

extension EngineEvent {
    /// The event with the engine's hashes used directly as index keys, for an index that
    /// shares the engine's hash scheme (no re-hashing; a router that hashes prompts itself
    /// needs ``EngineBlockIdentity`` instead).
    public var keyedByEngineHashes: KVEvent {
        switch kind {
        case .stored(let s):
            return .stored(
                node: node, eventID: eventID, parent: s.parent.map { BlockHash($0.rawValue) },
                blocks: s.blocks.map { BlockHash($0.rawValue) }, tier: s.tier)
        case .removed(let blocks, let tier):
            return .removed(node: node, eventID: eventID, blocks: blocks.map { BlockHash($0.rawValue) }, tier: tier)
        case .cleared:
            return .cleared(node: node, eventID: eventID)
        }
    }
}

/// A run of blocks an engine stored, as vLLM's `BlockStored` describes it.
public struct EngineStoredBlocks: Sendable, Hashable {
    /// The blocks' engine hashes, in chain order.
    public var blocks: [EngineBlockHash]
    /// The engine hash of the block before the first one, `nil` when the run starts a chain.
    public var parent: EngineBlockHash?
    /// The tokens of the blocks: `blocks.count × blockSize` of them.
    public var tokens: [UInt32]
    /// Tokens per block, as the engine counts them.
    public var blockSize: Int
    /// The adapter (LoRA) the blocks were computed for, `nil` for the base model.
    public var adapter: String?
    /// Extra keys per block (multimodal hashes, a cache salt, the adapter again as vLLM
    /// repeats it); empty, or one entry per block (an empty entry: none).
    public var extraKeys: [[BlockExtraKey]]
    /// Where the blocks live.
    public var tier: StorageTier

    /// Creates a stored run.
    public init(
        blocks: [EngineBlockHash], parent: EngineBlockHash?, tokens: [UInt32], blockSize: Int,
        adapter: String? = nil, extraKeys: [[BlockExtraKey]] = [], tier: StorageTier = .device
    ) {
        self.blocks = blocks
        self.parent = parent
        self.tokens = tokens
        self.blockSize = blockSize
        self.adapter = adapter
        self.extraKeys = extraKeys
        self.tier = tier
    }
}

extension EngineEvent {
    /// Turns the changes a pool recorded while serving one prompt into the events an engine
    /// publishes for them: each run of stored blocks that continue one another becomes one
    /// `stored` event carrying its tokens (and its parent's engine hash), each run of
    /// evictions and removals one `removed` event, in order. This is how a simulated engine
    /// (or a test) speaks the same stream a vLLM engine does.
    ///
    /// - Parameters:
    ///   - changes: What the pool recorded; every inserted block is one of `chain`'s.
    ///   - chain: The prompt's chain in the pool's (engine's) hash scheme.
    ///   - tokens: The prompt's tokens.
    ///   - blockSize: Tokens per block.
    ///   - node: The engine's node.
    ///   - adapter: The adapter the prompt was served for, if any.
    ///   - tier: The pool's tier.
    ///   - engineHash: How the engine publishes a pool key (default: the key itself).
    ///   - nextEventID: The node's next event ID; advanced by the number of events made.
    ///   - events: Receives the events.
    /// - Complexity: O(`chain.count` + `changes.count` + stored tokens)
    public static func append(
        _ changes: [PoolChange], of chain: [BlockHash], tokens: [UInt32], blockSize: Int, node: NodeID,
        adapter: String? = nil, tier: StorageTier = .device,
        engineHash: (BlockHash) -> EngineBlockHash = { EngineBlockHash($0.rawValue) },
        nextEventID: inout UInt64, to events: inout [EngineEvent]
    ) {
        var position: [BlockHash: Int] = [:]
        for (i, b) in chain.enumerated() where position[b] == nil { position[b] = i }
        var run: [Int] = []  // chain positions of a run of stored blocks
        var removed: [EngineBlockHash] = []
        func flushStored() {
            guard let first = run.first, let last = run.last else { return }
            let stored = EngineStoredBlocks(
                blocks: run.map { engineHash(chain[$0]) }, parent: first > 0 ? engineHash(chain[first - 1]) : nil,
                tokens: Array(tokens[(first * blockSize)..<((last + 1) * blockSize)]), blockSize: blockSize, adapter: adapter,
                tier: tier)
            events.append(EngineEvent(node: node, eventID: nextEventID, kind: .stored(stored)))
            nextEventID += 1
            run = []
        }
        func flushRemoved() {
            guard !removed.isEmpty else { return }
            events.append(EngineEvent(node: node, eventID: nextEventID, kind: .removed(blocks: removed, tier: tier)))
            nextEventID += 1
            removed = []
        }
        for change in changes {
            switch change {
            case .inserted(let block, _):
                guard let i = position[block] else { continue }
                flushRemoved()
                if let last = run.last, last + 1 != i { flushStored() }
                run.append(i)
            case .evicted(let block), .removed(let block):
                flushStored()
                removed.append(engineHash(block))
            }
        }
        flushStored()
        flushRemoved()
    }
}
