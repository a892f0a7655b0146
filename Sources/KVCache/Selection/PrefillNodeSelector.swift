/// A routing policy: chooses the prefill node for a request from the cluster's state and the
/// prefix overlaps the index reports.
///
/// Selectors are value types (or final classes) whose only state is their own (a seeded random
/// generator, counters, access statistics), so a run is reproducible. They never see the
/// index or pools directly: data flows tokens → hashes → index → overlaps → selector.
public protocol PrefillNodeSelector {
    /// A short name for reports (`cache-aware`, `ttft-min`, ...).
    var name: String { get }

    /// Chooses a node for `request`.
    ///
    /// - Parameters:
    ///   - request: The request.
    ///   - nodes: Every node of the cluster, available or not.
    ///   - overlaps: Leading blocks of `request.chain` each node holds (indexed by node id).
    /// - Returns: A node among the available ones, or a rejection (only selectors with an SLO
    ///   reject).
    mutating func select(_ request: RoutingRequest, nodes: [NodeState], overlaps: OverlapScores) -> Decision
}
