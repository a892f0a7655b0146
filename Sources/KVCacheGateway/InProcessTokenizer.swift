import KVCacheTokenizers

/// Tokenizes text prompts in process with the served model's Hugging Face `tokenizer.json`,
/// and chat messages through another ``Tokenizer`` (the engines' `/tokenize`): a chat
/// template is the engine's own program, while a text prompt's tokens depend only on the
/// tokenizer file.
///
/// A text prompt's ids include the file's special tokens (a beginning-of-text token, say), as
/// an engine adds them to a completion's prompt.
public struct InProcessTokenizer: Tokenizer {
    /// The tokenizer of text prompts.
    public let text: HuggingFaceTokenizer
    /// The tokenizer of chat messages.
    public let chat: any Tokenizer

    /// Creates a tokenizer that encodes text with `text` and asks `chat` for chat messages.
    public init(text: HuggingFaceTokenizer, chat: any Tokenizer) {
        self.text = text
        self.chat = chat
    }

    public func tokens(for input: PromptInput, model: String?) async throws -> [UInt32] {
        switch input {
        case .tokens(let ids): ids
        case .text(let prompt): text.encode(prompt)
        case .chat: try await chat.tokens(for: input, model: model)
        }
    }
}
