import Foundation
import Hummingbird
import HummingbirdTesting
import KVCacheTemplates
import NIOCore
import Testing

@testable import KVCacheGateway

/// The request path in process (HummingbirdTesting's router framework): what the gateway
/// answers by itself, before or instead of an engine.
@Suite("kvcache-gateway request path, in process")
struct GatewayRequestPathTests {
    /// Runs `body` with a gateway of the fixture model (Llama 3.1's template unless `template`
    /// is given) in front of an engine that refuses connections, then shuts it down.
    func withGateway(template: String? = nil, _ body: (Gateway) async throws -> Void) async throws {
        let g = try gateway(template: template)
        do { try await body(g) } catch {
            await g.shutdown()
            throw error
        }
        await g.shutdown()
    }

    func gateway(template: String? = nil) throws -> Gateway {
        var c = GatewayConfiguration()
        c.engines = [try EngineSpec(url: "http://127.0.0.1:9", node: 0)]
        c.maximumAttempts = 1
        let model = try ModelTokenizer(contentsOf: templateModel)
        if let template {
            c.model = ModelTokenizer(
                tokenizer: model.tokenizer, chatTemplate: try ChatTemplate(template, specialTokens: ["bos_token": .string("<s>")]))
        } else {
            c.model = model
        }
        return try Gateway(configuration: c)
    }

    func post(
        _ app: some ApplicationProtocol, _ uri: String, _ body: String
    ) async throws -> (status: HTTPResponse.Status, json: TemplateValue) {
        try await app.test(.router) { client in
            try await client.execute(uri: uri, method: .post, body: ByteBuffer(string: body)) { response in
                (response.status, (try? TemplateValue(json: response.body.readableBytesView)) ?? .null)
            }
        }
    }

    @Test("a malformed chat body is a 400 with an OpenAI-style error naming the field")
    func malformed() async throws {
        try await withGateway { g in try await malformed(g.application()) }
    }

    func malformed(_ app: some ApplicationProtocol) async throws {
        for (body, param) in [
            (#"{"messages": [1, 2]}"#, "messages"), (#"{"messages": [{"content": "x"}]}"#, "messages"),
            (#"{"messages": [{"role": "user", "content": "x"}], "tools": "t"}"#, "tools"), (#"{"messages""#, nil),
            (#"{"messages": [{"role": "user", "content": "x"}], "max_tokens": "3"}"#, "max_tokens"),
        ] {
            let (status, json) = try await post(app, "/v1/chat/completions", body)
            #expect(status == .badRequest, "\(body)")
            #expect(json["error"]?["type"] == .string("invalid_request_error"), "\(body)")
            #expect(json["error"]?["param"] == (param.map(TemplateValue.string) ?? .null), "\(body)")
            #expect(json["error"]?["code"] == .int(400))
        }
    }

    @Test("a conversation the template refuses is a 400 with the template's message")
    func templateRefuses() async throws {
        let template = """
            {% for m in messages %}{% if (m['role'] == 'user') != (loop.index0 % 2 == 0) %}\
            {{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}\
            [{{ m['content'] }}]{% endfor %}
            """
        try await withGateway(template: template) { g in
            let (status, json) = try await post(
                g.application(), "/v1/chat/completions",
                #"{"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}"#)
            #expect(status == .badRequest)
            #expect(json["error"]?["message"]?.stringValue?.contains("Conversation roles must alternate") == true)
        }
    }

    @Test("a valid request whose engine is unreachable is a 502 naming the engine")
    func unreachable() async throws {
        try await withGateway { g in
            let (status, json) = try await post(
                g.application(), "/v1/chat/completions", #"{"messages": [{"role": "user", "content": "hi"}]}"#)
            #expect(status == .badGateway)
            #expect(json["error"]?["message"]?.stringValue?.contains("no engine answered") == true)
        }
    }

    @Test("POST /tokenize answers the model's ids for a prompt and for chat, as vLLM shapes the answer")
    func tokenize() async throws {
        try await withGateway { g in try await tokenize(g) }
    }

    func tokenize(_ g: Gateway) async throws {
        let app = g.application()
        let model = try #require(g.configuration.model)
        let text = "Grüße 🚀 tokens"
        let (s1, j1) = try await post(app, "/tokenize", #"{"prompt": "\#(text)"}"#)
        #expect(s1 == .ok)
        #expect(j1["tokens"] == .array(model.encode(text: text).map { .int(Int($0)) }))
        #expect(j1["count"] == .int(model.encode(text: text).count))
        #expect(j1["max_model_len"] == .int(131_072))
        let chat = #"{"messages": [{"role": "user", "content": "hi"}], "add_generation_prompt": false}"#
        let (s2, j2) = try await post(app, "/tokenize", chat)
        #expect(s2 == .ok)
        let expected = try model.encode(chat: ChatRequest(body: TemplateValue(json: Array(chat.utf8))))
        #expect(j2["tokens"] == .array(expected.map { .int(Int($0)) }))
        // A prompt long enough to be tokenized on the thread pool gives the same ids.
        let long = String(repeating: "Grüße aus Köln, a long prompt 🚀 ", count: 4_000)
        let (s3, j3) = try await post(app, "/tokenize", #"{"prompt": "\#(long)"}"#)
        #expect(s3 == .ok && long.utf8.count >= InProcessTokenizer.offloadBytes)
        #expect(j3["tokens"] == .array(model.encode(text: long).map { .int(Int($0)) }))
        for (body, param) in [
            (#"{"prompt": 3}"#, "prompt"), (#"{"messages": "x"}"#, "messages"),
            (#"{"prompt": "x", "add_special_tokens": 1}"#, "add_special_tokens"),
        ] {
            let (status, json) = try await post(app, "/tokenize", body)
            #expect(status == .badRequest, "\(body)")
            #expect(json["error"]?["param"] == .string(param), "\(body)")
        }
    }
}
