/// Why a `tokenizer.json` could not be loaded: which file, which field, what was wrong.
///
/// Its description is one line, `FILE: FIELD: MESSAGE`, for a command line to print as is.
public struct TokenizerFileError: Error, CustomStringConvertible, Sendable {
    /// The file (or the source name given to ``HuggingFaceTokenizer/init(json:source:)``).
    public var file: String
    /// The path of the field at fault, such as `model.merges[12]`; empty for the file as a whole.
    public var field: String
    /// What was wrong.
    public var message: String

    /// Creates an error about `file`'s `field` (empty: the file as a whole).
    public init(file: String, field: String, message: String) {
        self.file = file
        self.field = field
        self.message = message
    }

    public var description: String { field.isEmpty ? "\(file): \(message)" : "\(file): \(field): \(message)" }
}
