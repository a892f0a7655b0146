import KVCache
import KVCacheSim
import Testing

@Suite("prefill/decode disaggregation in the simulator")
struct DisaggregationTests {
    /// Two turns of one conversation, then an unrelated prompt: 4, 6 and 4 blocks of 512 tokens.
    static let trace: Trace = {
        let text = """
            {"timestamp": 0, "input_length": 2048, "output_length": 10, "hash_ids": [1, 2, 3, 4]}
            {"timestamp": 5000, "input_length": 3072, "output_length": 10, "hash_ids": [1, 2, 3, 4, 5, 6]}
            {"timestamp": 10000, "input_length": 2048, "output_length": 10, "hash_ids": [7, 8, 9, 10]}
            """
        return try! TraceReader().read(text: text)
    }()

    static func run(threshold: Int) throws -> ClusterResult {
        var c = ClusterConfiguration(nodes: 2, capacity: 100, selector: .kvCost)
        // 1 ms setup and 2 ms per block.
        c.disaggregation = .init(
            prefillNodes: 1, decodeNodes: 1, thresholdTokens: threshold,
            transfer: KVTransferModel(bytesPerBlock: 2e6, bandwidth: 1e9, latency: 0.001))
        return try ClusterSimulator.run(trace, c)
    }

    @Test("every prompt is prefilled on the prefill node; the decode node's missing blocks cost the transfer")
    func remote() throws {
        let r = try Self.run(threshold: 0)
        #expect(r.localPrefills == 0 && r.transfers == 3)
        // Turn 2 finds its 4 blocks on the decode node: only 2 move. 4 + 2 + 4 blocks in all.
        #expect(r.transferredBlocks == 10)
        #expect(r.perNode[0].requests == 3 && r.perNode[1].requests == 0)
        // TTFT: 10 ms + 50 µs per uncached token, plus 1 ms + 2 ms per moved block.
        let ttfts = [0.010 + 2048 * 50e-6 + 0.009, 0.010 + 1024 * 50e-6 + 0.005, 0.010 + 2048 * 50e-6 + 0.009]
        #expect(abs(r.ttft.mean - ttfts.reduce(0, +) / 3) < 1e-6)
    }

    @Test("below the threshold, the decode node prefills the uncached suffix itself")
    func local() throws {
        let r = try Self.run(threshold: 1_500)
        // Turn 2 has 1,024 tokens uncached on the decode node: prefilled there, nothing moves.
        #expect(r.localPrefills == 1 && r.transfers == 2 && r.transferredBlocks == 8)
        #expect(r.perNode[1].requests == 1 && r.perNode[1].prefilledTokens == 1_024)
        let ttfts = [0.010 + 2048 * 50e-6 + 0.009, 0.010 + 1024 * 50e-6, 0.010 + 2048 * 50e-6 + 0.009]
        #expect(abs(r.ttft.mean - ttfts.reduce(0, +) / 3) < 1e-6)
    }

    @Test("a split that does not make the nodes, or with lower tiers, is refused")
    func refused() throws {
        var c = ClusterConfiguration(nodes: 3, capacity: 100, selector: .kvCost)
        c.disaggregation = .init(prefillNodes: 1, decodeNodes: 1)
        #expect(throws: ConfigurationError.self) { try ClusterSimulator.run(Self.trace, c) }
        c.nodes = 2
        c.hostCapacity = 10
        #expect(throws: ConfigurationError.self) { try ClusterSimulator.run(Self.trace, c) }
    }
}
