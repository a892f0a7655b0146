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
    /// Whether some token starts with the byte: the scan passes over the others at once.
    private var starts: [Bool] = Array(repeating: false, count: 256)
    /// The tokens' bytes as a trie, flattened: node `n`'s edges are `edgeBytes[firstEdge[n] ..<
    /// firstEdge[n + 1]]` (sorted, each to `edgeTargets` at the same place), and `ends[n]` is
    /// the token spelled by the path to `n` (-1: none). Node 0 is the root. A match walks the
    /// text down the trie once, however many tokens share a prefix (Llama 3's 256 special
    /// tokens all begin with `<|`, most with `<|reserved_special_token_`).
    private var firstEdge: [Int32] = [0, 0]
    private var edgeBytes: [UInt8] = []
    private var edgeTargets: [Int32] = []
    private var ends: [Int32] = [-1]

    var isEmpty: Bool { tokens.isEmpty }

    init(_ tokens: [Token]) {
        self.tokens = tokens.filter { !$0.bytes.isEmpty }
        // a trie of dictionaries first, then flattened breadth first
        var children: [[UInt8: Int32]] = [[:]]
        var ending: [Int32] = [-1]
        for (t, token) in self.tokens.enumerated() {
            starts[Int(token.bytes[0])] = true
            var node = 0
            for b in token.bytes {
                if let next = children[node][b] {
                    node = Int(next)
                } else {
                    children.append([:])
                    ending.append(-1)
                    children[node][b] = Int32(children.count - 1)
                    node = children.count - 1
                }
            }
            if ending[node] < 0 { ending[node] = Int32(t) }  // the first of tokens spelled alike
        }
        // breadth first, each node's children numbered as they are queued, so its edges are
        // written in one go, in byte order
        var order = [0]  // the nodes' numbers in the trie of dictionaries, in their new order
        firstEdge = [0]
        ends = []
        var k = 0
        while k < order.count {
            for (b, child) in children[order[k]].sorted(by: { $0.key < $1.key }) {
                edgeBytes.append(b)
                edgeTargets.append(Int32(order.count))
                order.append(Int(child))
            }
            firstEdge.append(Int32(edgeBytes.count))
            ends.append(ending[order[k]])
            k += 1
        }
    }

    /// Appends to `out` the segments of `text[range]`: the tokens found, and the text between.
    /// - Complexity: O(*n* × *m*) for *n* bytes and tokens of at most *m* bytes.
    func split(_ text: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, into out: inout [_Segment]) {
        guard !tokens.isEmpty else {
            if !range.isEmpty { out.append(.text(range)) }
            return
        }
        let cursor = _UTF8Cursor(bytes: UnsafeBufferPointer(rebasing: text[..<range.upperBound]))
        var textStart = range.lowerBound
        var i = range.lowerBound
        while i < range.upperBound {
            guard starts[Int(text[i])], let t = longestMatch(text, at: i, end: range.upperBound) else {
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

    /// The longest token spelled by `text` from `i` (not past `end`), if any.
    /// - Complexity: O(length of the longest token × edges per node).
    private func longestMatch(_ text: UnsafeBufferPointer<UInt8>, at i: Int, end: Int) -> Int? {
        var node = 0
        var best: Int32 = -1
        var j = i
        while j < end {
            let b = text[j]
            var e = Int(firstEdge[node])
            let last = Int(firstEdge[node + 1])
            while e < last, edgeBytes[e] < b { e += 1 }
            guard e < last, edgeBytes[e] == b else { break }
            node = Int(edgeTargets[e])
            if ends[node] >= 0 { best = ends[node] }
            j += 1
        }
        return best >= 0 ? Int(best) : nil
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
