import Foundation
import NIOCore
import Synchronization
import Testing

/// The gateway as deployed: the `kvcache-gateway` program in front of engine doubles, on loopback.
/// The template fixtures' model directory: a byte-level BPE tokenizer and Llama 3.1's chat template.
let templateModel = packageRoot.appendingPathComponent("Tests/KVCacheTemplatesTests/Fixtures/model")

/// A chat template whose line 2 uses a filter the renderer does not run.
let unsupportedTemplate: URL = {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("kvcache-unsupported.jinja")
    try? Data("{% for m in messages %}\n{{ m.content | frobnicate }}{% endfor %}".utf8).write(to: url)
    return url
}()

@Suite("kvcache-gateway end to end", .serialized, .enabled(if: haveEngineDoubles, "needs Python's pyzmq and msgspec"))
struct GatewayEndToEndTests {
    @Test("a repeated prefix lands on the engine that holds it, and the engine confirms the hit")
    func repeatedPrefixLandsOnHolder() async throws {
        let engines = [try await EngineDouble(), try await EngineDouble(), try await EngineDouble()]
        let gateway = try await GatewayProcess(engines: engines, ["--selector", "kv-cost"])
        let prefix = tokens(256, seed: 7)
        let first = try await Loopback.post(
            gateway.url + "/v1/completions", json: ["model": "double", "prompt": prefix + tokens(20, seed: 1), "max_tokens": 2])
        #expect(first.status == 200)
        let holder = try #require(first.header("x-kvcache-node"))
        #expect(first.header("x-kvcache-predicted-cached-tokens") == "0")
        // The engine's BlockStored events reach the index.
        try await Loopback.waitForHealth(gateway) { ($0["indexedBlocks"] as? Int ?? 0) >= 16 }
        for seed in UInt32(2)...6 {
            let a = try await Loopback.post(
                gateway.url + "/v1/completions", json: ["model": "double", "prompt": prefix + tokens(20, seed: seed), "max_tokens": 2])
            #expect(a.status == 200)
            #expect(a.header("x-kvcache-node") == holder)
            #expect(a.header("x-kvcache-predicted-cached-tokens") == "256")
            #expect(a.cachedTokens == 256, "the engine itself reports the predicted hit")
        }
    }

    @Test("--session-header: a session's requests stay on its engine, and move when that engine is too busy")
    func sessionAffinity() async throws {
        let engines = [
            try await EngineDouble(["--decode-ms-per-token", "40"]), try await EngineDouble(["--decode-ms-per-token", "40"]),
            try await EngineDouble(["--decode-ms-per-token", "40"]),
        ]
        let gateway = try await GatewayProcess(
            engines: engines, ["--selector", "least-loaded", "--session-header", "x-session-id", "--session-max-imbalance", "1"])
        @Sendable func send(_ seed: UInt32, session: String?, outputTokens: Int = 1) async throws -> Answer {
            let a = try await Loopback.post(
                gateway.url + "/v1/completions",
                json: ["model": "double", "prompt": tokens(40, seed: seed), "max_tokens": outputTokens],
                headers: session.map { [("x-session-id", $0)] } ?? [])
            #expect(a.status == 200)
            return a
        }
        // A long request, once the router counts it running on its engine.
        func started(_ seed: UInt32, session: String?, running: Int) async throws -> Task<Answer, any Error> {
            let t = Task { try await send(seed, session: session, outputTokens: 100) }
            try await Loopback.waitForHealth(gateway) { ($0["routerInFlight"] as? Int ?? 0) >= running }
            return t
        }
        let first = try await send(1, session: "alice")
        #expect(first.header("x-kvcache-session") == "new")
        let home = try #require(first.header("x-kvcache-node"))
        // A long request without a session lands on alice's engine too (least loaded, lowest
        // id); her next request stays there although the selector alone would go elsewhere.
        let other = try await started(2, session: nil, running: 1)
        let kept = try await send(3, session: "alice")
        #expect(kept.header("x-kvcache-node") == home && kept.header("x-kvcache-session") == "kept")
        // A long request of hers makes her engine two busier than the idle ones: beyond the
        // allowed imbalance, so her next request moves, and the session follows it.
        let long = try await started(4, session: "alice", running: 2)
        let moved = try await send(5, session: "alice")
        #expect(moved.header("x-kvcache-session") == "moved")
        let newHome = try #require(moved.header("x-kvcache-node"))
        #expect(newHome != home)
        let after = try await send(6, session: "alice")
        #expect(after.header("x-kvcache-node") == newHome && after.header("x-kvcache-session") == "kept")
        #expect(try await other.value.header("x-kvcache-node") == home)
        #expect(try await long.value.header("x-kvcache-node") == home)
        // A request without the header says nothing of sessions.
        #expect(try await send(7, session: nil).header("x-kvcache-session") == nil)
        let metrics = try await Loopback.get(gateway.url + "/metrics").text
        #expect(metrics.contains(#"kvcache_gateway_session_requests_total{outcome="kept"} 3"#))
    }

    @Test("text and chat prompts are tokenized by the engine and routed by their tokens")
    func textAndChatPrompts() async throws {
        let engines = [try await EngineDouble(), try await EngineDouble()]
        let gateway = try await GatewayProcess(engines: engines)
        let system = String(repeating: "You are a careful assistant who answers briefly. ", count: 8)
        var nodes: Set<String> = []
        for (i, question) in ["What is a KV cache?", "Why route by prefix?", "What is a block?"].enumerated() {
            let a = try await Loopback.post(
                gateway.url + "/v1/chat/completions",
                json: ["model": "double", "messages": [["role": "system", "content": system], ["role": "user", "content": question]]])
            #expect(a.status == 200)
            nodes.insert(a.header("x-kvcache-node") ?? "-")
            let predicted = Int(a.header("x-kvcache-predicted-cached-tokens") ?? "") ?? -1
            if i > 0 {
                #expect(predicted >= 384, "the shared system prompt is predicted cached")
                #expect(a.cachedTokens == predicted)
            }
            try await Loopback.waitForHealth(gateway) { ($0["indexedBlocks"] as? Int ?? 0) >= 24 }
        }
        #expect(nodes.count == 1)
        let text = try await Loopback.post(gateway.url + "/v1/completions", json: ["prompt": system + "Done?", "max_tokens": 1])
        #expect(text.status == 200)
    }

    @Test("--tokenizer: text prompts are tokenized in process, as the engine does, and routed by their tokens")
    func inProcessTokenizer() async throws {
        let engines = [try await EngineDouble(["--no-tokenize"]), try await EngineDouble(["--no-tokenize"])]
        let file = packageRoot.appendingPathComponent("Tests/KVCacheTokenizersTests/Fixtures/bytes.tokenizer.json").path
        let gateway = try await GatewayProcess(engines: engines, ["--selector", "kv-cost", "--tokenizer", file])
        let document = String(repeating: "Ünïcode text, shared by every question: ", count: 16)
        var holder: String?
        for (i, question) in ["What is a KV cache?", "Why route by prefix?", "What is a block?"].enumerated() {
            let a = try await Loopback.post(gateway.url + "/v1/completions", json: ["prompt": document + question, "max_tokens": 1])
            #expect(a.status == 200, "the engines answer no /tokenize: the gateway tokenized in process")
            let predicted = Int(a.header("x-kvcache-predicted-cached-tokens") ?? "") ?? -1
            if i == 0 {
                holder = a.header("x-kvcache-node")
            } else {
                #expect(a.header("x-kvcache-node") == holder)
                #expect(predicted >= 640, "the shared document is predicted cached")
                #expect(a.cachedTokens == predicted, "the engine's tokens are the gateway's")
            }
            try await Loopback.waitForHealth(gateway) { ($0["indexedBlocks"] as? Int ?? 0) >= 40 }
        }
        // A tokenizer.json without a chat template leaves chat to the engines' /tokenize; these
        // have none, so a chat prompt cannot be routed.
        let chat = try await Loopback.post(
            gateway.url + "/v1/chat/completions", json: ["messages": [["role": "user", "content": "Hi"]], "max_tokens": 1])
        #expect(chat.status >= 500)
    }

    @Test("a LoRA adapter named by 'model' is routed to the blocks cached under that adapter")
    func adapterRouting() async throws {
        let engines = [try await EngineDouble(["--adapters", "sql"]), try await EngineDouble(["--adapters", "sql"])]
        let gateway = try await GatewayProcess(engines: engines)
        let prompt = tokens(128, seed: 11)
        // Wait until the health check has read the adapters from /v1/models.
        try await Task.sleep(for: .milliseconds(600))
        let base = try await Loopback.post(gateway.url + "/v1/completions", json: ["model": "double", "prompt": prompt, "max_tokens": 1])
        try await Loopback.waitForHealth(gateway) { ($0["indexedBlocks"] as? Int ?? 0) >= 8 }
        let adapted = try await Loopback.post(gateway.url + "/v1/completions", json: ["model": "sql", "prompt": prompt, "max_tokens": 1])
        #expect(base.status == 200 && adapted.status == 200)
        #expect(adapted.header("x-kvcache-predicted-cached-tokens") == "0", "the base model's blocks are not the adapter's")
        #expect(adapted.cachedTokens == 0)
        try await Loopback.waitForHealth(gateway) { ($0["indexedBlocks"] as? Int ?? 0) >= 16 }
        let again = try await Loopback.post(gateway.url + "/v1/completions", json: ["model": "sql", "prompt": prompt, "max_tokens": 1])
        #expect(again.header("x-kvcache-node") == adapted.header("x-kvcache-node"))
        #expect(again.header("x-kvcache-predicted-cached-tokens") == "112")
        #expect(again.cachedTokens == 112)
    }

    @Test(
        "streaming output is byte for byte the engine's, and arrives chunk by chunk, on the default loops (one per core but one, at least one) or on two (--event-loops 2)",
        arguments: [[], ["--event-loops", "2"]])
    func streamingIsByteIdenticalAndUnbuffered(arguments: [String]) async throws {
        let engine = try await EngineDouble(["--decode-ms-per-token", "60"])
        let gateway = try await GatewayProcess(engines: [engine], arguments)
        // NIO names its loops' threads NIO-SGLTN-<group>-#<loop>; a short-lived thread a loop
        // starts carries its name too, so the loops are the distinct names
        let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(gateway.child.pid)/task")
        let loops = Set(
            tasks.compactMap {  // a thread may end between the listing and the read
                try? String(contentsOfFile: "/proc/\(gateway.child.pid)/task/\($0)/comm", encoding: .utf8)
            }.filter { $0.hasPrefix("NIO-SGLTN") })
        let expected = arguments.isEmpty ? max(1, System.coreCount - 1) : 2
        #expect(loops.count == expected, "\(arguments): \(loops.count) loops on \(System.coreCount) cores")
        for endpoint in ["/v1/completions", "/v1/chat/completions"] {
            var body: [String: Any] = [
                "model": "double", "max_tokens": 8, "stream": true, "stream_options": ["include_usage": true],
            ]
            if endpoint == "/v1/completions" {
                body["prompt"] = tokens(64, seed: 3)
            } else {
                body["messages"] = [["role": "user", "content": "Stream me something, please, in several chunks."]]
            }
            // One body, byte for byte, for all three (the engine derives the response id from it).
            let bytes = try JSONSerialization.data(withJSONObject: body)
            _ = try await Loopback.stream(engine.url + endpoint, body: bytes)  // warms the engine's cache
            let direct = try await Loopback.stream(engine.url + endpoint, body: bytes)
            let routed = try await Loopback.stream(gateway.url + endpoint, body: bytes)
            #expect(routed.answer.status == 200)
            #expect(routed.answer.body == direct.answer.body, "\(endpoint): the same bytes as straight from the engine")
            #expect(routed.answer.text.hasSuffix("data: [DONE]\n\n"))
            #expect(routed.answer.header("content-type") == "text/event-stream")
            #expect(routed.answer.header("x-kvcache-node") == "0")
            // Eight tokens 60 ms apart: a buffering proxy would deliver them all at the end.
            let arrivals = routed.arrivals
            #expect(arrivals.count >= 4, "\(endpoint): chunks arrive separately")
            if let first = arrivals.first, let last = arrivals.last { #expect(last - first >= 0.2) }
        }
    }

    @Test("killing an engine mid-run loses no request that had not started streaming")
    func engineKilledMidRun() async throws {
        let engines = [
            try await EngineDouble(["--prefill-us-per-token", "2000"]), try await EngineDouble(["--prefill-us-per-token", "2000"]),
        ]
        let gateway = try await GatewayProcess(engines: engines, ["--selector", "round-robin"])
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<24 {
                group.addTask {
                    let a = try await Loopback.post(
                        gateway.url + "/v1/completions", json: ["prompt": tokens(64, seed: UInt32(100 + i)), "max_tokens": 1])
                    return a.status
                }
            }
            try await Task.sleep(for: .milliseconds(300))
            engines[0].child.signal(SIGKILL)
            var all: [Int] = []
            for try await s in group { all.append(s) }
            return all
        }
        #expect(statuses.count == 24)
        #expect(statuses.allSatisfy { $0 == 200 }, "every request was retried on the survivor: \(statuses)")
        try await Loopback.waitForHealth(gateway) { h in
            ((h["engines"] as? [[String: Any]]) ?? []).contains { ($0["node"] as? Int) == 0 && ($0["up"] as? Bool) == false }
        }
        let after = try await Loopback.post(gateway.url + "/v1/completions", json: ["prompt": tokens(40, seed: 1), "max_tokens": 1])
        #expect(after.status == 200 && after.header("x-kvcache-node") == "1")
    }

    @Test("beyond its limits the gateway answers 429 with Retry-After, and its memory stays bounded")
    func overload() async throws {
        let engine = try await EngineDouble(["--decode-ms-per-token", "20"])
        let gateway = try await GatewayProcess(engines: [engine], ["--max-concurrency", "4", "--max-queue", "4", "--retry-after", "2"])
        func wave(_ n: Int, seed: UInt32) async throws -> [Answer] {
            try await withThrowingTaskGroup(of: Answer.self) { group in
                for i in 0..<n {
                    group.addTask {
                        try await Loopback.post(
                            gateway.url + "/v1/completions", json: ["prompt": tokens(32, seed: seed &+ UInt32(i)), "max_tokens": 10])
                    }
                }
                var all: [Answer] = []
                for try await a in group { all.append(a) }
                return all
            }
        }
        let first = try await wave(64, seed: 1)
        let rejected = first.filter { $0.status == 429 }
        #expect(!rejected.isEmpty)
        #expect(first.allSatisfy { $0.status == 200 || $0.status == 429 })
        #expect(first.filter { $0.status == 200 }.count >= 8)
        #expect(rejected.allSatisfy { $0.header("retry-after") == "2" })
        #expect(rejected.allSatisfy { (($0.json["error"] as? [String: Any])?["type"] as? String) == "rate_limit_exceeded" })
        let baseline = try #require(gateway.child.residentBytes)
        for round in 0..<6 { _ = try await wave(64, seed: UInt32(1_000 * (round + 2))) }
        let after = try #require(gateway.child.residentBytes)
        #expect(after < baseline + 48 << 20, "resident memory grew from \(baseline) to \(after) bytes")
        try await Loopback.waitForHealth(gateway) { ($0["inFlight"] as? Int) == 0 && ($0["queued"] as? Int) == 0 }
    }

    @Test("a client that leaves mid-stream leaks no load: the router sees the request finish")
    func clientDisconnect() async throws {
        let engine = try await EngineDouble(["--decode-ms-per-token", "100"])
        let gateway = try await GatewayProcess(engines: [engine])
        let task = Task {
            try await Loopback.stream(
                gateway.url + "/v1/completions", json: ["prompt": tokens(32, seed: 5), "max_tokens": 50, "stream": true])
        }
        try await Loopback.waitForHealth(gateway) { ($0["inFlight"] as? Int) == 1 && ($0["routerInFlight"] as? Int) == 1 }
        try await Task.sleep(for: .milliseconds(300))
        task.cancel()
        _ = await task.result
        try await Loopback.waitForHealth(gateway, timeout: .seconds(15)) {
            ($0["inFlight"] as? Int) == 0 && ($0["routerInFlight"] as? Int) == 0
        }
        let metrics = try await Loopback.get(gateway.url + "/metrics").text
        #expect(metrics.contains("kvcache_gateway_in_flight_requests 0"))
    }

    @Test("a client that does not read a stream holds the engine back; the whole stream arrives once it reads")
    func streamBackpressure() async throws {
        let total = 64 << 20
        let engine = try await StubEngine(.streamOn(path: "/v1/completions", total: total, chunk: 64 << 10))
        let gateway = try await GatewayProcess(arguments: ["--engine", engine.url + ",node=0", "--load-interval", "0"])
        let client = try await RawConnection(port: gateway.port, reading: false)
        let body = #"{"model": "m", "prompt": [1, 2, 3], "max_tokens": 8, "stream": true}"#
        try await client.send(
            "POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: \(body.utf8.count)\r\n\r\n"
                + body)
        // until the engine's sending stalls (or it has sent everything)
        var sentWhilePaused = -1
        _ = await eventually {
            let sent = engine.counts.withLock { $0.streamed }
            defer { sentWhilePaused = sent }
            try? await Task.sleep(for: .milliseconds(300))
            return sent > 0 && sent == sentWhilePaused || sent == total
        }
        // loopback's socket buffers (engine to gateway, gateway to client) hold a few MiB each
        #expect(sentWhilePaused > 0 && sentWhilePaused < 32 << 20, "the engine sent \(sentWhilePaused) bytes to a client that read none")
        client.startReading()
        #expect(await eventually(.seconds(60)) { client.text.hasSuffix("0\r\n\r\n") && client.byteCount >= total })
        #expect(client.text.hasPrefix("HTTP/1.1 200"))
        try await client.close()
        try await engine.stop()
    }

    @Test("/metrics is Prometheus text that Python's prometheus_client parses")
    func metricsParse() async throws {
        let engine = try await EngineDouble()
        let gateway = try await GatewayProcess(engines: [engine])
        for seed in UInt32(1)...3 {
            _ = try await Loopback.post(gateway.url + "/v1/completions", json: ["prompt": tokens(48, seed: 9) + [seed], "max_tokens": 1])
        }
        let text = try await Loopback.get(gateway.url + "/metrics")
        #expect(text.header("content-type")?.hasPrefix("text/plain") == true)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kvcache-gateway-metrics-\(UUID().uuidString).txt")
        try text.body.write(to: path)
        defer { try? FileManager.default.removeItem(at: path) }
        let parse = try ChildProcess(
            "/usr/bin/env",
            [
                "python3", "-c",
                """
                import sys
                from prometheus_client.parser import text_string_to_metric_families
                names = {f.name for f in text_string_to_metric_families(open(sys.argv[1]).read())}
                print(" ".join(sorted(names)))
                """,
                path.path,
            ])
        #expect(try await parse.exitStatus(timeout: .seconds(30)) == 0, "prometheus_client: \(parse.stderr)")
        let names = Set(parse.stdout.split(whereSeparator: \.isWhitespace).map(String.init))
        for name in [
            "kvcache_gateway_predicted_cached_tokens", "kvcache_gateway_realized_cached_tokens",
            "kvcache_gateway_predicted_cached_tokens_per_request", "kvcache_gateway_realized_cached_tokens_per_request",
            "kvcache_gateway_requests", "kvcache_gateway_router_routed_requests", "kvcache_gateway_engine_up",
        ] {
            #expect(names.contains(name), "\(name) in \(names.sorted())")
        }
    }

    @Test("SIGTERM: no new connections, the stream in flight finishes, exit 0")
    func sigtermDrains() async throws {
        let engine = try await EngineDouble(["--decode-ms-per-token", "100"])
        let gateway = try await GatewayProcess(engines: [engine], ["--shutdown-grace", "20"])
        let started = Mutex(false)
        let stream = Task {
            try await Loopback.stream(
                gateway.url + "/v1/completions", json: ["prompt": tokens(32, seed: 8), "max_tokens": 15, "stream": true]
            ) { _ in started.withLock { $0 = true } }
        }
        while !started.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(10)) }
        gateway.child.signal(SIGTERM)
        try await Task.sleep(for: .milliseconds(300))
        await #expect(throws: (any Error).self, "a new connection is refused while draining") {
            _ = try await Loopback.get(gateway.url + "/health")
        }
        let answer = try await stream.value.answer
        #expect(answer.text.hasSuffix("data: [DONE]\n\n"), "the stream finished whole")
        #expect(answer.text.components(separatedBy: "data: {").count - 1 == 15)
        #expect(try await gateway.child.exitStatus(timeout: .seconds(20)) == 0)
    }

    @Test("bad command lines: one clear line, non-zero exit")
    func badCommandLines() async throws {
        for (arguments, message) in [
            ([String](), "at least one --engine"),
            (["--engine", "ftp://x"], "not an http:// or https:// URL"),
            (["--engine", "http://a:1", "--engine", "http://b:1,node=0"], "both node 0"),
            (["--engine", "http://a:1,node=99999"], "node"),
            (["--engine", "http://a:1", "--selector", "best"], "--selector best"),
            (["--engine", "http://a:1", "--port", "70000"], "--port 70000"),
            (["--engine", "http://a:1", "--event-loops", "0"], "--event-loops 0: expected a whole number in 1...1024"),
            (["--engine", "http://a:1", "--alpha", "2"], "--alpha applies to weighted"),
            (["--engine", "http://a:1", "--queue-timeout", "nan"], "--queue-timeout"),
            (["--engine", "http://a:1", "--tier-weights", "1,0.5"], "--tier-weights '1,0.5': expected three numbers"),
            (["--engine", "http://a:1", "--speculative-ttl", "-1"], "--speculative-ttl -1"),
            (["--engine", "http://a:1", "--event-coalescing", "5000"], "--event-coalescing 5000.0: expected a finite number in 0...1000"),
            (
                ["--engine", "http://a:1", "--tokenizer", "/nonexistent/tokenizer.json"],
                "--tokenizer /nonexistent/tokenizer.json: does not exist"
            ),
            (["--engine", "http://a:1", "--tokenizer", packageRoot.path], "is a directory without tokenizer.json"),
            (["--engine", "http://a:1", "--chat-template", "/x.jinja"], "--chat-template needs --tokenizer"),
            (["--engine", "http://a:1", "--session-max-imbalance=-1"], "--session-max-imbalance -1"),
            (["--engine", "http://a:1", "--session-header", "bad header"], "--session-header 'bad header' is not an HTTP header name"),
            (["--engine", "https://a:1", "--engine-ca", "/nonexistent.pem"], "--engine-ca /nonexistent.pem"),
            (["--engine", "http://a:1,dp=0"], "--engine http://a:1: dp=0 is outside 1...1024"),
            (["--engine", "http://a:1", "--load-interval", "0.0000001"], "--load-interval"),
            (["--engine", "http://a:1,dp=2", "--engine", "http://b:1,node=1"], "are both node 1"),
            (["--prefill", "http://a:1"], "--prefill needs at least one --decode engine"),
            (["--engine", "http://a:1", "--prefill", "http://b:1", "--decode", "http://c:1"], "every engine is one or the other"),
            (["--prefill", "http://a:1", "--decode", "http://b:1", "--pd-threshold-tokens=-1"], "--pd-threshold-tokens -1"),
            (
                ["--engine", "http://a:1", "--tokenizer", templateModel.path, "--chat-template", unsupportedTemplate.path],
                "chat template line 2: the filter 'frobnicate' is not supported"
            ),
        ] {
            let products = Bundle.main.bundleURL.deletingLastPathComponent()
            var binary = products.appendingPathComponent("kvcache-gateway")
            if !FileManager.default.fileExists(atPath: binary.path) {
                binary = packageRoot.appendingPathComponent(".build/debug/kvcache-gateway")
            }
            let p = try ChildProcess(binary.path, arguments)
            let status = try await p.exitStatus(timeout: .seconds(20))
            #expect(status != 0, "\(arguments)")
            let first = p.stderr.split(separator: "\n").first.map(String.init) ?? ""
            #expect(first.contains(message), "\(arguments): \(p.stderr)")
        }
    }
}
