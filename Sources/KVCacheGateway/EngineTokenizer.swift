import AsyncHTTPClient
import Foundation

/// Tokenizes through an engine's own `POST /tokenize` (vLLM's endpoint), so the gateway's
/// tokens are exactly the engine's (chat template included) without a tokenizer in process.
public struct EngineTokenizer: Tokenizer {
    /// The base URL of an engine that can answer now, or `nil` when none can.
    public typealias EngineChooser = @Sendable () -> String?

    let exchange: _JSONExchange
    let chooseEngine: EngineChooser

    /// Creates a tokenizer over `client`.
    /// - Parameters:
    ///   - client: The HTTP client to call engines with.
    ///   - timeout: How long one `/tokenize` call may take.
    ///   - chooseEngine: Which engine to ask, called once per prompt.
    public init(client: HTTPClient, timeout: Duration = .seconds(10), chooseEngine: @escaping EngineChooser) {
        self.init(clients: _UpstreamClients(client), timeout: timeout, chooseEngine: chooseEngine)
    }

    init(clients: _UpstreamClients, timeout: Duration, chooseEngine: @escaping EngineChooser) {
        exchange = _JSONExchange(clients: clients, timeout: timeout, maximumBytes: 256 << 20)
        self.chooseEngine = chooseEngine
    }

    public func tokens(for input: PromptInput, model: String?) async throws -> [UInt32] {
        guard let engine = chooseEngine() else { throw TokenizerError("no healthy engine to tokenize with") }
        let body: Data
        switch input {
        case .tokens(let ids): return ids
        case .text(let text): body = try JSONEncoder().encode(_TextTokenizeRequest(prompt: text, model: model))
        case .chat(let json):
            guard var fields = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
                throw TokenizerError("chat fields are not a JSON object")
            }
            if let model { fields["model"] = model }
            body = try JSONSerialization.data(withJSONObject: fields)
        }
        let url = engine + "/tokenize"
        let (status, answer) = try await exchange.call(url, body: body)
        guard status == 200 else { throw TokenizerError("\(url) answered \(status)") }
        do {
            return try _TokenizeAnswer.tokens(in: answer)
        } catch {
            throw TokenizerError("\(url) answered with an unexpected body (\(_JSONExchange.reason(error)))")
        }
    }
}

/// vLLM's `/tokenize` request for a text prompt.
struct _TextTokenizeRequest: Encodable {
    var prompt: String
    var model: String?
}
