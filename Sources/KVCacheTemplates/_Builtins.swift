import Foundation

/// The names a template may use beyond its own: Jinja's filters, tests and globals that chat
/// templates use, Hugging Face's additions (`raise_exception`, `strftime_now`, its `tojson`),
/// and the Python methods of strings, dictionaries and lists the sandbox allows.
enum _Builtins {
    static let globals: Set<String> = ["raise_exception", "strftime_now", "range", "namespace", "dict"]

    static let filters: Set<String> = [
        "abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort", "e", "escape", "first", "float",
        "forceescape", "format", "indent", "int", "items", "join", "last", "length", "list", "lower", "map", "max", "min",
        "reject", "rejectattr", "replace", "reverse", "round", "safe", "select", "selectattr", "sort", "string", "sum",
        "title", "tojson", "trim", "truncate", "unique", "upper", "wordcount",
    ]

    static let tests: Set<String> = [
        "boolean", "callable", "defined", "divisibleby", "eq", "equalto", "escaped", "even", "false", "filter", "float", "ge",
        "greaterthan", "gt", "in", "integer", "iterable", "le", "lessthan", "lower", "lt", "mapping", "ne", "none", "number",
        "odd", "sameas", "sequence", "string", "test", "true", "undefined", "upper", "==", "!=", "<", "<=", ">", ">=",
    ]

    static let stringMethods: Set<String> = [
        "strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "startswith", "endswith", "upper", "lower", "title",
        "capitalize", "replace", "find", "rfind", "index", "count", "join", "isdigit", "isalpha", "isalnum", "isspace",
        "isupper", "islower", "removeprefix", "removesuffix", "format",
    ]
    static let objectMethods: Set<String> = ["items", "keys", "values", "get"]
    static let listMethods: Set<String> = ["index", "count"]
    static var methods: Set<String> { stringMethods.union(objectMethods).union(listMethods).union(["cycle"]) }

    // MARK: Equality and order, as Python's

    static func equal(_ a: _V, _ b: _V) -> Bool {
        switch (a, b) {
        case (.undefined, .undefined), (.none, .none): return true
        case (.string(let x), .string(let y)): return _Text.equal(x, y)
        case (.array(let x), .array(let y)), (.tuple(let x), .tuple(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { equal($0, $1) }
        case (.object(let x), .object(let y)):
            return x.count == y.count && x.keys.allSatisfy { k in y[k].map { equal(x[k]!, $0) } ?? false }
        case (.namespace(let x), .namespace(let y)): return x === y
        default:
            if let x = a.integer, let y = b.integer { return x == y }
            if let x = a.number, let y = b.number { return x == y }
            return false
        }
    }

    /// Python's `<`; `nil` when the two cannot be ordered.
    static func less(_ a: _V, _ b: _V) -> Bool? {
        switch (a, b) {
        case (.string(let x), .string(let y)): return _Text.less(x, y)
        case (.array(let x), .array(let y)), (.tuple(let x), .tuple(let y)):
            for (p, q) in zip(x, y) where !equal(p, q) { return less(p, q) }
            return x.count < y.count
        default:
            if let x = a.integer, let y = b.integer { return x < y }
            if let x = a.number, let y = b.number { return x < y }
            return nil
        }
    }

    /// `a in b`.
    static func contains(_ b: _V, _ a: _V) -> Bool? {
        switch b {
        case .string(let s):
            guard case .string(let needle) = a else { return nil }
            return _Text.contains(s, needle)
        case .array(let items), .tuple(let items): return items.contains { equal($0, a) }
        case .object(let o):
            guard case .string(let k) = a else { return false }
            return o[k] != nil
        case .namespace(let ns):
            guard case .string(let k) = a else { return false }
            return ns.fields[k] != nil
        case .undefined: return false
        default: return nil
        }
    }
}

extension _Renderer {
    // MARK: Operators

    mutating func binary(_ op: _BinaryOperator, _ a: _V, _ b: _V) throws(TemplateError) -> _V {
        func unsupported() -> TemplateError {
            if case .undefined(let n) = a { return fail("'\(n)' is undefined") }
            if case .undefined(let n) = b { return fail("'\(n)' is undefined") }
            return fail("unsupported operand type(s) for \(op.rawValue): '\(a.typeName)' and '\(b.typeName)'")
        }
        func arithmetic(_ i: (Int, Int) -> (Int, Bool), _ d: (Double, Double) -> Double) throws(TemplateError) -> _V {
            if let x = a.integer, let y = b.integer {
                let (r, overflow) = i(x, y)
                guard !overflow else { throw fail("integer overflow") }
                return .int(r)
            }
            if let x = a.number, let y = b.number { return .double(d(x, y)) }
            throw unsupported()
        }
        switch op {
        case .add:
            switch (a, b) {
            case (.string(let x), .string(let y)): return .string(x + y)
            case (.array(let x), .array(let y)): return .array(x + y)
            default: return try arithmetic({ $0.addingReportingOverflow($1) }, +)
            }
        case .subtract: return try arithmetic({ $0.subtractingReportingOverflow($1) }, -)
        case .multiply:
            switch (a, b) {
            case (.string(let s), _) where b.integer != nil, (_, .string(let s)) where a.integer != nil:
                let n = max(0, (b.integer ?? a.integer)!)
                let (size, overflow) = s.utf8.count.multipliedReportingOverflow(by: n)
                guard !overflow, size <= Self.maximumOutputBytes else { throw fail("a string repeated beyond the output limit") }
                return .string(String(repeating: s, count: n))
            case (.array(let x), _) where b.integer != nil, (_, .array(let x)) where a.integer != nil:
                let n = max(0, (b.integer ?? a.integer)!)
                let (size, overflow) = x.count.multipliedReportingOverflow(by: n)
                guard !overflow, size <= 1 << 20 else { throw fail("a list repeated beyond the limit") }
                return .array(Array([[_V]](repeating: x, count: n).joined()))
            default: return try arithmetic({ $0.multipliedReportingOverflow(by: $1) }, *)
            }
        case .divide:
            guard let x = a.number, let y = b.number else { throw unsupported() }
            guard y != 0 else { throw fail("division by zero") }
            return .double(x / y)
        case .floorDivide:
            if let x = a.integer, let y = b.integer {
                guard y != 0 else { throw fail("integer division or modulo by zero") }
                guard !(x == .min && y == -1) else { throw fail("integer overflow") }
                let q = x / y
                return .int((x % y != 0 && (x < 0) != (y < 0)) ? q - 1 : q)
            }
            guard let x = a.number, let y = b.number else { throw unsupported() }
            guard y != 0 else { throw fail("float floor division by zero") }
            return .double((x / y).rounded(.down))
        case .modulo:
            if let x = a.integer, let y = b.integer {
                guard y != 0 else { throw fail("integer division or modulo by zero") }
                guard !(x == .min && y == -1) else { return .int(0) }
                let r = x % y
                return .int(r != 0 && (r < 0) != (y < 0) ? r + y : r)
            }
            guard let x = a.number, let y = b.number else { throw unsupported() }
            guard y != 0 else { throw fail("float modulo") }
            let r = x.truncatingRemainder(dividingBy: y)
            return .double(r != 0 && (r < 0) != (y < 0) ? r + y : r)
        case .power:
            if let x = a.integer, let y = b.integer, y >= 0 {
                var r = 1
                for _ in 0..<min(y, 64) {
                    let (m, overflow) = r.multipliedReportingOverflow(by: x)
                    guard !overflow else { throw fail("integer overflow") }
                    r = m
                }
                if y > 64 && !(x == 0 || x == 1 || x == -1) { throw fail("integer overflow") }
                if y > 64 && x == -1 { r = y % 2 == 0 ? 1 : -1 }
                if y > 64 && x == 0 { r = 0 }
                return .int(r)
            }
            guard let x = a.number, let y = b.number else { throw unsupported() }
            return .double(Foundation.pow(x, y))
        case .concat: return .string(a.text + b.text)
        case .equal: return .bool(_Builtins.equal(a, b))
        case .notEqual: return .bool(!_Builtins.equal(a, b))
        case .less, .greater, .lessEqual, .greaterEqual:
            let (x, y) = op == .less || op == .lessEqual ? (a, b) : (b, a)
            guard let lt = _Builtins.less(x, y) else {
                if case .undefined(let n) = a { throw fail("'\(n)' is undefined") }
                if case .undefined(let n) = b { throw fail("'\(n)' is undefined") }
                throw fail("'\(op.rawValue)' not supported between instances of '\(a.typeName)' and '\(b.typeName)'")
            }
            return .bool(op == .less || op == .greater ? lt : (lt || _Builtins.equal(x, y)))
        case .contains, .notContains:
            guard let r = _Builtins.contains(b, a) else {
                throw fail("argument of type '\(b.typeName)' is not iterable or does not contain '\(a.typeName)'")
            }
            return .bool(op == .contains ? r : !r)
        }
    }

    // MARK: Tests

    mutating func applyTest(_ name: String, _ v: _V, _ args: [_V]) throws(TemplateError) -> Bool {
        func arg() throws(TemplateError) -> _V {
            guard let a = args.first else { throw fail("the test '\(name)' needs an argument") }
            return a
        }
        switch name {
        case "defined": return !v.isUndefined
        case "undefined": return v.isUndefined
        case "none": return v.isNone
        case "boolean": if case .bool = v { return true } else { return false }
        case "true": if case .bool(true) = v { return true } else { return false }
        case "false": if case .bool(false) = v { return true } else { return false }
        case "integer": if case .int = v { return true } else { return false }
        case "float": if case .double = v { return true } else { return false }
        case "number":
            switch v {
            case .int, .double, .bool: return true
            default: return false
            }
        case "string": if case .string = v { return true } else { return false }
        case "mapping":
            switch v {
            case .object: return true
            default: return false
            }
        case "iterable", "sequence":
            switch v {
            case .array, .tuple, .object, .string: return true
            case .undefined: return name == "iterable"
            default: return false
            }
        case "callable":
            switch v {
            case .macro, .method, .function: return true
            default: return false
            }
        case "escaped": return false
        case "eq", "equalto", "==": return _Builtins.equal(v, try arg())
        case "ne", "!=": return !_Builtins.equal(v, try arg())
        case "lt", "lessthan", "<", "le", "<=", "gt", "greaterthan", ">", "ge", ">=":
            let op: _BinaryOperator =
                switch name {
                case "lt", "lessthan", "<": .less
                case "le", "<=": .lessEqual
                case "gt", "greaterthan", ">": .greater
                default: .greaterEqual
                }
            return try binary(op, v, try arg()).truthy
        case "in": return try binary(.contains, v, try arg()).truthy
        case "even", "odd":
            guard let n = v.integer else { throw fail("the test '\(name)' needs a whole number, not \(v.typeName)") }
            return (n % 2 == 0) == (name == "even")
        case "divisibleby":
            guard let n = v.integer, let d = try arg().integer, d != 0 else { throw fail("the test 'divisibleby' needs whole numbers") }
            return n % d == 0
        case "lower", "upper":
            guard case .string(let s) = v else { return false }
            return name == "lower" ? s == s.lowercased() : s == s.uppercased()
        case "sameas":
            let other = try arg()
            switch (v, other) {
            case (.none, .none): return true
            case (.bool(let x), .bool(let y)): return x == y
            case (.namespace(let x), .namespace(let y)): return x === y
            default: return false
            }
        case "filter": guard case .string(let f) = try arg() else { return false }; return _Builtins.filters.contains(f)
        case "test": guard case .string(let t) = try arg() else { return false }; return _Builtins.tests.contains(t)
        default: throw fail("the test '\(name)' is not supported")
        }
    }
}
