import Foundation

/// A JSON-shaped value a template reads: what a chat request's messages, tools and keyword
/// arguments are made of.
///
/// Objects keep their keys in the order they were given, as Python's dictionaries do, because
/// templates print them (`tojson`, `items()`) in that order.
public enum TemplateValue: Sendable, Hashable {
    /// JSON `null`, Python's `None`.
    case null
    /// A boolean.
    case bool(Bool)
    /// A whole number (JSON numbers without a fraction or exponent).
    case int(Int)
    /// A floating-point number.
    case double(Double)
    /// A string.
    case string(String)
    /// A list.
    case array([TemplateValue])
    /// An object, its keys in order.
    case object(TemplateObject)

    /// Parses JSON text into a value, keeping each object's key order.
    /// - Throws: ``TemplateError`` when `json` is not valid JSON.
    public init(json: some Collection<UInt8>) throws(TemplateError) {
        self = try _JSONReader.parse(Array(json))
    }

    /// The object's value for `key`, or `nil` when this is not an object or has no such key.
    public subscript(key: String) -> TemplateValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    /// The value as compact JSON text (object keys in their order).
    public var jsonText: String {
        var w = _JSONWriter(indent: nil, separators: (",", ":"), sortKeys: false, asciiOnly: false)
        // A TemplateValue holds only JSON kinds, which the writer always takes.
        try? w.write(_V(self), renderer: _Renderer(context: [:], now: Date(timeIntervalSince1970: 0)))
        return w.out
    }

    /// The string, when this is one.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }
}

/// A JSON object whose keys keep the order they were inserted in.
public struct TemplateObject: Sendable, Hashable {
    /// The fields, in order.
    private(set) var fields = _OrderedFields<TemplateValue>()

    /// The keys, in order.
    public var keys: [String] { fields.keys }

    /// An empty object.
    public init() {}

    /// An object of `pairs`, in their order; a later pair with the same key replaces the value
    /// and keeps the first position.
    public init(_ pairs: [(String, TemplateValue)]) {
        for (k, v) in pairs { self[k] = v }
    }

    /// The number of keys.
    public var count: Int { fields.count }

    /// The value of `key`; setting `nil` removes it.
    /// - Complexity: O(1) to read, add or replace; O(*n*) to remove.
    public subscript(key: String) -> TemplateValue? {
        get { fields[key] }
        set { fields[key] = newValue }
    }

    /// The key-value pairs in order.
    public var pairs: [(key: String, value: TemplateValue)] { Array(zip(fields.keys, fields.values)) }

    /// Equal when both have the same keys with equal values, in any order (as JSON objects and
    /// Python's dictionaries compare).
    public static func == (a: Self, b: Self) -> Bool {
        guard a.count == b.count else { return false }
        for (k, v) in zip(a.fields.keys, a.fields.values) where b.fields[k] != v { return false }
        return true
    }

    /// Hashes the pairs independently of their order, as ``==`` compares them.
    public func hash(into h: inout Hasher) {
        var pairs = 0
        for (k, v) in zip(fields.keys, fields.values) {
            var one = Hasher()
            one.combine(k)
            one.combine(v)
            pairs ^= one.finalize()
        }
        h.combine(count)
        h.combine(pairs)
    }
}
