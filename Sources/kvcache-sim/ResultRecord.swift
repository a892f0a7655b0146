import KVCache
import KVCacheSim

/// One configuration's result as `replay` and `compare --format json` print it: its keys, in
/// order, are the rows of docs/SIMULATOR.md's "JSON keys" table (a test holds the two together).
struct ResultRecord: Encodable {
    struct TTFT: Encodable {
        var mean, p50, p90, p99: Number
    }

    struct Disaggregation: Encodable {
        var prefillNodes, decodeNodes, thresholdTokens, localPrefills, transferredBlocks: Int
    }

    struct Prediction: Encodable {
        var requests: Int
        var exactShare: Number
        var overpredicted: Int
        var meanAbsoluteError: Number
        var predictedBlocks, actualBlocks: Int
    }

    struct Node: Encodable {
        var node, requests, inputTokens, prefilledTokens, evictions: Int
        var prefillSeconds: Number
    }

    struct ReplicaSample: Encodable {
        var request: Int
        var replicas: [Int]
    }

    var trace: String
    var nodes, capacity: Int
    var eviction, selector: String
    var requests, rejected: Int
    var rejectionRate: Number
    var blockAccesses: Int
    var blockHitRatio, accessHitRatio, prefixHitRatio, tokenHitRatio: Number
    var evictions: Int
    var maxRequestShare, cvInputTokens, cvPrefilledTokens, efficiency: Number
    var ttft: Nullable<TTFT>
    var prefillGPUSeconds, netScore: Number
    var transfers, replicatedBlocks, onboardedBlocks: Int
    var deviceBlockHitRatio, devicePrefixHitRatio: Number?
    var ttftReduction: Number?
    var router: String?
    var disaggregation: Disaggregation?
    var prediction: Prediction
    var perNode: [Node]
    var hottestBlocks: [String]?
    var replicaSamples: [ReplicaSample]?
    var elapsedSeconds: Number

    init(trace: Trace, _ r: ClusterResult) {
        let c = r.configuration
        self.trace = trace.source
        nodes = c.nodes
        capacity = c.capacity
        eviction = c.eviction.rawValue
        selector = c.selector.rawValue
        requests = r.requests
        rejected = r.rejected
        rejectionRate = Number(Double(r.rejected) / Double(max(r.requests, 1)), 4)
        blockAccesses = r.hits.blockAccesses
        blockHitRatio = Number(r.hits.blockHitRatio, 9)
        accessHitRatio = Number(r.hits.accessHitRatio, 9)
        prefixHitRatio = Number(r.hits.prefixHitRatio, 9)
        tokenHitRatio = Number(r.hits.tokenHitRatio, 9)
        evictions = r.evictions
        maxRequestShare = Number(r.maxRequestShare, 9)
        cvInputTokens = Number(r.cvInputTokens, 9)
        cvPrefilledTokens = Number(r.cvPrefilledTokens, 9)
        efficiency = Number(r.efficiency)
        ttft = Nullable(
            value: r.requests == r.rejected
                ? nil
                : TTFT(mean: Number(r.ttft.mean, 9), p50: Number(r.ttft.p50, 9), p90: Number(r.ttft.p90, 9), p99: Number(r.ttft.p99, 9)))
        prefillGPUSeconds = Number(r.prefillSeconds)
        netScore = Number(r.netScore)
        transfers = r.transfers
        replicatedBlocks = r.replicatedBlocks
        onboardedBlocks = r.onboardedBlocks
        if c.hostCapacity > 0 {
            deviceBlockHitRatio = Number(r.hits.deviceBlockHitRatio, 9)
            devicePrefixHitRatio = Number(r.hits.devicePrefixHitRatio, 9)
        }
        ttftReduction = r.ttftReduction.map { Number($0) }
        router = c.router.isImmediate ? nil : c.router.label
        disaggregation = c.disaggregation.map { pd in
            Disaggregation(
                prefillNodes: pd.prefillNodes, decodeNodes: pd.decodeNodes, thresholdTokens: pd.thresholdTokens,
                localPrefills: r.localPrefills, transferredBlocks: r.transferredBlocks)
        }
        let p = r.prediction
        prediction = Prediction(
            requests: p.requests, exactShare: Number(p.exactShare), overpredicted: p.overpredicted,
            meanAbsoluteError: Number(p.meanAbsoluteError), predictedBlocks: p.predictedBlocks, actualBlocks: p.actualBlocks)
        perNode = r.perNode.enumerated().map { k, n in
            Node(
                node: k, requests: n.requests, inputTokens: n.inputTokens, prefilledTokens: n.prefilledTokens, evictions: n.evictions,
                prefillSeconds: Number(n.prefillSeconds, 3))
        }
        if !r.replicaSamples.isEmpty {
            hottestBlocks = r.hottestBlocks.map { String($0.rawValue) }
            replicaSamples = r.replicaSamples.map { ReplicaSample(request: $0.request, replicas: $0.replicas) }
        }
        elapsedSeconds = Number(r.elapsedSeconds)
    }

    /// The record as ordered pairs, for ``Report/renderRecord(_:format:name:)``.
    var pairs: [(String, Value)] {
        guard case .object(let pairs) = Value(encoding: self) else { return [] }
        return pairs
    }
}

/// One row of `compare`'s table: a configuration and the figures it is ranked by.
struct CompareRow: Encodable {
    var rank, nodes, capacity: Int
    var eviction, selector, router, split: String
    var threshold: Int
    var localShare, movedBlocks: Number
    var tokenHit, prefixHit, maxShare, cvInput, ttftMean, ttftP99, rejected, efficiency, netScore: Number
    var ttftReduction: Nullable<Number>
    var predExact, predMAE: Number

    init(rank: Int, _ r: ClusterResult) {
        let c = r.configuration
        let served = r.requests > r.rejected
        let servedCount = Double(max(r.requests - r.rejected, 1))
        self.rank = rank
        nodes = c.nodes
        capacity = c.capacity
        eviction = c.eviction.rawValue
        selector = c.selector.rawValue
        router = c.router.label
        split = c.disaggregation.map { "P\($0.prefillNodes)D\($0.decodeNodes)" } ?? ""
        threshold = c.disaggregation?.thresholdTokens ?? 0
        localShare = Number(Double(r.localPrefills) / servedCount, 3)
        movedBlocks = Number(Double(r.transferredBlocks) / servedCount, 2)
        tokenHit = Number(r.hits.tokenHitRatio, 4)
        prefixHit = Number(r.hits.prefixHitRatio, 4)
        maxShare = Number(r.maxRequestShare, 4)
        cvInput = Number(r.cvInputTokens, 3)
        ttftMean = Number(served ? r.ttft.mean : .nan, 3)
        ttftP99 = Number(served ? r.ttft.p99 : .nan, 3)
        rejected = Number(Double(r.rejected) / Double(max(r.requests, 1)), 3)
        efficiency = Number(r.efficiency, 3)
        netScore = Number(r.netScore, 4)
        ttftReduction = Nullable(value: r.ttftReduction.map { Number($0, 3) })
        predExact = Number(r.prediction.exactShare, 3)
        predMAE = Number(r.prediction.meanAbsoluteError, 2)
    }

    /// The columns in order, and the row by column.
    static func columns(_ rows: [CompareRow]) -> (keys: [String], rows: [[String: Value]]) {
        var keys: [String] = []
        let cells = rows.map { row -> [String: Value] in
            guard case .object(let pairs) = Value(encoding: row) else { return [:] }
            if keys.isEmpty { keys = pairs.map(\.0) }
            return Dictionary(pairs, uniquingKeysWith: { a, _ in a })
        }
        return (keys, cells)
    }

    /// Columns that describe the configuration (moved to a table's footer when every row shares them).
    static let settings: [String] = [CodingKeys.nodes, .capacity, .eviction, .selector].map(\.stringValue)
    /// Columns of a prefill/decode split only.
    static let splitColumns: [String] = [CodingKeys.split, .threshold, .localShare, .movedBlocks].map(\.stringValue)
    /// Columns of router models only.
    static let routerColumns: [String] = [CodingKeys.router, .predExact, .predMAE].map(\.stringValue)
    static let ttftReductionColumn = CodingKeys.ttftReduction.stringValue
}
