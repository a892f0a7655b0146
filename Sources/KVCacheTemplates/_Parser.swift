/// Builds a template's statements from its tokens, as Jinja's parser does, and refuses at
/// once any construct the renderer does not run (an unknown filter, test, method, global or
/// tag), naming it and its line.
struct _Parser {
    private let tokens: [_Token]
    private let lines: [Int]
    private var p = 0
    private var depth = 0
    /// Names of the macros the template defines: callable like the globals.
    private var macros: Set<String> = []
    static let maximumDepth = 200

    init(_ lexer: _Lexer) {
        tokens = lexer.tokens
        lines = lexer.lines
    }

    private var token: _Token { tokens[p] }
    private var line: Int { lines[min(p, lines.count - 1)] }

    private func fail(_ message: String) -> TemplateError { TemplateError(.syntax, message, line: line) }

    private mutating func advance() { if p < tokens.count - 1 { p += 1 } }

    private func isOp(_ o: String) -> Bool { token == .op(o) }
    private func isName(_ n: String) -> Bool { token == .name(n) }

    private mutating func expectOp(_ o: String) throws(TemplateError) {
        guard isOp(o) else { throw fail("expected '\(o)', found \(describe(token))") }
        advance()
    }

    private mutating func expectName() throws(TemplateError) -> String {
        guard case .name(let n) = token else { throw fail("expected a name, found \(describe(token))") }
        advance()
        return n
    }

    private mutating func expectBlockEnd() throws(TemplateError) {
        guard token == .blockEnd else { throw fail("expected the end of the tag, found \(describe(token))") }
        advance()
    }

    private func describe(_ t: _Token) -> String {
        switch t {
        case .text: "text"
        case .blockBegin: "'{%'"
        case .blockEnd: "'%}'"
        case .variableBegin: "'{{'"
        case .variableEnd: "'}}'"
        case .name(let n): "'\(n)'"
        case .string: "a string"
        case .int(let n): "\(n)"
        case .double(let d): "\(d)"
        case .op(let o): "'\(o)'"
        case .end: "the end of the template"
        }
    }

    // MARK: Statements

    /// The whole template.
    mutating func parse() throws(TemplateError) -> [_Node] {
        // Macros may be called before the tag that defines them is reached.
        for k in 0..<tokens.count where tokens[k] == .name("macro") && k > 0 && tokens[k - 1] == .blockBegin {
            if k + 1 < tokens.count, case .name(let n) = tokens[k + 1] { macros.insert(n) }
        }
        let (body, stop) = try statements(until: [])
        guard stop == nil else { throw fail("unexpected '\(stop!)'") }
        return body
    }

    /// Statements up to one of the `until` tags (left unconsumed, its name returned) or the end.
    private mutating func statements(until: Set<String>) throws(TemplateError) -> ([_Node], String?) {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maximumDepth else { throw fail("blocks nested deeper than \(Self.maximumDepth)") }
        var out: [_Node] = []
        while true {
            switch token {
            case .end:
                if !until.isEmpty {
                    throw fail("a block is not closed: expected \(until.sorted().map { "'\($0)'" }.joined(separator: " or "))")
                }
                return (out, nil)
            case .text(let t):
                out.append(.text(t))
                advance()
            case .variableBegin:
                let l = line
                advance()
                let e = try expression()
                guard token == .variableEnd else { throw fail("expected '}}', found \(describe(token))") }
                advance()
                out.append(.output(e, line: l))
            case .blockBegin:
                advance()
                guard case .name(let keyword) = token else { throw fail("expected a tag name, found \(describe(token))") }
                if until.contains(keyword) { return (out, keyword) }
                out.append(contentsOf: try statement(keyword))
            default:
                throw fail("unexpected \(describe(token))")
            }
        }
    }

    private mutating func statement(_ keyword: String) throws(TemplateError) -> [_Node] {
        let l = line
        advance()
        switch keyword {
        case "if": return [try ifStatement(line: l)]
        case "for": return [try forStatement(line: l)]
        case "set": return [try setStatement(line: l)]
        case "macro": return [try macroStatement(line: l)]
        case "filter":
            let filters = try filterChain(first: true)
            try expectBlockEnd()
            let body = try closed(by: "endfilter")
            return [.filterBlock(filters: filters, body: body, line: l)]
        case "with":
            var assignments: [(String, _Expr)] = []
            while token != .blockEnd {
                if !assignments.isEmpty { try expectOp(",") }
                let n = try expectName()
                try expectOp("=")
                assignments.append((n, try expression()))
            }
            try expectBlockEnd()
            return [.scope(assignments: assignments, body: try closed(by: "endwith"), line: l)]
        case "generation":
            // Hugging Face's tag marking an assistant's tokens: its body renders as it is.
            try expectBlockEnd()
            return try closed(by: "endgeneration")
        case "break", "continue":
            try expectBlockEnd()
            return [keyword == "break" ? .breakLoop : .continueLoop]
        default:
            p -= 1
            throw TemplateError(.syntax, "the tag '\(keyword)' is not supported", line: l)
        }
    }

    /// A block's body and its closing tag `end`.
    private mutating func closed(by end: String) throws(TemplateError) -> [_Node] {
        let (body, _) = try statements(until: [end])
        advance()
        try expectBlockEnd()
        return body
    }

    private mutating func ifStatement(line l: Int) throws(TemplateError) -> _Node {
        var branches: [(_Expr, [_Node])] = []
        var condition = try expression()
        try expectBlockEnd()
        while true {
            let (body, stop) = try statements(until: ["elif", "else", "endif"])
            branches.append((condition, body))
            advance()
            switch stop {
            case "elif":
                condition = try expression()
                try expectBlockEnd()
            case "else":
                try expectBlockEnd()
                let (otherwise, _) = try statements(until: ["endif"])
                advance()
                try expectBlockEnd()
                return .conditional(branches, otherwise: otherwise, line: l)
            default:
                try expectBlockEnd()
                return .conditional(branches, otherwise: [], line: l)
            }
        }
    }

    private mutating func assignTarget(allowAttribute: Bool) throws(TemplateError) -> _Target {
        let first = try expectName()
        if allowAttribute, isOp(".") {
            advance()
            return .attribute(first, try expectName())
        }
        guard isOp(",") else { return .name(first) }
        var names = [first]
        while isOp(",") {
            advance()
            if case .name = token { names.append(try expectName()) } else { break }
        }
        return .names(names)
    }

    private mutating func forStatement(line l: Int) throws(TemplateError) -> _Node {
        var target: _Target
        if isOp("(") {
            advance()
            target = try assignTarget(allowAttribute: false)
            try expectOp(")")
        } else {
            target = try assignTarget(allowAttribute: false)
        }
        guard isName("in") else { throw fail("expected 'in' in the for tag, found \(describe(token))") }
        advance()
        let iterable = try conditionalExpression(allowConditional: false)
        var filter: _Expr? = nil
        if isName("if") {
            advance()
            filter = try expression()
        }
        if isName("recursive") { throw fail("recursive loops are not supported") }
        try expectBlockEnd()
        let (body, stop) = try statements(until: ["else", "endfor"])
        advance()
        try expectBlockEnd()
        var otherwise: [_Node] = []
        if stop == "else" {
            otherwise = try closed(by: "endfor")
        }
        if case .names(let n) = target, n.count == 1 { target = .name(n[0]) }
        return .loop(target, iterable, filter: filter, body: body, otherwise: otherwise, line: l)
    }

    private mutating func setStatement(line l: Int) throws(TemplateError) -> _Node {
        let target = try assignTarget(allowAttribute: true)
        if isOp("=") {
            advance()
            let value = try tupleExpression()
            try expectBlockEnd()
            return .assign(target, value, line: l)
        }
        guard case .name(let name) = target else { throw fail("a block set takes one name") }
        let filters = isOp("|") ? try filterChain(first: false) : []
        try expectBlockEnd()
        return .assignBlock(name, filters: filters, body: try closed(by: "endset"), line: l)
    }

    private mutating func macroStatement(line l: Int) throws(TemplateError) -> _Node {
        let name = try expectName()
        try expectOp("(")
        var parameters: [(String, _Expr?)] = []
        while !isOp(")") {
            if !parameters.isEmpty { try expectOp(",") }
            if isOp(")") { break }
            let n = try expectName()
            if isOp("=") {
                advance()
                parameters.append((n, try expression()))
            } else {
                parameters.append((n, nil))
            }
        }
        advance()
        try expectBlockEnd()
        let body = try closed(by: "endmacro")
        return .macro(_Macro(name: name, parameters: parameters, body: body, line: l))
    }

    // MARK: Expressions

    /// An expression where a bare tuple (`a, b`) may stand, as on the right of `set`.
    private mutating func tupleExpression() throws(TemplateError) -> _Expr {
        let first = try expression()
        guard isOp(",") else { return first }
        var items = [first]
        while isOp(",") {
            advance()
            if token == .blockEnd || token == .variableEnd { break }
            items.append(try expression())
        }
        return .tuple(items)
    }

    mutating func expression() throws(TemplateError) -> _Expr {
        try conditionalExpression(allowConditional: true)
    }

    private mutating func nested<T>(_ body: (inout _Parser) throws(TemplateError) -> T) throws(TemplateError) -> T {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maximumDepth else { throw fail("an expression nested deeper than \(Self.maximumDepth)") }
        return try body(&self)
    }

    private mutating func conditionalExpression(allowConditional: Bool) throws(TemplateError) -> _Expr {
        try nested { (p: inout _Parser) throws(TemplateError) -> _Expr in
            var e = try p.orExpression()
            while allowConditional, p.isName("if") {
                p.advance()
                let condition = try p.orExpression()
                var otherwise: _Expr? = nil
                if p.isName("else") {
                    p.advance()
                    otherwise = try p.conditionalExpression(allowConditional: true)
                }
                e = .conditional(condition, then: e, else: otherwise)
            }
            return e
        }
    }

    private mutating func orExpression() throws(TemplateError) -> _Expr {
        var e = try andExpression()
        while isName("or") {
            advance()
            e = .or(e, try andExpression())
        }
        return e
    }

    private mutating func andExpression() throws(TemplateError) -> _Expr {
        var e = try notExpression()
        while isName("and") {
            advance()
            e = .and(e, try notExpression())
        }
        return e
    }

    private mutating func notExpression() throws(TemplateError) -> _Expr {
        if isName("not") {
            advance()
            return try nested { (p: inout _Parser) throws(TemplateError) in .not(try p.notExpression()) }
        }
        return try comparison()
    }

    private mutating func comparison() throws(TemplateError) -> _Expr {
        var e = try sum()
        while true {
            if case .op(let o) = token, let op = _BinaryOperator(rawValue: o), ["==", "!=", "<", ">", "<=", ">="].contains(o) {
                advance()
                e = .binary(op, e, try sum())
            } else if isName("in") {
                advance()
                e = .binary(.contains, e, try sum())
            } else if isName("not"), p + 1 < tokens.count, tokens[p + 1] == .name("in") {
                advance()
                advance()
                e = .binary(.notContains, e, try sum())
            } else {
                return e
            }
        }
    }

    private mutating func sum() throws(TemplateError) -> _Expr {
        var e = try concatenation()
        while isOp("+") || isOp("-") {
            let op: _BinaryOperator = isOp("+") ? .add : .subtract
            advance()
            e = .binary(op, e, try concatenation())
        }
        return e
    }

    private mutating func concatenation() throws(TemplateError) -> _Expr {
        var e = try product()
        while isOp("~") {
            advance()
            e = .binary(.concat, e, try product())
        }
        return e
    }

    private mutating func product() throws(TemplateError) -> _Expr {
        var e = try power()
        while true {
            guard case .op(let o) = token, ["*", "/", "//", "%"].contains(o) else { return e }
            advance()
            e = .binary(_BinaryOperator(rawValue: o)!, e, try power())
        }
    }

    private mutating func power() throws(TemplateError) -> _Expr {
        var e = try unary(withFilter: true)
        while isOp("**") {
            advance()
            e = .binary(.power, e, try unary(withFilter: true))
        }
        return e
    }

    private mutating func unary(withFilter: Bool) throws(TemplateError) -> _Expr {
        try nested { (p: inout _Parser) throws(TemplateError) -> _Expr in
            var e: _Expr
            if p.isOp("-") {
                p.advance()
                e = .negate(try p.unary(withFilter: false))
            } else if p.isOp("+") {
                p.advance()
                e = .plus(try p.unary(withFilter: false))
            } else {
                e = try p.postfix(try p.primary())
            }
            return withFilter ? try p.filtersAndTests(e) : e
        }
    }

    private mutating func primary() throws(TemplateError) -> _Expr {
        let t = token
        switch t {
        case .name(let n):
            advance()
            switch n {
            case "true", "True": return .literal(.bool(true))
            case "false", "False": return .literal(.bool(false))
            case "none", "None": return .literal(.none)
            default: return .name(n)
            }
        case .string(var s):
            advance()
            // Adjacent string literals are one string.
            while case .string(let more) = token {
                s += more
                advance()
            }
            return .literal(.string(s))
        case .int(let n):
            advance()
            return .literal(.int(n))
        case .double(let d):
            advance()
            return .literal(.double(d))
        case .op("("):
            advance()
            if isOp(")") {
                advance()
                return .tuple([])
            }
            let first = try expression()
            if isOp(")") {
                advance()
                return first
            }
            var items = [first]
            while isOp(",") {
                advance()
                if isOp(")") { break }
                items.append(try expression())
            }
            try expectOp(")")
            return .tuple(items)
        case .op("["):
            advance()
            var items: [_Expr] = []
            while !isOp("]") {
                if !items.isEmpty { try expectOp(",") }
                if isOp("]") { break }
                items.append(try expression())
            }
            advance()
            return .list(items)
        case .op("{"):
            advance()
            var pairs: [(_Expr, _Expr)] = []
            while !isOp("}") {
                if !pairs.isEmpty { try expectOp(",") }
                if isOp("}") { break }
                let k = try expression()
                try expectOp(":")
                pairs.append((k, try expression()))
            }
            advance()
            return .dict(pairs)
        default:
            throw fail("unexpected \(describe(t))")
        }
    }

    private mutating func postfix(_ base: _Expr) throws(TemplateError) -> _Expr {
        var e = base
        while true {
            if isOp(".") {
                advance()
                switch token {
                case .name(let n):
                    advance()
                    if isOp("(") {
                        guard _Builtins.methods.contains(n) else { throw fail("the method '\(n)()' is not supported") }
                    }
                    e = .attribute(e, n)
                case .int(let k):
                    advance()
                    e = .item(e, .literal(.int(k)))
                default: throw fail("expected an attribute name after '.', found \(describe(token))")
                }
            } else if isOp("[") {
                advance()
                e = try subscriptOrSlice(e)
            } else if isOp("(") {
                if case .name(let n) = e, !_Builtins.globals.contains(n), !macros.contains(n), n != "caller" {
                    throw fail("the function '\(n)()' is not supported")
                }
                advance()
                let (args, kwargs) = try arguments()
                e = .call(e, args, kwargs)
            } else {
                return e
            }
        }
    }

    private mutating func subscriptOrSlice(_ base: _Expr) throws(TemplateError) -> _Expr {
        var parts: [_Expr?] = [nil]
        var isSlice = false
        while !isOp("]") {
            if isOp(":") {
                advance()
                isSlice = true
                parts.append(nil)
                guard parts.count <= 3 else { throw fail("a slice takes at most three parts") }
            } else {
                guard parts[parts.count - 1] == nil else { throw fail("expected ']' or ':', found \(describe(token))") }
                parts[parts.count - 1] = try expression()
            }
        }
        advance()
        if isSlice {
            while parts.count < 3 { parts.append(nil) }
            return .slice(base, parts[0], parts[1], parts[2])
        }
        guard let index = parts[0] else { throw fail("an empty subscript") }
        return .item(base, index)
    }

    private mutating func arguments() throws(TemplateError) -> ([_Expr], [(String, _Expr)]) {
        var args: [_Expr] = []
        var kwargs: [(String, _Expr)] = []
        while !isOp(")") {
            if !args.isEmpty || !kwargs.isEmpty { try expectOp(",") }
            if isOp(")") { break }
            if case .name(let n) = token, p + 1 < tokens.count, tokens[p + 1] == .op("=") {
                advance()
                advance()
                kwargs.append((n, try expression()))
            } else {
                guard kwargs.isEmpty else { throw fail("a positional argument after a keyword argument") }
                args.append(try expression())
            }
        }
        advance()
        return (args, kwargs)
    }

    /// `| name(args)` and `is [not] name(args)`, in any order, left to right.
    private mutating func filtersAndTests(_ base: _Expr) throws(TemplateError) -> _Expr {
        var e = base
        while true {
            if isOp("|") {
                advance()
                let (name, args, kwargs) = try oneFilter()
                e = .filter(e, name, args, kwargs)
            } else if isName("is") {
                advance()
                var negated = false
                if isName("not") {
                    advance()
                    negated = true
                }
                let name: String
                switch token {
                case .name(let n):
                    name = n
                    advance()
                default:
                    throw fail("expected a test name after 'is', found \(describe(token))")
                }
                guard _Builtins.tests.contains(name) else { throw fail("the test '\(name)' is not supported") }
                var args: [_Expr] = []
                if isOp("(") {
                    advance()
                    let (a, kw) = try arguments()
                    guard kw.isEmpty else { throw fail("the test '\(name)' takes no keyword arguments") }
                    args = a
                } else if startsArgument {
                    // `x is divisibleby 3`, `x is sameas none`: one argument without parentheses.
                    args = [try postfix(try primary())]
                }
                e = .test(e, name, args, negated: negated)
            } else {
                return e
            }
        }
    }

    /// Whether the token can begin a test's one bare argument.
    private var startsArgument: Bool {
        switch token {
        case .string, .int, .double: true
        case .name(let n): !["and", "or", "else", "if", "in", "is", "not"].contains(n)
        case .op("["), .op("{"): true
        default: false
        }
    }

    private mutating func oneFilter() throws(TemplateError) -> (String, [_Expr], [(String, _Expr)]) {
        var name = try expectName()
        while isOp(".") {
            advance()
            name += "." + (try expectName())
        }
        guard _Builtins.filters.contains(name) else { throw fail("the filter '\(name)' is not supported") }
        guard isOp("(") else { return (name, [], []) }
        advance()
        let (args, kwargs) = try arguments()
        return (name, args, kwargs)
    }

    private mutating func filterChain(first: Bool) throws(TemplateError) -> [(String, [_Expr], [(String, _Expr)])] {
        var out: [(String, [_Expr], [(String, _Expr)])] = []
        if first { out.append(try oneFilter()) }
        while isOp("|") {
            advance()
            out.append(try oneFilter())
        }
        return out
    }
}
