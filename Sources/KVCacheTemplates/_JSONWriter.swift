/// Python's `json.dumps` as Hugging Face's `tojson` filter calls it: keys in order unless
/// sorted, `", "` and `": "` between items (`","` when indented), non-ASCII kept unless asked.
struct _JSONWriter {
    let indent: String?
    let itemSeparator: String
    let keySeparator: String
    let sortKeys: Bool
    let asciiOnly: Bool
    var out = ""
    var depth = 0

    init(indent: String?, separators: (String, String)?, sortKeys: Bool, asciiOnly: Bool) {
        self.indent = indent
        itemSeparator = separators?.0 ?? (indent == nil ? ", " : ",")
        keySeparator = separators?.1 ?? ": "
        self.sortKeys = sortKeys
        self.asciiOnly = asciiOnly
    }

    private mutating func newline() {
        guard let indent else { return }
        out += "\n"
        for _ in 0..<depth { out += indent }
    }

    mutating func write(_ v: _V, renderer: _Renderer) throws(TemplateError) {
        guard depth < 256 else { throw renderer.fail("tojson: the value is nested too deeply") }
        switch v {
        case .none: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let n): out += String(n)
        case .double(let d):
            if d.isNaN {
                out += "NaN"
            } else if d.isInfinite {
                out += d < 0 ? "-Infinity" : "Infinity"
            } else {
                out += _V.pythonFloat(d)
            }
        case .string(let s): quote(s)
        case .array(let a), .tuple(let a):
            guard !a.isEmpty else {
                out += "[]"
                return
            }
            out += "["
            depth += 1
            for (k, item) in a.enumerated() {
                if k > 0 { out += itemSeparator }
                newline()
                try write(item, renderer: renderer)
            }
            depth -= 1
            newline()
            out += "]"
        case .object(let o):
            try writeObject(o, renderer: renderer)
        case .namespace(let ns):
            try writeObject(ns.fields, renderer: renderer)
        default:
            throw renderer.fail("Object of type \(v.typeName) is not JSON serializable")
        }
    }

    private mutating func writeObject(_ o: _Object, renderer: _Renderer) throws(TemplateError) {
        guard o.count > 0 else {
            out += "{}"
            return
        }
        out += "{"
        depth += 1
        let keys = sortKeys ? o.keys.sorted(by: _Text.less) : o.keys
        for (k, key) in keys.enumerated() {
            if k > 0 { out += itemSeparator }
            newline()
            quote(key)
            out += keySeparator
            try write(o[key]!, renderer: renderer)
        }
        depth -= 1
        newline()
        out += "}"
    }

    private static let hex: [Character] = Array("0123456789abcdef")

    private mutating func quote(_ s: String) {
        out += "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if c.value < 0x20 || (asciiOnly && c.value > 0x7E) {
                    if c.value > 0xFFFF {
                        let v = c.value - 0x10000
                        unicodeEscape(0xD800 + (v >> 10))
                        unicodeEscape(0xDC00 + (v & 0x3FF))
                    } else {
                        unicodeEscape(c.value)
                    }
                } else {
                    out.unicodeScalars.append(c)
                }
            }
        }
        out += "\""
    }

    private mutating func unicodeEscape(_ v: UInt32) {
        out += "\\u"
        for shift in [12, 8, 4, 0] { out.append(Self.hex[Int((v >> UInt32(shift)) & 0xF)]) }
    }
}
