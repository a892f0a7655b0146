import Foundation
import Testing

/// Whether Python has `transformers`, which the engine doubles tokenize and render chat
/// templates with when given a model directory.
let haveTransformers = pythonImports("transformers")

/// A conversation of `turns` user turns, each answered, about a shared document.
func conversation(turns: Int, topic: String) -> [[String: Any]] {
    var messages: [[String: Any]] = [
        ["role": "system", "content": String(repeating: "You answer questions about KV caches, briefly. ", count: 6)]
    ]
    for t in 0..<turns {
        messages.append(["role": "user", "content": "\(topic) question \(t): why does prefix reuse help? ✓"])
        if t < turns - 1 { messages.append(["role": "assistant", "content": "Answer \(t): it skips recomputing the prefix."]) }
    }
    return messages
}

/// A conversation Llama 3.1's template refuses: two tool calls in one message.
var twoToolCalls: [[String: Any]] {
    [
        ["role": "user", "content": "Weather in Paris and Rome?"],
        [
            "role": "assistant", "content": "",
            "tool_calls": [
                ["id": "a", "type": "function", "function": ["name": "get_weather", "arguments": "{\"city\": \"Paris\"}"]],
                ["id": "b", "type": "function", "function": ["name": "get_weather", "arguments": "{\"city\": \"Rome\"}"]],
            ],
        ],
    ]
}

@Suite(
    "kvcache-gateway with a real chat template", .serialized,
    .enabled(if: haveEngineDoubles && haveTransformers, "needs Python's pyzmq, msgspec and transformers"))
struct GatewayChatTests {
    func engines(_ n: Int, _ extra: [String] = []) async throws -> [EngineDouble] {
        var out: [EngineDouble] = []
        for _ in 0..<n { out.append(try await EngineDouble(["--model-dir", templateModel.path] + extra)) }
        return out
    }

    @Test("--tokenizer DIR: chat is rendered and tokenized in process exactly as the engine does, turn after turn")
    func chatInProcess() async throws {
        // The engines answer no /tokenize: every id the gateway routes by is its own.
        let engines = try await engines(2, ["--no-tokenize"])
        let gateway = try await GatewayProcess(engines: engines, ["--tokenizer", templateModel.path])
        var holder: String?
        for turns in 1...4 {
            let a = try await Loopback.post(
                gateway.url + "/v1/chat/completions", json: ["messages": conversation(turns: turns, topic: "a"), "max_tokens": 2])
            #expect(a.status == 200, "\(a.text)")
            let predicted = Int(a.header("x-kvcache-predicted-cached-tokens") ?? "") ?? -1
            if turns == 1 {
                holder = a.header("x-kvcache-node")
            } else {
                #expect(a.header("x-kvcache-node") == holder, "the conversation stays where its prefix is")
                #expect(predicted > 0)
                #expect(a.cachedTokens == predicted, "the engine's tokens are the gateway's")
            }
            try await Task.sleep(for: .milliseconds(150))
        }
        // The template's refusal is the client's 400, with the template's message.
        let refused = try await Loopback.post(gateway.url + "/v1/chat/completions", json: ["messages": twoToolCalls])
        #expect(refused.status == 400)
        #expect(refused.text.contains("only supports single tool-calls"))
        // Malformed messages: 400 naming the field, before any work.
        let malformed = try await Loopback.post(gateway.url + "/v1/chat/completions", json: ["messages": [1, 2]])
        #expect(malformed.status == 400)
        #expect(((malformed.json["error"] as? [String: Any])?["param"] as? String) == "messages")
    }

    @Test("POST /tokenize answers the ids the engines compute, for chat and text")
    func tokenizeEndpoint() async throws {
        let engine = try await engines(1)[0]
        let gateway = try await GatewayProcess(engines: [engine], ["--tokenizer", templateModel.path])
        let bodies: [[String: Any]] = [
            ["messages": conversation(turns: 3, topic: "t")],
            ["messages": conversation(turns: 1, topic: "u"), "add_generation_prompt": false],
            ["messages": conversation(turns: 2, topic: "v"), "add_special_tokens": true],
            ["prompt": "Grüße aus Köln 🚀 — plain text"],
            ["prompt": "no specials", "add_special_tokens": false],
        ]
        for body in bodies {
            let mine = try await Loopback.post(gateway.url + "/tokenize", json: body)
            let theirs = try await Loopback.post(engine.url + "/tokenize", json: body)
            #expect(mine.status == 200 && theirs.status == 200)
            #expect(mine.json["tokens"] as? [Int] == theirs.json["tokens"] as? [Int], "\(body)")
            #expect(mine.json["count"] as? Int == (theirs.json["tokens"] as? [Int])?.count)
        }
        let bad = try await Loopback.post(gateway.url + "/tokenize", json: ["prompt": 5])
        #expect(bad.status == 400)
    }

    @Test("without --tokenizer: the engines tokenize, an engine's 400 is the client's 400, and POST /tokenize is theirs")
    func engineTokenize() async throws {
        let engines = try await engines(2)
        let gateway = try await GatewayProcess(engines: engines)
        let ok = try await Loopback.post(gateway.url + "/v1/chat/completions", json: ["messages": conversation(turns: 2, topic: "e")])
        #expect(ok.status == 200)
        let refused = try await Loopback.post(gateway.url + "/v1/chat/completions", json: ["messages": twoToolCalls])
        #expect(refused.status == 400, "\(refused.text)")
        #expect(refused.text.contains("only supports single tool-calls"))
        let proxied = try await Loopback.post(gateway.url + "/tokenize", json: ["messages": conversation(turns: 1, topic: "p")])
        let direct = try await Loopback.post(engines[0].url + "/tokenize", json: ["messages": conversation(turns: 1, topic: "p")])
        #expect(proxied.status == 200 && proxied.json["tokens"] as? [Int] == direct.json["tokens"] as? [Int])
    }

    @Test("engines' /tokenize answers are cached by prompt; a cache of 0 prompts asks every time")
    func tokenizeCache() async throws {
        for (arguments, calls) in [([String](), 1), (["--tokenizer-cache-entries", "0"], 3)] {
            let engines = try await engines(1)
            let gateway = try await GatewayProcess(engines: engines, arguments)
            for _ in 0..<3 {
                let a = try await Loopback.post(
                    gateway.url + "/v1/chat/completions", json: ["messages": conversation(turns: 1, topic: "c")])
                #expect(a.status == 200)
            }
            #expect(try await engines[0].stats()["tokenize"] as? Int == calls, "\(arguments)")
        }
    }

    @Test("an engine that tokenizes is killed mid-run: no request fails")
    func tokenizingEngineKilled() async throws {
        let engines = try await engines(3)
        let gateway = try await GatewayProcess(engines: engines)
        let failures = try await withThrowingTaskGroup(of: Int.self) { group in
            for worker in 0..<4 {
                group.addTask {
                    var failed = 0
                    for i in 0..<15 {
                        let a = try await Loopback.post(
                            gateway.url + "/v1/chat/completions",
                            json: ["messages": conversation(turns: 1 + i % 3, topic: "w\(worker)-\(i)"), "max_tokens": 2])
                        if a.status != 200 { failed += 1 }
                    }
                    return failed
                }
            }
            try await Task.sleep(for: .milliseconds(400))
            engines[0].child.signal(SIGKILL)
            var total = 0
            for try await f in group { total += f }
            return total
        }
        #expect(failures == 0)
    }
}
