import Foundation

/// The `model` of a `tokenizer.json` of type BPE: the vocabulary, keyed by the bytes each
/// token stands for, and the merge table; encodes one piece of pre-tokenized text.
struct _BytePairModel: Sendable {
    private static let none = UInt32.max

    private var vocabulary: _ByteStringTable
    private var merges: _PairTable
    /// The id of each single byte, for byte-level vocabularies (`none` when missing).
    private var byteIDs: [UInt32]
    /// The ids of the `<0xXX>` tokens (`none` when missing), when unknown characters fall back
    /// to their bytes.
    private var fallbackIDs: [UInt32]?
    private var unknown: UInt32?
    private var fuseUnknown = false
    private var ignoreMerges = false
    private let isByteLevel: Bool

    /// The number of tokens in the vocabulary.
    var vocabularySize: Int { vocabulary.count }

    /// Reads the model; `byteLevel` tells whether its vocabulary is spelled in GPT-2's byte
    /// alphabet.
    init(_ json: Any?, byteLevel: Bool) throws(_LoadError) {
        let o = try _JSONObject(json, "")
        if let type = try o.optionalString("type"), type != "BPE" {
            throw _LoadError("type", "model \"\(type)\" is not supported (only BPE is)")
        }
        isByteLevel = byteLevel
        for unsupported in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let s = try o.optionalString(unsupported), !s.isEmpty {
                throw _LoadError(unsupported, "is not supported")
            }
        }
        if o.has("dropout"), let p = o.fields["dropout"] as? NSNumber, p.doubleValue > 0 {
            throw _LoadError("dropout", "is not supported (encoding must be deterministic)")
        }

        guard let vocab = o.fields["vocab"] as? [String: Any] else {
            throw _LoadError("vocab", "is missing or not a JSON object")
        }
        var table = _ByteStringTable(minimumCapacity: vocab.count)
        for (token, value) in vocab {
            guard let n = value as? NSNumber, let id = UInt32(exactly: n.doubleValue), id != Self.none else {
                throw _LoadError("vocab[\(token.debugDescription)]", "is not a token id")
            }
            let bytes = (byteLevel ? _ByteLevelAlphabet.decode(token) : nil) ?? Array(token.utf8)
            table.insert(bytes, id: id)
        }
        vocabulary = table

        byteIDs = (0..<256).map { b in
            [UInt8(b)].withUnsafeBufferPointer { table.id(of: $0) } ?? Self.none
        }
        if try o.bool("byte_fallback", default: false) {
            fallbackIDs = (0..<256).map { b in
                let name = "<0x" + (b < 16 ? "0" : "") + String(b, radix: 16, uppercase: true) + ">"
                return Array(name.utf8).withUnsafeBufferPointer { table.id(of: $0) } ?? Self.none
            }
        }
        if let unk = try o.optionalString("unk_token") {
            let bytes = (byteLevel ? _ByteLevelAlphabet.decode(unk) : nil) ?? Array(unk.utf8)
            guard let id = bytes.withUnsafeBufferPointer({ table.id(of: $0) }) else {
                throw _LoadError("unk_token", "\(unk.debugDescription) is not in the vocabulary")
            }
            unknown = id
        }
        fuseUnknown = try o.bool("fuse_unk", default: false)
        ignoreMerges = try o.bool("ignore_merges", default: false)

        let lines = o.has("merges") ? try o.array("merges") : []
        merges = _PairTable(minimumCapacity: lines.count)
        for (rank, line) in lines.enumerated() {
            let field = "merges[\(rank)]"
            let parts: [String]
            if let s = line as? String {
                parts = s.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            } else if let pair = line as? [Any], let strings = pair as? [String] {
                parts = strings
            } else {
                throw _LoadError(field, "is neither \"left right\" nor [\"left\", \"right\"]")
            }
            guard parts.count == 2 else { throw _LoadError(field, "does not name exactly two tokens") }
            let left = (byteLevel ? _ByteLevelAlphabet.decode(parts[0]) : nil) ?? Array(parts[0].utf8)
            let right = (byteLevel ? _ByteLevelAlphabet.decode(parts[1]) : nil) ?? Array(parts[1].utf8)
            func id(_ bytes: [UInt8]) -> UInt32? { bytes.withUnsafeBufferPointer { table.id(of: $0) } }
            guard let l = id(left) else { throw _LoadError(field, "\(parts[0].debugDescription) is not in the vocabulary") }
            guard let r = id(right) else { throw _LoadError(field, "\(parts[1].debugDescription) is not in the vocabulary") }
            guard let merged = id(left + right) else {
                throw _LoadError(field, "\((parts[0] + parts[1]).debugDescription) is not in the vocabulary")
            }
            merges.insert(l, r, merge: .init(rank: UInt32(rank), id: merged))
        }
    }

    /// The id of a token spelled `bytes`, if the vocabulary has one.
    func id(of bytes: UnsafeBufferPointer<UInt8>) -> UInt32? { vocabulary.id(of: bytes) }

    /// Appends the ids of `text[piece]` to `out`: its characters (or bytes), merged pair by
    /// pair, the lowest-ranked pair first and the leftmost of equal ranks.
    /// - Complexity: O(*n* log *n*) for a piece of *n* bytes.
    func encode(_ text: UnsafeBufferPointer<UInt8>, _ piece: Range<Int>, into out: inout [UInt32], scratch s: inout _MergeScratch) {
        guard !piece.isEmpty else { return }
        if ignoreMerges, let id = vocabulary.id(of: UnsafeBufferPointer(rebasing: text[piece])) {
            out.append(id)
            return
        }
        // A piece has no more symbols than bytes: a byte, a character, a fallback byte or one
        // unknown for at least one byte each.
        s.encode(bound: piece.count, merges: merges, into: &out) { symbols in
            var n = 0
            var lastIsUnknown = false
            @inline(__always) func addUnknown() {
                guard let unknown, !(fuseUnknown && lastIsUnknown) else { return }
                symbols[n] = unknown
                n += 1
                lastIsUnknown = true
            }
            if isByteLevel {
                byteIDs.withUnsafeBufferPointer { byteIDs in
                    for i in piece {
                        let id = byteIDs[Int(text[i])]
                        if id != Self.none {
                            symbols[n] = id
                            n += 1
                            lastIsUnknown = false
                        } else {
                            addUnknown()
                        }
                    }
                }
            } else {
                var i = piece.lowerBound
                while i < piece.upperBound {
                    let end = min(piece.upperBound, i + Self.scalarLength(text[i]))
                    if let id = vocabulary.id(of: UnsafeBufferPointer(rebasing: text[i..<end])) {
                        symbols[n] = id
                        n += 1
                        lastIsUnknown = false
                    } else if let fallback = fallbackIDs, (i..<end).allSatisfy({ fallback[Int(text[$0])] != Self.none }) {
                        for j in i..<end {
                            symbols[n] = fallback[Int(text[j])]
                            n += 1
                        }
                        lastIsUnknown = false
                    } else {
                        addUnknown()
                    }
                    i = end
                }
            }
            return n
        }
    }

    @inline(__always)
    private static func scalarLength(_ lead: UInt8) -> Int {
        lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
    }
}
