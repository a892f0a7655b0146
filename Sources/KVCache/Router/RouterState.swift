import CKVCore

/// What a router learned from engines' KV events, as a value that outlives the process: for
/// each node, the engine blocks it announced and the router block each names, with the tree
/// of router blocks they hang in. ``KVRouter/state()`` takes it; ``KVRouter/restore(_:)`` puts
/// it back; ``encoded()`` and ``init(decoding:)`` carry it through a file or the network.
///
/// A restored router answers every overlap query as the router that took the state did, and
/// maps later removals (which name engine hashes only) to the right blocks, so the engines'
/// events can continue where the state ends. Where they end is the caller's to record:
/// ``Node/lastBatch`` (the last event batch of the node applied, e.g. from
/// `EngineEventSubscriber`) and ``Node/source`` (what the node is, e.g. its event address).
///
/// Only what engine events built is in it: nodes fed with router-scheme ``KVEvent``s,
/// approximate (routed-for) entries and speculative entries are not; nor are loads and
/// requests in flight, which a restarted router learns anew.
///
/// The encoding is versioned and checksummed (XXH3-64 over the payload) and names the block
/// size and a fingerprint of the hash scheme and seed, so that a state is never applied to a
/// router whose block hashes would differ. About 25 bytes per block a single node holds.
public struct RouterState: Sendable, Equatable {
    /// One node's share of the state.
    public struct Node: Sendable, Equatable {
        /// The node id the blocks are restored to.
        public var id: NodeID
        /// What the node is (e.g. its engine's event address), for whoever restores the state
        /// to tell which node of theirs it is.
        public var source: String
        /// The last event batch of the node the state includes (e.g. a ZeroMQ sequence
        /// number), `nil` when unknown.
        public var lastBatch: UInt64?
        /// Engine blocks mapped.
        public var blockCount: Int { _engine.count }

        var _engine: [UInt64]
        /// Each engine block's router block, as an index into the state's entries.
        var _entry: [UInt32]
        /// Each engine block's references per tier: bit t set, one reference in tier t;
        /// ``_explicit``, the three counts are the block's next three values in ``_counts``.
        var _refs: [UInt8]
        var _counts: [UInt16]
        static let _explicit: UInt8 = 0x80

        /// A node with no blocks: restoring it empties the node, as a `cleared` event would.
        public init(id: NodeID, source: String = "", lastBatch: UInt64? = nil) {
            self.id = id
            self.source = source
            self.lastBatch = lastBatch
            _engine = []
            _entry = []
            _refs = []
            _counts = []
        }
    }

    /// The version of the encoding ``encoded()`` writes and ``init(decoding:)`` reads.
    public static let formatVersion: UInt32 = 1
    /// The block size of the router that took the state.
    public let blockSize: Int
    /// A digest of the router's hash scheme, seed and block size (``fingerprint(of:)``).
    public let hasherFingerprint: UInt64
    /// The nodes, each with its blocks; renumber them (``Node/id``) or leave some out before
    /// restoring.
    public var nodes: [Node]

    /// Router block hashes (held, or placeholders for held blocks' parents).
    var _hashes: [UInt64]
    /// Each entry's parent entry, ``_none`` for a root.
    var _parents: [UInt32]
    static let _none = UInt32.max

    init(hasher: PrefixHasher, nodes: [Node], hashes: [UInt64], parents: [UInt32]) {
        blockSize = hasher.blockSize
        hasherFingerprint = Self.fingerprint(of: hasher)
        self.nodes = nodes
        _hashes = hashes
        _parents = parents
    }

    /// Router blocks in the state's tree, placeholders included.
    public var entryCount: Int { _hashes.count }

    /// Engine blocks mapped, all nodes.
    public var blockCount: Int { nodes.reduce(0) { $0 + $1.blockCount } }

    /// A digest of everything that decides a router's block hashes: the scheme, seeds and
    /// block size (the hash of a fixed two-block chain).
    public static func fingerprint(of hasher: PrefixHasher) -> UInt64 {
        let tokens = (0..<UInt32(2 * hasher.blockSize)).map { $0 &* 2_654_435_761 }
        return hasher.blockHashes(tokens).last?.rawValue ?? 0
    }

    /// Whether a router hashing with `hasher` computes the block hashes this state names.
    public func matches(_ hasher: PrefixHasher) -> Bool {
        hasher.blockSize == blockSize && Self.fingerprint(of: hasher) == hasherFingerprint
    }
}

/// Why a router state could not be read or restored.
public enum RouterStateError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The bytes do not start as an encoded state does.
    case notAState
    /// The state was written in an encoding this library does not read.
    case unsupportedVersion(UInt32)
    /// The bytes end before the state does.
    case truncated(expected: Int, actual: Int)
    /// The payload's checksum differs from the one recorded: the bytes were damaged.
    case checksumMismatch
    /// The payload is not a consistent state (an index out of range, a count past the end).
    case malformed(String)
    /// The state's blocks hold another number of tokens than the router's.
    case blockSizeMismatch(state: Int, router: Int)
    /// The state was hashed with another scheme or seed than the router's.
    case hasherMismatch
    /// A node of the state is not one of the router's nodes.
    case unknownNode(NodeID)
    /// Two nodes of the state have the same id.
    case duplicateNode(NodeID)

    public var description: String {
        switch self {
        case .notAState: return "not a KVCache router state (no KVCSTATE header)"
        case .unsupportedVersion(let v): return "written in state format \(v); this build reads format \(RouterState.formatVersion)"
        case .truncated(let expected, let actual): return "truncated: \(actual) bytes of \(expected)"
        case .checksumMismatch: return "corrupt: its checksum does not match its contents"
        case .malformed(let what): return "malformed: \(what)"
        case .blockSizeMismatch(let state, let router):
            return "written for blocks of \(state) tokens; this router hashes blocks of \(router)"
        case .hasherMismatch: return "written with another hash scheme or seed than this router's"
        case .unknownNode(let id): return "node \(id) is not one of the router's nodes"
        case .duplicateNode(let id): return "node \(id) appears twice"
        }
    }
}
