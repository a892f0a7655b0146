import Foundation

/// Typed reads of a parsed JSON object, each failing with the field's name.
struct _JSONObject {
    let fields: [String: Any]

    init(_ value: Any?, _ field: String) throws(_LoadError) {
        guard let fields = value as? [String: Any] else { throw _LoadError(field, "is not a JSON object") }
        self.fields = fields
    }

    /// Whether a component (`normalizer`, `pre_tokenizer`, …) is absent: missing or `null`.
    static func isAbsent(_ value: Any?) -> Bool { value == nil || value is NSNull }

    /// A pipeline component's object and its `type`.
    static func component(_ value: Any?) throws(_LoadError) -> (object: _JSONObject, type: String) {
        let o = try _JSONObject(value, "")
        return (o, try o.string("type"))
    }

    func has(_ key: String) -> Bool { fields[key].map { !($0 is NSNull) } ?? false }

    func string(_ key: String) throws(_LoadError) -> String {
        guard let s = fields[key] as? String else { throw _LoadError(key, "is missing or not a string") }
        return s
    }

    func optionalString(_ key: String) throws(_LoadError) -> String? {
        guard has(key) else { return nil }
        return try string(key)
    }

    func bool(_ key: String, default value: Bool) throws(_LoadError) -> Bool {
        guard has(key) else { return value }
        guard let b = fields[key] as? Bool else { throw _LoadError(key, "is not true or false") }
        return b
    }

    func id(_ key: String) throws(_LoadError) -> UInt32 {
        guard let n = fields[key] as? NSNumber, let id = UInt32(exactly: n.doubleValue) else {
            throw _LoadError(key, "is not a token id (an integer in 0...\(UInt32.max))")
        }
        return id
    }

    func object(_ key: String) throws(_LoadError) -> _JSONObject { try _JSONObject(fields[key], key) }

    func array(_ key: String) throws(_LoadError) -> [Any] {
        guard let a = fields[key] as? [Any] else { throw _LoadError(key, "is missing or not an array") }
        return a
    }
}
