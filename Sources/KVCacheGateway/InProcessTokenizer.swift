import KVCacheTemplates
import KVCacheTokenizers

/// Tokenizes in process with the served model's tokenizer and chat template
/// (``KVCacheTemplates/ModelTokenizer``): text as the engine encodes a completion's prompt
/// (special tokens included), chat as vLLM renders the template and encodes its text.
///
/// A model without a chat template tokenizes chat through `chat`, when given (the engines'
/// `/tokenize`).
public struct InProcessTokenizer: Tokenizer {
    /// The model's tokenizer and template.
    public let model: ModelTokenizer
    /// Where chat goes when the model has no template, or `nil`.
    public let chat: (any Tokenizer)?

    /// Creates a tokenizer over `model`.
    public init(model: ModelTokenizer, chat: (any Tokenizer)? = nil) {
        self.model = model
        self.chat = chat
    }

    /// Creates a tokenizer of text only, asking `chat` for chat messages.
    public init(text: HuggingFaceTokenizer, chat: any Tokenizer) {
        self.init(model: ModelTokenizer(tokenizer: text, chatTemplate: nil), chat: chat)
    }

    public func tokens(for input: PromptInput, model name: String?) async throws -> [UInt32] {
        switch input {
        case .tokens(let ids): return ids
        case .text(let prompt): return model.encode(text: prompt)
        case .chat(let request):
            guard model.chatTemplate != nil || chat == nil else { return try await chat!.tokens(for: input, model: name) }
            do { return try model.encode(chat: request) } catch {
                throw TokenizerError(
                    error.kind == .raised ? "the chat template refused the conversation: \(error.message)" : "\(error)",
                    isClientError: true, field: error.field ?? "messages")
            }
        }
    }
}
