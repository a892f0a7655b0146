import KVCacheTemplates

/// The routing fields of a `/v1/completions` body, read in one pass over its bytes.
///
/// The whole body is checked to be JSON, but only the fields routing needs are built:
/// `model`, `stream`, `cache_salt`, `max_tokens`, `max_completion_tokens` and `prompt` (its
/// first prompt, for a batch: the engine serves the batch where its first prompt goes). Every
/// other value is skipped by its extent while its syntax is checked. A field of the wrong shape
/// is named in the error, a prompt's item by its place (`'prompt[1][2]'`).
///
/// - Complexity: O(*n*) in the body's length; no allocation beyond the fields it returns.
struct _CompletionFields {
    var model: String?
    var stream: Bool?
    var cacheSalt: String?
    var maxTokens: Int?
    var maxCompletionTokens: Int?
    var prompt: PromptInput?

    static let maximumDepth = 512

    init(_ body: UnsafeRawBufferPointer) throws(RequestError) {
        var r = _BodyCursor(bytes: body)
        try r.object { (r, key, _) throws(RequestError) in
            switch key {
            case "model": model = try r.optionalString("model")
            case "cache_salt": cacheSalt = try r.optionalString("cache_salt")
            case "stream": stream = try r.optionalBool("stream")
            case "max_tokens": maxTokens = try r.optionalCount("max_tokens")
            case "max_completion_tokens": maxCompletionTokens = try r.optionalCount("max_completion_tokens")
            case "prompt": prompt = try r.prompt()
            default: try r.skipValue()
            }
        }
    }
}

/// The cursor over a JSON body's bytes: it checks syntax as it skips.
struct _BodyCursor {
    let bytes: UnsafeRawBufferPointer
    var i = 0
    var depth = 0

    init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var peek: UInt8? { i < bytes.count ? bytes[i] : nil }

    func syntax(_ why: String) -> RequestError {
        RequestError.invalid("the request body is not valid JSON (\(why) at byte \(i))")
    }

    mutating func space() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
    }

    /// Reads a whole body that must be one JSON object, calling `member` for each member with
    /// the cursor at its value (which `member` reads or skips), its key (see ``keyBytes()``)
    /// and where the key's bytes are, between its quotes.
    mutating func object(
        _ member: (inout _BodyCursor, _ key: Substring, _ keyBytes: Range<Int>) throws(RequestError) -> Void
    ) throws(RequestError) {
        space()
        guard peek == UInt8(ascii: "{") else {
            // Valid JSON of another kind, or not JSON at all: each its own answer.
            try skipValue()
            space()
            guard i == bytes.count else { throw syntax("unexpected text after the value") }
            throw RequestError.invalid("the request body is not a JSON object")
        }
        i += 1
        space()
        if peek == UInt8(ascii: "}") {
            i += 1
        } else {
            while true {
                space()
                let start = i
                let key = try keyBytes()
                let keyRange = (start + 1)..<(i - 1)
                space()
                guard peek == UInt8(ascii: ":") else { throw syntax("expected ':'") }
                i += 1
                space()
                try member(&self, key, keyRange)
                space()
                if peek == UInt8(ascii: ",") {
                    i += 1
                    continue
                }
                guard peek == UInt8(ascii: "}") else { throw syntax("expected ',' or '}'") }
                i += 1
                break
            }
        }
        space()
        guard i == bytes.count else { throw syntax("unexpected text after the object") }
    }

    // MARK: Fields

    /// A member's key, compared by its raw bytes (the routing keys have no escapes; a key
    /// spelled with escapes is read as another member).
    mutating func keyBytes() throws(RequestError) -> Substring {
        guard peek == UInt8(ascii: "\"") else { throw syntax("expected a string key") }
        let (range, escaped) = try skipString()
        if escaped { return "" }
        return Substring(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    mutating func optionalString(_ key: String) throws(RequestError) -> String? {
        switch peek {
        case UInt8(ascii: "\""): return try string()
        case UInt8(ascii: "n"):
            try literal("null")
            return nil
        default:
            try skipValue()
            throw RequestError.invalid("'\(key)' has the wrong type", param: key)
        }
    }

    mutating func optionalBool(_ key: String) throws(RequestError) -> Bool? {
        switch peek {
        case UInt8(ascii: "t"):
            try literal("true")
            return true
        case UInt8(ascii: "f"):
            try literal("false")
            return false
        case UInt8(ascii: "n"):
            try literal("null")
            return nil
        default:
            try skipValue()
            throw RequestError.invalid("'\(key)' has the wrong type", param: key)
        }
    }

    /// A token count: a whole number in `0 ... 2^40`, or `null`.
    mutating func optionalCount(_ key: String) throws(RequestError) -> Int? {
        if peek == UInt8(ascii: "n") {
            try literal("null")
            return nil
        }
        guard let c = peek, c == UInt8(ascii: "-") || (0x30...0x39).contains(c) else {
            try skipValue()
            throw RequestError.invalid(OpenAIRequest.integerMessage(key), param: key)
        }
        let n = try number()
        guard let count = n, (0...(1 << 40)).contains(count) else {
            throw RequestError.invalid(OpenAIRequest.integerMessage(key), param: key)
        }
        return count
    }

    /// `prompt`: a string, token ids, or a non-empty list of either (its first is routed).
    mutating func prompt() throws(RequestError) -> PromptInput? {
        switch peek {
        case UInt8(ascii: "\""): return .text(try string())
        case UInt8(ascii: "n"):
            try literal("null")
            return nil
        case UInt8(ascii: "["): break
        default:
            try skipValue()
            throw RequestError.invalid("'prompt' must be \(OpenAIRequest.promptShapes)", param: "prompt")
        }
        i += 1
        space()
        guard peek != UInt8(ascii: "]") else { throw RequestError.invalid("'prompt' is empty", param: "prompt") }
        switch peek {
        case UInt8(ascii: "\""):
            // A batch of texts: every item a string.
            var first: String?
            try items(at: "prompt") { (r, k) throws(RequestError) in
                guard r.peek == UInt8(ascii: "\"") else { throw r.misfit("prompt[\(k)]") }
                if first == nil { first = try r.string() } else { _ = try r.skipString() }
            }
            return first.map { .text($0) }
        case UInt8(ascii: "["):
            // A batch of token-id lists.
            var first: [UInt32]?
            try items(at: "prompt") { (r, k) throws(RequestError) in
                guard r.peek == UInt8(ascii: "[") else { throw r.misfit("prompt[\(k)]") }
                r.i += 1
                let ids = try r.tokenIDs(at: "prompt[\(k)]")
                if k == 0 {
                    guard !ids.isEmpty else { throw RequestError.invalid("'prompt[0]' is empty", param: "prompt") }
                    first = ids
                }
            }
            return first.map { .tokens($0) }
        default:
            let ids = try tokenIDs(at: "prompt")
            return .tokens(ids)
        }
    }

    func misfit(_ place: String) -> RequestError {
        RequestError.invalid("'\(place)' does not fit the prompt's shape: \(OpenAIRequest.promptShapes)", param: "prompt")
    }

    /// The items of a list whose `[` is read, each by `item`, through its `]`.
    mutating func items(at place: String, _ item: (inout _BodyCursor, Int) throws(RequestError) -> Void) throws(RequestError) {
        depth += 1
        defer { depth -= 1 }
        guard depth <= _CompletionFields.maximumDepth else { throw syntax("nesting deeper than \(_CompletionFields.maximumDepth)") }
        var k = 0
        while true {
            space()
            try item(&self, k)
            k += 1
            space()
            switch peek {
            case UInt8(ascii: ","): i += 1
            case UInt8(ascii: "]"):
                i += 1
                return
            default: throw syntax("expected ',' or ']'")
            }
        }
    }

    /// Token ids, each a whole number in `0 ... UInt32.max`, after a list's `[`, through its `]`.
    mutating func tokenIDs(at place: String) throws(RequestError) -> [UInt32] {
        space()
        var ids: [UInt32] = []
        if peek == UInt8(ascii: "]") {
            i += 1
            return ids
        }
        // A plain list of digits: about one id per 6 bytes of what is left.
        ids.reserveCapacity(min(1 << 20, (bytes.count - i) / 6 + 1))
        try items(at: place) { (r, k) throws(RequestError) in
            if let c = r.peek, (0x30...0x39).contains(c) {
                // The common case: digits, then a delimiter.
                var v: UInt64 = 0
                let start = r.i
                while r.i < r.bytes.count, (0x30...0x39).contains(r.bytes[r.i]), r.i - start < 11 {
                    v = v * 10 + UInt64(r.bytes[r.i] - 0x30)
                    r.i += 1
                }
                let plain =
                    r.i < r.bytes.count && !(0x30...0x39).contains(r.bytes[r.i]) && r.bytes[r.i] != UInt8(ascii: ".")
                    && r.bytes[r.i] | 0x20 != UInt8(ascii: "e")
                if plain, v <= UInt64(UInt32.max), !(r.bytes[start] == 0x30 && r.i - start > 1) {
                    ids.append(UInt32(v))
                    return
                }
                r.i = start
            }
            guard let c = r.peek, c == UInt8(ascii: "-") || (0x30...0x39).contains(c) else {
                try r.skipValue()
                throw r.misfit("\(place)[\(k)]")
            }
            guard let n = try r.number(), (0...Int(UInt32.max)).contains(n) else { throw r.misfit("\(place)[\(k)]") }
            ids.append(UInt32(n))
        }
        return ids
    }

    // MARK: Syntax

    mutating func literal(_ word: StaticString) throws(RequestError) {
        let n = word.utf8CodeUnitCount
        guard i + n <= bytes.count else { throw syntax("unexpected end") }
        for k in 0..<n where bytes[i + k] != word.utf8Start[k] { throw syntax("unexpected character") }
        i += n
    }

    /// A number: its value when it is a whole number that fits an `Int`.
    mutating func number() throws(RequestError) -> Int? {
        let start = i
        if peek == UInt8(ascii: "-") { i += 1 }
        let digits = i
        while i < bytes.count, (0x30...0x39).contains(bytes[i]) { i += 1 }
        guard i > digits else { throw syntax("unexpected character") }
        guard !(bytes[digits] == 0x30 && i - digits > 1) else { throw syntax("a number with a leading zero") }
        var integer = true
        if peek == UInt8(ascii: ".") {
            integer = false
            i += 1
            let f = i
            while i < bytes.count, (0x30...0x39).contains(bytes[i]) { i += 1 }
            guard i > f else { throw syntax("a number without digits after '.'") }
        }
        if let c = peek, c | 0x20 == UInt8(ascii: "e") {
            integer = false
            i += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { i += 1 }
            let e = i
            while i < bytes.count, (0x30...0x39).contains(bytes[i]) { i += 1 }
            guard i > e else { throw syntax("a number without exponent digits") }
        }
        let text = Substring(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
        if integer { return Int(text) }
        guard let d = Double(text), d == d.rounded(.towardZero), abs(d) < 0x1p62 else { return nil }
        return Int(d)
    }

    /// Skips a string whose `"` is at `i`, checking its escapes: the bytes between the quotes,
    /// and whether any escape is among them.
    mutating func skipString() throws(RequestError) -> (Range<Int>, escaped: Bool) {
        i += 1
        let start = i
        var escaped = false
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "\"") {
                i += 1
                return (start..<(i - 1), escaped)
            }
            guard c >= 0x20 else { throw syntax("a control character in a string") }
            if c == UInt8(ascii: "\\") {
                escaped = true
                i += 1
                guard let e = peek else { break }
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"), UInt8(ascii: "n"),
                    UInt8(ascii: "r"), UInt8(ascii: "t"):
                    i += 1
                case UInt8(ascii: "u"):
                    guard i + 5 <= bytes.count, (1...4).allSatisfy({ Self.isHex(bytes[i + $0]) }) else { throw syntax("a bad \\u escape") }
                    i += 5
                default: throw syntax("a bad escape")
                }
                continue
            }
            i += 1
        }
        throw syntax("an unterminated string")
    }

    static func isHex(_ c: UInt8) -> Bool { (0x30...0x39).contains(c) || (0x41...0x46).contains(c) || (0x61...0x66).contains(c) }

    /// A string whose `"` is at `i`, its escapes decoded (lone surrogates become U+FFFD).
    mutating func string() throws(RequestError) -> String {
        let (range, escaped) = try skipString()
        guard escaped else { return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self) }
        // Escapes are checked already; the chat templates' JSON reader decodes them.
        guard case .string(let s)? = try? TemplateValue(json: bytes[(range.lowerBound - 1)...range.upperBound]) else {
            throw syntax("a bad escape")
        }
        return s
    }

    /// Skips one value of any kind, checking its syntax.
    mutating func skipValue() throws(RequestError) {
        guard let c = peek else { throw syntax("unexpected end") }
        switch c {
        case UInt8(ascii: "\""): _ = try skipString()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "["):
            i += 1
            space()
            if peek == UInt8(ascii: "]") {
                i += 1
                return
            }
            try items(at: "") { (r, _) throws(RequestError) in try r.skipValue() }
        case UInt8(ascii: "{"):
            depth += 1
            defer { depth -= 1 }
            guard depth <= _CompletionFields.maximumDepth else { throw syntax("nesting deeper than \(_CompletionFields.maximumDepth)") }
            i += 1
            space()
            if peek == UInt8(ascii: "}") {
                i += 1
                return
            }
            while true {
                space()
                guard peek == UInt8(ascii: "\"") else { throw syntax("expected a string key") }
                _ = try skipString()
                space()
                guard peek == UInt8(ascii: ":") else { throw syntax("expected ':'") }
                i += 1
                space()
                try skipValue()
                space()
                switch peek {
                case UInt8(ascii: ","): i += 1
                case UInt8(ascii: "}"):
                    i += 1
                    return
                default: throw syntax("expected ',' or '}'")
                }
            }
        default: _ = try number()
        }
    }
}
