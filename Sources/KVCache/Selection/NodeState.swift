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
    /// The node's own prefill speed, when the router learns it
    /// (``KVRouter/Configuration/learnsPrefillSpeed``); `nil`: the selector's model applies.
    public var prefillModel: LinearPrefillModel?

    /// Creates a node state (an idle, available node by default).
    public init(
        id: NodeID, isAvailable: Bool = true, queuedPrefillTokens: Int = 0, queueDelay: Double = 0,
        activeRequests: Int = 0, activeDecodeBlocks: Int = 0, capacityBlocks: Int = 0, usedBlocks: Int = 0,
        requestsServed: Int = 0, prefillModel: LinearPrefillModel? = nil
    ) {
        self.prefillModel = prefillModel
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
