/// A `Split` pre-tokenizer's pattern. The patterns of the GPT-2, Llama 3 and Qwen 2 families
/// are scanned by hand, because a general regex engine spends most of a prompt's tokenizing
/// time on them; any other pattern runs on Swift's `Regex`, matching scalar by scalar as the
/// reference (Oniguruma) does.
enum _SplitPattern: Sendable {
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    case gpt2
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,D}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    /// with D = `maximumDigits` (3 for Llama 3, 1 for Qwen 2).
    case llama3(maximumDigits: Int)
    /// Any other regex.
    case regex(_CompiledRegex)
    /// A literal string.
    case literal([UInt8])
    /// Runs of `\p{N}`, or each one alone: the `Digits` pre-tokenizer.
    case digits(individually: Bool)
    /// Runs of `\s`: the `WhitespaceSplit` pre-tokenizer.
    case whitespace

    static let gpt2Pattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    static func llama3Pattern(digits: String) -> String {
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"# + digits
            + #"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    }

    /// The pattern for `source`, a regex in Oniguruma's syntax.
    static func regex(_ source: String) throws(_LoadError) -> _SplitPattern {
        switch source {
        case gpt2Pattern: return .gpt2
        case llama3Pattern(digits: "{1,3}"): return .llama3(maximumDigits: 3)
        case llama3Pattern(digits: ""): return .llama3(maximumDigits: 1)
        default:
            do { return .regex(_CompiledRegex(try Regex(source).matchingSemantics(.unicodeScalar))) } catch {
                throw _LoadError("pattern.Regex", "cannot compile \(source.debugDescription): \(error)")
            }
        }
    }

    /// Appends to `matches` the ranges the pattern matches in `bytes[range]`, leftmost first,
    /// none overlapping.
    func matches(in bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, into matches: inout [Range<Int>]) {
        switch self {
        case .gpt2: Self.scanGPT2(_UTF8Cursor(bytes: UnsafeBufferPointer(rebasing: bytes[..<range.upperBound])), range.lowerBound, &matches)
        case .llama3(let digits):
            Self.scanLlama3(
                _UTF8Cursor(bytes: UnsafeBufferPointer(rebasing: bytes[..<range.upperBound])), range.lowerBound, digits, &matches)
        case .literal(let literal): Self.scanLiteral(literal, bytes, range, &matches)
        case .digits(let individually):
            Self.scanRuns(
                of: .number, _UTF8Cursor(bytes: UnsafeBufferPointer(rebasing: bytes[..<range.upperBound])), range.lowerBound,
                individually ? 1 : .max, &matches)
        case .whitespace:
            Self.scanRuns(
                of: .space, _UTF8Cursor(bytes: UnsafeBufferPointer(rebasing: bytes[..<range.upperBound])), range.lowerBound, .max, &matches)
        case .regex(let r): r.matches(in: bytes, range, into: &matches)
        }
    }

    private static let apostrophe = UInt32(UInt8(ascii: "'"))
    private static let space = UInt32(UInt8(ascii: " "))

    /// The length of a contraction (`'s`, `'t`, `'re`, `'ve`, `'m`, `'ll`, `'d`) at `i`, or 0.
    @inline(__always)
    private static func contraction(_ c: _UTF8Cursor, _ i: Int, caseInsensitive: Bool) -> Int {
        let b = c.bytes
        guard i < b.count, b[i] == UInt8(ascii: "'"), i + 1 < b.count else { return 0 }
        func lower(_ x: UInt8) -> UInt8 { caseInsensitive && x >= 65 && x <= 90 ? x | 0x20 : x }
        let x = lower(b[i + 1])
        if x == UInt8(ascii: "s") || x == UInt8(ascii: "t") || x == UInt8(ascii: "m") || x == UInt8(ascii: "d") { return 2 }
        guard i + 2 < b.count else { return 0 }
        let y = lower(b[i + 2])
        switch (x, y) {
        case (UInt8(ascii: "r"), UInt8(ascii: "e")), (UInt8(ascii: "v"), UInt8(ascii: "e")), (UInt8(ascii: "l"), UInt8(ascii: "l")):
            return 3
        default: return 0
        }
    }

    /// `\s+(?!\S)` then `\s+`, for a whitespace run starting at `i`.
    @inline(__always)
    private static func whitespace(_ c: _UTF8Cursor, _ i: Int) -> Int {
        let end = c.run(of: .space, from: i)
        guard end < c.bytes.count else { return end }
        // Give back the run's last scalar so that it can lead the next word, unless it is alone.
        var last = end - 1
        while c.bytes[last] & 0xC0 == 0x80 { last -= 1 }
        return last > i ? last : end
    }

    private static func scanGPT2(_ c: _UTF8Cursor, _ start: Int, _ out: inout [Range<Int>]) {
        var i = start
        while let (k, v, next) = c.classAt(i) {
            var end: Int
            let n = contraction(c, i, caseInsensitive: false)
            if n > 0 {
                end = i + n
            } else if v == space, let (k2, _, _) = c.classAt(next), k2 != .space {
                end = c.run(of: k2, from: next)
            } else if k != .space {
                end = c.run(of: k, from: i)
            } else {
                end = whitespace(c, i)
            }
            out.append(i..<end)
            i = end
        }
    }

    private static func isNewline(_ v: UInt32) -> Bool { v == 0x0A || v == 0x0D }

    private static func scanLlama3(_ c: _UTF8Cursor, _ start: Int, _ digits: Int, _ out: inout [Range<Int>]) {
        var i = start
        while let (k, v, next) = c.classAt(i) {
            var end: Int
            let n = contraction(c, i, caseInsensitive: true)
            if n > 0 {
                end = i + n
            } else if k == .letter {
                end = c.run(of: .letter, from: i)
            } else if k != .number, !isNewline(v), let (k2, _, _) = c.classAt(next), k2 == .letter {
                // [^\r\n\p{L}\p{N}]?\p{L}+
                end = c.run(of: .letter, from: next)
            } else if k == .number {
                end = c.run(of: .number, from: i, limit: digits)
            } else if k == .other || (v == space && c.classAt(next)?.class == .other) {
                // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
                end = c.run(of: .other, from: k == .other ? i : next)
                while end < c.bytes.count, isNewline(UInt32(c.bytes[end])) { end += 1 }
            } else {
                // Whitespace: `\s*[\r\n]+` up to the run's last newline, else `\s+(?!\S)`, `\s+`.
                let run = c.run(of: .space, from: i)
                var lastNewline = -1
                var j = i
                while j < run {
                    if isNewline(UInt32(c.bytes[j])) { lastNewline = j }
                    j = c.scalar(at: j).end
                }
                end = lastNewline >= 0 ? lastNewline + 1 : whitespace(c, i)
            }
            out.append(i..<end)
            i = end
        }
    }

    private static func scanRuns(of k: _ScalarClass, _ c: _UTF8Cursor, _ start: Int, _ limit: Int, _ out: inout [Range<Int>]) {
        var i = start
        while let (kind, _, next) = c.classAt(i) {
            if kind == k {
                let end = c.run(of: k, from: i, limit: limit)
                out.append(i..<end)
                i = end
            } else {
                i = next
            }
        }
    }

    private static func scanLiteral(_ literal: [UInt8], _ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ out: inout [Range<Int>]) {
        guard !literal.isEmpty else { return }
        var i = range.lowerBound
        while i + literal.count <= range.upperBound {
            var equal = true
            for (j, x) in literal.enumerated() where b[i + j] != x {
                equal = false
                break
            }
            if equal {
                out.append(i..<(i + literal.count))
                i += literal.count
            } else {
                i += 1
            }
        }
    }
}

/// A compiled regex shared by every tokenizing task: matching only reads the compiled program.
final class _CompiledRegex: @unchecked Sendable {
    let regex: Regex<AnyRegexOutput>

    init(_ regex: Regex<AnyRegexOutput>) { self.regex = regex }

    func matches(in bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, into out: inout [Range<Int>]) {
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
        for m in text.matches(of: regex) where !m.range.isEmpty {
            let lower = text.utf8.distance(from: text.startIndex, to: m.range.lowerBound)
            let upper = text.utf8.distance(from: text.startIndex, to: m.range.upperBound)
            out.append((range.lowerBound + lower)..<(range.lowerBound + upper))
        }
    }
}
