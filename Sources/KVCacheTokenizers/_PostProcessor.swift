import Foundation

/// The `post_processor` of a `tokenizer.json`, for one sequence: the special tokens it puts
/// before and after the encoded text.
struct _PostProcessor: Sendable {
    private(set) var prefix: [UInt32] = []
    private(set) var suffix: [UInt32] = []

    init(_ json: Any?) throws(_LoadError) {
        if !_JSONObject.isAbsent(json) { try add(json) }
    }

    /// Wraps what the processors before have made in what `json` adds.
    private mutating func add(_ json: Any?) throws(_LoadError) {
        let (o, type) = try _JSONObject.component(json)
        switch type {
        case "ByteLevel": break
        case "Sequence":
            for (i, step) in try o.array("processors").enumerated() {
                do { try add(step) } catch { throw error.within("processors[\(i)]") }
            }
        case "BertProcessing", "RobertaProcessing":
            let cls = try Self.pairID(o, "cls")
            let sep = try Self.pairID(o, "sep")
            prefix.insert(cls, at: 0)
            suffix.append(sep)
        case "TemplateProcessing":
            let special = try o.object("special_tokens")
            var before: [UInt32] = []
            var after: [UInt32] = []
            var seenSequence = false
            for (i, item) in try o.array("single").enumerated() {
                let field = "single[\(i)]"
                let piece: _JSONObject
                do { piece = try _JSONObject(item, field) } catch { throw error }
                if piece.has("Sequence") {
                    guard !seenSequence else { throw _LoadError(field, "is a second Sequence in a single-sequence template") }
                    seenSequence = true
                } else if piece.has("SpecialToken") {
                    let name: String
                    do { name = try piece.object("SpecialToken").string("id") } catch { throw error.within(field) }
                    guard let entry = special.fields[name] else {
                        throw _LoadError("special_tokens", "has no entry for \(name.debugDescription), which \(field) names")
                    }
                    let ids: [UInt32]
                    do {
                        ids = try Self.ids(try _JSONObject(entry, name).array("ids"))
                    } catch { throw error.within("special_tokens.\(name)") }
                    if seenSequence { after += ids } else { before += ids }
                } else {
                    throw _LoadError(field, "is neither a Sequence nor a SpecialToken")
                }
            }
            prefix = before + prefix
            suffix += after
        default:
            throw _LoadError("type", "post-processor \"\(type)\" is not supported")
        }
    }

    private static func pairID(_ o: _JSONObject, _ key: String) throws(_LoadError) -> UInt32 {
        let pair = try o.array(key)
        guard pair.count == 2, pair[0] is String, let n = pair[1] as? NSNumber, let id = UInt32(exactly: n.doubleValue) else {
            throw _LoadError(key, "is not [token, id]")
        }
        return id
    }

    private static func ids(_ values: [Any]) throws(_LoadError) -> [UInt32] {
        var out: [UInt32] = []
        for (i, v) in values.enumerated() {
            guard let n = v as? NSNumber, let id = UInt32(exactly: n.doubleValue) else {
                throw _LoadError("ids[\(i)]", "is not a token id")
            }
            out.append(id)
        }
        return out
    }
}
