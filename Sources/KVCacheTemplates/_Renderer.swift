import Foundation

/// Runs a parsed template over a context, with Jinja's scoping: a `for` body gets a fresh
/// scope each iteration, `if` gets none, a macro sees the template's top level and its
/// arguments, and only a `namespace` carries values out of a loop.
///
/// The helpers that evaluation calls are `mutating` even where they only read: a mutating
/// method that calls a non-mutating one hands it a copy of the whole renderer (its scopes and
/// its output), and those copies were a quarter of a chat template's render.
struct _Renderer {
    enum Flow {
        case normal, breakLoop, continueLoop
    }

    /// The limits that keep any template and input finite.
    static let maximumSteps = 5_000_000
    static let maximumOutputBytes = 64 << 20
    static let maximumCallDepth = 64

    var scopes: _Scopes
    var out = ""
    var steps = 0
    var callDepth = 0
    var line = 0
    let now: Date

    init(context: [String: _V], now: Date) {
        scopes = _Scopes(context: context)
        self.now = now
    }

    func fail(_ message: String) -> TemplateError { TemplateError(.render, message, line: line) }

    mutating func step() throws(TemplateError) {
        steps += 1
        guard steps <= Self.maximumSteps else { throw fail("the template ran more than \(Self.maximumSteps) steps") }
    }

    mutating func lookup(_ name: String) -> _V {
        if let v = scopes.lookup(name) { return v }
        if _Builtins.globals.contains(name) { return .function(name) }
        return .undefined(name)
    }

    mutating func assign(_ name: String, _ v: _V) { scopes.assign(name, v) }

    // MARK: Statements

    mutating func run(_ nodes: [_Node]) throws(TemplateError) -> Flow {
        for node in nodes {
            try step()
            switch node {
            case .text(let t):
                out += t
            case .output(let e, let l):
                line = l
                let v = try eval(e)
                out += v.text
                guard out.utf8.count <= Self.maximumOutputBytes else {
                    throw fail("the output is larger than \(Self.maximumOutputBytes) bytes")
                }
            case .conditional(let branches, let otherwise, let l):
                line = l
                var taken = false
                for (condition, body) in branches {
                    line = l
                    if try eval(condition).truthy {
                        taken = true
                        let flow = try run(body)
                        if flow != .normal { return flow }
                        break
                    }
                }
                if !taken {
                    let flow = try run(otherwise)
                    if flow != .normal { return flow }
                }
            case .loop(let target, let iterable, let filter, let body, let otherwise, let l):
                line = l
                try runLoop(target, iterable, filter: filter, body: body, otherwise: otherwise, line: l)
            case .assign(let target, let e, let l):
                line = l
                try store(target, try eval(e))
            case .assignBlock(let name, let filters, let body, let l):
                let v = try capture(body, filters: filters, line: l)
                assign(name, v)
            case .macro(let m):
                assign(m.name, .macro(m))
            case .filterBlock(let filters, let body, let l):
                out += try capture(body, filters: filters, line: l).text
            case .scope(let assignments, let body, let l):
                line = l
                // the values are evaluated in the enclosing scope, then bound in the new one
                var bound: [(String, _V)] = []
                for (n, e) in assignments { bound.append((n, try eval(e))) }
                scopes.open()
                defer { scopes.close() }
                for (n, v) in bound { assign(n, v) }
                let flow = try run(body)
                if flow != .normal { return flow }
            case .breakLoop: return .breakLoop
            case .continueLoop: return .continueLoop
            }
        }
        return .normal
    }

    /// Renders `body` apart and applies `filters` to the text.
    private mutating func capture(_ body: [_Node], filters: [(String, [_Expr], [(String, _Expr)])], line l: Int) throws(TemplateError) -> _V
    {
        let saved = out
        out = ""
        _ = try run(body)
        var v = _V.string(out)
        out = saved
        line = l
        for (name, args, kwargs) in filters {
            v = try applyFilter(name, v, args.map { e throws(TemplateError) in try eval(e) }, try evalKeywords(kwargs))
        }
        return v
    }

    private mutating func store(_ target: _Target, _ v: _V) throws(TemplateError) {
        switch target {
        case .name(let n): assign(n, v)
        case .names(let names):
            let items = try unpack(v, count: names.count)
            for (n, item) in zip(names, items) { assign(n, item) }
        case .attribute(let owner, let field):
            guard case .namespace(let ns) = lookup(owner) else {
                throw fail("cannot assign attribute on non-namespace object '\(owner)'")
            }
            ns.fields[field] = v
        }
    }

    private mutating func unpack(_ v: _V, count: Int) throws(TemplateError) -> [_V] {
        let items = try iterate(v)
        guard items.count == count else {
            throw fail(
                items.count > count
                    ? "too many values to unpack (expected \(count))"
                    : "not enough values to unpack (expected \(count), got \(items.count))")
        }
        return items
    }

    private mutating func runLoop(
        _ target: _Target, _ iterable: _Expr, filter: _Expr?, body: [_Node], otherwise: [_Node], line l: Int
    ) throws(TemplateError) {
        var items = try iterate(try eval(iterable))
        if let filter {
            var kept: [_V] = []
            for item in items {
                scopes.open()
                try store(target, item)
                let keep = try eval(filter).truthy
                scopes.close()
                if keep { kept.append(item) }
            }
            items = kept
        }
        guard !items.isEmpty else {
            _ = try run(otherwise)
            return
        }
        let state = _LoopState(items: items)
        for (k, item) in items.enumerated() {
            try step()
            state.index0 = k
            scopes.open()
            assign("loop", .loop(state))
            try store(target, item)
            let flow = try run(body)
            scopes.close()
            line = l
            if flow == .breakLoop { break }
        }
    }

    /// What `for` iterates over: a list's items, a string's characters, an object's keys.
    mutating func iterate(_ v: _V) throws(TemplateError) -> [_V] {
        switch v {
        case .array(let a), .tuple(let a): return a
        case .object(let o): return o.keys.map { .string($0) }
        case .string(let s): return s.unicodeScalars.map { .string(String($0)) }
        case .undefined: return []
        case .namespace(let ns): return ns.fields.keys.map { .string($0) }
        default: throw fail("'\(v.typeName)' object is not iterable")
        }
    }

    // MARK: Expressions

    mutating func evalKeywords(_ kwargs: [(String, _Expr)]) throws(TemplateError) -> [(String, _V)] {
        var out: [(String, _V)] = []
        for (k, e) in kwargs { out.append((k, try eval(e))) }
        return out
    }

    mutating func eval(_ e: _Expr) throws(TemplateError) -> _V {
        switch e {
        case .literal(let v): return v
        case .name(let n): return lookup(n)
        case .list(let items):
            var a: [_V] = []
            for i in items { a.append(try eval(i)) }
            return .array(a)
        case .tuple(let items):
            var a: [_V] = []
            for i in items { a.append(try eval(i)) }
            return .tuple(a)
        case .dict(let pairs):
            var o = _Object()
            for (k, v) in pairs {
                let key = try eval(k)
                guard case .string(let s) = key else { throw fail("a dictionary key must be a string, not \(key.typeName)") }
                o[s] = try eval(v)
            }
            return .object(o)
        case .attribute(let base, let name):
            return try attribute(try eval(base), name)
        case .item(let base, let index):
            return try item(try eval(base), try eval(index))
        case .slice(let base, let lo, let hi, let stride):
            let v = try eval(base)
            return try slice(
                v, try lo.map { e throws(TemplateError) in try eval(e) }, try hi.map { e throws(TemplateError) in try eval(e) },
                try stride.map { e throws(TemplateError) in try eval(e) })
        case .call(let callee, let args, let kwargs):
            let f = try eval(callee)
            var values: [_V] = []
            for a in args { values.append(try eval(a)) }
            return try call(f, values, try evalKeywords(kwargs))
        case .filter(let base, let name, let args, let kwargs):
            let v = try eval(base)
            var values: [_V] = []
            for a in args { values.append(try eval(a)) }
            return try applyFilter(name, v, values, try evalKeywords(kwargs))
        case .test(let base, let name, let args, let negated):
            let v = try eval(base)
            var values: [_V] = []
            for a in args { values.append(try eval(a)) }
            return .bool(try applyTest(name, v, values) != negated)
        case .not(let x): return .bool(!(try eval(x)).truthy)
        case .negate(let x):
            switch try eval(x) {
            case .int(let n):
                guard n != .min else { throw fail("integer overflow") }
                return .int(-n)
            case .bool(let b): return .int(b ? -1 : 0)
            case .double(let d): return .double(-d)
            case let v: throw fail("bad operand type for unary -: '\(v.typeName)'")
            }
        case .plus(let x):
            let v = try eval(x)
            guard v.number != nil else { throw fail("bad operand type for unary +: '\(v.typeName)'") }
            if case .bool(let b) = v { return .int(b ? 1 : 0) }
            return v
        case .and(let a, let b):
            let l = try eval(a)
            return l.truthy ? try eval(b) : l
        case .or(let a, let b):
            let l = try eval(a)
            return l.truthy ? l : try eval(b)
        case .conditional(let condition, let then, let otherwise):
            if try eval(condition).truthy { return try eval(then) }
            if let otherwise { return try eval(otherwise) }
            return .undefined("the else branch")
        case .binary(let op, let a, let b):
            return try binary(op, try eval(a), try eval(b))
        }
    }

    /// `value.name`: an object's key (or one of its safe methods), a string's method, a
    /// namespace's field, the loop's counters.
    mutating func attribute(_ v: _V, _ name: String) throws(TemplateError) -> _V {
        switch v {
        case .undefined(let n): throw fail("'\(n)' is undefined")
        case .object(let o):
            if _Builtins.objectMethods.contains(name) { return .method(_MethodBox(v, name)) }
            return o[name] ?? .undefined(name)
        case .string:
            return _Builtins.stringMethods.contains(name) ? .method(_MethodBox(v, name)) : .undefined(name)
        case .array, .tuple:
            return _Builtins.listMethods.contains(name) ? .method(_MethodBox(v, name)) : .undefined(name)
        case .namespace(let ns): return ns.fields[name] ?? .undefined(name)
        case .loop(let state):
            let n = state.items.count
            let k = state.index0
            switch name {
            case "index": return .int(k + 1)
            case "index0": return .int(k)
            case "revindex": return .int(n - k)
            case "revindex0": return .int(n - k - 1)
            case "first": return .bool(k == 0)
            case "last": return .bool(k == n - 1)
            case "length": return .int(n)
            case "depth": return .int(1)
            case "depth0": return .int(0)
            case "previtem": return k > 0 ? state.items[k - 1] : .undefined("previtem")
            case "nextitem": return k + 1 < n ? state.items[k + 1] : .undefined("nextitem")
            case "cycle": return .method(_MethodBox(v, "cycle"))
            default: return .undefined(name)
            }
        default: return .undefined(name)
        }
    }

    /// `value[index]`: Python's indexing (negative from the end), undefined when missing.
    mutating func item(_ v: _V, _ index: _V) throws(TemplateError) -> _V {
        switch (v, index) {
        case (.undefined(let n), _): throw fail("'\(n)' is undefined")
        case (.object(let o), .string(let k)):
            if let hit = o[k] { return hit }
            return _Builtins.objectMethods.contains(k) ? .method(_MethodBox(v, k)) : .undefined(k)
        case (.namespace(let ns), .string(let k)): return ns.fields[k] ?? .undefined(k)
        case (.array(let a), _), (.tuple(let a), _):
            guard let k = index.integer else { return .undefined("[\(index.repr)]") }
            let at = k < 0 ? a.count + k : k
            return a.indices.contains(at) ? a[at] : .undefined("[\(k)]")
        case (.string(let s), _):
            guard let k = index.integer else { return .undefined("[\(index.repr)]") }
            let scalars = Array(s.unicodeScalars)
            let at = k < 0 ? scalars.count + k : k
            return scalars.indices.contains(at) ? .string(String(scalars[at])) : .undefined("[\(k)]")
        case (.loop, .string(let k)): return try attribute(v, k)
        default: return .undefined("[\(index.repr)]")
        }
    }

    /// `value[lo:hi:stride]`, Python's slicing of lists and strings.
    mutating func slice(_ v: _V, _ lo: _V?, _ hi: _V?, _ stride: _V?) throws(TemplateError) -> _V {
        func bound(_ b: _V?) throws(TemplateError) -> Int? {
            guard let b, !(b.isUndefined), !(b.isNone) else { return nil }
            guard let n = b.integer else { throw fail("slice indices must be integers or None") }
            return n
        }
        let step = try bound(stride) ?? 1
        guard step != 0 else { throw fail("slice step cannot be zero") }
        func indices(_ count: Int) throws(TemplateError) -> [Int] {
            func clamp(_ x: Int?, _ fallback: Int) -> Int {
                guard var x else { return fallback }
                if x < 0 { x += count }
                return step > 0 ? min(max(x, 0), count) : min(max(x, -1), count - 1)
            }
            let start = clamp(try bound(lo), step > 0 ? 0 : count - 1)
            let stop = clamp(try bound(hi), step > 0 ? count : -1)
            return Array(Swift.stride(from: start, to: stop, by: step))
        }
        switch v {
        case .array(let a): return .array(try indices(a.count).map { a[$0] })
        case .tuple(let a): return .tuple(try indices(a.count).map { a[$0] })
        case .string(let s):
            let scalars = Array(s.unicodeScalars)
            return .string(_Text.string(try indices(scalars.count).map { scalars[$0] }))
        case .undefined(let n): throw fail("'\(n)' is undefined")
        default: throw fail("'\(v.typeName)' object is not subscriptable")
        }
    }

    mutating func call(_ f: _V, _ args: [_V], _ kwargs: [(String, _V)]) throws(TemplateError) -> _V {
        switch f {
        case .function(let name): return try callGlobal(name, args, kwargs)
        case .method(let m): return try callMethod(m.receiver, m.name, args, kwargs)
        case .macro(let m): return try callMacro(m, args, kwargs)
        case .undefined(let n): throw fail("'\(n)' is undefined")
        default: throw fail("'\(f.typeName)' object is not callable")
        }
    }

    private mutating func callMacro(_ m: _Macro, _ args: [_V], _ kwargs: [(String, _V)]) throws(TemplateError) -> _V {
        callDepth += 1
        defer { callDepth -= 1 }
        guard callDepth <= Self.maximumCallDepth else { throw fail("macros call each other deeper than \(Self.maximumCallDepth)") }
        guard args.count <= m.parameters.count else {
            throw fail("macro '\(m.name)' takes not more than \(m.parameters.count) argument(s)")
        }
        let savedScopes = scopes
        let savedOut = out
        let savedLine = line
        scopes = scopes.isolated
        for (k, (name, fallback)) in m.parameters.enumerated() {
            if k < args.count {
                assign(name, args[k])
            } else if let kw = kwargs.first(where: { $0.0 == name }) {
                assign(name, kw.1)
            } else if let fallback {
                assign(name, try eval(fallback))
            } else {
                assign(name, .undefined(name))
            }
        }
        for (k, _) in kwargs where !m.parameters.contains(where: { $0.0 == k }) {
            throw fail("macro '\(m.name)' takes no keyword argument '\(k)'")
        }
        out = ""
        _ = try run(m.body)
        let result = out
        scopes = savedScopes
        out = savedOut
        line = savedLine
        return .string(result)
    }
}

extension _V {
    var isNone: Bool {
        if case .none = self { return true }
        return false
    }
}

extension _Renderer.Flow: Equatable {}
