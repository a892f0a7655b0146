import Foundation

/// A Jinja template, parsed once and rendered many times.
///
/// It runs the language as Jinja2 does with the environment Hugging Face's
/// `apply_chat_template` builds: `trim_blocks` and `lstrip_blocks`, loop controls
/// (`break`, `continue`), its `tojson`, `raise_exception`, `strftime_now`, `namespace` and
/// `dict`, and the `{% generation %}` tag. Values follow Python's rules: what `{{ }}` prints,
/// truth, equality and order, slicing, and the string and dictionary methods the sandbox
/// allows.
///
/// A construct it does not run — an unknown tag, filter, test, function or method — is refused
/// when the template loads, with its line, so a template either renders exactly or not at all.
///
/// ```swift
/// let t = try Template("{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}")
/// let text = try t.render(["messages": messages])
/// ```
public struct Template: Sendable {
    /// The template's text.
    public let source: String
    let nodes: [_Node]

    /// Parses `source`.
    /// - Throws: ``TemplateError`` of kind ``TemplateError/Kind/syntax`` naming the construct
    ///   and its line.
    public init(_ source: String) throws(TemplateError) {
        self.source = source
        var parser = _Parser(try _Lexer(source))
        nodes = try parser.parse()
    }

    /// Renders the template with `context` as its variables.
    /// - Parameters:
    ///   - context: The variables, by name.
    ///   - now: The time `strftime_now` formats.
    /// - Throws: ``TemplateError``: ``TemplateError/Kind/raised`` when the template calls
    ///   `raise_exception`, ``TemplateError/Kind/render`` when an operation fails on the input.
    /// - Complexity: O(steps the template takes), at most 5 million, and output at most
    ///   64 MiB: any template and input finish.
    public func render(_ context: [String: TemplateValue], now: Date = Date()) throws(TemplateError) -> String {
        try render(values: context.mapValues(_V.init), now: now)
    }

    func render(values: [String: _V], now: Date) throws(TemplateError) -> String {
        var r = _Renderer(context: values, now: now)
        _ = try r.run(nodes)
        return r.out
    }

    /// Whether some `for` loop of the template iterates over a message's `content`, as
    /// templates that take OpenAI's content parts (`[{"type": "text", …}]`) do.
    var iteratesContent: Bool {
        func visit(_ nodes: [_Node]) -> Bool {
            nodes.contains { n in
                switch n {
                case .loop(_, let e, _, let body, let otherwise, _):
                    if Self.readsContent(e) { return true }
                    return visit(body) || visit(otherwise)
                case .conditional(let branches, let otherwise, _): return branches.contains { visit($0.1) } || visit(otherwise)
                case .assignBlock(_, _, let body, _), .filterBlock(_, let body, _), .scope(_, let body, _): return visit(body)
                case .macro(let m): return visit(m.body)
                default: return false
                }
            }
        }
        return visit(nodes)
    }

    private static func readsContent(_ e: _Expr) -> Bool {
        switch e {
        case .attribute(_, "content"), .item(_, .literal(.string("content"))): true
        case .filter(let base, _, _, _): readsContent(base)
        default: false
        }
    }
}
