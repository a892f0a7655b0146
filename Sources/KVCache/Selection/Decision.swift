/// A selector's answer: the node (or a rejection), why, and what else it implies.
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
    /// Why: the rule and the facts it weighed.
    public var reason: DecisionReason

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

// The public initializers live in an extension so the compiler keeps the memberwise one they
// delegate to.
extension Decision {
    /// A placement on `node`.
    public init(
        node: NodeID, reason: DecisionReason, estimatedTTFT: Double? = nil, transfer: KVTransfer? = nil,
        replicas: [Replication] = []
    ) {
        self.init(node: node, rejection: nil, transfer: transfer, replicas: replicas, estimatedTTFT: estimatedTTFT, reason: reason)
    }

    /// A rejection.
    public init(rejected: Rejection, reason: DecisionReason, estimatedTTFT: Double? = nil) {
        self.init(node: nil, rejection: rejected, transfer: nil, replicas: [], estimatedTTFT: estimatedTTFT, reason: reason)
    }
}
