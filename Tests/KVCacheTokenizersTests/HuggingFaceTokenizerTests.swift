import Foundation
import Testing

@testable import KVCacheTokenizers

private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

private struct Case: Decodable {
    var text: String
    var ids: [UInt32]
    var plain: [UInt32]
}

@Suite("HuggingFaceTokenizer against Hugging Face's tokenizers")
struct HuggingFaceTokenizerTests {
    /// Each fixture is a tokenizer trained by `make_fixtures.py` in one family's shape.
    @Test(
        "The ids of hand-picked and random strings equal the reference's",
        arguments: ["gpt2", "gpt2-prefix-space", "llama3", "qwen2", "sentencepiece", "metaspace", "splits", "bytes"])
    func matchesReference(name: String) throws {
        let tokenizer = try HuggingFaceTokenizer(contentsOf: fixtures.appendingPathComponent("\(name).tokenizer.json"))
        let data = try Data(contentsOf: fixtures.appendingPathComponent("\(name).expected.json"))
        let cases = try JSONDecoder().decode([Case].self, from: data)
        #expect(cases.count > 100)
        var failures = 0
        // Every section cached, each case encoded twice: the second time from the cache, and
        // sections shared between cases (with and without a leading added token) found again.
        let cache = SegmentCache(minimumBytes: 1)
        for c in cases {
            let ids = tokenizer.encode(c.text)
            let plain = tokenizer.encode(c.text, addSpecialTokens: false)
            let cached = [tokenizer.encode(c.text, cache: cache), tokenizer.encode(c.text, cache: cache)]
            let cachedPlain = tokenizer.encode(c.text, addSpecialTokens: false, cache: cache)
            if ids != c.ids || plain != c.plain || cached != [c.ids, c.ids] || cachedPlain != c.plain {
                failures += 1
                if failures <= 5 {
                    Issue.record("\(name): \(c.text.debugDescription): \(ids) / \(plain), expected \(c.ids) / \(c.plain)")
                }
            }
        }
        #expect(failures == 0, "\(name): \(failures) of \(cases.count) strings differ")
        #expect(cache.statistics.hits > cases.count)
    }

    @Test(
        "A conversation written out and cached in runs of lines encodes as it does whole; its next turn reuses the runs",
        arguments: ["llama3", "gpt2", "qwen2", "metaspace"])
    func lineRuns(name: String) throws {
        let tokenizer = try HuggingFaceTokenizer(contentsOf: fixtures.appendingPathComponent("\(name).tokenizer.json"))
        var rng = SystemRandomNumberGenerator()  // a failure names its text
        // lines made to stress the boundaries: runs of newlines and spaces, \r\n, punctuation
        // and digits at line starts, contractions, letters of other scripts
        let atoms = [
            "User:", "Assistant:", "System:", " the", " cat's", "'s", "?", "!!", "...", "12345", " 42", "Ünïcode", " 🙂", "中文",
            "  ", "\t", "\n", "\n\n", "\r\n", " \n", "\n  ", "-", "*", "(", ")", "\"", "x", " y",
        ]
        for _ in 0..<200 {
            let cache = SegmentCache(minimumBytes: Int(rng.next() % 64) + 1)
            var text = ""
            for _ in 0..<4 {
                for _ in 0..<(Int(rng.next() % 120) + 20) { text += atoms[Int(rng.next() % UInt64(atoms.count))] }
                text += "\n"
                for plain in [true, false] {
                    let expected = tokenizer.encode(text, addSpecialTokens: plain)
                    #expect(tokenizer.encode(text, addSpecialTokens: plain, cache: cache) == expected, "\(name): \(text.debugDescription)")
                }
            }
        }
        // a turn appended to a long conversation finds the earlier runs in the cache
        let cache = SegmentCache()
        let turn = (0..<40).map { "User: question \($0) about the cat's toys?\nAssistant: an answer, number \($0).\n" }
        _ = tokenizer.encode(turn[..<20].joined(), cache: cache)
        let before = cache.statistics.hits
        #expect(tokenizer.encode(turn.joined(), cache: cache) == tokenizer.encode(turn.joined()))
        if name == "llama3" { #expect(cache.statistics.hits > before) }
    }

    @Test("Sections whose digests collide never get each other's ids: they take turns in one place")
    func segmentCollisions() {
        let cache = SegmentCache()
        let a = SegmentCache.Key(bytes: Array("first section".utf8), atStart: false, digest: 7)
        let b = SegmentCache.Key(bytes: Array("other section".utf8), atStart: false, digest: 7)
        let aAtStart = SegmentCache.Key(bytes: a.bytes, atStart: true, digest: 7)
        cache.store([1, 2, 3], for: a)
        #expect(cache.ids(for: a) == [1, 2, 3])
        #expect(cache.ids(for: b) == nil)
        #expect(cache.ids(for: aAtStart) == nil)
        cache.store([4, 5], for: b)
        #expect(cache.ids(for: b) == [4, 5])
        #expect(cache.ids(for: a) == nil)
        #expect(cache.statistics == (hits: 2, misses: 3))
        // the same bytes found in place, without a key, as the tokenizer looks them up
        let section = SegmentCache.Key(bytes: Array("a longer section of text".utf8), atStart: true)
        cache.store([9], for: section)
        #expect(section.bytes.withUnsafeBytes { cache.ids(section: $0, atStart: true) } == [9])
        #expect(section.bytes.withUnsafeBytes { cache.ids(section: $0, atStart: false) } == nil)
    }

    @Test("The byte tokenizer gives each byte's value, as the gateway tests' engine double does")
    func bytes() throws {
        let tokenizer = try HuggingFaceTokenizer(contentsOf: fixtures.appendingPathComponent("bytes.tokenizer.json"))
        let text = "Ünïcode 🙂, words  and\n\tspaces"
        #expect(tokenizer.encode(text) == text.utf8.map(UInt32.init))
        #expect(tokenizer.vocabularySize == 256)
    }
}

@Suite("Byte-pair merging: scan and shift against the heap")
struct MergeTests {
    /// Merges `symbols` both ways (each works at any length; a piece takes one by its length).
    static func bothWays(_ symbols: [UInt32], _ merges: _PairTable) -> (short: [UInt32], long: [UInt32]) {
        let n = symbols.count
        var a = symbols, b = symbols
        var keys = [UInt64](repeating: 0, count: 3 * n), links = [Int32](repeating: 0, count: 2 * n)
        let short = _MergeScratch.mergeShort(&a, n, merges, &keys)
        let long = _MergeScratch.mergeLong(&b, n, merges, heap: &keys, links: &links)
        return (Array(a[..<short]), Array(b[..<long]))
    }

    @Test("Random pieces over a few symbols (many equal pairs, chains of merges) merge the same both ways")
    func scanAgreesWithHeap() {
        var rng = SystemRandomNumberGenerator()  // a failure names its piece and table
        for round in 0..<200 {
            // four base symbols; each rule merges two existing ids into a new one, ranked in order
            var merges = _PairTable(minimumCapacity: 64)
            var rules: [(UInt32, UInt32)] = []
            var nextID: UInt32 = 4
            for _ in 0..<Int.random(in: 1...24, using: &rng) {
                let l = UInt32.random(in: 0..<nextID, using: &rng), r = UInt32.random(in: 0..<nextID, using: &rng)
                guard !rules.contains(where: { $0 == (l, r) }) else { continue }
                merges.insert(l, r, merge: .init(rank: UInt32(rules.count), id: nextID))
                rules.append((l, r))
                nextID += 1
            }
            for _ in 0..<20 {
                let piece = (0..<Int.random(in: 2...80, using: &rng)).map { _ in UInt32.random(in: 0..<4, using: &rng) }
                let (short, long) = Self.bothWays(piece, merges)
                #expect(short == long, "round \(round): \(piece) with rules \(rules)")
                if short != long { return }
            }
        }
    }
}

@Suite("Added tokens: found leftmost-longest")
struct AddedTokenTests {
    @Test("Tokens that share prefixes or contain each other are found as a search of every token finds them")
    func trieAgreesWithSearch() {
        let spellings = ["<|a", "<|ab", "<|abc|>", "<", "ab", "b<|", "<|reserved_1|>", "<|reserved_10|>", "é<"]
        let tokens = _AddedTokens(spellings.enumerated().map { .init(bytes: Array($1.utf8), id: UInt32(100 + $0)) })
        // the reference: at each byte, every token tried, the longest that fits taken
        func search(_ text: [UInt8]) -> [_Segment] {
            var out: [_Segment] = []
            var i = 0, start = 0
            while i < text.count {
                // the spellings are distinct, so the longest that fits is the only one of its length
                let fits = spellings.enumerated().filter { text[i...].starts(with: $1.utf8) }
                guard let best = fits.max(by: { $0.element.utf8.count < $1.element.utf8.count }) else {
                    i += 1
                    continue
                }
                if start < i { out.append(.text(start..<i)) }
                out.append(.token(UInt32(100 + best.offset)))
                i += best.element.utf8.count
                start = i
            }
            if start < text.count { out.append(.text(start..<text.count)) }
            return out
        }
        let atoms = ["<", "|", "a", "b", "c", ">", "é", "reserved_1", "0", " ", "x"]
        var rng = SystemRandomNumberGenerator()  // a failure names its text
        for _ in 0..<3_000 {
            let text = Array((0..<Int.random(in: 0...16, using: &rng)).map { _ in atoms.randomElement(using: &rng)! }.joined().utf8)
            var got: [_Segment] = []
            text.withUnsafeBufferPointer { tokens.split($0, 0..<$0.count, into: &got) }
            #expect(got == search(text), "\(String(decoding: text, as: UTF8.self).debugDescription)")
        }
    }
}

@Suite("Split patterns: the dedicated scanners against Swift's Regex")
struct SplitPatternTests {
    static func ranges(_ pattern: _SplitPattern, _ text: String) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var text = text
        text.withUTF8 { pattern.matches(in: $0, 0..<$0.count, into: &out) }
        return out
    }

    @Test(
        "Random text splits the same way",
        arguments: [
            (_SplitPattern.gpt2Pattern, "gpt2"), (_SplitPattern.llama3Pattern(digits: "{1,3}"), "llama3"),
            (_SplitPattern.llama3Pattern(digits: ""), "qwen2"),
        ])
    func scannersMatchRegex(source: String, name: String) throws {
        let scanner = try _SplitPattern.regex(source)
        let regex = _SplitPattern.regex(_CompiledRegex(try Regex(source).matchingSemantics(.unicodeScalar)))
        if case .regex = scanner { Issue.record("\(name) is not scanned by dedicated code") }
        let pool =
            Array("abcXYZ019  \n\n\t\r'.,!-_<>|éÜßЖ中🙂½²Ⅻ١\u{a0}\u{3000}\u{301}\u{2028}") + ["'s", "'LL", "'Re", "\r\n"].flatMap(Array.init)
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let text = String((0..<Int.random(in: 1...30, using: &rng)).map { _ in pool.randomElement(using: &rng)! })
            let want = Self.ranges(regex, text)
            let got = Self.ranges(scanner, text)
            #expect(got == want, "\(name): \(text.debugDescription)")
            if got != want { break }
        }
    }
}

@Suite("HuggingFaceTokenizer load errors")
struct TokenizerFileErrorTests {
    static func error(_ json: String) -> TokenizerFileError? {
        do {
            _ = try HuggingFaceTokenizer(json: Data(json.utf8), source: "t.json")
            return nil
        } catch { return error }
    }

    static let vocab = #""vocab": {"a": 0, "b": 1, "ab": 2}"#

    @Test("Each names the file, the field and what was wrong, on one line")
    func messages() {
        let cases: [(String, String)] = [
            ("{", "t.json: is not valid JSON"),
            ("[]", "t.json: is not a JSON object"),
            (#"{"model": {"type": "WordPiece"}}"#, #"t.json: model.type: model "WordPiece" is not supported (only BPE is)"#),
            (#"{"model": {"type": "BPE"}}"#, "t.json: model.vocab: is missing or not a JSON object"),
            (#"{"model": {"type": "BPE", \#(Self.vocab), "merges": ["a c"]}}"#, #"t.json: model.merges[0]: "c" is not in the vocabulary"#),
            (
                #"{"model": {"type": "BPE", \#(Self.vocab), "merges": ["a b c"]}}"#,
                "t.json: model.merges[0]: does not name exactly two tokens"
            ),
            (#"{"model": {"type": "BPE", "vocab": {"a": -1}}}"#, #"t.json: model.vocab["a"]: is not a token id"#),
            (
                #"{"pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Punctuation"}]}, "model": {}}"#,
                #"t.json: pre_tokenizer.pretokenizers[0].type: pre-tokenizer "Punctuation" is not supported"#
            ),
            (
                #"{"pre_tokenizer": {"type": "Split", "pattern": {"Regex": "("}, "behavior": "Isolated"}, "model": {}}"#,
                #"t.json: pre_tokenizer.pattern.Regex: cannot compile "(""#
            ),
            (
                #"{"model": {"type": "BPE", \#(Self.vocab)}, "added_tokens": [{"content": "x"}]}"#,
                "t.json: added_tokens[0].id: is not a token id"
            ),
            (
                #"{"model": {"type": "BPE", \#(Self.vocab), "unk_token": "<unk>"}}"#,
                #"t.json: model.unk_token: "<unk>" is not in the vocabulary"#
            ),
        ]
        for (json, prefix) in cases {
            let e = Self.error(json)
            #expect(
                e.map { $0.description.hasPrefix(prefix) && !$0.description.contains("\n") } == true, "\(json) → \(String(describing: e))")
        }
    }

    @Test("A missing file is named")
    func missingFile() {
        let path = "/nonexistent/tokenizer.json"
        #expect {
            try HuggingFaceTokenizer(contentsOf: URL(fileURLWithPath: path))
        } throws: { error in
            let d = (error as? TokenizerFileError)?.description ?? ""
            return d.hasPrefix("\(path): cannot be read") && !d.contains("\n")
        }
    }
}
