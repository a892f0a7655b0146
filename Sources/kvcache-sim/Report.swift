import KVCacheCLI

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A value of the command line's output: JSON through Foundation's `JSONEncoder`, and the
/// same scalars as text for tables, Markdown and CSV.
indirect enum Value: Encodable {
    case string(String)
    case int(Int)
    /// A number; `digits` is the precision its text shows in tables (JSON carries it whole).
    case number(Double, digits: Int)
    case bool(Bool)
    case null
    case array([Value])
    /// An object, its keys in order.
    case object([(String, Value)])

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    func encode(to encoder: any Encoder) throws {
        switch self {
        case .string(let s): var c = encoder.singleValueContainer(); try c.encode(s)
        case .int(let i): var c = encoder.singleValueContainer(); try c.encode(i)
        case .number(let d, _):
            var c = encoder.singleValueContainer()
            if d.isFinite { try c.encode(d) } else { try c.encodeNil() }
        case .bool(let b): var c = encoder.singleValueContainer(); try c.encode(b)
        case .null: var c = encoder.singleValueContainer(); try c.encodeNil()
        case .array(let a):
            var c = encoder.unkeyedContainer()
            for v in a { try c.encode(v) }
        case .object(let pairs):
            var c = encoder.container(keyedBy: Key.self)
            for (k, v) in pairs { try c.encode(v, forKey: Key(k)) }
        }
    }

    /// The value as a table cell (`nil` for lists and objects, which tables do not show).
    var text: String? {
        switch self {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .number(let d, let digits): return d.isFinite ? fixed(d, digits) : "n/a"
        case .bool(let b): return b ? "true" : "false"
        case .null: return ""
        case .array, .object: return nil
        }
    }

    /// `n` as a number shown with `digits` decimals.
    static func num(_ n: Double, _ digits: Int = 6) -> Value { .number(n, digits: digits) }

    /// The value encoded as one JSON document.
    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        let data = (try? encoder.encode(self)) ?? Data("null".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

/// Renders rows as an aligned table, Markdown, CSV, or one JSON array of objects.
enum Report {
    static func render(rows: [[String: Value]], keys: [String], format: OutputFormat) -> String {
        if format == .json {
            return Value.array(rows.map { row in .object(keys.compactMap { k in row[k].map { (k, $0) } }) }).json
        }
        let cells = rows.map { row in keys.map { row[$0]?.text ?? "" } }
        switch format {
        case .csv:
            return ([keys.joined(separator: ",")] + cells.map { $0.map(csvField).joined(separator: ",") }).joined(separator: "\n")
        case .markdown:
            let header = "| " + keys.joined(separator: " | ") + " |"
            let rule = "|" + keys.map { _ in " --- |" }.joined()
            return ([header, rule] + cells.map { "| " + $0.joined(separator: " | ") + " |" }).joined(separator: "\n")
        case .table, .json:
            let widths = keys.indices.map { i in max(keys[i].count, cells.map { $0[i].count }.max() ?? 0) }
            func line(_ row: [String]) -> String {
                zip(row, widths).map { c, w in c.rightAligned(w) }
                    .joined(separator: "  ")
            }
            return ([line(keys)] + cells.map(line)).joined(separator: "\n")
        }
    }

    /// One record: JSON as an object; otherwise a two-column table of its scalar entries
    /// (`name` / `value`), followed by a table for each list of objects in it.
    static func renderRecord(_ pairs: [(String, Value)], format: OutputFormat, name: String = "metric") -> String {
        if format == .json { return Value.object(pairs).json }
        var flat: [[String: Value]] = []
        for (k, v) in pairs {
            if let t = v.text { flat.append([name: .string(k), "value": .string(t)]) }
            if case .object(let inner) = v {
                for (sub, w) in inner { if let t = w.text { flat.append([name: .string("\(k).\(sub)"), "value": .string(t)]) } }
            }
        }
        var out = render(rows: flat, keys: [name, "value"], format: format)
        for (k, v) in pairs {
            guard case .array(let items) = v, case .object(let first)? = items.first else { continue }
            let keys = first.map(\.0).filter { key in
                items.allSatisfy { item in
                    if case .object(let p) = item, let v = p.first(where: { $0.0 == key })?.1 { return v.text != nil }
                    return false
                }
            }
            guard keys.count == first.count else { continue }  // nested lists: JSON only
            let rows = items.map { item -> [String: Value] in
                guard case .object(let p) = item else { return [:] }
                return Dictionary(p, uniquingKeysWith: { a, _ in a })
            }
            out += "\n\n\(k):\n" + render(rows: rows, keys: keys, format: format)
        }
        return out
    }

    static func csvField(_ s: String) -> String {
        s.contains(",") || s.contains("\"") || s.contains("\n") ? "\"" + s.replacing("\"", with: "\"\"") + "\"" : s
    }
}
