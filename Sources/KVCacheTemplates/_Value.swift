import Foundation

/// A value while a template renders: the JSON kinds, plus what only a template makes
/// (undefined names, namespaces, macros, bound methods, the loop object).
enum _V: Sendable {
    case undefined(String)
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([_V])
    /// A Python tuple: a list that prints with parentheses and never equals a list.
    case tuple([_V])
    case object(_Object)
    case namespace(_Namespace)
    case macro(_Macro)
    case method(_MethodBox)
    case function(String)
    case loop(_LoopState)

    init(_ v: TemplateValue) {
        switch v {
        case .null: self = .none
        case .bool(let b): self = .bool(b)
        case .int(let n): self = .int(n)
        case .double(let d): self = .double(d)
        case .string(let s): self = .string(s)
        case .array(let a): self = .array(a.map(_V.init))
        case .object(let o): self = .object(o.fields.mapValues(_V.init))
        }
    }

    /// The items of a list or a tuple.
    var items: [_V]? {
        switch self {
        case .array(let a), .tuple(let a): a
        default: nil
        }
    }

    var isUndefined: Bool {
        if case .undefined = self { return true }
        return false
    }

    /// Python's truth value.
    var truthy: Bool {
        switch self {
        case .undefined, .none: false
        case .bool(let b): b
        case .int(let n): n != 0
        case .double(let d): d != 0
        case .string(let s): !s.isEmpty
        case .array(let a), .tuple(let a): !a.isEmpty
        case .object(let o): o.count > 0
        default: true
        }
    }

    /// Python's type name, for error messages.
    var typeName: String {
        switch self {
        case .undefined: "Undefined"
        case .none: "NoneType"
        case .bool: "bool"
        case .int: "int"
        case .double: "float"
        case .string: "str"
        case .array: "list"
        case .tuple: "tuple"
        case .object: "dict"
        case .namespace: "Namespace"
        case .macro: "Macro"
        case .method, .function: "builtin_function_or_method"
        case .loop: "LoopContext"
        }
    }

    /// A number as a double (booleans count as 0 and 1, as in Python).
    var number: Double? {
        switch self {
        case .bool(let b): b ? 1 : 0
        case .int(let n): Double(n)
        case .double(let d): d
        default: nil
        }
    }

    /// A whole number (booleans count as 0 and 1).
    var integer: Int? {
        switch self {
        case .bool(let b): b ? 1 : 0
        case .int(let n): n
        default: nil
        }
    }

    // MARK: Printing

    /// Python's `str()`: what `{{ value }}` prints.
    var text: String {
        switch self {
        case .undefined: ""
        case .string(let s): s
        default: repr
        }
    }

    /// Python's `repr()`.
    var repr: String {
        switch self {
        case .undefined: ""
        case .none: "None"
        case .bool(let b): b ? "True" : "False"
        case .int(let n): String(n)
        case .double(let d): _V.pythonFloat(d)
        case .string(let s): _V.pythonQuoted(s)
        case .array(let a): "[" + a.map(\.repr).joined(separator: ", ") + "]"
        case .tuple(let a): "(" + a.map(\.repr).joined(separator: ", ") + (a.count == 1 ? ",)" : ")")
        case .object(let o): "{" + zip(o.keys, o.values).map { "\(_V.pythonQuoted($0)): \($1.repr)" }.joined(separator: ", ") + "}"
        case .namespace: "<Namespace>"
        case .macro(let m): "<Macro '\(m.name)'>"
        case .method(let m): "<built-in method \(m.name)>"
        case .function(let f): "<function \(f)>"
        case .loop: "<LoopContext>"
        }
    }

    /// Python's `repr(float)`: the shortest digits that read back the same, in exponent form
    /// below 1e-4 and from 1e16.
    static func pythonFloat(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d < 0 ? "-inf" : "inf" }
        if d == 0 { return d.sign == .minus ? "-0.0" : "0.0" }
        let magnitude = abs(d)
        var s = "\(d)"
        if magnitude >= 1e16 || magnitude < 1e-4 {
            // Swift prints "1e+16" / "1.5e-05" as Python does once the mantissa is short.
            if !s.contains("e") { s = String(format: "%.17g", d) }
            return fixExponent(s)
        }
        if s.contains("e") {
            // Swift switches to exponent form later than Python for large values.
            let decimal = Decimal(string: s).map { "\($0)" } ?? s
            s = decimal.contains(".") ? decimal : decimal + ".0"
        }
        return s
    }

    private static func fixExponent(_ s: String) -> String {
        guard let e = s.firstIndex(where: { $0 == "e" || $0 == "E" }) else { return s }
        var mantissa = String(s[..<e])
        var exponent = String(s[s.index(after: e)...])
        if mantissa.hasSuffix(".0") { mantissa.removeLast(2) }
        let negative = exponent.hasPrefix("-")
        exponent = exponent.trimmingCharacters(in: CharacterSet(charactersIn: "+-"))
        while exponent.count > 2, exponent.hasPrefix("0") { exponent.removeFirst() }
        if exponent.count < 2 { exponent = "0" + exponent }
        return mantissa + "e" + (negative ? "-" : "+") + exponent
    }

    /// Python's `repr(str)`: single quotes unless the text has one and no double quote.
    static func pythonQuoted(_ s: String) -> String {
        let quote: Unicode.Scalar = s.unicodeScalars.contains("'") && !s.unicodeScalars.contains("\"") ? "\"" : "'"
        var out = String.UnicodeScalarView()
        out.append(quote)
        for c in s.unicodeScalars {
            switch c {
            case "\\": out.append(contentsOf: "\\\\".unicodeScalars)
            case "\n": out.append(contentsOf: "\\n".unicodeScalars)
            case "\r": out.append(contentsOf: "\\r".unicodeScalars)
            case "\t": out.append(contentsOf: "\\t".unicodeScalars)
            case quote: out.append(contentsOf: "\\\(quote)".unicodeScalars)
            default:
                if c.value < 0x20 || c.value == 0x7F || (0x80..<0xA0).contains(c.value) {
                    out.append(contentsOf: String(format: "\\x%02x", c.value).unicodeScalars)
                } else if !_Text.isPrintable(c) {
                    let hex = c.value > 0xFFFF ? String(format: "\\U%08x", c.value) : String(format: "\\u%04x", c.value)
                    out.append(contentsOf: hex.unicodeScalars)
                } else {
                    out.append(c)
                }
            }
        }
        out.append(quote)
        return String(out)
    }
}

/// An object of a template: keys in insertion order, string keys only.
typealias _Object = _OrderedFields<_V>

/// Fields keyed by string in the order they were first set, as Python's dictionaries keep them.
///
/// Keys and values sit in two parallel arrays. A chat message or a tool's parameter has a
/// handful of keys, and comparing a few short strings costs less than hashing one, so a key
/// is found by a scan until the object holds more than ``_OrderedFields/scanLimit`` keys; past
/// that a table of positions is kept beside the arrays.
struct _OrderedFields<Value: Sendable>: Sendable {
    private(set) var keys: [String] = []
    /// The values, at their keys' positions.
    private(set) var values: [Value] = []
    /// Each key's position, kept only past ``scanLimit`` keys.
    private var positions: [String: Int]?

    /// Keys up to which a lookup scans.
    static var scanLimit: Int { 8 }

    var count: Int { keys.count }

    /// The position of `key`.
    /// - Complexity: O(*n*) up to ``scanLimit`` keys, O(1) past it.
    func position(of key: String) -> Int? {
        if let positions { return positions[key] }
        for i in keys.indices where keys[i] == key { return i }
        return nil
    }

    /// - Complexity: O(1) to read, add or replace (a scan of at most ``scanLimit`` keys); O(*n*)
    ///   to remove.
    subscript(key: String) -> Value? {
        get { position(of: key).map { values[$0] } }
        set {
            if let i = position(of: key) {
                if let newValue {
                    values[i] = newValue
                } else {
                    keys.remove(at: i)
                    values.remove(at: i)
                    if positions != nil { index() }
                }
            } else if let newValue {
                keys.append(key)
                values.append(newValue)
                if positions != nil {
                    positions![key] = keys.count - 1
                } else if keys.count > Self.scanLimit {
                    index()
                }
            }
        }
    }

    /// The same keys with `transform` applied to each value.
    /// - Complexity: O(*n*)
    func mapValues<T, E: Error>(_ transform: (Value) throws(E) -> T) throws(E) -> _OrderedFields<T> {
        var out = _OrderedFields<T>()
        out.keys = keys
        out.values.reserveCapacity(values.count)
        for v in values { out.values.append(try transform(v)) }
        out.positions = positions
        return out
    }

    /// Rebuilds the positions (or drops them when the keys are few again).
    private mutating func index() {
        guard keys.count > Self.scanLimit else {
            positions = nil
            return
        }
        var p = [String: Int](minimumCapacity: keys.count)
        for (i, k) in keys.enumerated() { p[k] = i }
        positions = p
    }
}

/// `namespace(...)`: the one value a template may change after creating it, so it is shared.
final class _Namespace: @unchecked Sendable {
    // Touched only by the render that made it, on one thread.
    var fields = _Object()
    init() {}
}

/// A method bound to its receiver (`text.strip`), called later.
final class _MethodBox: Sendable {
    let receiver: _V
    let name: String
    init(_ receiver: _V, _ name: String) {
        self.receiver = receiver
        self.name = name
    }
}

/// The `loop` variable of a `for`.
final class _LoopState: @unchecked Sendable {
    // Touched only by the render that made it, on one thread.
    var index0 = 0
    let items: [_V]
    init(items: [_V]) { self.items = items }
}
