import KVCache

/// What a trace looks like: size, reuse, skew, and the best any cache could do.
public struct TraceStatistics: Sendable {
    /// Requests.
    public var requests = 0
    /// Block accesses (Σ chain lengths).
    public var blockAccesses = 0
    /// Distinct blocks.
    public var uniqueBlocks = 0
    /// Mean and median blocks per request.
    public var meanBlocksPerRequest = 0.0, medianBlocksPerRequest = 0.0
    /// Mean prompt and output tokens.
    public var meanInputTokens = 0.0, meanOutputTokens = 0.0
    /// Seconds between the first and last arrival.
    public var spanSeconds = 0.0
    /// The most common first block and the share of requests starting with it.
    public var mostCommonFirstBlock: BlockHash?
    public var shareOfRequestsWithMostCommonFirstBlock = 0.0
    /// The hottest blocks with their access counts, hottest first.
    public var hottestBlocks: [(block: BlockHash, accesses: Int)] = []
    /// Share of all accesses that go to ``hottestBlocks``.
    public var hottestShare = 0.0
    /// Hit ratios of an infinite cache: block (any repeat), prefix (leading repeats), token.
    public var infiniteBlockHitRatio = 0.0, infinitePrefixHitRatio = 0.0, infiniteTokenHitRatio = 0.0
    /// LRU stack (reuse) distance percentiles of repeat accesses, in blocks.
    public var reuseDistanceP50 = 0.0, reuseDistanceP90 = 0.0, reuseDistanceP99 = 0.0

    /// Analyses `trace`; `top` hottest blocks are listed.
    /// - Complexity: O(n log n) in block accesses
    public init(_ trace: Trace, top: Int = 12) {
        requests = trace.count
        blockAccesses = trace.blocks.count
        guard requests > 0 else { return }
        var counts: [BlockHash: Int] = [:]
        var firsts: [BlockHash: Int] = [:]
        var seen = Set<BlockHash>()
        var hits = HitCounts()
        for i in 0..<trace.count {
            let chain = trace.chain(i)
            if let f = chain.first { firsts[f, default: 0] += 1 }
            var leading = true
            var p = 0
            for b in chain {
                counts[b, default: 0] += 1
                if seen.contains(b) {
                    hits.blockHits += 1
                    if leading { p += 1 }
                } else {
                    leading = false
                }
            }
            for b in chain { seen.insert(b) }
            hits.countLookup(blocks: chain.count, prefix: p, inputTokens: trace.records[i].inputLength, blockSize: trace.blockSize)
        }
        uniqueBlocks = counts.count
        let lengths = trace.records.map(\.blockCount).sorted()
        meanBlocksPerRequest = Double(blockAccesses) / Double(requests)
        medianBlocksPerRequest =
            lengths.count % 2 == 1
            ? Double(lengths[lengths.count / 2])
            : Double(lengths[lengths.count / 2 - 1] + lengths[lengths.count / 2]) / 2
        meanInputTokens = Double(hits.inputTokens) / Double(requests)
        meanOutputTokens = Double(trace.records.reduce(0) { $0 + $1.outputLength }) / Double(requests)
        spanSeconds = ((trace.records.last?.timestamp ?? 0) - (trace.records.first?.timestamp ?? 0)) / 1000
        if let (block, n) = firsts.max(by: { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }) {
            mostCommonFirstBlock = block
            shareOfRequestsWithMostCommonFirstBlock = Double(n) / Double(requests)
        }
        hottestBlocks = Trace._hottest(counts, count: top)
        hottestShare = Double(hottestBlocks.reduce(0) { $0 + $1.accesses }) / Double(max(blockAccesses, 1))
        infiniteBlockHitRatio = hits.blockHitRatio
        infinitePrefixHitRatio = hits.prefixHitRatio
        infiniteTokenHitRatio = hits.tokenHitRatio
        let distances = StackDistances(trace.blocks).distances.filter { $0 != .max }.map(Double.init).sorted()
        reuseDistanceP50 = Statistics.percentile(sortedValues: distances, 50)
        reuseDistanceP90 = Statistics.percentile(sortedValues: distances, 90)
        reuseDistanceP99 = Statistics.percentile(sortedValues: distances, 99)
    }
}
