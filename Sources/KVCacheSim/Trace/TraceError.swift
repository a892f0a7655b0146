/// A problem in a trace file, located by file, line and field.
public struct TraceError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file (or source name).
    public var file: String
    /// 1-based line number (0 when the problem is not on one line).
    public var line: Int
    /// The JSON field concerned, if any.
    public var field: String?
    /// What is wrong, with the offending value.
    public var message: String

    /// Creates an error.
    public init(file: String, line: Int, field: String? = nil, message: String) {
        self.file = file
        self.line = line
        self.field = field
        self.message = message
    }

    public var description: String {
        var s = file
        if line > 0 { s += ":\(line)" }
        if let field { s += ": field '\(field)'" }
        return s + ": " + message
    }
}
