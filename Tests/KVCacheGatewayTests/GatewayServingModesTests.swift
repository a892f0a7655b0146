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

/// Two prefill and two decode engine doubles that speak vLLM's disaggregation protocol, and a
/// gateway in front of them.
private struct Disaggregated {
    let prefill: [EngineDouble]
    let decode: [EngineDouble]
    let gateway: GatewayProcess

    init(_ arguments: [String] = [], decodeMsPerToken: Int = 0, firstPrefill: [String] = []) async throws {
        prefill = [try await EngineDouble(["--role", "prefill"] + firstPrefill), try await EngineDouble(["--role", "prefill"])]
        let decodeOptions = ["--role", "decode", "--decode-ms-per-token", "\(decodeMsPerToken)"]
        decode = [try await EngineDouble(decodeOptions), try await EngineDouble(decodeOptions)]
        gateway = try await GatewayProcess(
            arguments: prefill.flatMap { ["--prefill", $0.spec(node: nil)] } + decode.flatMap { ["--decode", $0.spec(node: nil)] }
                + arguments)
    }

    /// One turn of each conversation, in turn; each conversation then grows by 40 tokens.
    func converse(_ conversations: inout [[UInt32]], turn: Int, stream: Bool) async throws -> [Answer] {
        var answers: [Answer] = []
        for c in conversations.indices {
            let json: [String: Any] = [
                "model": "double", "prompt": conversations[c], "max_tokens": 6, "stream": stream, "min_tokens": 2,
                "stream_options": ["include_usage": true],
            ]
            let a =
                stream
                ? try await Loopback.stream(gateway.url + "/v1/completions", json: json).answer
                : try await Loopback.post(gateway.url + "/v1/completions", json: json)
            #expect(a.status == 200, "\(a.text)")
            answers.append(a)
            conversations[c] += tokens(40, seed: UInt32(1_000 * turn + c))
        }
        return answers
    }

    /// The prefill engines' cached share of the prompt tokens they were given.
    func prefillCachedRatio() async throws -> Double { try await Self.cachedRatio(of: prefill) }

    /// `engines`' cached share of the prompt tokens they were given.
    static func cachedRatio(of engines: [EngineDouble]) async throws -> Double {
        var cached = 0, prompt = 0
        for e in engines {
            let s = try await e.stats()
            cached += s["cached_tokens"] as? Int ?? 0
            prompt += s["prompt_tokens"] as? Int ?? 0
        }
        return Double(cached) / Double(max(prompt, 1))
    }
}

@Suite("kvcache-gateway prefill/decode", .serialized, .enabled(if: haveEngineDoubles, "needs Python's pyzmq and msgspec"))
struct GatewayDisaggregationTests {
    @Test("every answer is the decode engine's, byte for byte; each role gets only its part; prefill follows the cache")
    func protocolAndPlacement() async throws {
        let pd = try await Disaggregated()
        // Five conversations (an odd count, so that placing in turn moves each conversation
        // from engine to engine), four turns each, streamed and not.
        var conversations = (0..<5).map { tokens(120 + 16 * $0, seed: UInt32(50 + $0)) }
        var prompts: [[UInt32]] = []
        var answers: [Answer] = []
        for turn in 0..<4 {
            prompts += conversations
            answers += try await pd.converse(&conversations, turn: turn, stream: turn % 2 == 1)
            try await Task.sleep(for: .milliseconds(50))  // the turn's events reach the index
        }
        let aware = try await pd.prefillCachedRatio()
        // Chat goes the same two hops.
        let chat: [String: Any] = ["model": "double", "messages": [["role": "user", "content": "Why split prefill from decode?"]]]
        answers.append(try await Loopback.post(pd.gateway.url + "/v1/chat/completions", json: chat))
        var streamedChat = chat
        streamedChat["stream"] = true
        answers.append(try await Loopback.stream(pd.gateway.url + "/v1/chat/completions", json: streamedChat).answer)
        var decoded = Set<String>()
        for e in pd.decode {
            let s = try await e.stats()
            #expect((s["violations"] as? [String])?.isEmpty == true, "\(s["violations"] ?? "-")")
            #expect(s["prefill_only"] as? Int == 0 && s["local_prefill"] as? Int == 0, "no decode engine prefilled")
            decoded.formUnion(s["answers"] as? [String] ?? [])
        }
        var prefilled = 0
        for e in pd.prefill {
            let s = try await e.stats()
            #expect((s["violations"] as? [String])?.isEmpty == true, "\(s["violations"] ?? "-")")
            #expect(s["requests"] as? Int == s["prefill_only"] as? Int, "no prefill engine got a whole request")
            prefilled += s["prefill_only"] as? Int ?? 0
        }
        #expect(prefilled == answers.count, "each request was prefilled once")
        for a in answers {
            #expect(decoded.contains(a.text), "the client's answer is byte for byte a decode engine's")
            #expect(["2", "3"].contains(a.header("x-kvcache-node") ?? "-"), "decoded on a decode engine")
            #expect(["0", "1"].contains(a.header("x-kvcache-prefill-node") ?? "-"), "prefilled on a prefill engine")
        }
        let metrics = try await Loopback.get(pd.gateway.url + "/metrics").text
        #expect(metrics.contains(#"kvcache_gateway_prefills_total{path="remote"} 22"#))
        // Both hops' loads left their nodes: nothing is in flight in the router.
        try await Loopback.waitForHealth(pd.gateway) { $0["routerInFlight"] as? Int == 0 }

        // The same prefill requests placed in turn on two fresh prefill engines.
        let turns = [try await EngineDouble(["--role", "prefill"]), try await EngineDouble(["--role", "prefill"])]
        for (k, prompt) in prompts.enumerated() {
            let a = try await Loopback.post(
                turns[k % 2].url + "/v1/completions",
                json: ["model": "double", "prompt": prompt, "max_tokens": 1, "kv_transfer_params": ["do_remote_decode": true]])
            #expect(a.status == 200)
        }
        let inTurn = try await Disaggregated.cachedRatio(of: turns)
        #expect(aware > inTurn + 0.2, "prefill engines' cached share: routed by the cache \(aware), in turn \(inTurn)")
    }

    @Test("--pd-threshold-tokens: a short uncached suffix is prefilled on the decode engine alone")
    func threshold() async throws {
        let pd = try await Disaggregated(["--pd-threshold-tokens", "64"])
        var conversations = [tokens(200, seed: 5)]
        let first = try await pd.converse(&conversations, turn: 0, stream: false)
        #expect(first[0].header("x-kvcache-prefill-node") != nil, "200 uncached tokens: prefilled remotely")
        // Both the prefill and the decode engine's events are in.
        try await Loopback.waitForHealth(pd.gateway) { (($0["events"] as? [String: Any])?["batches"] as? Int ?? 0) >= 2 }
        let second = try await pd.converse(&conversations, turn: 1, stream: true)
        #expect(second[0].header("x-kvcache-prefill-node") == nil, "40 new tokens, the rest cached on the decode engine")
        #expect(second[0].header("x-kvcache-node") == first[0].header("x-kvcache-node"))
        var local = 0, prefillOnly = 0
        for e in pd.decode { local += try await e.stats()["local_prefill"] as? Int ?? 0 }
        for e in pd.prefill { prefillOnly += try await e.stats()["prefill_only"] as? Int ?? 0 }
        #expect(local == 1 && prefillOnly == 1)
        let metrics = try await Loopback.get(pd.gateway.url + "/metrics").text
        #expect(metrics.contains(#"kvcache_gateway_prefills_total{path="local"} 1"#))
    }

    @Test("each hop's load is on its node once: while the decode runs, one request is in flight, then none")
    func loadOnce() async throws {
        let pd = try await Disaggregated(decodeMsPerToken: 50)
        let long = Task {
            try await Loopback.post(
                pd.gateway.url + "/v1/completions", json: ["model": "double", "prompt": tokens(64, seed: 77), "max_tokens": 30])
        }
        try await Loopback.waitForHealth(pd.gateway) { $0["routerInFlight"] as? Int == 1 }
        try await Task.sleep(for: .milliseconds(300))
        let during = try await Loopback.get(pd.gateway.url + "/health").json
        #expect(during["routerInFlight"] as? Int == 1, "the prefill hop is over, the decode hop counts once")
        #expect(try await long.value.status == 200)
        try await Loopback.waitForHealth(pd.gateway) { $0["routerInFlight"] as? Int == 0 }
    }

    @Test("--session-header: a session's unrelated prompts keep their decode engine")
    func sessionKeepsDecodeEngine() async throws {
        let pd = try await Disaggregated(["--session-header", "x-session-id"])
        var nodes: [String] = []
        for seed in UInt32(1)...4 {
            let a = try await Loopback.post(
                pd.gateway.url + "/v1/completions", json: ["model": "double", "prompt": tokens(80, seed: 900 + seed), "max_tokens": 2],
                headers: [("x-session-id", "s1")])
            #expect(a.status == 200 && a.header("x-kvcache-prefill-node") != nil)
            #expect(a.header("x-kvcache-session") == (seed == 1 ? "new" : "kept"))
            nodes.append(a.header("x-kvcache-node") ?? "-")
        }
        #expect(Set(nodes).count == 1, "\(nodes)")
    }

    @Test("a prefill answer without kv_transfer_params is that engine's failure: the request is prefilled elsewhere")
    func prefillWithoutTransferParameters() async throws {
        let pd = try await Disaggregated(firstPrefill: ["--no-transfer-params"])
        var conversations = (0..<3).map { tokens(64, seed: UInt32(70 + $0)) }
        let answers = try await pd.converse(&conversations, turn: 0, stream: false)
        #expect(answers.allSatisfy { $0.header("x-kvcache-prefill-node") == "1" })
        let metrics = try await Loopback.get(pd.gateway.url + "/metrics").text
        #expect(metrics.contains(#"kvcache_gateway_upstream_failures_total{node="0"}"#))
    }

    @Test("a decode engine killed mid-run loses no request that had not started: the prefilled request goes to the other")
    func decodeEngineKilled() async throws {
        let pd = try await Disaggregated()
        let first = try await Loopback.post(
            pd.gateway.url + "/v1/completions", json: ["model": "double", "prompt": tokens(64, seed: 400), "max_tokens": 2])
        let node = try #require(Int(first.header("x-kvcache-node") ?? ""))
        pd.decode[node - 2].child.signal(SIGKILL)
        for seed in UInt32(401)...406 {
            let a = try await Loopback.post(
                pd.gateway.url + "/v1/completions", json: ["model": "double", "prompt": tokens(64, seed: seed), "max_tokens": 2])
            #expect(a.status == 200 && a.header("x-kvcache-node") == String(5 - node), "\(a.status) \(a.text)")
            #expect(a.header("x-kvcache-prefill-node") != nil)
        }
        let s = try await pd.decode[3 - node].stats()
        #expect(s["remote_prefill"] as? Int == 6 && (s["violations"] as? [String])?.isEmpty == true)
    }

    @Test("a prefill engine killed mid-run loses no request")
    func prefillEngineKilled() async throws {
        let pd = try await Disaggregated(decodeMsPerToken: 5)
        let results = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<24 {
                group.addTask {
                    let a = try await Loopback.post(
                        pd.gateway.url + "/v1/completions",
                        json: ["model": "double", "prompt": tokens(64, seed: UInt32(300 + i)), "max_tokens": 4])
                    return a.status
                }
                if i == 8 { pd.prefill[0].child.signal(SIGKILL) }
                try await Task.sleep(for: .milliseconds(10))
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(results.count == 24 && results.allSatisfy { $0 == 200 }, "\(results)")
        let metrics = try await Loopback.get(pd.gateway.url + "/metrics").text
        #expect(metrics.contains(#"kvcache_gateway_upstream_failures_total{node="0"}"#), "a request met the killed engine")
    }
}

/// The value of the sample `series` (name and labels, as printed) in Prometheus text.
func sample(_ series: String, in text: String) -> Double? {
    text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
}

@Suite("kvcache-gateway replicas", .serialized, .enabled(if: haveEngineDoubles, "needs Python's pyzmq and msgspec"))
struct GatewayReplicaTests {
    @Test("--load-interval: load driven through one gateway shows on another's /metrics and steers its routing")
    func sharedLoad() async throws {
        // Each long request decodes for 10 s, long enough to be seen in flight on a loaded machine.
        let slow = ["--decode-ms-per-token", "100"]
        let engines = [try await EngineDouble(slow), try await EngineDouble(slow)]
        // The default selector takes the engine with the fewest requests when nothing is cached.
        let a = try await GatewayProcess(engines: engines)
        let b = try await GatewayProcess(engines: engines)
        // Three long requests through A, one after another: two land on node 0, one on node 1.
        var long: [Task<Answer, any Error>] = []
        for k in 0..<3 {
            long.append(
                Task {
                    try await Loopback.post(
                        a.url + "/v1/completions", json: ["model": "double", "prompt": tokens(40, seed: UInt32(k)), "max_tokens": 100])
                })
            try await Loopback.waitForHealth(a, timeout: .seconds(30)) { ($0["routerInFlight"] as? Int ?? 0) >= k + 1 }
        }
        // B never sent them, but reads them from the engines.
        let deadline = ContinuousClock.now + .seconds(30)
        var seen = ""
        while ContinuousClock.now < deadline {
            seen = try await Loopback.get(b.url + "/metrics").text
            if sample(#"kvcache_gateway_engine_requests{node="0",state="running"}"#, in: seen) == 2,
                sample(#"kvcache_gateway_engine_requests{node="1",state="running"}"#, in: seen) == 1
            {
                break
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(sample(#"kvcache_gateway_engine_requests{node="0",state="running"}"#, in: seen) == 2, "\(seen)")
        #expect(sample(#"kvcache_gateway_engine_requests{node="1",state="running"}"#, in: seen) == 1)
        // So B's own request goes to node 1, where its own count alone would pick node 0.
        let routed = try await Loopback.post(
            b.url + "/v1/completions", json: ["model": "double", "prompt": tokens(40, seed: 9), "max_tokens": 1])
        #expect(routed.header("x-kvcache-node") == "1")
        for t in long { #expect(try await t.value.status == 200) }
    }

    @Test("three gateways behind round-robin find as much cache as one gateway on the same engines")
    func replicasMatchOne() async throws {
        /// Six conversations of four turns, each turn's conversations at once, sent to the
        /// gateways in turn; the engines' cached share of the prompt tokens.
        func cachedShare(gateways: Int) async throws -> Double {
            let options = ["--decode-ms-per-token", "5"]
            let engines = [try await EngineDouble(options), try await EngineDouble(options), try await EngineDouble(options)]
            var replicas: [GatewayProcess] = []
            for _ in 0..<gateways { replicas.append(try await GatewayProcess(engines: engines)) }
            var conversations = (0..<6).map { tokens(96 + 16 * $0, seed: UInt32(500 + $0)) }
            var cached = 0, prompt = 0, sent = 0
            for turn in 0..<4 {
                let answers = try await withThrowingTaskGroup(of: Answer.self) { group in
                    for c in conversations.indices {
                        let gateway = replicas[(sent + c) % gateways]
                        let body: [String: Any] = ["model": "double", "prompt": conversations[c], "max_tokens": 8]
                        group.addTask { try await Loopback.post(gateway.url + "/v1/completions", json: body) }
                    }
                    return try await group.reduce(into: [Answer]()) { $0.append($1) }
                }
                sent += conversations.count
                for a in answers {
                    #expect(a.status == 200)
                    cached += a.cachedTokens ?? 0
                    prompt += (a.json["usage"] as? [String: Any])?["prompt_tokens"] as? Int ?? 0
                }
                for c in conversations.indices { conversations[c] += tokens(48, seed: UInt32(7_000 + 10 * turn + c)) }
                try await Task.sleep(for: .milliseconds(200))  // the turn's events reach every gateway
            }
            return Double(cached) / Double(max(prompt, 1))
        }
        let one = try await cachedShare(gateways: 1)
        let three = try await cachedShare(gateways: 3)
        #expect(one > 0.5, "one gateway finds the conversations' earlier turns: \(one)")
        #expect(abs(three - one) <= 0.02, "cached share: one gateway \(one), three \(three)")
    }
}
