import Foundation

extension _Renderer {
    // MARK: Filters

    /// A keyword argument's value, or the positional one at `position`, or `nil`.
    private static func argument(_ name: String, _ position: Int, _ args: [_V], _ kwargs: [(String, _V)]) -> _V? {
        if let kw = kwargs.first(where: { $0.0 == name }) { return kw.1 }
        return position >= 0 && position < args.count ? args[position] : nil
    }

    private mutating func string(_ v: _V?, _ what: String) throws(TemplateError) -> String? {
        guard let v, !v.isUndefined, !v.isNone else { return nil }
        guard case .string(let s) = v else { throw fail("\(what) must be a string, not \(v.typeName)") }
        return s
    }

    mutating func applyFilter(_ name: String, _ v: _V, _ args: [_V], _ kwargs: [(String, _V)]) throws(TemplateError) -> _V {
        func arg(_ n: String, _ k: Int) -> _V? { Self.argument(n, k, args, kwargs) }
        switch name {
        case "trim":
            return .string(_Text.strip(v.text, try string(arg("chars", 0), "trim's chars"), leading: true, trailing: true))
        case "upper": return .string(v.text.uppercased())
        case "lower": return .string(v.text.lowercased())
        case "capitalize": return .string(_Text.capitalize(v.text))
        case "title": return .string(_Text.title(v.text))
        case "string": return .string(v.text)
        case "safe": return v
        case "e", "escape", "forceescape":
            var s = v.text
            for (a, b) in [("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("\"", "&#34;"), ("'", "&#39;")] {
                s = _Text.replace(s, a, b)
            }
            return .string(s)
        case "tojson":
            let indent = arg("indent", 1)
            let sortKeys = arg("sort_keys", 3)?.truthy ?? false
            let ascii = arg("ensure_ascii", 0)?.truthy ?? false
            var separators: (String, String)? = nil
            if let pair = arg("separators", 2)?.items, pair.count == 2, case .string(let a) = pair[0],
                case .string(let b) = pair[1]
            {
                separators = (a, b)
            }
            var indentText: String? = nil
            switch indent {
            case .int(let n)?: indentText = String(repeating: " ", count: max(0, min(n, 64)))
            case .string(let s)?: indentText = s
            default: break
            }
            var json = _JSONWriter(indent: indentText, separators: separators, sortKeys: sortKeys, asciiOnly: ascii)
            try json.write(v, renderer: self)
            return .string(json.out)
        case "length", "count":
            switch v {
            case .string(let s): return .int(s.unicodeScalars.count)
            case .array(let a), .tuple(let a): return .int(a.count)
            case .object(let o): return .int(o.count)
            case .undefined: return .int(0)
            default: throw fail("object of type '\(v.typeName)' has no len()")
            }
        case "first":
            return try iterate(v).first ?? .undefined("first")
        case "last":
            if case .object = v { throw fail("'dict' object is not reversible") }
            return try iterate(v).last ?? .undefined("last")
        case "list": return .array(try iterate(v))
        case "reverse":
            if case .string(let s) = v { return .string(_Text.string(s.unicodeScalars.reversed())) }
            return .array(try iterate(v).reversed())
        case "join":
            let separator = try string(arg("d", 0), "join's separator") ?? ""
            var items = try iterate(v)
            if let a = try string(arg("attribute", 1), "join's attribute") {
                items = try items.map { i throws(TemplateError) in try attribute(i, a) }
            }
            return .string(items.map(\.text).joined(separator: separator))
        case "default", "d":
            let fallback = arg("default_value", 0) ?? .string("")
            let boolean = arg("boolean", 1)?.truthy ?? false
            return v.isUndefined || (boolean && !v.truthy) ? fallback : v
        case "items":
            switch v {
            case .object(let o): return .array(zip(o.keys, o.values).map { .tuple([.string($0), $1]) })
            case .undefined: return .array([])
            default: throw fail("the filter 'items' needs a mapping, not \(v.typeName)")
            }
        case "dictsort":
            guard case .object(let o) = v else { throw fail("the filter 'dictsort' needs a mapping, not \(v.typeName)") }
            let byValue = (try string(arg("by", 1), "dictsort's by")) == "value"
            let pairs = zip(o.keys, o.values).map { _V.tuple([.string($0), $1]) }
            return .array(
                try sorted(pairs, reverse: arg("reverse", 2)?.truthy ?? false) { p throws(TemplateError) in
                    try item(p, .int(byValue ? 1 : 0))
                })
        case "int":
            let fallback = arg("default", 0) ?? .int(0)
            switch v {
            case .int: return v
            case .bool(let b): return .int(b ? 1 : 0)
            case .double(let d): return d.isFinite && abs(d) < 9e18 ? .int(Int(d)) : fallback
            case .string(let s):
                let t = _Text.strip(s, nil, leading: true, trailing: true).replacingOccurrences(of: "_", with: "")
                if let n = Int(t) { return .int(n) }
                if let d = Double(t), d.isFinite, abs(d) < 9e18 { return .int(Int(d)) }
                return fallback
            default: return fallback
            }
        case "float":
            let fallback = arg("default", 0) ?? .double(0)
            switch v {
            case .string(let s): return Double(_Text.strip(s, nil, leading: true, trailing: true)).map { .double($0) } ?? fallback
            default: return v.number.map { .double($0) } ?? fallback
            }
        case "abs":
            switch v {
            case .int(let n): return n == .min ? .double(-Double(n)) : .int(abs(n))
            case .bool(let b): return .int(b ? 1 : 0)
            case .double(let d): return .double(abs(d))
            default: throw fail("bad operand type for abs(): '\(v.typeName)'")
            }
        case "round":
            guard let x = v.number else { throw fail("the filter 'round' needs a number, not \(v.typeName)") }
            let precision = arg("precision", 0)?.integer ?? 0
            let method = try string(arg("method", 1), "round's method") ?? "common"
            let scale = Foundation.pow(10.0, Double(max(-20, min(precision, 20))))
            let rule: FloatingPointRoundingRule = method == "ceil" ? .up : method == "floor" ? .down : .toNearestOrAwayFromZero
            return .double((x * scale).rounded(rule) / scale)
        case "replace":
            guard let old = try string(arg("old", 0), "replace's old"), let new = try string(arg("new", 1), "replace's new") else {
                throw fail("the filter 'replace' needs two strings")
            }
            return .string(_Text.replace(v.text, old, new, count: arg("count", 2)?.integer ?? -1))
        case "indent":
            let width: String
            switch arg("width", 0) {
            case .string(let s)?: width = s
            case let w?: width = String(repeating: " ", count: max(0, min(w.integer ?? 4, 256)))
            case nil: width = "    "
            }
            let first = arg("first", 1)?.truthy ?? false
            let blank = arg("blank", 2)?.truthy ?? false
            var lines = _Text.split(v.text, separator: "\n", limit: -1)
            for k in lines.indices where (k > 0 || first) && (blank || !_Text.strip(lines[k], nil, leading: true, trailing: true).isEmpty) {
                lines[k] = width + lines[k]
            }
            return .string(lines.joined(separator: "\n"))
        case "center":
            let width = min(arg("width", 0)?.integer ?? 80, 1 << 16)
            let s = v.text
            let n = s.unicodeScalars.count
            guard width > n else { return .string(s) }
            let left = (width - n) / 2 + ((width - n) % 2 == 1 && width % 2 == 1 ? 1 : 0)
            return .string(String(repeating: " ", count: left) + s + String(repeating: " ", count: width - n - left))
        case "wordcount": return .int(_Text.splitWhitespace(v.text, limit: -1).count)
        case "truncate":
            let length = arg("length", 0)?.integer ?? 255
            let s = Array(v.text.unicodeScalars)
            guard s.count > length + 5 else { return .string(v.text) }
            let end = try string(arg("end", 2), "truncate's end") ?? "..."
            return .string(_Text.string(s[..<max(0, length - end.unicodeScalars.count)]) + end)
        case "attr":
            guard let n = try string(arg("name", 0), "attr's name") else { throw fail("the filter 'attr' needs a name") }
            return try attribute(v, n)
        case "map":
            let items = try iterate(v)
            if let a = try string(arg("attribute", -1), "map's attribute") {
                let fallback = arg("default", -1)
                return .array(
                    try items.map { i throws(TemplateError) in
                        let r = try attribute(i, a)
                        return r.isUndefined ? (fallback ?? r) : r
                    })
            }
            guard let f = try string(args.first, "map's filter") else { throw fail("the filter 'map' needs a filter name or attribute=") }
            guard _Builtins.filters.contains(f) else { throw fail("the filter '\(f)' is not supported") }
            var out: [_V] = []
            for i in items { out.append(try applyFilter(f, i, Array(args.dropFirst()), kwargs)) }
            return .array(out)
        case "select", "reject", "selectattr", "rejectattr":
            let byAttribute = name.hasSuffix("attr")
            var rest = args
            var a: String? = nil
            if byAttribute {
                guard let n = try string(rest.first, "\(name)'s attribute") else {
                    throw fail("the filter '\(name)' needs an attribute name")
                }
                a = n
                rest.removeFirst()
            }
            let test = try string(rest.first, "\(name)'s test")
            if !rest.isEmpty { rest.removeFirst() }
            if let test, !_Builtins.tests.contains(test) { throw fail("the test '\(test)' is not supported") }
            let keep = name.hasPrefix("select")
            var out: [_V] = []
            for i in try iterate(v) {
                let subject = try a.map { n throws(TemplateError) in try attribute(i, n) } ?? i
                let passed = try test.map { t throws(TemplateError) in try applyTest(t, subject, rest) } ?? subject.truthy
                if passed == keep { out.append(i) }
            }
            return .array(out)
        case "sort":
            let a = try string(arg("attribute", 2), "sort's attribute")
            let caseSensitive = arg("case_sensitive", 1)?.truthy ?? false
            return .array(
                try sorted(try iterate(v), reverse: arg("reverse", 0)?.truthy ?? false) { i throws(TemplateError) in
                    let key = try a.map { n throws(TemplateError) in try attribute(i, n) } ?? i
                    if !caseSensitive, case .string(let s) = key { return .string(s.lowercased()) }
                    return key
                })
        case "unique":
            let a = try string(arg("attribute", 1), "unique's attribute")
            let caseSensitive = arg("case_sensitive", 0)?.truthy ?? false
            var seen: [_V] = []
            var out: [_V] = []
            for i in try iterate(v) {
                var key = try a.map { n throws(TemplateError) in try attribute(i, n) } ?? i
                if !caseSensitive, case .string(let s) = key { key = .string(s.lowercased()) }
                if !seen.contains(where: { _Builtins.equal($0, key) }) {
                    seen.append(key)
                    out.append(i)
                }
            }
            return .array(out)
        case "sum":
            let a = try string(arg("attribute", 0), "sum's attribute")
            var total = arg("start", 1) ?? .int(0)
            for i in try iterate(v) { total = try binary(.add, total, try a.map { n throws(TemplateError) in try attribute(i, n) } ?? i) }
            return total
        case "min", "max":
            let items = try sorted(try iterate(v), reverse: name == "max") { $0 }
            return items.first ?? .undefined(name)
        case "batch":
            guard let size = arg("linecount", 0)?.integer, size > 0 else { throw fail("the filter 'batch' needs a positive size") }
            let items = try iterate(v)
            let fill = arg("fill_with", 1)
            var out: [_V] = []
            for start in Swift.stride(from: 0, to: items.count, by: size) {
                var chunk = Array(items[start..<min(start + size, items.count)])
                if let fill, chunk.count < size { chunk += Array(repeating: fill, count: size - chunk.count) }
                out.append(.array(chunk))
            }
            return .array(out)
        case "format":
            return .string(try percentFormat(v.text, args))
        default:
            throw fail("the filter '\(name)' is not supported")
        }
    }

    private func sorted(_ items: [_V], reverse: Bool, key: (_V) throws(TemplateError) -> _V) throws(TemplateError) -> [_V] {
        var keyed: [(_V, _V)] = []
        for i in items { keyed.append((try key(i), i)) }
        var failure: TemplateError? = nil
        keyed.sort { x, y in
            guard let lt = _Builtins.less(reverse ? y.0 : x.0, reverse ? x.0 : y.0) else {
                failure = fail("'<' not supported between instances of '\(x.0.typeName)' and '\(y.0.typeName)'")
                return false
            }
            return lt
        }
        if let failure { throw failure }
        return keyed.map(\.1)
    }

    /// Python's `text % args` for `%s`, `%d`, `%r` and `%%`.
    private func percentFormat(_ text: String, _ args: [_V]) throws(TemplateError) -> String {
        var out = ""
        var k = 0
        var it = text.unicodeScalars.makeIterator()
        while let c = it.next() {
            guard c == "%" else {
                out.unicodeScalars.append(c)
                continue
            }
            guard let d = it.next() else { throw fail("incomplete format") }
            if d == "%" {
                out += "%"
                continue
            }
            guard k < args.count else { throw fail("not enough arguments for format string") }
            switch d {
            case "s": out += args[k].text
            case "r": out += args[k].repr
            case "d", "i":
                guard let n = args[k].number, n.isFinite, abs(n) < 9e18 else {
                    throw fail("%d format: a real number is required, not \(args[k].typeName)")
                }
                out += String(Int(n))
            default: throw fail("the format '%\(d)' is not supported")
            }
            k += 1
        }
        return out
    }

    // MARK: Methods and globals

    mutating func callMethod(_ receiver: _V, _ name: String, _ args: [_V], _ kwargs: [(String, _V)]) throws(TemplateError) -> _V {
        func arg(_ n: String, _ k: Int) -> _V? { Self.argument(n, k, args, kwargs) }
        switch receiver {
        case .string(let s):
            switch name {
            case "strip", "lstrip", "rstrip":
                let chars = try string(arg("chars", 0), "\(name)'s chars")
                return .string(_Text.strip(s, chars, leading: name != "rstrip", trailing: name != "lstrip"))
            case "split", "rsplit":
                let limit = arg("maxsplit", 1)?.integer ?? -1
                guard let sep = try string(arg("sep", 0), "split's separator") else {
                    return .array(_Text.splitWhitespace(s, limit: name == "split" ? limit : -1).map { .string($0) })
                }
                guard !sep.isEmpty else { throw fail("empty separator") }
                if name == "rsplit", limit >= 0 {
                    let all = _Text.split(s, separator: sep, limit: -1)
                    guard all.count > limit + 1 else { return .array(all.map { .string($0) }) }
                    let head = all[..<(all.count - limit)].joined(separator: sep)
                    return .array(([head] + all[(all.count - limit)...]).map { .string($0) })
                }
                return .array(_Text.split(s, separator: sep, limit: limit).map { .string($0) })
            case "splitlines":
                var lines = _Text.split(_Text.replace(_Text.replace(s, "\r\n", "\n"), "\r", "\n"), separator: "\n", limit: -1)
                if lines.last == "" { lines.removeLast() }
                return .array(lines.map { .string($0) })
            case "startswith", "endswith":
                let candidates: [_V]
                switch arg("prefix", 0) {
                case .array(let a)?, .tuple(let a)?: candidates = a
                case let x?: candidates = [x]
                case nil: throw fail("\(name)() takes at least 1 argument")
                }
                for c in candidates {
                    guard case .string(let p) = c else { throw fail("\(name) first arg must be str or a tuple of str, not \(c.typeName)") }
                    if name == "startswith" ? _Text.hasPrefix(s, p) : _Text.hasSuffix(s, p) { return .bool(true) }
                }
                return .bool(false)
            case "upper": return .string(s.uppercased())
            case "lower": return .string(s.lowercased())
            case "title": return .string(_Text.title(s))
            case "capitalize": return .string(_Text.capitalize(s))
            case "replace":
                guard let old = try string(arg("old", 0), "replace's old"), let new = try string(arg("new", 1), "replace's new") else {
                    throw fail("replace() takes two strings")
                }
                return .string(_Text.replace(s, old, new, count: arg("count", 2)?.integer ?? -1))
            case "find", "rfind", "index", "count":
                guard let sub = try string(arg("sub", 0), "\(name)'s argument") else { throw fail("\(name)() takes a string") }
                let hay = Array(s.unicodeScalars)
                let needle = Array(sub.unicodeScalars)
                if name == "count" {
                    if needle.isEmpty { return .int(hay.count + 1) }
                    var n = 0
                    var at = 0
                    while let hit = _Text.find(hay, needle, from: at) {
                        n += 1
                        at = hit + needle.count
                    }
                    return .int(n)
                }
                var found: Int? = nil
                if name == "rfind" {
                    var at = 0
                    while let hit = _Text.find(hay, needle, from: at) {
                        found = hit
                        at = hit + 1
                        if hit >= hay.count { break }
                    }
                } else {
                    found = _Text.find(hay, needle)
                }
                if found == nil && name == "index" { throw fail("substring not found") }
                return .int(found ?? -1)
            case "join":
                guard let items = arg("iterable", 0) else { throw fail("join() takes one argument") }
                var parts: [String] = []
                for i in try iterate(items) {
                    guard case .string(let t) = i else { throw fail("sequence item: expected str instance, \(i.typeName) found") }
                    parts.append(t)
                }
                return .string(parts.joined(separator: s))
            case "isdigit", "isalpha", "isalnum", "isspace", "isupper", "islower":
                let scalars = s.unicodeScalars
                guard !scalars.isEmpty else { return .bool(false) }
                switch name {
                case "isdigit":
                    return .bool(scalars.allSatisfy { $0.properties.numericType != nil && $0.properties.numericType != .numeric })
                case "isalpha": return .bool(scalars.allSatisfy(\.properties.isAlphabetic))
                case "isalnum": return .bool(scalars.allSatisfy { $0.properties.isAlphabetic || $0.properties.numericType != nil })
                case "isspace": return .bool(scalars.allSatisfy(_Text.isWhitespace))
                case "isupper": return .bool(s == s.uppercased() && s != s.lowercased())
                default: return .bool(s == s.lowercased() && s != s.uppercased())
                }
            case "removeprefix", "removesuffix":
                guard let a = try string(arg("prefix", 0), "\(name)'s argument") else { throw fail("\(name)() takes a string") }
                let scalars = Array(s.unicodeScalars)
                let n = a.unicodeScalars.count
                if name == "removeprefix", _Text.hasPrefix(s, a) { return .string(_Text.string(scalars[n...])) }
                if name == "removesuffix", n > 0, _Text.hasSuffix(s, a) { return .string(_Text.string(scalars[..<(scalars.count - n)])) }
                return .string(s)
            case "format": return .string(try braceFormat(s, args, kwargs))
            default: break
            }
        case .object(let o):
            switch name {
            case "items": return .array(zip(o.keys, o.values).map { .tuple([.string($0), $1]) })
            case "keys": return .array(o.keys.map { .string($0) })
            case "values": return .array(o.values)
            case "get":
                guard case .string(let k)? = arg("key", 0) else { return arg("default", 1) ?? .none }
                return o[k] ?? arg("default", 1) ?? .none
            default: break
            }
        case .array(let a), .tuple(let a):
            guard let x = args.first else { throw fail("\(name)() takes exactly one argument") }
            if name == "count" { return .int(a.filter { _Builtins.equal($0, x) }.count) }
            if name == "index", let k = a.firstIndex(where: { _Builtins.equal($0, x) }) { return .int(k) }
            if name == "index" { throw fail("\(x.repr) is not in list") }
        case .loop(let state):
            guard !args.isEmpty else { throw fail("no items for cycling given") }
            return args[state.index0 % args.count]
        default: break
        }
        throw fail("'\(receiver.typeName)' object has no method '\(name)'")
    }

    /// Python's `str.format` for `{}`, `{0}`, `{name}` and `{{`/`}}`.
    private func braceFormat(_ text: String, _ args: [_V], _ kwargs: [(String, _V)]) throws(TemplateError) -> String {
        var out = ""
        var auto = 0
        let s = Array(text.unicodeScalars)
        var k = 0
        while k < s.count {
            let c = s[k]
            if c == "{" || c == "}", k + 1 < s.count, s[k + 1] == c {
                out.unicodeScalars.append(c)
                k += 2
                continue
            }
            guard c == "{" else {
                out.unicodeScalars.append(c)
                k += 1
                continue
            }
            guard let close = s[k...].firstIndex(of: "}") else { throw fail("Single '{' encountered in format string") }
            let field = _Text.string(s[(k + 1)..<close])
            let value: _V
            if field.isEmpty {
                guard auto < args.count else { throw fail("Replacement index \(auto) out of range for positional args tuple") }
                value = args[auto]
                auto += 1
            } else if let n = Int(field) {
                guard n < args.count else { throw fail("Replacement index \(n) out of range for positional args tuple") }
                value = args[n]
            } else if let kw = kwargs.first(where: { $0.0 == field }) {
                value = kw.1
            } else {
                throw fail("the format field '{\(field)}' is not supported")
            }
            out += value.text
            k = close + 1
        }
        return out
    }

    mutating func callGlobal(_ name: String, _ args: [_V], _ kwargs: [(String, _V)]) throws(TemplateError) -> _V {
        switch name {
        case "raise_exception":
            throw TemplateError(.raised, args.first?.text ?? kwargs.first?.1.text ?? "", line: line)
        case "strftime_now":
            guard case .string(let format)? = args.first else { throw fail("strftime_now() takes a format string") }
            return .string(_Strftime.format(format, now))
        case "range":
            let ints = args.compactMap(\.integer)
            guard ints.count == args.count, (1...3).contains(ints.count) else { throw fail("range() takes one to three whole numbers") }
            let (start, stop, step) = ints.count == 1 ? (0, ints[0], 1) : (ints[0], ints[1], ints.count == 3 ? ints[2] : 1)
            guard step != 0 else { throw fail("range() arg 3 must not be zero") }
            let span = step > 0 ? (Double(stop) - Double(start)) / Double(step) : (Double(start) - Double(stop)) / -Double(step)
            guard span <= 1_000_000 else { throw fail("range() of more than 1000000 items") }
            let n = step > 0 ? max(0, (stop - start + step - 1) / step) : max(0, (start - stop - step - 1) / -step)
            guard n <= 1_000_000 else { throw fail("range() of more than 1000000 items") }
            return .array((0..<n).map { .int(start + $0 * step) })
        case "namespace":
            let ns = _Namespace()
            if case .object(let o)? = args.first { ns.fields = o }
            for (k, v) in kwargs {
                guard !k.hasPrefix("_") else { throw fail("a namespace cannot store the underscore-prefixed attribute '\(k)'") }
                ns.fields[k] = v
            }
            return .namespace(ns)
        case "dict":
            var o = _Object()
            if case .object(let base)? = args.first { o = base }
            for (k, v) in kwargs { o[k] = v }
            return .object(o)
        default:
            throw fail("the function '\(name)()' is not supported")
        }
    }
}
