/// A token of a template: text between tags, tag delimiters, and what is inside tags.
enum _Token: Equatable {
    case text(String)
    case blockBegin
    case blockEnd
    case variableBegin
    case variableEnd
    case name(String)
    case string(String)
    case int(Int)
    case double(Double)
    case op(String)
    case end
}

/// Splits a template into tokens as Jinja's lexer does with the settings Hugging Face's
/// `apply_chat_template` uses: `trim_blocks` and `lstrip_blocks` on, `keep_trailing_newline`
/// off, `-` and `+` whitespace control on every tag, comments dropped, `{% raw %}` kept as text.
struct _Lexer {
    var tokens: [_Token] = []
    var lines: [Int] = []
    private let s: [UInt8]
    private var i = 0
    private var line = 1

    static let operators2 = ["//", "**", "==", "!=", ">=", "<="]
    static let operators1 = Set("+-*/%~<>=()[]{},.:|".utf8)

    init(_ source: String) throws(TemplateError) {
        // Jinja turns every newline of the source into "\n" and drops one trailing newline.
        var text = source.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        if text.hasSuffix("\n") { text.removeLast() }
        s = Array(text.utf8)
        try run()
    }

    private mutating func emit(_ t: _Token) {
        tokens.append(t)
        lines.append(line)
    }

    private func at(_ k: Int, _ literal: String) -> Bool {
        let b = Array(literal.utf8)
        guard k + b.count <= s.count else { return false }
        for j in 0..<b.count where s[k + j] != b[j] { return false }
        return true
    }

    private func fail(_ message: String) -> TemplateError { TemplateError(.syntax, message, line: line) }

    /// The next `{{`, `{%` or `{#` at or after `from`.
    private func nextTag(from: Int) -> Int? {
        var k = from
        while k + 1 < s.count {
            if s[k] == UInt8(ascii: "{"), s[k + 1] == UInt8(ascii: "{") || s[k + 1] == UInt8(ascii: "%") || s[k + 1] == UInt8(ascii: "#") {
                return k
            }
            k += 1
        }
        return nil
    }

    private static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0B || c == 0x0C || c == 0x0D }

    /// Python's `str.rstrip()` over UTF-8 bytes (ASCII whitespace and the Unicode spaces).
    static func rstrip(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var text = String(decoding: bytes, as: UTF8.self)
        while let last = text.unicodeScalars.last, _Text.isWhitespace(last) { text.unicodeScalars.removeLast() }
        return ArraySlice(Array(text.utf8))
    }

    private mutating func emitText(_ bytes: ArraySlice<UInt8>) {
        guard !bytes.isEmpty else { return }
        emit(.text(String(decoding: bytes, as: UTF8.self)))
        for c in bytes where c == 0x0A { line += 1 }
    }

    private mutating func run() throws(TemplateError) {
        var lineStarting = true
        while i < s.count {
            guard let tag = nextTag(from: i) else {
                emitText(s[i...])
                break
            }
            let kind = s[tag + 1]
            let sign: UInt8? = tag + 2 < s.count && (s[tag + 2] == UInt8(ascii: "-") || s[tag + 2] == UInt8(ascii: "+")) ? s[tag + 2] : nil
            var text = s[i..<tag]
            if sign == UInt8(ascii: "-") {
                let stripped = Self.rstrip(text)
                for c in text.dropFirst(stripped.count) where c == 0x0A { line += 1 }
                text = stripped
            } else if sign != UInt8(ascii: "+"), kind != UInt8(ascii: "{") {
                // lstrip_blocks: the spaces between a line's start and a block or comment tag go.
                let lineStart = (text.lastIndex(of: 0x0A).map { $0 + 1 }) ?? text.startIndex
                if lineStart > text.startIndex || lineStarting {
                    let tail = text[lineStart...]
                    if !tail.isEmpty, String(decoding: tail, as: UTF8.self).unicodeScalars.allSatisfy(_Text.isWhitespace) {
                        text = text[..<lineStart]
                    }
                }
            }
            emitText(text)
            i = tag + 2 + (sign == nil ? 0 : 1)
            switch kind {
            case UInt8(ascii: "#"):
                guard let close = find("#}", from: i) else { throw fail("a comment is not closed") }
                let trimRight = close > i && s[close - 1] == UInt8(ascii: "-")
                let keep = close > i && s[close - 1] == UInt8(ascii: "+")
                for c in s[i..<close] where c == 0x0A { line += 1 }
                i = close + 2
                lineStarting = trailWhitespace(strip: trimRight, trimBlock: !keep)
            case UInt8(ascii: "%"):
                if try rawBlock() {
                    lineStarting = false
                    continue
                }
                emit(.blockBegin)
                lineStarting = try inside(block: true)
            default:
                emit(.variableBegin)
                lineStarting = try inside(block: false)
            }
        }
        emit(.end)
    }

    private func find(_ needle: String, from: Int) -> Int? {
        var k = from
        while k < s.count {
            if at(k, needle) { return k }
            k += 1
        }
        return nil
    }

    /// After a tag's end: `-` strips all whitespace that follows, trim_blocks one newline.
    /// Whether what was consumed ends a line.
    private mutating func trailWhitespace(strip: Bool, trimBlock: Bool) -> Bool {
        var consumed: UInt8? = nil
        if strip {
            while i < s.count, Self.isSpace(s[i]) {
                consumed = s[i]
                if s[i] == 0x0A { line += 1 }
                i += 1
            }
        } else if trimBlock, i < s.count, s[i] == 0x0A {
            consumed = 0x0A
            line += 1
            i += 1
        }
        return consumed == 0x0A
    }

    /// `{% raw %}…{% endraw %}` (the opening `{%` already passed): its body as text.
    private mutating func rawBlock() throws(TemplateError) -> Bool {
        var k = i
        while k < s.count, Self.isSpace(s[k]) { k += 1 }
        guard at(k, "raw") else { return false }
        k += 3
        while k < s.count, Self.isSpace(s[k]) { k += 1 }
        let stripAfter = at(k, "-%}")
        if stripAfter { k += 1 }
        guard at(k, "%}") else { return false }
        i = k + 2
        _ = trailWhitespace(strip: stripAfter, trimBlock: true)
        var search = i
        while true {
            guard let open = find("{%", from: search) else { throw fail("a {% raw %} block is not closed") }
            var j = open + 2
            let strip = j < s.count && s[j] == UInt8(ascii: "-")
            if strip || (j < s.count && s[j] == UInt8(ascii: "+")) { j += 1 }
            while j < s.count, Self.isSpace(s[j]) { j += 1 }
            if at(j, "endraw") {
                j += 6
                while j < s.count, Self.isSpace(s[j]) { j += 1 }
                let stripEnd = at(j, "-%}")
                if stripEnd { j += 1 }
                guard at(j, "%}") else { throw fail("a {% endraw %} tag is not closed") }
                let body = strip ? Self.rstrip(s[i..<open]) : s[i..<open]
                emitText(body)
                for c in s[(i + body.count)..<open] where c == 0x0A { line += 1 }
                i = j + 2
                _ = trailWhitespace(strip: stripEnd, trimBlock: true)
                return true
            }
            search = open + 2
        }
    }

    /// The tokens inside a tag up to its end; whether the end consumed a newline.
    private mutating func inside(block: Bool) throws(TemplateError) -> Bool {
        var depth = 0
        while true {
            while i < s.count, Self.isSpace(s[i]) {
                if s[i] == 0x0A { line += 1 }
                i += 1
            }
            guard i < s.count else { throw fail(block ? "a block tag is not closed with %}" : "an expression is not closed with }}") }
            if depth == 0 {
                let close = block ? "%}" : "}}"
                if at(i, "-" + close) {
                    emit(block ? .blockEnd : .variableEnd)
                    i += 3
                    return trailWhitespace(strip: true, trimBlock: false)
                }
                if block, at(i, "+%}") {
                    emit(.blockEnd)
                    i += 3
                    return false
                }
                if at(i, close) {
                    emit(block ? .blockEnd : .variableEnd)
                    i += 2
                    return block ? trailWhitespace(strip: false, trimBlock: true) : false
                }
            }
            let c = s[i]
            if c == UInt8(ascii: "'") || c == UInt8(ascii: "\"") {
                emit(.string(try stringLiteral(quote: c)))
            } else if (0x30...0x39).contains(c) {
                try number()
            } else if c == UInt8(ascii: "_") || (c | 0x20 >= 0x61 && c | 0x20 <= 0x7A) || c >= 0x80 {
                let start = i
                while i < s.count,
                    s[i] == UInt8(ascii: "_") || (s[i] | 0x20 >= 0x61 && s[i] | 0x20 <= 0x7A) || (0x30...0x39).contains(s[i])
                        || s[i] >= 0x80
                {
                    i += 1
                }
                emit(.name(String(decoding: s[start..<i], as: UTF8.self)))
            } else if let two = Self.operators2.first(where: { at(i, $0) }) {
                emit(.op(two))
                i += 2
            } else if Self.operators1.contains(c) {
                switch c {
                case UInt8(ascii: "("), UInt8(ascii: "["), UInt8(ascii: "{"): depth += 1
                case UInt8(ascii: ")"), UInt8(ascii: "]"), UInt8(ascii: "}"):
                    guard depth > 0 else { throw fail("unexpected '\(Unicode.Scalar(c))'") }
                    depth -= 1
                default: break
                }
                emit(.op(String(Unicode.Scalar(c))))
                i += 1
            } else {
                throw fail("unexpected character '\(Unicode.Scalar(c))'")
            }
        }
    }

    private mutating func number() throws(TemplateError) {
        let start = i
        var isFloat = false
        func digits() { while i < s.count, (0x30...0x39).contains(s[i]) || s[i] == UInt8(ascii: "_") { i += 1 } }
        digits()
        if i + 1 < s.count, s[i] == UInt8(ascii: "."), (0x30...0x39).contains(s[i + 1]) {
            isFloat = true
            i += 1
            digits()
        }
        if i < s.count, s[i] | 0x20 == UInt8(ascii: "e") {
            var k = i + 1
            if k < s.count, s[k] == UInt8(ascii: "+") || s[k] == UInt8(ascii: "-") { k += 1 }
            if k < s.count, (0x30...0x39).contains(s[k]) {
                isFloat = true
                i = k
                digits()
            }
        }
        let text = String(decoding: s[start..<i], as: UTF8.self).replacingOccurrences(of: "_", with: "")
        if !isFloat, let n = Int(text) {
            emit(.int(n))
        } else if let d = Double(text) {
            emit(.double(d))
        } else {
            throw fail("the number \(text) is out of range")
        }
    }

    /// A quoted string with Python's escapes (`\n`, `\t`, `\\`, `\'`, `\xHH`, `\uHHHH`, …);
    /// an unknown escape keeps its backslash, as Python's `unicode_escape` does.
    private mutating func stringLiteral(quote: UInt8) throws(TemplateError) -> String {
        i += 1
        var out = String.UnicodeScalarView()
        var bytes: [UInt8] = []
        func flush() {
            if !bytes.isEmpty {
                out.append(contentsOf: String(decoding: bytes, as: UTF8.self).unicodeScalars)
                bytes.removeAll(keepingCapacity: true)
            }
        }
        while true {
            guard i < s.count else { throw fail("a string is not closed") }
            let c = s[i]
            if c == quote {
                i += 1
                break
            }
            if c == 0x0A { line += 1 }
            guard c == UInt8(ascii: "\\"), i + 1 < s.count else {
                bytes.append(c)
                i += 1
                continue
            }
            let e = s[i + 1]
            i += 2
            func hex(_ n: Int) -> Unicode.Scalar? {
                guard i + n <= s.count, let v = UInt32(String(decoding: s[i..<(i + n)], as: UTF8.self), radix: 16) else { return nil }
                i += n
                return Unicode.Scalar(v) ?? "\u{FFFD}"
            }
            var scalar: Unicode.Scalar?
            switch e {
            case UInt8(ascii: "n"): scalar = "\n"
            case UInt8(ascii: "t"): scalar = "\t"
            case UInt8(ascii: "r"): scalar = "\r"
            case UInt8(ascii: "b"): scalar = "\u{08}"
            case UInt8(ascii: "f"): scalar = "\u{0C}"
            case UInt8(ascii: "v"): scalar = "\u{0B}"
            case UInt8(ascii: "a"): scalar = "\u{07}"
            case UInt8(ascii: "\\"), UInt8(ascii: "'"), UInt8(ascii: "\""): scalar = Unicode.Scalar(e)
            case 0x0A:
                line += 1
                continue
            case UInt8(ascii: "x"): scalar = hex(2)
            case UInt8(ascii: "u"): scalar = hex(4)
            case UInt8(ascii: "U"): scalar = hex(8)
            case 0x30...0x37:
                var v = UInt32(e - 0x30)
                var n = 1
                while n < 3, i < s.count, (0x30...0x37).contains(s[i]) {
                    v = v * 8 + UInt32(s[i] - 0x30)
                    i += 1
                    n += 1
                }
                scalar = Unicode.Scalar(v)
            default: break
            }
            if let scalar {
                flush()
                out.append(scalar)
            } else {
                bytes.append(UInt8(ascii: "\\"))
                bytes.append(e)
            }
        }
        flush()
        return String(out)
    }
}
