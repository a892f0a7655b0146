import Foundation

/// A Hugging Face `tokenizer.json` tokenizer with a BPE model, run in process: the token ids
/// a serving engine computes for a text prompt, without asking the engine.
///
/// It runs the file's pipeline as the `tokenizers` library does: added tokens are found
/// first (leftmost-longest), the text between them is normalized, pre-tokenized into pieces
/// and byte-pair encoded, and the post-processor's special tokens go around the whole. The
/// BPE families served today load: byte-level vocabularies (GPT-2, Llama 3, Qwen 2, Mistral's
/// Tekken), SentencePiece-style ones with byte fallback (Llama 2, Mistral), with their
/// normalizers, `Split`/`ByteLevel`/`Metaspace`/`Digits` pre-tokenizers and template
/// post-processors. Anything else fails to load with a ``TokenizerFileError`` that names the
/// field, rather than tokenizing differently from the engine.
///
/// The split patterns of the GPT-2, Llama 3 and Qwen 2 families are scanned by dedicated code;
/// other patterns run on Swift's `Regex`.
///
/// ```swift
/// let tokenizer = try HuggingFaceTokenizer(contentsOf: URL(filePath: "tokenizer.json"))
/// let ids = tokenizer.encode("The quick brown fox")
/// ```
public struct HuggingFaceTokenizer: Sendable {
    private let model: _BytePairModel
    private let normalizer: _Normalizer?
    private let preTokenizer: _PreTokenizer
    private let postProcessor: _PostProcessor
    /// Added tokens matched on the raw text, and on the normalized text.
    private let rawTokens: _AddedTokens
    private let normalizedTokens: _AddedTokens

    /// The number of tokens in the model's vocabulary (added tokens not counted).
    public var vocabularySize: Int { model.vocabularySize }

    /// Loads the tokenizer in the file at `url`.
    /// - Throws: ``TokenizerFileError`` when the file cannot be read, is not JSON, or describes
    ///   a pipeline this type does not run.
    public init(contentsOf url: URL) throws(TokenizerFileError) {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw TokenizerFileError(file: url.path, field: "", message: "cannot be read: \(error.localizedDescription)")
        }
        try self.init(json: data, source: url.path)
    }

    /// Loads a tokenizer from the contents of a `tokenizer.json`; `source` names it in errors.
    public init(json data: Data, source: String = "tokenizer.json") throws(TokenizerFileError) {
        func fail(_ e: _LoadError) -> TokenizerFileError { TokenizerFileError(file: source, field: e.field, message: e.message) }
        let root: _JSONObject
        do {
            root = try _JSONObject(try JSONSerialization.jsonObject(with: data), "")
        } catch let e as _LoadError {
            throw TokenizerFileError(file: source, field: "", message: "is not a JSON object (\(e.message))")
        } catch {
            throw TokenizerFileError(file: source, field: "", message: "is not valid JSON: \(error.localizedDescription)")
        }
        do throws(_LoadError) {
            do { preTokenizer = try _PreTokenizer(root.fields["pre_tokenizer"]) } catch { throw error.within("pre_tokenizer") }
            do {
                normalizer = root.has("normalizer") ? try _Normalizer(root.fields["normalizer"]) : nil
            } catch { throw error.within("normalizer") }
            do { model = try _BytePairModel(root.fields["model"], byteLevel: preTokenizer.isByteLevel) } catch {
                throw error.within("model")
            }
            do { postProcessor = try _PostProcessor(root.fields["post_processor"]) } catch { throw error.within("post_processor") }
            var raw: [_AddedTokens.Token] = []
            var normalized: [_AddedTokens.Token] = []
            let added = root.has("added_tokens") ? try root.array("added_tokens") : []
            for (i, entry) in added.enumerated() {
                do {
                    let o = try _JSONObject(entry, "")
                    let content = try o.string("content")
                    let special = try o.bool("special", default: false)
                    let isNormalized = try o.bool("normalized", default: !special)
                    let bytes = Array(content.utf8)
                    let token = _AddedTokens.Token(
                        bytes: isNormalized ? normalizer?.apply(bytes) ?? bytes : bytes, id: try o.id("id"),
                        stripLeft: try o.bool("lstrip", default: false),
                        stripRight: try o.bool("rstrip", default: false), singleWord: try o.bool("single_word", default: false))
                    if isNormalized { normalized.append(token) } else { raw.append(token) }
                } catch { throw error.within("added_tokens[\(i)]") }
            }
            rawTokens = _AddedTokens(raw)
            normalizedTokens = _AddedTokens(normalized)
        } catch { throw fail(error) }
    }

    /// The token ids of `text`.
    /// - Parameters:
    ///   - text: The prompt.
    ///   - addSpecialTokens: Whether to add the post-processor's special tokens (a beginning-
    ///     of-text token, say), as engines do for a completion's prompt.
    ///   - cache: Where the ids of long sections between added tokens are kept and found
    ///     again (``SegmentCache``); `nil`: every section is encoded.
    /// - Complexity: O(*n* log *n*) in the length of the text not found in `cache`.
    public func encode(_ text: String, addSpecialTokens: Bool = true, cache: SegmentCache? = nil) -> [UInt32] {
        var out: [UInt32] = []
        out.reserveCapacity(text.utf8.count / 3 + postProcessor.prefix.count + postProcessor.suffix.count)
        if addSpecialTokens { out += postProcessor.prefix }
        var scratch = _EncodeScratch()
        var text = text
        text.withUTF8 { raw in
            var segments: [_Segment] = []
            rawTokens.split(raw, 0..<raw.count, into: &segments)
            for segment in segments {
                switch segment {
                case .token(let id): out.append(id)
                case .text(let range):
                    // A section between added tokens encodes the same wherever it stands (the
                    // pipeline never crosses an added token), so its ids can be reused.
                    guard let cache, range.count >= cache.minimumBytes else {
                        encodeText(raw, range, into: &out, &scratch)
                        continue
                    }
                    guard linesEncodeApart else {
                        encodeCached(raw, range, cache, into: &out, &scratch)
                        continue
                    }
                    // A long text without added tokens (a completion's prompt, a conversation
                    // written out) is cached in runs of whole lines: the next turn's prompt
                    // repeats this one's runs and encodes only what is new.
                    var start = range.lowerBound
                    while start < range.upperBound {
                        let end = Self.lineRunEnd(raw, from: start, before: range.upperBound, atLeast: Self.lineRunBytes)
                        if end - start >= cache.minimumBytes {
                            encodeCached(raw, start..<end, cache, into: &out, &scratch)
                        } else {
                            encodeText(raw, start..<end, into: &out, &scratch)
                        }
                        start = end
                    }
                }
            }
        }
        if addSpecialTokens { out += postProcessor.suffix }
        return out
    }

    /// Whether a section may be encoded in runs of lines, each run apart (see
    /// `_PreTokenizer.breaksAtLines`): no normalizer and no normalized added token may look
    /// across a line boundary either.
    private var linesEncodeApart: Bool { normalizer == nil && normalizedTokens.isEmpty && preTokenizer.breaksAtLines }

    /// Bytes a run of lines gathers before it ends at the next line boundary.
    static let lineRunBytes = 256

    /// Where the run of lines from `start` ends: at the first line boundary (a byte after `\n`
    /// or `\r` that is printable ASCII other than a space) at least `atLeast` bytes on, else
    /// at `upper`. The same bytes from the same start always end at the same place, so a text
    /// and a longer text it begins share all runs but the shorter one's last.
    /// - Complexity: O(bytes scanned)
    static func lineRunEnd(_ raw: UnsafeBufferPointer<UInt8>, from start: Int, before upper: Int, atLeast: Int) -> Int {
        var i = start + atLeast
        while i < upper {
            let b = raw[i], previous = raw[i - 1]
            if (previous == 0x0A || previous == 0x0D) && b > 0x20 && b < 0x7F { return i }
            i += 1
        }
        return upper
    }

    /// Encodes `range` from `cache` when it holds it, else encodes it and keeps its ids there.
    private func encodeCached(
        _ raw: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ cache: SegmentCache, into out: inout [UInt32],
        _ scratch: inout _EncodeScratch
    ) {
        let section = UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: raw[range]))
        let atStart = range.lowerBound == 0
        if let ids = cache.ids(section: section, atStart: atStart) {
            out += ids
            return
        }
        let start = out.count
        encodeText(raw, range, into: &out, &scratch)
        cache.store(Array(out[start...]), section: section, atStart: atStart)
    }

    /// Encodes the text between two raw added tokens: normalized, split again on the
    /// normalized added tokens, each piece pre-tokenized and byte-pair encoded.
    private func encodeText(
        _ raw: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, into out: inout [UInt32], _ scratch: inout _EncodeScratch
    ) {
        guard normalizer != nil || !normalizedTokens.isEmpty else {
            encodeSection(UnsafeBufferPointer(rebasing: raw[range]), atStart: range.lowerBound == 0, into: &out, &scratch)
            return
        }
        let section = Array(raw[range])
        let normalized = normalizer?.apply(section) ?? section
        var inner: [_Segment] = []
        normalized.withUnsafeBufferPointer { normalized in
            normalizedTokens.split(normalized, 0..<normalized.count, into: &inner)
            for piece in inner {
                switch piece {
                case .token(let id): out.append(id)
                case .text(let r):
                    encodeSection(
                        UnsafeBufferPointer(rebasing: normalized[r]), atStart: range.lowerBound == 0 && r.lowerBound == 0,
                        into: &out, &scratch)
                }
            }
        }
    }

    /// Pre-tokenizes and encodes one section of text between added tokens (in place when
    /// no rewrite changes it).
    private func encodeSection(
        _ section: UnsafeBufferPointer<UInt8>, atStart: Bool, into out: inout [UInt32], _ scratch: inout _EncodeScratch
    ) {
        guard preTokenizer.rewrites.isEmpty else {
            var rewritten = Array(section)
            preTokenizer.rewrite(&rewritten, atStart: atStart)
            rewritten.withUnsafeBufferPointer { encodePieces($0, into: &out, &scratch) }
            return
        }
        encodePieces(section, into: &out, &scratch)
    }

    private func encodePieces(_ bytes: UnsafeBufferPointer<UInt8>, into out: inout [UInt32], _ scratch: inout _EncodeScratch) {
        preTokenizer.split(bytes, into: &scratch.pieces, scratch: &scratch.split)
        for piece in scratch.pieces { model.encode(bytes, piece, into: &out, scratch: &scratch.merge) }
    }
}

/// The buffers one ``HuggingFaceTokenizer/encode(_:addSpecialTokens:)`` call reuses.
struct _EncodeScratch {
    var pieces: [Range<Int>] = []
    var split = _PreTokenizerScratch()
    var merge = _MergeScratch()
}
