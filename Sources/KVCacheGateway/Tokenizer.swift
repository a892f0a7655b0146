/// Turns a prompt into the token ids the engines will see, so the router can hash the blocks
/// the engines will cache.
///
/// The gateway's default asks an engine (``EngineTokenizer``, vLLM's `POST /tokenize`) through a
/// bounded cache (``CachingTokenizer``); an in-process tokenizer can take its place.
public protocol Tokenizer: Sendable {
    /// The token ids of `input` (never called with ``PromptInput/tokens(_:)``).
    /// - Parameters:
    ///   - input: A text prompt or chat messages.
    ///   - model: The request's `model`, which selects the tokenizer on engines serving several.
    func tokens(for input: PromptInput, model: String?) async throws -> [UInt32]
}
