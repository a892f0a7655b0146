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

    func apply(_ text: String) -> String {
        switch self {
        case .nfc: text.precomposedStringWithCanonicalMapping
        case .nfd: text.decomposedStringWithCanonicalMapping
        case .nfkc: text.precomposedStringWithCompatibilityMapping
        case .nfkd: text.decomposedStringWithCompatibilityMapping
        case .lowercase: text.lowercased()
        case .prepend(let p): text.isEmpty ? text : p + text
        case .replace(let from, let to): text.replacingOccurrences(of: from, with: to)
        case .sequence(let steps): steps.reduce(text) { $1.apply($0) }
        }
    }
}
