import KVCache

/// Everything a cluster run measured.
public struct ClusterResult: Sendable {
    /// Per-node figures.
    public struct Node: Sendable, Hashable {
        /// Requests routed to the node.
        public var requests = 0
        /// Prompt tokens routed to the node.
        public var inputTokens = 0
        /// Prompt tokens the node had to prefill (not cached).
        public var prefilledTokens = 0
        /// Blocks evicted from the node's device pool.
        public var evictions = 0
        /// Seconds of prefill work on the node.
        public var prefillSeconds = 0.0
    }

    /// Distribution of time to first token, seconds.
    public struct TTFT: Sendable, Hashable {
        public var mean = 0.0, p50 = 0.0, p90 = 0.0, p99 = 0.0
    }

    /// One sample of how many nodes hold each of the hottest blocks.
    public struct ReplicaSample: Sendable, Hashable {
        /// Requests processed when sampled.
        public var request: Int
        /// Nodes holding each hottest block (same order as ``ClusterResult/hottestBlocks``).
        public var replicas: [Int]
    }

    /// How well the router's view predicted the chosen node's cache, over the served requests
    /// whose selector reads overlaps.
    public struct Prediction: Sendable, Hashable {
        /// Requests compared.
        public var requests = 0
        /// Requests whose predicted leading blocks on the chosen node were the real ones.
        public var exact = 0
        /// Requests predicted deeper than the node really held: promised hits that were not there.
        public var overpredicted = 0
        /// Σ predicted and Σ real leading blocks on the chosen node.
        public var predictedBlocks = 0, actualBlocks = 0
        /// Σ |predicted − real| leading blocks.
        public var absoluteError = 0

        /// Mean |predicted − real| leading blocks per request.
        public var meanAbsoluteError: Double { Double(absoluteError) / Double(max(requests, 1)) }
        /// Share of requests predicted exactly (1 when none were compared).
        public var exactShare: Double { requests == 0 ? 1 : Double(exact) / Double(requests) }

        mutating func record(predicted: Int, actual: Int) {
            requests += 1
            if predicted == actual { exact += 1 }
            if predicted > actual { overpredicted += 1 }
            predictedBlocks += predicted
            actualBlocks += actual
            absoluteError += abs(predicted - actual)
        }
    }

    /// The configuration that ran.
    public var configuration: ClusterConfiguration
    /// Requests in the trace.
    public var requests = 0
    /// Requests rejected by the selector (SLO).
    public var rejected = 0
    /// The hit counters and ratios; over served requests, looked up on the
    /// chosen node; their members read as this result's own.
    public var hits = HitCounts()
    /// Time to first token.
    public var ttft = TTFT()
    /// The router's predictions of the chosen node's leading blocks against the node's pool.
    public var prediction = Prediction()
    /// Per node.
    public var perNode: [Node] = []
    /// KV transfers performed and blocks moved.
    public var transfers = 0, transferredBlocks = 0
    /// With prefill/decode disaggregation: requests a decode node prefilled itself.
    public var localPrefills = 0
    /// Blocks copied to other nodes by replication decisions.
    public var replicatedBlocks = 0
    /// Blocks brought back from host or disk tiers.
    public var onboardedBlocks = 0
    /// Σ prefill seconds, and what they would have been without any cache.
    public var prefillSeconds = 0.0, prefillSecondsWithoutCache = 0.0
    /// The TTFT mean of the same run without caching, when computed (see ``ClusterSimulator/run(_:_:baseline:)``).
    public var baselineTTFTMean: Double?
    /// The most accessed blocks of the trace (for ``replicaSamples``).
    public var hottestBlocks: [BlockHash] = []
    /// Replica counts of the hottest blocks over the run.
    public var replicaSamples: [ReplicaSample] = []
    /// Wall time of the simulation.
    public var elapsedSeconds = 0.0

    /// The largest share of requests on one node (load concentration).
    public var maxRequestShare: Double {
        Double(perNode.map(\.requests).max() ?? 0) / Double(max(requests - rejected, 1))
    }
    /// Population coefficient of variation of input tokens per node.
    public var cvInputTokens: Double { Statistics.coefficientOfVariation(perNode.map { Double($0.inputTokens) }) }
    /// Population coefficient of variation of prefilled (uncached) tokens per node.
    public var cvPrefilledTokens: Double { Statistics.coefficientOfVariation(perNode.map { Double($0.prefilledTokens) }) }
    /// Token hit ratio ÷ max request share: reuse bought per unit of load concentration.
    public var efficiency: Double { hits.tokenHitRatio / max(maxRequestShare, 1e-12) }
    /// 1 − TTFT mean / baseline TTFT mean, when the baseline ran.
    public var ttftReduction: Double? { baselineTTFTMean.map { $0 > 0 ? 1 - ttft.mean / $0 : 0 } }
    /// Evictions summed over nodes.
    public var evictions: Int { perNode.reduce(0) { $0 + $1.evictions } }

    /// Net value of caching in GPU-seconds-saved terms: `(prefill seconds saved − replica
    /// storage cost) / prefill seconds without cache`, where one replicated block costs the GPU
    /// time to prefill it divided by ``ClusterConfiguration/gpuStorageCostRatio``.
    public var netScore: Double {
        guard prefillSecondsWithoutCache > 0 else { return 0 }
        let saved = prefillSecondsWithoutCache - prefillSeconds
        let perBlockGPU =
            configuration.prefillModel.prefillTime(uncachedTokens: 512, cachedTokens: 0)
            - configuration.prefillModel.prefillTime(uncachedTokens: 0, cachedTokens: 0)
        let replicaCost = Double(replicatedBlocks) * perBlockGPU / max(configuration.gpuStorageCostRatio, 1e-12)
        return (saved - replicaCost) / prefillSecondsWithoutCache
    }
}
