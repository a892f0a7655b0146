import Testing

@testable import KVCache

@Suite("Tier weights in the overlap score")
struct TierWeightsTests {
    static let chain = (1...6).map { BlockHash(UInt64($0)) }

    static func stored(_ blocks: ArraySlice<BlockHash>) -> [PoolChange] {
        blocks.map { b in .inserted(b, parent: b.rawValue > 1 ? BlockHash(b.rawValue - 1) : nil) }
    }

    /// Node `a`: blocks 1–4 on the device, 5–6 in host memory, block 2 also in host memory;
    /// node `b`: all six only on disk.
    static func index(nodeCapacity: Int, a: Int, b: Int) throws -> PrefixIndex {
        var index = PrefixIndex(nodeCapacity: nodeCapacity)
        try index.apply(stored(chain[0..<4]), node: a, tier: .device)
        try index.apply(stored(chain[4..<6]) + stored(chain[1..<2]), node: a, tier: .host)
        try index.apply(stored(chain[...]), node: b, tier: .disk)
        return index
    }

    @Test("each leading block counts once, at its fastest tier's weight", arguments: [(64, 0, 1), (256, 3, 200)])
    func leadingBlocksByTier(nodeCapacity: Int, a: Int, b: Int) throws {
        let scores = try Self.index(nodeCapacity: nodeCapacity, a: a, b: b).overlaps(Self.chain)
        #expect(scores.depth(of: a) == 6 && scores.depth(of: b) == 6)
        #expect(scores.leadingBlocks(of: a, fastestTier: .device) == 4)
        #expect(scores.leadingBlocks(of: a, fastestTier: .host) == 2)
        #expect(scores.leadingBlocks(of: a, fastestTier: .disk) == 0)
        #expect(scores.leadingBlocks(of: b, fastestTier: .disk) == 6)
        #expect(scores.score(of: a) == 4 + 2 * 0.75)
        #expect(scores.score(of: b) == 6 * 0.25)
        var flat = scores
        flat.tierWeights = TierWeights(device: 1, host: 1, disk: 1)
        #expect(flat.score(of: a) == 6 && flat.score(of: b) == 6)
    }

    @Test("without lower tiers the score is the depth")
    func deviceOnly() throws {
        var index = PrefixIndex()
        try index.apply(Self.stored(Self.chain[0..<3]), node: 2)
        let scores = index.overlaps(Self.chain)
        #expect(scores.score(of: 2) == 3 && scores.leadingBlocks(of: 2, fastestTier: .device) == 3)
        #expect(scores.leadingBlocks(of: 2, fastestTier: .host) == 0 && scores.score(of: 9) == 0)
    }

    @Test("selectors score by tier: a shorter match on the device beats a longer one on disk")
    func selectorsWeighTiers() throws {
        let index = try Self.index(nodeCapacity: 64, a: 0, b: 1)
        let request = RoutingRequest(chain: Self.chain, inputTokens: 6 * 512, expectedOutputTokens: 1, arrival: 0)
        let nodes = [NodeState(id: 0, queueDelay: 1), NodeState(id: 1, queueDelay: 0)]
        var scores = index.overlaps(Self.chain)
        var cacheAware = CacheAware()
        #expect(cacheAware.select(request, nodes: nodes, overlaps: scores).node == 0)
        scores.tierWeights = TierWeights(device: 1, host: 1, disk: 1)
        #expect(cacheAware.select(request, nodes: nodes, overlaps: scores).node == 1, "equal scores: the less loaded")
        let kv = KVCost()
        #expect(kv.cost(request, nodes[0], overlap: 5.5) < kv.cost(request, nodes[1], overlap: 1.5))
    }

    @Test("merging two views keeps each node's tier counts with the depth that wins")
    func mergeKeepsCounts() throws {
        let tiered = try Self.index(nodeCapacity: 64, a: 0, b: 1).overlaps(Self.chain)
        var shallow = PrefixIndex()
        try shallow.apply(Self.stored(Self.chain[0..<2]), node: 0)
        try shallow.apply([], node: 1)
        var merged = shallow.overlaps(Self.chain)
        merged.formMaximum(tiered)
        #expect(merged.depth(of: 0) == 6 && merged.score(of: 0) == tiered.score(of: 0))
        #expect(merged.score(of: 1) == tiered.score(of: 1))
    }
}

@Suite("OverlapScores.formMaximum")
struct FormMaximumTests {
    @Test("scores of fewer nodes grow to the other's count, keeping their own depths per tier")
    func grows() throws {
        var small = PrefixIndex()
        try small.apply([.inserted(BlockHash(1), parent: nil)], node: 0, tier: .host)
        var large = PrefixIndex()
        try large.apply([.inserted(BlockHash(1), parent: nil), .inserted(BlockHash(2), parent: BlockHash(1))], node: 3)
        let chain = [BlockHash(1), BlockHash(2)]
        var merged = small.overlaps(chain)
        #expect(merged.nodeCount == 1)
        merged.formMaximum(large.overlaps(chain))
        #expect(merged.nodeCount == 4)
        #expect(merged.depth(of: 0) == 1 && merged.depth(of: 0, tier: .host) == 1 && merged.score(of: 0) == 0.75)
        #expect(merged.depth(of: 3) == 2 && merged.depth(of: 3, tier: .device) == 2 && merged.score(of: 3) == 2)
    }
}
