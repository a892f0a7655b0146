/// One request to place on a prefill node.
public struct RoutingRequest: Sendable, Hashable {
    /// The request's chained block hashes.
    public var chain: [BlockHash]
    /// Prompt tokens.
    public var inputTokens: Int
    /// Tokens the request is expected to generate.
    public var expectedOutputTokens: Int
    /// Arrival time in seconds (any monotonic origin).
    public var arrival: Double
    /// Tokens per block.
    public var blockSize: Int

    /// Creates a request.
    public init(chain: [BlockHash], inputTokens: Int, expectedOutputTokens: Int = 0, arrival: Double = 0, blockSize: Int = 512) {
        self.chain = chain
        self.inputTokens = inputTokens
        self.expectedOutputTokens = expectedOutputTokens
        self.arrival = arrival
        self.blockSize = blockSize
    }

    /// Prompt tokens not covered by `depth` cached leading blocks.
    /// - Complexity: O(1)
    @inlinable
    public func uncachedTokens(depth: Int) -> Int { max(0, inputTokens - min(depth * blockSize, inputTokens)) }

    /// The number of blocks the prompt fills (the chain may stop before a partial block).
    @inlinable
    public var promptBlocks: Int { (inputTokens + blockSize - 1) / blockSize }
}

/// What a selector knows about one prefill node when it decides.
public struct NodeState: Sendable, Hashable {
    /// The node's id (its index in ``OverlapScores``).
    public var id: NodeID
    /// Whether the node takes new requests (draining or down nodes do not).
    public var isAvailable: Bool
    /// Prompt tokens queued for prefill and not yet processed.
    public var queuedPrefillTokens: Int
    /// Seconds until the node's queued prefill work drains (the wait a new request would see).
    public var queueDelay: Double
    /// Requests running on the node (prefill or decode).
    public var activeRequests: Int
    /// KV blocks held by running decodes.
    public var activeDecodeBlocks: Int
    /// Cache capacity in blocks.
    public var capacityBlocks: Int
    /// Cache blocks in use.
    public var usedBlocks: Int
    /// Requests the node has served so far.
    public var requestsServed: Int

    /// Creates a node state (an idle, available node by default).
    public init(id: NodeID, isAvailable: Bool = true, queuedPrefillTokens: Int = 0, queueDelay: Double = 0,
                activeRequests: Int = 0, activeDecodeBlocks: Int = 0, capacityBlocks: Int = 0, usedBlocks: Int = 0,
                requestsServed: Int = 0) {
        self.id = id
        self.isAvailable = isAvailable
        self.queuedPrefillTokens = queuedPrefillTokens
        self.queueDelay = queueDelay
        self.activeRequests = activeRequests
        self.activeDecodeBlocks = activeDecodeBlocks
        self.capacityBlocks = capacityBlocks
        self.usedBlocks = usedBlocks
        self.requestsServed = requestsServed
    }
}

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

/// A replication a decision implies: place chain blocks `blocks` on `node` too (hot prefixes).
public struct Replication: Sendable, Hashable {
    /// The node that receives a copy.
    public var node: NodeID
    /// Chain positions copied.
    public var blocks: Range<Int>

    /// Creates a replication.
    public init(node: NodeID, blocks: Range<Int>) {
        self.node = node
        self.blocks = blocks
    }
}

/// Why a request was not placed.
public enum Rejection: Sendable, Hashable, CustomStringConvertible {
    /// The best estimated TTFT exceeds the SLO.
    case sloExceeded(estimatedTTFT: Double, slo: Double)
    /// No node is available.
    case noAvailableNode

    public var description: String {
        switch self {
        case .sloExceeded(let t, let slo): return "estimated TTFT \(t) s exceeds the SLO \(slo) s"
        case .noAvailableNode: return "no node is available"
        }
    }
}

/// Why a selector decided as it did, formatted only when read (building strings on every
/// decision would cost more than the decision itself).
public struct DecisionReason: Sendable, Hashable, CustomStringConvertible {
    @usableFromInline
    enum Kind: UInt8, Sendable {
        case text, noNode, onlyNode, random, roundRobin, leastLoaded, powerOfTwo, longestPrefix, weighted
        case imbalanced, cacheMatch, weakMatch, lowestCost, lowestCostTies, softmax, ttft, ttftTransfer, sloRejected
    }
    @usableFromInline var kind: Kind
    @usableFromInline var a: Double, b: Double, c: Double, d: Double
    @usableFromInline var text: String?

    @usableFromInline
    init(_ kind: Kind, _ a: Double = 0, _ b: Double = 0, _ c: Double = 0, _ d: Double = 0) {
        self.kind = kind
        self.a = a
        self.b = b
        self.c = c
        self.d = d
        text = nil
    }

    /// A reason given as text (custom selectors).
    public init(_ text: String) {
        self.init(.text)
        self.text = text
    }

    public var description: String {
        func i(_ x: Double) -> String { String(Int(x)) }
        switch kind {
        case .text: return text ?? ""
        case .noNode: return "no node available"
        case .onlyNode: return "only node available"
        case .random: return "uniform random pick"
        case .roundRobin: return "turn \(i(a)) of round-robin"
        case .leastLoaded: return "least queued prefill work (\(a) s)"
        case .powerOfTwo: return "less loaded of nodes \(i(a)) and \(i(b))"
        case .longestPrefix: return "longest prefix match: \(i(a)) of \(i(b)) blocks"
        case .weighted: return "best score \(a) (hit \(b), α \(c), β \(d))"
        case .imbalanced: return "imbalanced (\(i(a))...\(i(b)) running): least loaded"
        case .cacheMatch: return "match \(a) above \(b): best match"
        case .weakMatch: return "match \(a) at most \(b): least loaded"
        case .lowestCost: return "lowest cost \(a)"
        case .lowestCostTies: return "lowest cost \(a) (random among \(i(b)) ties)"
        case .softmax: return "softmax sample at T=\(a): cost \(b)"
        case .ttft: return "lowest estimated TTFT \(a) s (queue \(b) s)"
        case .ttftTransfer: return "lowest estimated TTFT \(a) s with a KV transfer"
        case .sloRejected: return "best estimated TTFT \(a) s on node \(i(b))"
        }
    }
}

/// A selector's answer: the node (or a rejection) and what else it implies.
public struct Decision: Sendable, Hashable, CustomStringConvertible {
    /// The chosen node, `nil` when rejected.
    public var node: NodeID?
    /// Why the request was rejected, when it was.
    public var rejection: Rejection?
    /// Blocks to fetch from another node first.
    public var transfer: KVTransfer?
    /// Hot-prefix copies to place on other nodes.
    public var replicas: [Replication]
    /// The selector's TTFT estimate, when it makes one (seconds).
    public var estimatedTTFT: Double?
    /// Why, kept unformatted until read.
    public var because: DecisionReason

    /// A short human explanation (formatted on each read).
    public var reason: String {
        get { because.description }
        set { because = DecisionReason(newValue) }
    }

    /// A placement on `node`.
    public init(node: NodeID, reason: String, estimatedTTFT: Double? = nil, transfer: KVTransfer? = nil, replicas: [Replication] = []) {
        self.init(node: node, because: DecisionReason(reason), estimatedTTFT: estimatedTTFT, transfer: transfer, replicas: replicas)
    }

    /// A placement on `node`, with a structured reason.
    public init(node: NodeID, because: DecisionReason, estimatedTTFT: Double? = nil, transfer: KVTransfer? = nil, replicas: [Replication] = []) {
        self.node = node
        self.rejection = nil
        self.transfer = transfer
        self.replicas = replicas
        self.estimatedTTFT = estimatedTTFT
        self.because = because
    }

    /// A rejection.
    public init(rejected: Rejection, reason: String, estimatedTTFT: Double? = nil) {
        self.init(rejected: rejected, because: DecisionReason(reason), estimatedTTFT: estimatedTTFT)
    }

    /// A rejection, with a structured reason.
    public init(rejected: Rejection, because: DecisionReason, estimatedTTFT: Double? = nil) {
        node = nil
        rejection = rejected
        transfer = nil
        replicas = []
        self.estimatedTTFT = estimatedTTFT
        self.because = because
    }

    /// Whether the request was rejected.
    public var isRejected: Bool { node == nil }

    public var description: String {
        guard let node else { return "rejected: \(rejection?.description ?? "") (\(reason))" }
        var s = "node \(node): \(reason)"
        if let transfer { s += "; fetch blocks \(transfer.blocks) from node \(transfer.source)" }
        if !replicas.isEmpty { s += "; replicate to " + replicas.map { "node \($0.node)" }.joined(separator: ", ") }
        return s
    }
}
