import Foundation

/// A `normalizer` of a `tokenizer.json`: rewrites the text before it is split.
indirect enum _Normalizer: Sendable {
    case nfc, nfd, nfkc, nfkd, lowercase
    case prepend(String)
    case replace(String, String)
    case sequence([_Normalizer])

    init(_ json: Any?) throws(_LoadError) {
        let (o, type) = try _JSONObject.component(json)
        switch type {
        case "NFC": self = .nfc
        case "NFD": self = .nfd
        case "NFKC": self = .nfkc
        case "NFKD": self = .nfkd
        case "Lowercase": self = .lowercase
        case "Prepend": self = .prepend(try o.string("prepend"))
        case "Replace":
            let pattern = try o.object("pattern")
            guard let literal = pattern.fields["String"] as? String else {
                throw _LoadError("pattern", "only a String pattern is supported in a Replace normalizer")
            }
            self = .replace(literal, try o.string("content"))
        case "Sequence":
            var steps: [_Normalizer] = []
            for (i, step) in try o.array("normalizers").enumerated() {
                do { steps.append(try _Normalizer(step)) } catch { throw error.within("normalizers[\(i)]") }
            }
            self = .sequence(steps)
        default: throw _LoadError("type", "normalizer \"\(type)\" is not supported")
        }
    }

    /// `text` (UTF-8) rewritten. ASCII text is the same in every normalization form, and
    /// prepending or replacing literal strings works on bytes, so only non-ASCII text in a
    /// normalization or case form goes through `String`.
    func apply(_ text: [UInt8]) -> [UInt8] {
        switch self {
        case .nfc, .nfd, .nfkc, .nfkd:
            guard !text.allSatisfy({ $0 < 0x80 }) else { return text }
            let s = String(decoding: text, as: UTF8.self)
            let normalized: String
            switch self {
            case .nfc: normalized = s.precomposedStringWithCanonicalMapping
            case .nfd: normalized = s.decomposedStringWithCanonicalMapping
            case .nfkc: normalized = s.precomposedStringWithCompatibilityMapping
            default: normalized = s.decomposedStringWithCompatibilityMapping
            }
            return Array(normalized.utf8)
        case .lowercase:
            guard !text.allSatisfy({ $0 < 0x80 }) else {
                return text.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 | 0x20 : $0 }
            }
            return Array(String(decoding: text, as: UTF8.self).lowercased().utf8)
        case .prepend(let p): return text.isEmpty ? text : Array(p.utf8) + text
        case .replace(let from, let to): return Self.replace(Array(from.utf8), with: Array(to.utf8), in: text)
        case .sequence(let steps): return steps.reduce(text) { $1.apply($0) }
        }
    }

    /// `text` with each occurrence of `pattern`, leftmost first, replaced by `replacement`.
    private static func replace(_ pattern: [UInt8], with replacement: [UInt8], in text: [UInt8]) -> [UInt8] {
        guard let first = pattern.first, text.count >= pattern.count else { return text }
        var out: [UInt8] = []
        out.reserveCapacity(text.count + text.count / 2)
        var i = 0
        while i < text.count {
            if text[i] == first, i + pattern.count <= text.count, text[i..<(i + pattern.count)].elementsEqual(pattern) {
                out.append(contentsOf: replacement)
                i += pattern.count
            } else {
                out.append(text[i])
                i += 1
            }
        }
        return out
    }
}
