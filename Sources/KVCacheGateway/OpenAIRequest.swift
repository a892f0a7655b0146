import Foundation
import KVCacheTemplates

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
        switch endpoint {
        case .chatCompletions: try self.init(chat: body)
        case .completions: try self.init(completion: body)
        }
    }

    /// A completion body: its prompt (text, token ids, or a batch) and routing fields.
    init(completion body: Data) throws(RequestError) {
        // Token-id prompts carry thousands of numbers: read them in one pass when the body is
        // plainly shaped, and let the decoder check the body and read the other fields.
        let scanned = body.withUnsafeBytes { _scanTokenIDs($0, member: "prompt") }
        let fields: _RoutingFields
        do {
            let decoder = JSONDecoder()
            if scanned != nil { decoder.userInfo[_RoutingFields.promptIsRead] = true }
            fields = try decoder.decode(_RoutingFields.self, from: body)
        } catch {
            throw Self.requestError(error)
        }
        model = fields.model
        stream = fields.stream ?? false
        cacheSalt = fields.cacheSalt
        maxTokens = fields.maxTokens?.value ?? fields.maxCompletionTokens?.value ?? 0
        if let scanned {
            guard !scanned.isEmpty else { throw RequestError.invalid("'prompt' is empty", param: "prompt") }
            self.prompt = .tokens(scanned)
        } else {
            guard let prompt = fields.prompt else { throw RequestError.invalid("'prompt' is required", param: "prompt") }
            self.prompt = prompt.input
        }
    }

    /// A chat body: read once, in key order, its chat fields checked before any other work.
    init(chat body: Data) throws(RequestError) {
        let value: TemplateValue
        do { value = try TemplateValue(json: body) } catch {
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

    /// The one-line message for a body the decoder refused, naming the field by its JSON path.
    static func requestError(_ error: any Error) -> RequestError {
        if let e = error as? RequestError { return e }
        guard let e = error as? DecodingError else { return .invalid("the request body is not valid JSON") }
        let path: [any CodingKey]
        switch e {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .keyNotFound(_, let c), .dataCorrupted(let c): path = c.codingPath
        @unknown default: path = []
        }
        guard let key = path.first?.stringValue else {
            if case .typeMismatch = e { return .invalid("the request body is not a JSON object") }
            return .invalid("the request body is not valid JSON")
        }
        let field = path.dropFirst().reduce(key) { name, k in k.intValue.map { "\(name)[\($0)]" } ?? "\(name).\(k.stringValue)" }
        switch key {
        case "prompt" where path.count > 1:
            return .invalid("'\(field)' does not fit the prompt's shape: \(promptShapes)", param: key)
        case "prompt":
            return .invalid("'prompt' must be \(promptShapes)", param: key)
        case "max_tokens", "max_completion_tokens": return .invalid(integerMessage(key), param: key)
        default: return .invalid("'\(field)' has the wrong type", param: key)
        }
    }
}

/// The routing fields of a body, decoded without building the rest of it.
struct _RoutingFields: Decodable {
    var model: String?
    var stream: Bool?
    var cacheSalt: String?
    var maxTokens: _TokenCount?
    var maxCompletionTokens: _TokenCount?
    var prompt: _Prompt?

    enum CodingKeys: String, CodingKey {
        case model, stream, prompt
        case cacheSalt = "cache_salt"
        case maxTokens = "max_tokens"
        case maxCompletionTokens = "max_completion_tokens"
    }

    /// Set when the caller has read the prompt already: it is then left undecoded.
    static let promptIsRead = CodingUserInfoKey(rawValue: "kvcache.promptIsRead")!

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.decodeIfPresent(String.self, forKey: .model)
        stream = try c.decodeIfPresent(Bool.self, forKey: .stream)
        cacheSalt = try c.decodeIfPresent(String.self, forKey: .cacheSalt)
        maxTokens = try c.decodeIfPresent(_TokenCount.self, forKey: .maxTokens)
        maxCompletionTokens = try c.decodeIfPresent(_TokenCount.self, forKey: .maxCompletionTokens)
        let promptIsRead = decoder.userInfo[Self.promptIsRead] as? Bool ?? false
        prompt = promptIsRead ? nil : try c.decodeIfPresent(_Prompt.self, forKey: .prompt)
    }
}

/// A completion's `prompt`: a string, token ids, or a batch of either. A batch is routed by its
/// first prompt: the engine serves all of it.
struct _Prompt: Decodable {
    var input: PromptInput

    init(from decoder: any Decoder) throws {
        let value = try decoder.singleValueContainer()
        if let text = try? value.decode(String.self) {
            input = .text(text)
            return
        }
        // A list: its first item says which kind.
        var items = try decoder.unkeyedContainer()
        guard !items.isAtEnd else { throw RequestError.invalid("'prompt' is empty", param: "prompt") }
        if (try? items.decode(String.self)) != nil {
            input = .text(try value.decode([String].self)[0])
        } else if (try? items.nestedUnkeyedContainer()) != nil {
            let first = try value.decode([_TokenIDs].self)[0].ids
            guard !first.isEmpty else { throw RequestError.invalid("'prompt[0]' is empty", param: "prompt") }
            input = .tokens(first)
        } else {
            input = .tokens(try value.decode(_TokenIDs.self).ids)
        }
    }
}

/// A JSON list of token ids, each a whole number in `0 ... UInt32.max`.
///
/// Decoded item by item with the decoder's concrete `UInt32` entry point, which avoids the
/// generic per-item dispatch of `[UInt32]`'s own conformance: prompts and `/tokenize` answers
/// carry thousands of ids. An id that does not fit is reported at its index (the decoder's own
/// error for a number out of range names no field).
struct _TokenIDs: Decodable {
    var ids: [UInt32]

    init(from decoder: any Decoder) throws {
        var items = try decoder.unkeyedContainer()
        var ids: [UInt32] = []
        ids.reserveCapacity(items.count ?? 0)
        while !items.isAtEnd {
            let index = items.currentIndex
            do {
                ids.append(try items.decode(UInt32.self))
            } catch {
                let path = decoder.codingPath + [_IndexKey(index)]
                throw DecodingError.dataCorrupted(.init(codingPath: path, debugDescription: "not a token id", underlyingError: error))
            }
        }
        self.ids = ids
    }
}

/// A position in a JSON list, as a coding key.
struct _IndexKey: CodingKey {
    var intValue: Int?
    var stringValue: String { "Index \(intValue ?? 0)" }
    init(_ index: Int) { intValue = index }
    init?(intValue: Int) { self.intValue = intValue }
    init?(stringValue: String) { nil }
}

/// A token count (`max_tokens`): a whole number in `0 ... 2^40`, the router's range.
struct _TokenCount: Decodable {
    var value: Int

    init(from decoder: any Decoder) throws {
        let number = try decoder.singleValueContainer().decode(Double.self)
        guard let count = Int(exactly: number), (0...(1 << 40)).contains(count) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a token count"))
        }
        value = count
    }
}
