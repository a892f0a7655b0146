/// Prefix-aware routing with hot-prefix replication: tracks how often each prefix is
/// requested in a sliding window and copies hot prefixes to more nodes, so a shared system
/// prompt does not pin all traffic to one node; placement itself is ``TTFTMin``'s.
///
/// A prefix is the request's first `prefixBlocks` blocks (identified by the hash of the last
/// one). Its *hotness* is its share of all requests in the window (`window` seconds split into
/// `buckets` buckets). Target replication: 3 nodes at hotness ≥ 0.5, 2 at ≥ 0.2, 1 at ≥ 0.1
/// (plus the node chosen). With `anticipateRising`, a prefix whose per-bucket counts rise
/// (least-squares slope) is scored `0.4 · trend + 0.4 · hotness + 0.2 · frequency` and that
/// score is used when higher, where trend = slope / largest bucket count (clamped to 0…1) and
/// frequency = n / (n + 10) for n requests in the window. Copies go to the least loaded
/// available nodes that do not hold the prefix yet.
public struct HotspotReplicating: PrefillNodeSelector, Sendable {
    public var name: String { "hotspot-replicating" }
    /// The placement policy.
    public var placement: TTFTMin
    /// Sliding-window length in seconds (default 60).
    public var window: Double
    /// Buckets in the window (default 6).
    public var buckets: Int
    /// Blocks that make a prefix (default 4).
    public var prefixBlocks: Int
    /// Score rising prefixes by their trend (default `false`).
    public var anticipateRising: Bool

    struct Counts: Sendable {
        var counts: [Int]
        var last: Int
    }
    var prefixes: [BlockHash: Counts] = [:]
    var totals: Counts

    /// Creates the selector.
    public init(
        placement: TTFTMin = TTFTMin(), window: Double = 60, buckets: Int = 6, prefixBlocks: Int = 4,
        anticipateRising: Bool = false
    ) {
        self.placement = placement
        self.window = max(window, 1e-6)
        self.buckets = max(buckets, 1)
        self.prefixBlocks = max(prefixBlocks, 1)
        self.anticipateRising = anticipateRising
        totals = Counts(counts: Array(repeating: 0, count: max(buckets, 1)), last: Int.min)
    }

    /// The replication factor for a hotness (or anticipation) score.
    public static func replicationFactor(hotness: Double) -> Int {
        hotness >= 0.5 ? 3 : hotness >= 0.2 ? 2 : hotness >= 0.1 ? 1 : 0
    }

    static func advance(_ c: inout Counts, to bucket: Int, width: Int) {
        if c.last == Int.min || bucket - c.last >= width {
            for i in c.counts.indices { c.counts[i] = 0 }
        } else if bucket > c.last {
            for b in (c.last + 1)...bucket { c.counts[((b % width) + width) % width] = 0 }
        }
        c.last = max(c.last, bucket)
    }

    /// Hotness, trend and frequency of the prefix of `request` at its arrival, after counting it.
    public mutating func observe(_ request: RoutingRequest) -> (hotness: Double, trend: Double, frequency: Double, blocks: Int) {
        let plen = min(prefixBlocks, request.chain.count)
        guard plen > 0 else { return (0, 0, 0, 0) }
        let bucket = Int((request.arrival / (window / Double(buckets))).rounded(.down))
        let slot = ((bucket % buckets) + buckets) % buckets
        Self.advance(&totals, to: bucket, width: buckets)
        totals.counts[slot] += 1
        let key = request.chain[plen - 1]
        var c = prefixes[key] ?? Counts(counts: Array(repeating: 0, count: buckets), last: Int.min)
        Self.advance(&c, to: bucket, width: buckets)
        c.counts[slot] += 1
        prefixes[key] = c
        if prefixes.count > 4096 && prefixes.count > 4 * totals.counts.reduce(0, +) {
            prefixes = prefixes.filter { bucket - $0.value.last < buckets }
        }
        let n = c.counts.reduce(0, +)
        let total = max(totals.counts.reduce(0, +), 1)
        // least-squares slope over buckets, oldest first
        let ordered = (0..<buckets).map { c.counts[((bucket - buckets + 1 + $0) % buckets + buckets) % buckets] }
        let xm = Double(buckets - 1) / 2, ym = Double(n) / Double(buckets)
        var sxy = 0.0, sxx = 0.0
        for (x, y) in ordered.enumerated() {
            sxy += (Double(x) - xm) * (Double(y) - ym)
            sxx += (Double(x) - xm) * (Double(x) - xm)
        }
        let slope = sxx > 0 ? sxy / sxx : 0
        let trend = min(max(slope / Double(max(ordered.max() ?? 1, 1)), 0), 1)
        return (Double(n) / Double(total), trend, Double(n) / Double(n + 10), plen)
    }

    /// - Complexity: O(nodes + buckets)
    public mutating func select(_ request: RoutingRequest, nodes: [NodeState], overlaps: OverlapScores) -> Decision {
        let seen = observe(request)
        var decision = placement.select(request, nodes: nodes, overlaps: overlaps)
        guard let chosen = decision.node, seen.blocks > 0 else { return decision }
        var factor = Self.replicationFactor(hotness: seen.hotness)
        var score = seen.hotness
        if anticipateRising {
            let anticipated = 0.4 * seen.trend + 0.4 * seen.hotness + 0.2 * seen.frequency
            if anticipated > score { score = anticipated }
            factor = max(factor, Self.replicationFactor(hotness: anticipated))
        }
        guard factor > 0 else { return decision }
        let holders = nodes.filter { $0.isAvailable && ($0.id == chosen || overlaps.depth(of: $0.id) >= seen.blocks) }
        let missing = factor + 1 - holders.count
        guard missing > 0 else { return decision }
        let targets =
            nodes
            .filter { n in n.isAvailable && !holders.contains { $0.id == n.id } }
            .sorted { ($0.queueDelay, $0.id) < ($1.queueDelay, $1.id) }
            .prefix(missing)
        decision.replicas = targets.map { Replication(node: $0.id, blocks: 0..<seen.blocks) }
        if !decision.replicas.isEmpty {
            let base = decision.reason
            decision.reason = DecisionReason(
                base.rule + "; hot prefix replicated", base._f0, base._f1,
                .number("hotness", score), .count("extra copies wanted", factor))
        }
        return decision
    }
}
