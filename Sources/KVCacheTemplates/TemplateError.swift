/// Why a template could not be loaded or rendered.
public struct TemplateError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure it is.
    public enum Kind: Sendable, Hashable {
        /// The template's text is not valid Jinja, or uses a construct this renderer does not
        /// run (found when the template loads, never while rendering).
        case syntax
        /// The template called `raise_exception(message)`: the input is one it refuses.
        case raised
        /// Rendering failed on the input: an operation on values of the wrong type, an
        /// undefined value used where a value is needed, a loop or output beyond the limits.
        case render
        /// The input is not valid JSON, or not of the shape a chat request has.
        case input
        /// Text given as JSON is not valid JSON.
        case json
    }

    /// What kind of failure it is.
    public var kind: Kind
    /// What went wrong, in one line.
    public var message: String
    /// The template line it went wrong on (1-based), when it is the template's.
    public var line: Int?
    /// The request field at fault (`messages`, `tools`, …), when the input is.
    public var field: String?

    /// Creates an error.
    public init(_ kind: Kind, _ message: String, line: Int? = nil, field: String? = nil) {
        self.kind = kind
        self.message = message
        self.line = line
        self.field = field
    }

    public var description: String {
        if let line { return "line \(line): \(message)" }
        return message
    }
}
