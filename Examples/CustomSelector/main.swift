// CustomSelector: a new routing policy in a few lines, plugged into the cluster simulator.
//
//   swift run CustomSelector
import KVCache
import KVCacheSim

/// Follows the cache only while the best node's queue stays under a budget; else least loaded.
struct CacheWithinBudget: PrefillNodeSelector {
    var name: String { "cache-within-budget" }
    var budget: Double = 0.5  // seconds of queue we accept for a cache hit

    mutating func select(_ request: RoutingRequest, nodes: [NodeState], overlaps: OverlapScores) -> Decision {
        let candidates = nodes.filter { $0.isAvailable && $0.queueDelay <= budget }
        if let best = SelectorSupport.argmin(candidates, by: { -Double(overlaps.depth(of: $0.id)) }),
            overlaps.depth(of: best.id) > 0
        {
            return Decision(
                node: best.id,
                reason: DecisionReason(
                    "longest match within budget",
                    .blocks("matched", overlaps.depth(of: best.id)),
                    .seconds("queue budget", budget)))
        }
        guard let idle = SelectorSupport.leastLoaded(nodes) else {
            return Decision(rejected: .noAvailableNode, reason: .noAvailableNode)
        }
        return Decision(
            node: idle.id,
            reason: DecisionReason(
                "no cached node within budget: least loaded",
                .seconds("queue delay", idle.queueDelay)))
    }
}

// Route a built-in workload with it, next to two built-in policies, on the same cluster.
let trace = try Workload(scenario: .conversation, requests: 4_000, seed: 3).generate()
var mine = CacheWithinBudget()
for (name, result) in [
    ("cache-within-budget", try ClusterSimulator.run(trace, ClusterConfiguration(nodes: 8, capacity: 1_000), selector: &mine)),
    ("cache-aware", try ClusterSimulator.run(trace, ClusterConfiguration(nodes: 8, capacity: 1_000, selector: .cacheAware))),
    ("least-loaded", try ClusterSimulator.run(trace, ClusterConfiguration(nodes: 8, capacity: 1_000, selector: .leastLoaded))),
] {
    print(
        "\(name + String(repeating: " ", count: max(0, 20 - name.count))) token hit \(result.hits.tokenHitRatio)  max share \(result.maxRequestShare)  TTFT mean \(result.ttft.mean) s"
    )
}
