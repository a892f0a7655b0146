import KVCache

/// One simulated cluster: nodes, their caches, the routing policy and the cost model.
///
/// The defaults are the reference cluster model of `shared/reference/README.md`: LRU pools,
/// prefill = 10 ms + 50 µs per uncached token, FIFO single-server prefill per node, no decode
/// occupancy, no transfers, no tiers.
public struct ClusterConfiguration: Sendable {
    /// Serving nodes.
    public var nodes: Int
    /// Device (G1) cache capacity per node, in blocks.
    public var capacity: Int
    /// Eviction policy of every node's device pool.
    public var eviction: EvictionPolicy
    /// Routing policy.
    public var selector: SelectorPolicy
    /// Parameters of the routing policies (seed, weights, thresholds, TTFTMin's model).
    public var selectorConfiguration: SelectorConfiguration
    /// Prefill time the simulator charges (default 10 ms + 50 µs/token).
    public var prefillModel: any PrefillTimeModel
    /// Seconds per generated token while a request decodes (0: decode is not modelled).
    public var decodeSecondsPerToken: Double
    /// Host (G2) capacity per node in blocks; evicted device blocks are offloaded there (0: none).
    public var hostCapacity: Int
    /// Disk (G3) capacity per node in blocks; evicted host blocks go there (0: none).
    public var diskCapacity: Int
    /// Seconds to bring one block back from host memory.
    public var hostOnboardSecondsPerBlock: Double
    /// Seconds to bring one block back from disk.
    public var diskOnboardSecondsPerBlock: Double
    /// How much a GPU-second is worth against a block-second of storage (default 100:1), for
    /// the net score.
    public var gpuStorageCostRatio: Double
    /// Run without any cache reuse (the TTFT baseline).
    public var cachingDisabled: Bool
    /// Samples of the hottest blocks' replica counts over the run (0: none).
    public var replicaSamples: Int
    /// Where overlaps come from (default: the nodes' pools when the nodes have no host/disk
    /// tiers, else a ``PrefixIndex`` fed by the pools' changes).
    public var overlapSource: OverlapSource
    /// What a cached block is worth to the selectors by the fastest tier a node holds it in
    /// (default device 1, host 0.75, disk 0.25; only lower tiers make it matter).
    public var tierWeights: TierWeights
    /// The routers in front of the nodes and what they know (default: one router that sees
    /// every cache change as it happens).
    public var router: RouterModel
    /// Prefill/decode disaggregation: the first nodes prefill, the others decode (`nil`, the
    /// default: every node does both).
    public var disaggregation: Disaggregation?

    /// A prefill/decode split of the nodes and its costs (vLLM's disaggregated serving, with
    /// Dynamo's conditional disaggregation).
    ///
    /// Per request, the selector first picks a decode node among the decode nodes. When fewer
    /// than ``thresholdTokens`` of the prompt are uncached there, that node prefills the
    /// prompt itself. Otherwise the selector picks a prefill node among the prefill nodes; it
    /// prefills (its own queue, its own cache), then the blocks the decode node lacks travel
    /// to it (``transfer``), and the decode node holds the prompt from then on. TTFT = the
    /// prefill's wait and time, plus the transfer; the prefill node is free again once it
    /// has prefilled.
    public struct Disaggregation: Sendable, Hashable {
        /// Nodes `0 ..< prefillNodes` prefill.
        public var prefillNodes: Int
        /// Nodes `prefillNodes ..< prefillNodes + decodeNodes` decode.
        public var decodeNodes: Int
        /// Fewer uncached tokens than this on the chosen decode node: it prefills them itself.
        public var thresholdTokens: Int
        /// What moving blocks from a prefill node to a decode node costs.
        public var transfer: KVTransferModel

        /// Creates a split.
        public init(prefillNodes: Int, decodeNodes: Int, thresholdTokens: Int = 0, transfer: KVTransferModel = KVTransferModel()) {
            self.prefillNodes = prefillNodes
            self.decodeNodes = decodeNodes
            self.thresholdTokens = thresholdTokens
            self.transfer = transfer
        }

        /// `P2D6/t512`.
        public var label: String { "P\(prefillNodes)D\(decodeNodes)/t\(thresholdTokens)" }
    }

    /// Where the simulator gets each node's leading-block overlap.
    public enum OverlapSource: String, Sendable, Hashable, CaseIterable {
        /// ``pools`` without tiers, ``index`` with tiers.
        case automatic
        /// A ``PrefixIndex`` kept current from every pool's changes: a router's view.
        case index
        /// Each node's device pool directly (`lookup`): the same answers — the index is tested
        /// to equal the pools — without maintaining an index.
        case pools
    }

    /// A short label: `N16/C1000/lru/ttft-min`, followed by the router model's when it is not
    /// one immediate router (`N16/C1000/lru/ttft-min/k4/events`).
    public var label: String {
        "N\(nodes)/C\(capacity)/\(eviction)/\(selector)" + (router.isImmediate ? "" : "/" + router.label)
            + (disaggregation.map { "/" + $0.label } ?? "")
    }
}

/// Why a configuration cannot run.
public struct ConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What is wrong.
    public var message: String
    public var description: String { message }
}

// The public initializer lives in an extension so the compiler keeps the memberwise one it
// delegates to.
extension ClusterConfiguration {
    /// Creates a configuration (the reference cluster model unless told otherwise).
    public init(
        nodes: Int = 8, capacity: Int = 1000, eviction: EvictionPolicy = .lru, selector: SelectorPolicy = .roundRobin,
        selectorConfiguration: SelectorConfiguration = SelectorConfiguration(),
        prefillModel: any PrefillTimeModel = LinearPrefillModel(), decodeSecondsPerToken: Double = 0,
        hostCapacity: Int = 0, diskCapacity: Int = 0, hostOnboardSecondsPerBlock: Double = 0.002,
        diskOnboardSecondsPerBlock: Double = 0.02, gpuStorageCostRatio: Double = 100, cachingDisabled: Bool = false,
        replicaSamples: Int = 0
    ) {
        self.init(
            nodes: nodes, capacity: capacity, eviction: eviction, selector: selector, selectorConfiguration: selectorConfiguration,
            prefillModel: prefillModel, decodeSecondsPerToken: decodeSecondsPerToken, hostCapacity: hostCapacity,
            diskCapacity: diskCapacity, hostOnboardSecondsPerBlock: hostOnboardSecondsPerBlock,
            diskOnboardSecondsPerBlock: diskOnboardSecondsPerBlock, gpuStorageCostRatio: gpuStorageCostRatio,
            cachingDisabled: cachingDisabled, replicaSamples: replicaSamples, overlapSource: .automatic, tierWeights: TierWeights(),
            router: RouterModel(), disaggregation: nil)
    }
}
