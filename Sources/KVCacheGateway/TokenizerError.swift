/// Why a prompt could not be tokenized, and whose fault it is.
public struct TokenizerError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public var description: String
    /// Whether the request is at fault (a template that refuses the conversation, an engine's
    /// `400`): the client gets a `400`. Otherwise the gateway could not tokenize a valid
    /// request (no engine answered) and the client gets a `503`.
    public var isClientError: Bool
    /// The request field at fault, when the request is.
    public var field: String?
    /// The HTTP status the client gets for a client error (`400`, or an engine's `404` for a
    /// model it does not serve).
    public var status: Int

    /// Creates an error; by default the gateway's, not the client's.
    public init(_ description: String, isClientError: Bool = false, field: String? = nil, status: Int = 400) {
        self.description = description
        self.isClientError = isClientError
        self.field = field
        self.status = status
    }
}
