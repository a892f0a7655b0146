/// A configuration or startup problem of the gateway, in one line that names what was wrong
/// and where (flag, engine, field, value).
public struct GatewayError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was wrong.
    public var message: String
    /// The message.
    public var description: String { message }

    /// Creates an error with its one-line message.
    public init(_ message: String) { self.message = message }
}
