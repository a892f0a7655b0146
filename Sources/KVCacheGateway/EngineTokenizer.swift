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
        exchange = _JSONExchange(client: client, timeout: timeout, maximumBytes: 256 << 20)
        self.chooseEngine = chooseEngine
    }

    public func tokens(for input: PromptInput, model: String?) async throws -> [UInt32] {
        guard let engine = chooseEngine() else { throw TokenizerError("no healthy engine to tokenize with") }
        var fields: [String: Any]
        switch input {
        case .tokens(let ids): return ids
        case .text(let text): fields = ["prompt": text]
        case .chat(let json):
            guard let parsed = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
                throw TokenizerError("chat fields are not a JSON object")
            }
            fields = parsed
        }
        if let model { fields["model"] = model }
        let body = try JSONSerialization.data(withJSONObject: fields)
        let answer = try await exchange.object(engine + "/tokenize", body: body)
        guard let tokens = answer["tokens"] as? [Any] else { throw TokenizerError("\(engine)/tokenize answered without 'tokens'") }
        var ids: [UInt32] = []
        ids.reserveCapacity(tokens.count)
        for t in tokens {
            guard let n = t as? NSNumber, let id = UInt32(exactly: n.doubleValue) else {
                throw TokenizerError("\(engine)/tokenize answered a token id outside 0...\(UInt32.max)")
            }
            ids.append(id)
        }
        return ids
    }
}
