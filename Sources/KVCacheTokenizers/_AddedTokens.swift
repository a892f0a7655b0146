/// A piece of input once added tokens are found in it: text still to encode, or a token.
enum _Segment: Equatable {
    case text(Range<Int>)
    case token(UInt32)
}

/// The `added_tokens` of a `tokenizer.json` that match one form of the input (the raw text,
/// or the normalized text): found leftmost-longest, as literal strings.
struct _AddedTokens: Sendable {
    struct Token: Sendable {
        var bytes: [UInt8]
        var id: UInt32
        var stripLeft = false
        var stripRight = false
        var singleWord = false
    }

    private var tokens: [Token] = []
    /// For each first byte, the tokens starting with it, longest first.
    private var byFirstByte: [[Int]] = Array(repeating: [], count: 256)

    var isEmpty: Bool { tokens.isEmpty }

    init(_ tokens: [Token]) {
        self.tokens = tokens.filter { !$0.bytes.isEmpty }
        for (i, t) in self.tokens.enumerated() { byFirstByte[Int(t.bytes[0])].append(i) }
        for b in 0..<256 { byFirstByte[b].sort { self.tokens[$0].bytes.count > self.tokens[$1].bytes.count } }
    }

    /// Appends to `out` the segments of `text[range]`: the tokens found, and the text between.
    /// - Complexity: O(*n* × *k*) for *n* bytes and *k* tokens sharing a first byte.
    func split(_ text: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, into out: inout [_Segment]) {
        guard !tokens.isEmpty else {
            if !range.isEmpty { out.append(.text(range)) }
            return
        }
        let cursor = _UTF8Cursor(bytes: UnsafeBufferPointer(rebasing: text[..<range.upperBound]))
        var textStart = range.lowerBound
        var i = range.lowerBound
        while i < range.upperBound {
            guard let t = longestMatch(text, at: i, end: range.upperBound) else {
                i += 1
                continue
            }
            let token = tokens[t]
            var start = i
            var end = i + token.bytes.count
            if token.singleWord, isWordCharacter(before: start, cursor, floor: range.lowerBound) || isWordCharacter(at: end, cursor) {
                i = end
                continue
            }
            if token.stripLeft {
                while start > textStart, let s = scalarStart(before: start, cursor), cursor.classAt(s)?.class == .space { start = s }
            }
            if token.stripRight { end = cursor.run(of: .space, from: end) }
            if start > textStart { out.append(.text(textStart..<start)) }
            out.append(.token(token.id))
            textStart = end
            i = end
        }
        if textStart < range.upperBound { out.append(.text(textStart..<range.upperBound)) }
    }

    private func longestMatch(_ text: UnsafeBufferPointer<UInt8>, at i: Int, end: Int) -> Int? {
        for t in byFirstByte[Int(text[i])] {
            let b = tokens[t].bytes
            guard i + b.count <= end else { continue }
            var equal = true
            for k in 1..<b.count where text[i + k] != b[k] {
                equal = false
                break
            }
            if equal { return t }
        }
        return nil
    }

    private func scalarStart(before i: Int, _ c: _UTF8Cursor) -> Int? {
        guard i > 0 else { return nil }
        var s = i - 1
        while s > 0, c.bytes[s] & 0xC0 == 0x80 { s -= 1 }
        return s
    }

    private func isWord(_ scalar: (class: _ScalarClass, value: UInt32, end: Int)?) -> Bool {
        guard let scalar else { return false }
        return scalar.class == .letter || scalar.class == .number || scalar.value == UInt32(UInt8(ascii: "_"))
    }

    private func isWordCharacter(before i: Int, _ c: _UTF8Cursor, floor: Int) -> Bool {
        guard i > floor, let s = scalarStart(before: i, c) else { return false }
        return isWord(c.classAt(s))
    }

    private func isWordCharacter(at i: Int, _ c: _UTF8Cursor) -> Bool { isWord(c.classAt(i)) }
}
