import Foundation

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
    /// Chat messages: the JSON object of the fields vLLM's `/tokenize` takes for chat
    /// (`messages`, `add_generation_prompt`, `chat_template`, …), keys sorted.
    case chat(String)
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

    /// The `/tokenize` fields a chat request carries over (vLLM's names).
    static let chatTokenizeFields = [
        "messages", "add_generation_prompt", "continue_final_message", "chat_template", "chat_template_kwargs", "tools",
        "documents",
    ]

    /// Parses a request body.
    /// - Throws: ``RequestError`` (400) naming the field that is wrong.
    init(body: Data, endpoint: OpenAIEndpoint) throws(RequestError) {
        let object: [String: Any]
        do {
            guard let o = try JSONSerialization.jsonObject(with: body) as? [String: Any] else {
                throw RequestError.invalid("the request body is not a JSON object")
            }
            object = o
        } catch let e as RequestError {
            throw e
        } catch {
            throw RequestError.invalid("the request body is not valid JSON")
        }
        model = try Self.optional(object, "model", as: String.self)
        stream = try Self.optional(object, "stream", as: Bool.self) ?? false
        cacheSalt = try Self.optional(object, "cache_salt", as: String.self)
        let maxTokens = try Self.integer(object, "max_tokens")
        let maxCompletionTokens = try Self.integer(object, "max_completion_tokens")
        self.maxTokens = maxTokens ?? maxCompletionTokens ?? 0
        switch endpoint {
        case .completions:
            guard let prompt = object["prompt"] else { throw RequestError.invalid("'prompt' is required", param: "prompt") }
            self.prompt = try Self.completionPrompt(prompt)
        case .chatCompletions:
            guard let messages = object["messages"] as? [Any], !messages.isEmpty else {
                throw RequestError.invalid("'messages' must be a non-empty array", param: "messages")
            }
            var fields: [String: Any] = [:]
            for key in Self.chatTokenizeFields { if let v = object[key], !(v is NSNull) { fields[key] = v } }
            guard let json = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]) else {
                throw RequestError.invalid("'messages' cannot be encoded again as JSON", param: "messages")
            }
            self.prompt = .chat(String(decoding: json, as: UTF8.self))
        }
    }

    /// A completion's `prompt`: a string, token ids, or a batch of either (the batch is routed
    /// by its first prompt: the engine serves all of it).
    static func completionPrompt(_ value: Any) throws(RequestError) -> PromptInput {
        if let text = value as? String { return .text(text) }
        guard let array = value as? [Any], let first = array.first else {
            throw RequestError.invalid("'prompt' must be a string, token ids, or a non-empty list of either", param: "prompt")
        }
        if let text = first as? String { return .text(text) }
        if let inner = first as? [Any] { return .tokens(try tokenIDs(inner, field: "prompt[0]")) }
        return .tokens(try tokenIDs(array, field: "prompt"))
    }

    /// Token ids, each a whole number in `0 ... UInt32.max`.
    static func tokenIDs(_ array: [Any], field: String) throws(RequestError) -> [UInt32] {
        guard !array.isEmpty else { throw RequestError.invalid("'\(field)' is empty", param: "prompt") }
        var ids: [UInt32] = []
        ids.reserveCapacity(array.count)
        for (i, v) in array.enumerated() {
            guard let n = v as? NSNumber, !Self.isBoolean(n), let id = UInt32(exactly: n.doubleValue) else {
                throw RequestError.invalid("'\(field)[\(i)]' is not a token id (a whole number in 0...\(UInt32.max))", param: "prompt")
            }
            ids.append(id)
        }
        return ids
    }

    static func optional<T>(_ object: [String: Any], _ key: String, as: T.Type) throws(RequestError) -> T? {
        guard let v = object[key], !(v is NSNull) else { return nil }
        guard let t = v as? T else { throw RequestError.invalid("'\(key)' has the wrong type", param: key) }
        return t
    }

    /// A non-negative whole number, at most 2^40 (the router's largest token count).
    static func integer(_ object: [String: Any], _ key: String) throws(RequestError) -> Int? {
        guard let v = object[key], !(v is NSNull) else { return nil }
        guard let n = v as? NSNumber, !Self.isBoolean(n), let i = Int(exactly: n.doubleValue), (0...(1 << 40)).contains(i) else {
            throw RequestError.invalid("'\(key)' must be a whole number in 0...\(1 << 40)", param: key)
        }
        return i
    }

    /// Whether a number JSONSerialization made is a JSON `true` or `false` (on Linux `1 is Bool`
    /// holds too, so the cast cannot tell).
    static func isBoolean(_ n: NSNumber) -> Bool { n.objCType.pointee == CChar(UInt8(ascii: "c")) }
}
