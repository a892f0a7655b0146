import Foundation
import KVCacheTemplates
import NIOCore
import NIOFoundationCompat

/// The OpenAI endpoints the gateway routes.
public enum OpenAIEndpoint: String, Sendable, Hashable, CaseIterable {
    /// `POST /v1/completions`.
    case completions = "/v1/completions"
    /// `POST /v1/chat/completions`.
    case chatCompletions = "/v1/chat/completions"
}

/// What a prompt is, as far as routing cares.
public enum PromptInput: Sendable, Hashable {
    /// Token ids given by the client: used as they are.
    case tokens([UInt32])
    /// A text prompt (`/v1/completions`), tokenized by a ``Tokenizer``.
    case text(String)
    /// A chat request's messages and the fields that shape its prompt.
    case chat(ChatRequest)
}

/// The fields of a client's request that routing reads; the body itself goes to the engine
/// byte for byte.
struct OpenAIRequest: Sendable {
    var model: String?
    var prompt: PromptInput
    var stream: Bool
    /// `max_tokens` (or `max_completion_tokens`), 0 when not given.
    var maxTokens: Int
    /// vLLM's `cache_salt`: blocks of prompts with another salt never match.
    var cacheSalt: String?

    /// Parses a request body.
    /// - Throws: ``RequestError`` (400) naming the field that is wrong.
    init(body: Data, endpoint: OpenAIEndpoint) throws(RequestError) {
        try self.init(body: ByteBuffer(data: body), endpoint: endpoint)
    }

    /// Parses a request body as the server read it (no copy into `Data`).
    /// - Throws: ``RequestError`` (400) naming the field that is wrong.
    init(body: ByteBuffer, endpoint: OpenAIEndpoint) throws(RequestError) {
        switch endpoint {
        case .chatCompletions: try self.init(chat: body)
        case .completions: try self.init(completion: body)
        }
    }

    /// A completion body: its prompt (text, token ids, or a batch) and routing fields.
    init(completion body: ByteBuffer) throws(RequestError) {
        let fields = try body.withUnsafeReadableBytes { raw in
            Result { () throws(RequestError) in try _CompletionFields(raw) }
        }.get()
        model = fields.model
        stream = fields.stream ?? false
        cacheSalt = fields.cacheSalt
        maxTokens = fields.maxTokens ?? fields.maxCompletionTokens ?? 0
        guard let prompt = fields.prompt else { throw RequestError.invalid("'prompt' is required", param: "prompt") }
        if case .tokens(let ids) = prompt, ids.isEmpty { throw RequestError.invalid("'prompt' is empty", param: "prompt") }
        self.prompt = prompt
    }

    /// A chat body: read once, in key order, its chat fields checked before any other work.
    init(chat body: ByteBuffer) throws(RequestError) {
        let value: TemplateValue
        do { value = try TemplateValue(json: body.readableBytesView) } catch {
            throw RequestError.invalid("the request body is not valid JSON (\(error.message))")
        }
        guard case .object(let o) = value else { throw RequestError.invalid("the request body is not a JSON object") }
        do { prompt = .chat(try ChatRequest(body: value)) } catch { throw RequestError.invalid(error.message, param: error.field) }
        func string(_ key: String) throws(RequestError) -> String? {
            switch o[key] {
            case nil, .null?: return nil
            case .string(let s)?: return s
            default: throw RequestError.invalid("'\(key)' has the wrong type", param: key)
            }
        }
        func count(_ key: String) throws(RequestError) -> Int? {
            switch o[key] {
            case nil, .null?: return nil
            case .int(let n)? where (0...(1 << 40)).contains(n): return n
            case .double(let d)? where d >= 0 && d <= Double(1 << 40) && d == d.rounded(): return Int(d)
            default: throw RequestError.invalid(Self.integerMessage(key), param: key)
            }
        }
        model = try string("model")
        cacheSalt = try string("cache_salt")
        switch o["stream"] {
        case nil, .null?: stream = false
        case .bool(let b)?: stream = b
        default: throw RequestError.invalid("'stream' has the wrong type", param: "stream")
        }
        let maxTokens = try count("max_tokens")
        let maxCompletionTokens = try count("max_completion_tokens")
        self.maxTokens = maxTokens ?? maxCompletionTokens ?? 0
    }

    static let promptShapes = "a string, token ids (whole numbers in 0...\(UInt32.max)), or a non-empty list of either"

    static func integerMessage(_ key: String) -> String { "'\(key)' must be a whole number in 0...\(1 << 40)" }
}
