/// A one-line user error: ArgumentParser prints it as `Error: <message>` and exits with 1.
public struct CLIError: Error, CustomStringConvertible {
    /// The message, naming the flag, file or value that is wrong.
    public var description: String
    /// Creates the error.
    public init(_ message: String) { description = message }
}
