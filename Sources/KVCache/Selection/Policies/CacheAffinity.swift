/// Follows the cache, and relieves a node that the cache has overloaded.
///
/// A request whose best match covers more than ``cacheThreshold`` of its blocks goes to the
/// node of that match (ties: the least loaded), as with ``ThresholdBalanced``, so a
/// conversation stays where its history is. A request that matches less goes to the least
/// loaded node. Neither rule alone can undo a bad first placement: when the prefixes that
/// happen to sit on one node draw more traffic than the others', cache-following keeps sending
/// it there, and a balance trigger in running requests either never fires at low concurrency or,
/// when it fires, moves conversations away from their histories.
///
/// So when the best match's node runs more than ``overloadFactor`` times the mean number of
/// running requests (plus ``overloadSlack``), the request goes where ``TTFTMin`` estimates its
/// first token soonest: each node's queue delay plus the prefill of what that node lacks, at
/// the node's own prefill speed (learned by the router, or the model's). A conversation's
/// long history keeps it in place unless the queue outweighs recomputing it; a new
/// conversation on a shared prefix moves, which copies that prefix to the node it moves to,
/// and its later requests divide between the copies by load.
public struct CacheAffinity: PrefillNodeSelector, Sendable {
    public var name: String { "cache-affinity" }
    /// Match fraction above which the cache wins while its node is not overloaded (default 0.5).
    public var cacheThreshold: Double
    /// A node is overloaded above this multiple of the mean running requests (default 1.5)…
    public var overloadFactor: Double
    /// …plus this many requests (default 1).
    public var overloadSlack: Double
    /// The estimate used for an overloaded node's requests.
    public var relief: TTFTMin

    /// Creates the selector.
    /// - Precondition: The parameters are numbers, not negative.
    public init(cacheThreshold: Double = 0.5, overloadFactor: Double = 1.5, overloadSlack: Double = 1, relief: TTFTMin = TTFTMin()) {
        precondition(
            cacheThreshold >= 0 && overloadFactor >= 0 && overloadSlack >= 0,
            "CacheAffinity: parameters must be numbers, not negative")
        self.cacheThreshold = cacheThreshold
        self.overloadFactor = overloadFactor
        self.overloadSlack = overloadSlack
        self.relief = relief
    }

    /// - Complexity: O(nodes)
    public mutating func select(_ request: RoutingRequest, nodes: [NodeState], overlaps: OverlapScores) -> Decision {
        var best = -1, leastLoaded = -1
        var total = 0, available = 0
        for i in nodes.indices where nodes[i].isAvailable {
            let n = nodes[i]
            total += n.activeRequests
            available += 1
            if leastLoaded < 0 || Self._lighter(n, than: nodes[leastLoaded]) { leastLoaded = i }
            if best < 0 {
                best = i
                continue
            }
            let (s, b) = (overlaps.score(of: n.id), overlaps.score(of: nodes[best].id))
            if s > b + SelectorSupport.tieTolerance || (abs(s - b) <= SelectorSupport.tieTolerance && Self._lighter(n, than: nodes[best])) {
                best = i
            }
        }
        guard best >= 0 else { return Decision(rejected: .noAvailableNode, reason: .noAvailableNode) }
        let fraction = overlaps.score(of: nodes[best].id) / Double(max(request.chain.count, 1))
        guard fraction > cacheThreshold else {
            return Decision(
                node: nodes[leastLoaded].id,
                reason: DecisionReason(
                    "match at most threshold: least loaded", .number("match", fraction), .number("threshold", cacheThreshold)))
        }
        let mean = Double(total) / Double(available)
        let limit = overloadFactor * mean + overloadSlack
        guard Double(nodes[best].activeRequests) > limit else {
            return Decision(
                node: nodes[best].id,
                reason: DecisionReason(
                    "match above threshold: best match", .number("match", fraction), .number("threshold", cacheThreshold)))
        }
        var decision = relief.select(request, nodes: nodes, overlaps: overlaps)
        guard !decision.isRejected else {
            // a relief with an SLO may refuse; relief only ever moves a request
            return Decision(
                node: nodes[best].id,
                reason: DecisionReason("best match overloaded, no relief: best match", .number("match", fraction)))
        }
        decision.reason = DecisionReason(
            "best match overloaded: soonest first token", .count("running there", nodes[best].activeRequests),
            .number("limit", limit))
        return decision
    }

    /// Fewer running requests; then less queued prefill; then the lower id.
    static func _lighter(_ a: NodeState, than b: NodeState) -> Bool {
        if a.activeRequests != b.activeRequests { return a.activeRequests < b.activeRequests }
        if a.queueDelay != b.queueDelay { return a.queueDelay < b.queueDelay }
        return a.id < b.id
    }
}
