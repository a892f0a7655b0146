import AsyncHTTPClient
import Foundation
import HTTPTypes
import KVCache
import KVCacheTokenizers
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import Testing

@testable import KVCacheGateway

@Suite("kvcache-gateway parts")
struct GatewayPartsTests {
    @Test("--engine: URL, events, replay and node parse; each wrong part is named")
    func engineSpecs() throws {
        let s = try EngineSpec(
            parsing: "http://10.0.0.5:8000/,events=tcp://10.0.0.5:5557,replay=tcp://10.0.0.5:5567,node=3", defaultNode: 0)
        #expect(s.url == "http://10.0.0.5:8000")
        #expect(s.events == "tcp://10.0.0.5:5557" && s.replay == "tcp://10.0.0.5:5567" && s.node == 3)
        #expect(s.publishesEvents)
        #expect(try EngineSpec(parsing: s.description, defaultNode: 9) == s)
        let plain = try EngineSpec(parsing: "https://engine", defaultNode: 4)
        #expect(plain.node == 4 && !plain.publishesEvents && plain.nodes == 4..<5)
        // dp=N: N nodes, each rank's events on the ports plus its rank (vLLM's offsets).
        let dp = try EngineSpec(
            parsing: "http://e:8000,events=tcp://e:5557,replay=tcp://e:5567,node=2,dp=4", defaultNode: 0, role: .prefill)
        #expect(dp.nodes == 2..<6 && dp.rank(of: 5) == 3 && dp.rank(of: 6) == nil && dp.role == .prefill)
        #expect(dp.eventsAddress(rank: 3) == "tcp://e:5560" && dp.replayAddress(rank: 3) == "tcp://e:5570")
        #expect(try EngineSpec(parsing: dp.description, defaultNode: 0, role: .prefill) == dp)
        let ipc = try EngineSpec(parsing: "http://e:8000,events=ipc:///tmp/kv,dp=2", defaultNode: 0)
        #expect(ipc.eventsAddress(rank: 1) == "ipc:///tmp/kv_dp1")
        do { _ = try EngineSpec(parsing: "http://a:1,dp=x", defaultNode: 0, role: .decode) } catch {
            #expect("\(error)".hasPrefix("--decode http://a:1: dp='x'"), "\(error)")
        }
        for (text, message) in [
            ("", "the URL is missing"), ("engine:8000", "not an http"), ("http://a:1,events=udp://x", "not a ZeroMQ address"),
            ("http://a:1,node=x", "not a whole number"), ("http://a:1,node=4096", "outside 0...4095"),
            ("http://a:1,color=red", "unknown key 'color'"), ("http://a:1,node=1,node=2", "given twice"),
            ("http://a:1,replay=tcp://a:2", "replay= needs events="), ("http://a:1?x=1", "no query"), ("http://a:1,nodes", "KEY=VALUE"),
            ("http://a:1,dp=0", "dp=0 is outside 1...1024"), ("http://a:1,node=4094,dp=4", "its ranks are nodes 4094...4097"),
            ("http://a:1,events=tcp://a:65534,dp=4", "must stay within 65535"), ("http://a:1,events=tcp://a,dp=2", "needs a port"),
        ] {
            #expect(throws: GatewayError.self, "\(text)") { try EngineSpec(parsing: text, defaultNode: 0) }
            do { _ = try EngineSpec(parsing: text, defaultNode: 0) } catch { #expect("\(error)".contains(message), "\(text): \(error)") }
        }
    }

    @Test("the usage scanner finds cached and prompt tokens across chunk boundaries, never inside strings")
    func usageScanner() {
        let sse = """
            data: {"choices":[{"text":"say \\"cached_tokens\\": 99"}]}

            data: {"usage":{"prompt_tokens": 120,"prompt_tokens_details":{"cached_tokens":96}}}

            data: [DONE]

            """
        let bytes = Array(sse.utf8)
        for chunk in [1, 2, 3, 7, 64, bytes.count] {
            var scanner = _UsageScanner()
            var i = 0
            while i < bytes.count {
                scanner.feed(bytes[i..<min(i + chunk, bytes.count)])
                i += chunk
            }
            #expect(scanner.cachedTokens == 96, "chunks of \(chunk)")
            #expect(scanner.promptTokens == 120, "chunks of \(chunk)")
        }
        var none = _UsageScanner()
        none.feed(Array(#"{"usage":{"prompt_tokens":5,"prompt_tokens_details":null}}"#.utf8))
        #expect(none.cachedTokens == nil && none.promptTokens == 5)
        // bytes fed as they are stored (passing over text between quotes) and one at a time
        // through a sequence with no contiguous storage agree, on bodies with keys cut short
        var rng = SeededGenerator(seed: 0x05A6)
        let parts = [#""cached_tokens""#, #""prompt_tokens""#, ": ", ":", "12", "7 ", ",", "\"", "\"", "x", " ", "\n", "{", "}", "\"cach"]
        for _ in 0..<2_000 {
            let body = Array((0..<Int.random(in: 1...24, using: &rng)).map { _ in parts.randomElement(using: &rng)! }.joined().utf8)
            var contiguous = _UsageScanner(), stepped = _UsageScanner()
            contiguous.feed(body)
            stepped.feed(body.lazy.map { $0 })
            #expect(contiguous.cachedTokens == stepped.cachedTokens && contiguous.promptTokens == stepped.promptTokens)
        }
    }

    @Test("the LRU cache keeps at most its entries and its weight, dropping the least recently used")
    func lruCache() {
        var c = _LRUCache<String, [Int]>(capacity: 3, maximumWeight: 10)
        c.insert([1], for: "a", weight: 1)
        c.insert([2], for: "b", weight: 1)
        c.insert([3], for: "c", weight: 1)
        #expect(c.value(for: "a") == [1])  // a is now the newest
        c.insert([4], for: "d", weight: 1)  // drops b
        #expect(c.value(for: "b") == nil && c.count == 3)
        c.insert(Array(0..<9), for: "e", weight: 9)  // weight 12 > 10: drops the oldest until it fits
        #expect(c.weight <= 10 && c.value(for: "e") != nil)
        c.insert(Array(0..<11), for: "huge", weight: 11)  // never fits: not kept
        #expect(c.value(for: "huge") == nil && c.weight <= 10)
        #expect(c.hits >= 2 && c.misses >= 2)
    }

    @Test("the caching tokenizer asks its base once per prompt and model")
    func cachingTokenizer() async throws {
        let base = CountingTokenizer()
        let t = CachingTokenizer(base, maximumEntries: 2, maximumTokens: 1_000)
        for _ in 0..<3 { #expect(try await t.tokens(for: .text("hello"), model: "m") == Array("hello".utf8).map(UInt32.init)) }
        _ = try await t.tokens(for: .text("hello"), model: "other")
        _ = try await t.tokens(for: .tokens([1, 2]), model: nil)
        #expect(base.calls.withLock { $0 } == 2)
        #expect(t.statistics.hits == 2)
    }

    @Test("request bodies: the routing fields are read; each wrong field is named")
    func requests() throws {
        let chat = try OpenAIRequest(
            body: Data(
                #"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true,"max_completion_tokens":7,"cache_salt":"s"}"#.utf8),
            endpoint: .chatCompletions)
        #expect(chat.model == "m" && chat.stream && chat.maxTokens == 7 && chat.cacheSalt == "s")
        guard case .chat(let fields) = chat.prompt else { Issue.record("not a chat prompt"); return }
        #expect(fields.messages.count == 1 && fields.addGenerationPrompt)
        let ids = try OpenAIRequest(body: Data(#"{"prompt":[0,1,4294967295],"max_tokens":0}"#.utf8), endpoint: .completions)
        #expect(ids.prompt == .tokens([0, 1, 4_294_967_295]))
        let spaced = try OpenAIRequest(body: Data(#" {"model":"m", "prompt" : [ 3 , 4 ] ,"max_tokens":2} "#.utf8), endpoint: .completions)
        #expect(spaced.prompt == .tokens([3, 4]) && spaced.model == "m" && spaced.maxTokens == 2)
        let batch = try OpenAIRequest(body: Data(#"{"prompt":[[5,6],[7]]}"#.utf8), endpoint: .completions)
        #expect(batch.prompt == .tokens([5, 6]))
        #expect(try OpenAIRequest(body: Data(#"{"prompt":"text"}"#.utf8), endpoint: .completions).prompt == .text("text"))
        for (body, endpoint, param) in [
            ("[1]", OpenAIEndpoint.completions, nil), ("{", .completions, nil), (#"{"max_tokens":1}"#, .completions, "prompt"),
            (#"{"prompt":[1,true]}"#, .completions, "prompt"), (#"{"prompt":[-1]}"#, .completions, "prompt"),
            (#"{"prompt":[4294967296]}"#, .completions, "prompt"), (#"{"prompt":[1.5]}"#, .completions, "prompt"),
            (#"{"prompt":[]}"#, .completions, "prompt"), (#"{"prompt":"x","max_tokens":-1}"#, .completions, "max_tokens"),
            (#"{"prompt":"x","model":7}"#, .completions, "model"), (#"{"messages":[]}"#, .chatCompletions, "messages"),
            (#"{"prompt":"x","stream":"yes"}"#, .completions, "stream"), (#"{"prompt":[[5,true]]}"#, .completions, "prompt"),
            (#"{"prompt":[[]]}"#, .completions, "prompt"), (#"{"prompt":["a",1]}"#, .completions, "prompt"),
            (#"{"prompt":[1e30]}"#, .completions, "prompt"), (#"{"prompt":"x","max_tokens":1.5}"#, .completions, "max_tokens"),
            (#"{"prompt":7}"#, .completions, "prompt"), (#"{"prompt":[1],"x":tru}"#, .completions, nil),
            (#"{"prompt":[1],"model":7}"#, .completions, "model"), (#"{"messages":[1,2]}"#, .chatCompletions, "messages"),
            (#"{"messages":[{"content":"x"}]}"#, .chatCompletions, "messages"), ("{", .chatCompletions, nil),
            (#"{"messages":[{"role":"user","content":"x"}],"stream":1}"#, .chatCompletions, "stream"),
            (#"{"messages":[{"role":"user","content":"x"}],"max_tokens":-2}"#, .chatCompletions, "max_tokens"),
            (#"{"messages":[{"role":"user","content":"x"}],"tools":[1]}"#, .chatCompletions, "tools"),
        ] {
            do {
                _ = try OpenAIRequest(body: Data(body.utf8), endpoint: endpoint)
                Issue.record("\(body) was accepted")
            } catch {
                #expect(error.status == .badRequest, "\(body)")
                #expect(error.param == param, "\(body): \(error.message)")
            }
        }
    }

    @Test("the completion scan accepts the JSON Foundation accepts (less its trailing commas) and reads the same fields")
    func completionScanAgainstFoundation() throws {
        var rng = SystemRandomNumberGenerator()
        let extras = [
            #""temperature":0.7"#, #""stop":["\n","</s>"]"#, #""logit_bias":{"50256":-100}"#, #""user":"caf\u00e9 \u4e2d""#,
            #""echo":false"#, #""n":1e0"#, #""nested":[[{"a":[null,true,-0.5E+3]}]]"#, #""s":"tab\tquote\"slash\/""#,
        ]
        let prompts = [#""hello \"world\"""#, "[1,2,3]", #"["a","b"]"#, "[[4,5],[6]]", #""\u00e9t\u00e9""#, "[ 7 , 8 ]"]
        let escaped = try OpenAIRequest(body: Data(#"{"prompt":"\ud83d\ude00 caf\u00e9\n\"q\""}"#.utf8), endpoint: .completions)
        #expect(escaped.prompt == .text("😀 café\n\"q\""))
        for _ in 0..<1000 {
            var members = extras.shuffled(using: &rng).prefix(Int.random(in: 0...extras.count, using: &rng)).map { $0 }
            members.append(#""prompt":"# + prompts.randomElement(using: &rng)!)
            if Bool.random(using: &rng) { members.append(#""model":"m\u0031""#) }
            if Bool.random(using: &rng) { members.append(#""max_tokens":16"#) }
            members.shuffle(using: &rng)
            var body = Array("{" + members.joined(separator: ",") + "}").map { String($0) }
            // Now and then one character is dropped or doubled: the two must still agree.
            if Int.random(in: 0..<3, using: &rng) == 0 {
                let k = Int.random(in: 0..<body.count, using: &rng)
                // (Not a backslash: a broken escape pair is Foundation's and Python's to differ on.)
                if body[k] == "\\" { continue }
                if Bool.random(using: &rng) { body.remove(at: k) } else { body.insert(body[k], at: k) }
            }
            let text = body.joined()
            let data = Data(text.utf8)
            var reference = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
            // Foundation takes a trailing comma; RFC 8259, and the engines' Python parser, do not.
            if text.range(of: #",\s*[\]}]"#, options: .regularExpression) != nil { reference = nil }
            let scanned = try? data.withUnsafeBytes { raw in Result { () throws(RequestError) in try _CompletionFields(raw) } }.get()
            guard let reference else {
                #expect(scanned == nil, "accepted what Foundation refuses: \(text)")
                continue
            }
            guard let scanned else {
                // Valid JSON refused: only for a field of the wrong shape.
                let prompt = reference["prompt"]
                let fine = prompt is String || (prompt as? [Any])?.isEmpty == false
                #expect(!fine || reference["model"].map { !($0 is String) } == true, "refused valid JSON: \(text)")
                continue
            }
            #expect(scanned.model == reference["model"] as? String, "\(text)")
            #expect(scanned.maxTokens == (reference["max_tokens"] as? NSNumber)?.intValue, "\(text)")
            switch (scanned.prompt, reference["prompt"]) {
            case (.text(let a)?, let b as String): #expect(a == b, "\(text)")
            case (.text(let a)?, let b as [String]): #expect(a == b[0], "\(text)")
            case (.tokens(let a)?, let b as [[NSNumber]]): #expect(a == b[0].map(\.uint32Value), "\(text)")
            case (.tokens(let a)?, let b as [NSNumber]): #expect(a == b.map(\.uint32Value), "\(text)")
            case (nil, nil): break
            default: Issue.record("the prompts differ: \(text)")
            }
        }
    }

    @Test("the session table: bounded by entries (least recently used forgotten) and by age")
    func sessionTable() {
        let t0 = ContinuousClock.now
        let table = _SessionTable(entries: 2, timeToLive: .seconds(10))
        table.record("a", node: 1, now: t0)
        table.record("b", node: 2, now: t0)
        #expect(table.node(of: "a", now: t0) == 1)  // a is now the more recently used
        table.record("c", node: 3, now: t0)  // b goes
        #expect(table.node(of: "b", now: t0) == nil && table.node(of: "c", now: t0) == 3 && table.count == 2)
        #expect(table.node(of: "a", now: t0 + .seconds(10)) == 1)
        #expect(table.node(of: "a", now: t0 + .seconds(11)) == nil, "older than its time to live")
        table.record("a", node: 4, now: t0 + .seconds(11))
        #expect(table.node(of: "a", now: t0 + .seconds(12)) == 4)
    }

    @Test("session settings out of range are refused, naming the flag")
    func sessionSettings() throws {
        var c = GatewayConfiguration()
        c.engines = [try EngineSpec(url: "http://a:1", node: 0)]
        for change in [
            { (c: inout GatewayConfiguration) in c.sessionHeader = "bad header" }, { $0.sessionEntries = 0 },
            { $0.sessionTTL = .zero }, { $0.sessionMaximumImbalance = -1 },
        ] {
            var d = c
            change(&d)
            #expect(throws: GatewayError.self) { try d.validate() }
        }
        c.sessionHeader = "x-session-id"
        try c.validate()
    }

    @Test("an engine's headers reach the client less those of one hop, in any spelling, with the routing headers")
    func clientHeaders() {
        let engine: HTTPHeaders = [
            "Content-Type": "text/event-stream", "connection": "keep-alive", "Transfer-Encoding": "chunked",
            "KEEP-ALIVE": "timeout=5", "Content-Length": "12", "x-custom": "1", "Date": "today", "TE": "trailers",
        ]
        let response = _UpstreamResponse(status: .ok, headers: engine, body: .whole(ByteBuffer()))
        let headers = Gateway.clientHeaders(of: response, node: 3, predicted: 32)
        #expect(
            headers.map(\.name) == ["Content-Type", "x-custom", "Date", "x-kvcache-node", "x-kvcache-predicted-cached-tokens"])
        #expect(headers.first(name: "x-kvcache-node") == "3" && headers.first(name: "content-type") == "text/event-stream")
    }

    @Test("a wrong item in a prompt is named by its place")
    func promptItemNamed() {
        for (body, place) in [(#"{"prompt":[1,true]}"#, "'prompt[1]'"), (#"{"prompt":[[5],[6,-2]]}"#, "'prompt[1][1]'")] {
            do {
                _ = try OpenAIRequest(body: Data(body.utf8), endpoint: .completions)
                Issue.record("\(body) was accepted")
            } catch {
                #expect(error.message.hasPrefix(place), "\(body): \(error.message)")
            }
        }
    }

    @Test("the /tokenize answer scan reads what JSONDecoder reads, and defers to it on anything else")
    func tokenizeAnswerScan() throws {
        struct Plain: Decodable { var tokens: [UInt32] }
        let answers = [
            #"{"count":3,"max_model_len":4096,"tokens":[1,20,4294967295],"token_strs":null}"#,
            #" { "tokens" : [ 0 , 7 ] , "x" : { "tokens": ["]", "\"}"], "y": [[1], {}] } } "#,
            #"{"a":"tokens\\","tokens":[]}"#, #"{"tokens":[5],"b":-1.5e3,"c":true,"d":"\u005d"}"#,
            #"{"tokens":[1,-2]}"#, #"{"tokens":[4294967296]}"#, #"{"tokens":[1.0]}"#, #"{"tokens":[01]}"#,
            #"{"tokens":[1]"#, #"{"count":1}"#, #"[1,2]"#, #"{"tokens":[1],"tokens":[2]}"#, #"{"tokens":[1]} x"#, "",
            #"{"tokens":[1,2,]}"#, #"{"tokens":[true]}"#,
        ]
        for text in answers {
            let data = Data(text.utf8)
            let expected = try? JSONDecoder().decode(Plain.self, from: data).tokens
            let scanned = data.withUnsafeBytes { _scanTokenIDs($0, member: "tokens") }
            if let scanned { #expect(scanned == expected, "\(text)") }
            #expect((try? _TokenizeAnswer.tokens(in: data)) == expected, "\(text)")
        }
        // The common shape is read by the scan itself, not by the fallback.
        var rng = SystemRandomNumberGenerator()
        for count in [0, 1, 1_000, 20_000] {
            let ids = (0..<count).map { _ in UInt32.random(in: 0...UInt32.max, using: &rng) }
            let data = try JSONSerialization.data(withJSONObject: ["count": count, "max_model_len": 1 << 20, "tokens": ids])
            #expect(data.withUnsafeBytes { _scanTokenIDs($0, member: "tokens") } == ids)
        }
    }

    @Test("the admission gate admits up to its limit, queues up to its queue, refuses beyond, and times out")
    func admissionGate() async throws {
        let gate = AdmissionGate(limit: 2, queueLimit: 1, timeout: .milliseconds(200))
        #expect(await gate.enter() == .admitted)
        #expect(await gate.enter() == .admitted)
        async let queued = gate.enter()
        try await Task.sleep(for: .milliseconds(50))
        #expect(gate.load.queued == 1)
        #expect(await gate.enter() == .queueFull)
        gate.leave()
        #expect(await queued == .admitted)
        #expect(await gate.enter() == .timedOut)
        gate.leave()
        gate.leave()
        #expect(gate.load == (0, 0))
    }

    @Test("adapters are the model cards that name a parent; the context length is the base model's")
    func adapters() {
        let body = Data(
            #"{"object":"list","data":[{"id":"base","parent":null,"max_model_len":4096},{"id":"sql","parent":"base"},{"id":"x"}]}"#.utf8)
        #expect(Gateway.modelInfo(inModelList: body).adapters == ["sql"])
        #expect(Gateway.modelInfo(inModelList: body).maximumModelLength == 4096)
        #expect(Gateway.modelInfo(inModelList: Data("nope".utf8)).adapters.isEmpty)
    }

    @Test("settings are checked together")
    func configuration() throws {
        var c = GatewayConfiguration()
        #expect(throws: GatewayError.self) { try c.validate() }
        c.engines = [try EngineSpec(url: "http://a:1", node: 0), try EngineSpec(url: "http://b:1", node: 0)]
        #expect(throws: GatewayError.self) { try c.validate() }
        c.engines[1].node = 1
        try c.validate()
        // Ranks are nodes: an engine with dp=2 at node 0 holds node 1 too.
        c.engines[0].dataParallelSize = 2
        #expect(throws: GatewayError.self) { try c.validate() }
        c.engines[1].node = 2
        try c.validate()
        // Prefill and decode engines come together, and without whole ones.
        c.engines[0].role = .prefill
        #expect(throws: GatewayError.self) { try c.validate() }
        c.engines[1].role = .decode
        try c.validate()
        #expect(c.isDisaggregated)
        c.engines.append(try EngineSpec(url: "http://c:1", node: 3))
        #expect(throws: GatewayError.self) { try c.validate() }
    }
}

/// A tokenizer that counts its calls: one token per UTF-8 byte.
final class CountingTokenizer: Tokenizer {
    let calls = Mutex(0)
    func tokens(for input: PromptInput, model: String?) async throws -> [UInt32] {
        calls.withLock { $0 += 1 }
        guard case .text(let s) = input else { return [] }
        return Array(s.utf8).map(UInt32.init)
    }
}

@Suite("prefill/decode request rewriting")
struct DisaggregationRewriteTests {
    /// What vLLM's disaggregation proxy sends the prefill engine, built from the parsed request.
    static func proxyPrefillRequest(_ request: [String: Any]) -> [String: Any] {
        var r = request
        r["kv_transfer_params"] = [
            "do_remote_decode": true, "do_remote_prefill": false, "remote_engine_id": NSNull(), "remote_block_ids": NSNull(),
            "remote_host": NSNull(), "remote_port": NSNull(),
        ]
        r["stream"] = false
        r["max_tokens"] = 1
        if r["max_completion_tokens"] != nil { r["max_completion_tokens"] = 1 }
        r["stream_options"] = nil
        r["min_tokens"] = nil
        return r
    }

    @Test("the prefill-only copy is the proxy's; the decode copy is the request with the prefill's parameters")
    func rewrite() throws {
        let body =
            #"{"model":"m","prompt":"a \"quoted\" text","stream":true,"stream_options":{"include_usage":true},"#
            + #""max_tokens":64,"max_completion_tokens":64,"min_tokens":4,"temperature":0.1000,"kv_transfer_params":{"x":1}}"#
        let members = try _JSONMembers(ByteBuffer(string: body))
        let adding: [(key: String, json: ByteBuffer)] = [
            ("kv_transfer_params", Gateway.prefillTransferParameters), ("stream", ByteBuffer(string: "false")),
            ("max_tokens", ByteBuffer(string: "1")), ("max_completion_tokens", ByteBuffer(string: "1")),
        ]
        let prefill = members.rewritten(removing: Gateway.prefillOnlyMembers, adding: adding)
        let parsed = try JSONSerialization.jsonObject(with: Data(buffer: prefill)) as! NSDictionary
        let original = try JSONSerialization.jsonObject(with: Data(body.utf8)) as! [String: Any]
        #expect(parsed == Self.proxyPrefillRequest(original) as NSDictionary)
        // Members left alone are passed on as written (0.1000 stays 0.1000).
        #expect(String(buffer: prefill).contains(#""temperature":0.1000"#))

        let answer = try _JSONMembers(ByteBuffer(string: #"{"id":"x","kv_transfer_params" : {"remote_block_ids":[1,2]} }"#))
        let transfer = try #require(answer.value(of: "kv_transfer_params"))
        #expect(String(buffer: transfer) == #"{"remote_block_ids":[1,2]}"#)
        let decode = members.rewritten(removing: ["kv_transfer_params"], adding: [("kv_transfer_params", transfer)])
        var expected = original
        expected["kv_transfer_params"] = ["remote_block_ids": [1, 2]]
        #expect(try JSONSerialization.jsonObject(with: Data(buffer: decode)) as! NSDictionary == expected as NSDictionary)
        #expect(String(buffer: decode).hasPrefix(#"{"model":"m","prompt":"a \"quoted\" text","stream":true,"#))

        for bad in ["[1]", "{\"a\":}", "{\"a\":1} x", ""] {
            #expect(throws: RequestError.self, "\(bad)") { try _JSONMembers(ByteBuffer(string: bad)) }
        }
    }
}

@Suite("engine load reports")
struct EngineLoadReadingTests {
    @Test("vLLM's and SGLang's gauges are read per data-parallel rank; other metrics and bad values are skipped")
    func reading() throws {
        let vllm = """
            # HELP vllm:num_requests_running Number of requests in model execution batches.
            # TYPE vllm:num_requests_running gauge
            vllm:num_requests_running{engine="0",model_name="m"} 3.0
            vllm:num_requests_running{engine="1",model_name="m"} 1.0
            vllm:num_requests_running_total{engine="1",model_name="m"} 99.0
            vllm:num_requests_waiting{engine="0",model_name="m"} 2.0
            vllm:num_requests_waiting{engine="1",model_name="m"} NaN
            vllm:kv_cache_usage_perc{engine="1",model_name="m"} 0.25
            vllm:num_requests_waiting{engine="7",model_name="m"} -4
            """
        let r = try #require(_EngineLoadReading(prometheus: Substring(vllm)))
        #expect(r.ranks[0] == .init(running: 3, waiting: 2, kvCacheUsage: nil))
        #expect(r.ranks[1] == .init(running: 1, waiting: 0, kvCacheUsage: 0.25))
        #expect(r.ranks[7] == nil)
        let sglang = "sglang:num_running_reqs{model_name=\"m\"} 5\nsglang:num_queue_reqs{model_name=\"m\"} 1\nsglang:token_usage 0.5\n"
        #expect(_EngineLoadReading(prometheus: Substring(sglang))?.ranks[0] == .init(running: 5, waiting: 1, kvCacheUsage: 0.5))
        #expect(_EngineLoadReading(prometheus: "process_cpu_seconds_total 1.0\n") == nil)
    }
}
