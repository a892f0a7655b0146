/// An expression of a template.
indirect enum _Expr: Sendable {
    case literal(_V)
    case name(String)
    case list([_Expr])
    case tuple([_Expr])
    case dict([(_Expr, _Expr)])
    case attribute(_Expr, String)
    case item(_Expr, _Expr)
    case slice(_Expr, _Expr?, _Expr?, _Expr?)
    case call(_Expr, [_Expr], [(String, _Expr)])
    case filter(_Expr, String, [_Expr], [(String, _Expr)])
    case test(_Expr, String, [_Expr], negated: Bool)
    case not(_Expr)
    case negate(_Expr)
    case plus(_Expr)
    case binary(_BinaryOperator, _Expr, _Expr)
    case and(_Expr, _Expr)
    case or(_Expr, _Expr)
    case conditional(_Expr, then: _Expr, else: _Expr?)
}

enum _BinaryOperator: String, Sendable {
    case add = "+", subtract = "-", multiply = "*", divide = "/", floorDivide = "//", modulo = "%", power = "**"
    case concat = "~"
    case equal = "==", notEqual = "!=", less = "<", greater = ">", lessEqual = "<=", greaterEqual = ">="
    case contains = "in", notContains = "not in"
}

/// Where a `set` or a `for` stores its value.
enum _Target: Sendable {
    case name(String)
    case names([String])
    case attribute(String, String)
}

/// A statement of a template, with the line it starts on.
indirect enum _Node: Sendable {
    case text(String)
    case output(_Expr, line: Int)
    case conditional([(_Expr, [_Node])], otherwise: [_Node], line: Int)
    case loop(_Target, _Expr, filter: _Expr?, body: [_Node], otherwise: [_Node], line: Int)
    case assign(_Target, _Expr, line: Int)
    case assignBlock(String, filters: [(String, [_Expr], [(String, _Expr)])], body: [_Node], line: Int)
    case macro(_Macro)
    case filterBlock(filters: [(String, [_Expr], [(String, _Expr)])], body: [_Node], line: Int)
    case scope(assignments: [(String, _Expr)], body: [_Node], line: Int)
    case breakLoop
    case continueLoop
}

/// A `{% macro %}`: its parameters with their defaults, and its body.
final class _Macro: Sendable {
    let name: String
    let parameters: [(String, _Expr?)]
    let body: [_Node]
    let line: Int
    init(name: String, parameters: [(String, _Expr?)], body: [_Node], line: Int) {
        self.name = name
        self.parameters = parameters
        self.body = body
        self.line = line
    }
}
