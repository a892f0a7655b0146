/// A problem in a `tokenizer.json`, located by the path of the field that holds it.
struct _LoadError: Error {
    var field: String
    var message: String

    init(_ field: String, _ message: String) {
        self.field = field
        self.message = message
    }

    /// The same error, seen from the object that holds `parent`.
    func within(_ parent: String) -> _LoadError { _LoadError(field.isEmpty ? parent : "\(parent).\(field)", message) }
}
