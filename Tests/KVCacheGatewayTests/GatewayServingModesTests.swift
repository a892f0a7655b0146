import Foundation
import Testing

/// The gateway in front of engines that are not one cache per address: data-parallel ranks
/// behind one address, and prefill/decode splits.
@Suite("kvcache-gateway serving modes", .serialized, .enabled(if: haveEngineDoubles, "needs Python's pyzmq and msgspec"))
struct GatewayServingModesTests {
    @Test("dp=4: each rank is a node; requests name their rank, turns find their rank's cache, a misranked batch is refused")
    func dataParallelRanks() async throws {
        let options = ["--dp", "4", "--decode-ms-per-token", "20"]
        let engines = [try await EngineDouble(options), try await EngineDouble(options)]
        let gateway = try await GatewayProcess(arguments: engines.flatMap { ["--engine", $0.spec(node: nil, dp: 4)] })
        let health = try await Loopback.get(gateway.url + "/health").json
        let nodes = try #require(health["engines"] as? [[String: Any]])
        #expect(nodes.compactMap { $0["node"] as? Int } == Array(0..<8))
        #expect(nodes.compactMap { $0["dataParallelRank"] as? Int } == [0, 1, 2, 3, 0, 1, 2, 3])

        var conversations = (0..<6).map { tokens(100 + 20 * $0, seed: UInt32(10 + $0)) }
        var indexed = 0
        var used: Set<Int> = []
        for turn in 0..<4 {
            // A turn's conversations run at once, so the router spreads them by load.
            let answers = try await withThrowingTaskGroup(of: (Int, Answer).self) { group in
                for c in conversations.indices {
                    let prompt = conversations[c]
                    group.addTask {
                        (
                            c,
                            try await Loopback.post(
                                gateway.url + "/v1/completions", json: ["model": "double", "prompt": prompt, "max_tokens": 8])
                        )
                    }
                }
                return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
            }
            for c in conversations.indices {
                let a = try #require(answers[c])
                let before = conversations[c].count
                #expect(a.status == 200)
                let node = try #require(Int(a.header("x-kvcache-node") ?? ""))
                let rank = try #require(a.header("x-kvcache-dp-rank"))
                #expect(rank == String(node % 4), "node \(node) is rank \(node % 4) of engine \(node / 4)")
                #expect(a.header("x-double-rank") == rank, "the engine ran the request on the rank the gateway named")
                used.insert(node)
                let predicted = try #require(Int(a.header("x-kvcache-predicted-cached-tokens") ?? ""))
                let realized = try #require(a.cachedTokens)
                #expect(
                    abs(predicted - realized) <= 16, "turn \(turn) of conversation \(c): predicted \(predicted), rank reports \(realized)")
                if turn > 0 { #expect(realized >= (before - 40) / 16 * 16, "the turn found its rank's cache") }
                indexed += before / 16 - (turn == 0 ? 0 : (before - 40) / 16)
                conversations[c] += tokens(40, seed: UInt32(1_000 * turn + c))
            }
            let expected = indexed
            try await Loopback.waitForHealth(gateway) { ($0["indexedBlocks"] as? Int ?? 0) >= expected }
        }
        #expect(used.count >= 4, "conversations spread over ranks: \(used)")

        // Rank 0's stream carries a batch that names rank 1: refused, counted, not indexed.
        _ = try await Loopback.post(engines[0].url + "/debug/misranked", json: [:])
        try await Loopback.waitForHealth(gateway) { (($0["events"] as? [String: Any])?["rankMismatches"] as? Int) == 1 }
        let after = try await Loopback.get(gateway.url + "/health").json
        #expect(after["indexedBlocks"] as? Int == indexed)
    }
}
