import Foundation

/// The `pre_tokenizer` of a `tokenizer.json`, flattened: the rewrites of a section's text
/// (a prefix space, Metaspace's replacement), then its splits into pieces, in order.
struct _PreTokenizer: Sendable {
    /// When Metaspace puts its replacement in front of a section.
    enum Prepend: Sendable { case always, first, never }

    enum Rewrite: Sendable {
        case prefixSpace
        case metaspace(replacement: [UInt8], prepend: Prepend)
    }

    struct Split: Sendable {
        var pattern: _SplitPattern
        var behavior: _SplitBehavior
        var invert = false
    }

    private(set) var rewrites: [Rewrite] = []
    private(set) var splits: [Split] = []
    /// Whether a ByteLevel step maps bytes to the model's alphabet: the vocabulary is then
    /// spelled in GPT-2's byte-to-character map.
    private(set) var isByteLevel = false

    init(_ json: Any?) throws(_LoadError) {
        if !_JSONObject.isAbsent(json) { try add(json) }
    }

    private mutating func add(_ json: Any?) throws(_LoadError) {
        let (o, type) = try _JSONObject.component(json)
        switch type {
        case "Sequence":
            for (i, step) in try o.array("pretokenizers").enumerated() {
                do { try add(step) } catch { throw error.within("pretokenizers[\(i)]") }
            }
        case "ByteLevel":
            isByteLevel = true
            if try o.bool("add_prefix_space", default: true) { try addRewrite(.prefixSpace, type) }
            if try o.bool("use_regex", default: true) { splits.append(Split(pattern: .gpt2, behavior: .isolated)) }
        case "Split":
            let pattern = try o.object("pattern")
            let compiled: _SplitPattern
            if let literal = pattern.fields["String"] as? String {
                compiled = .literal(Array(literal.utf8))
            } else if let source = pattern.fields["Regex"] as? String {
                compiled = try _SplitPattern.regex(source)
            } else {
                throw _LoadError("pattern", "is neither {\"String\": …} nor {\"Regex\": …}")
            }
            let behavior: _SplitBehavior
            do { behavior = try _SplitBehavior(try o.string("behavior")) } catch { throw error }
            splits.append(Split(pattern: compiled, behavior: behavior, invert: try o.bool("invert", default: false)))
        case "Metaspace":
            let replacement = try o.string("replacement")
            guard replacement.unicodeScalars.count == 1 else {
                throw _LoadError("replacement", "is not one character")
            }
            let prepend: Prepend
            switch try o.optionalString("prepend_scheme") {
            case "always": prepend = .always
            case "first": prepend = .first
            case "never": prepend = .never
            case nil: prepend = try o.bool("add_prefix_space", default: true) ? .always : .never
            case let other?: throw _LoadError("prepend_scheme", "\"\(other)\" is not always, first or never")
            }
            try addRewrite(.metaspace(replacement: Array(replacement.utf8), prepend: prepend), type)
            if try o.bool("split", default: true) {
                splits.append(Split(pattern: .literal(Array(replacement.utf8)), behavior: .mergedWithNext))
            }
        case "Digits":
            let individually = try o.bool("individual_digits", default: false)
            splits.append(Split(pattern: .digits(individually: individually), behavior: .isolated))
        case "WhitespaceSplit":
            splits.append(Split(pattern: .whitespace, behavior: .removed))
        default:
            throw _LoadError("type", "pre-tokenizer \"\(type)\" is not supported")
        }
    }

    /// Rewrites change the text the splits see, so they come before any split.
    private mutating func addRewrite(_ rewrite: Rewrite, _ type: String) throws(_LoadError) {
        guard splits.isEmpty else {
            throw _LoadError("type", "a \(type) pre-tokenizer that rewrites text must come before any split")
        }
        rewrites.append(rewrite)
    }

    /// Whether every line boundary — a position right after `\n` or `\r` whose byte is printable
    /// ASCII other than a space — is a boundary of the pieces, whatever stands before and
    /// after it: the text's pieces are then the pieces of its lines encoded apart.
    ///
    /// Holds for one isolated split by Llama 3's pattern (also Qwen 2's and cl100k's) and no
    /// rewrite. There a piece that holds a newline ends at the last newline of its run
    /// (`\s*[\r\n]+`, or `[\r\n]*` after punctuation), so it ends at the boundary, and the
    /// scan starts afresh there. GPT-2's pattern does not qualify: `\s+(?!\S)` splits a run of
    /// newlines one way at the end of a text and another before a letter.
    var breaksAtLines: Bool {
        guard rewrites.isEmpty, splits.count == 1, case .llama3 = splits[0].pattern else { return false }
        guard case .isolated = splits[0].behavior else { return false }
        return !splits[0].invert
    }

    /// Applies the rewrites to one section of text; `atStart` tells whether the section begins
    /// the input (Metaspace's `first` scheme prepends only there).
    func rewrite(_ text: inout [UInt8], atStart: Bool) {
        for r in rewrites {
            switch r {
            case .prefixSpace:
                if text.first != UInt8(ascii: " ") { text.insert(UInt8(ascii: " "), at: 0) }
            case .metaspace(let replacement, let prepend):
                if text.contains(UInt8(ascii: " ")) {
                    var replaced: [UInt8] = []
                    replaced.reserveCapacity(text.count + text.count / 2)
                    for b in text {
                        if b == UInt8(ascii: " ") { replaced.append(contentsOf: replacement) } else { replaced.append(b) }
                    }
                    text = replaced
                }
                let starts = text.starts(with: replacement)
                if !starts, prepend == .always || (prepend == .first && atStart) {
                    text.insert(contentsOf: replacement, at: 0)
                }
            }
        }
    }

    /// Splits `text` into the pieces the model encodes one by one, into `pieces`.
    func split(_ text: UnsafeBufferPointer<UInt8>, into pieces: inout [Range<Int>], scratch: inout _PreTokenizerScratch) {
        pieces.removeAll(keepingCapacity: true)
        guard !text.isEmpty else { return }
        pieces.append(0..<text.count)
        for s in splits {
            scratch.next.removeAll(keepingCapacity: true)
            for piece in pieces {
                scratch.matches.removeAll(keepingCapacity: true)
                s.pattern.matches(in: text, piece, into: &scratch.matches)
                s.behavior.split(piece, matches: scratch.matches[...], invert: s.invert, into: &scratch.next)
            }
            swap(&pieces, &scratch.next)
        }
    }
}

/// Buffers a pre-tokenizer reuses from piece to piece.
struct _PreTokenizerScratch {
    var next: [Range<Int>] = []
    var matches: [Range<Int>] = []
}
