import KVCacheTemplates
import KVCacheTokenizers
import NIOPosix

/// Tokenizes in process with the served model's tokenizer and chat template
/// (``KVCacheTemplates/ModelTokenizer``): text as the engine encodes a completion's prompt
/// (special tokens included), chat as vLLM renders the template and encodes its text.
///
/// A model without a chat template tokenizes chat through `chat`, when given (the engines'
/// `/tokenize`). A prompt of ``offloadBytes`` or more is tokenized on NIO's blocking thread
/// pool, so a very long prompt never holds up the other connections of an event loop.
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

    /// Prompts at least this long (UTF-8 bytes of text, or of the messages' text) are tokenized
    /// on NIO's thread pool rather than on the calling event loop.
    public static let offloadBytes = 64 << 10

    public func tokens(for input: PromptInput, model name: String?) async throws -> [UInt32] {
        switch input {
        case .tokens(let ids): return ids
        case .text(let prompt):
            let model = model
            return try await Self.run(size: prompt.utf8.count) { model.encode(text: prompt) }
        case .chat(let request):
            guard model.chatTemplate != nil || chat == nil else { return try await chat!.tokens(for: input, model: name) }
            let model = model
            return try await Self.run(size: Self.size(of: request)) {
                do { return try model.encode(chat: request) } catch let error as TemplateError {
                    throw TokenizerError(
                        error.kind == .raised ? "the chat template refused the conversation: \(error.message)" : "\(error)",
                        isClientError: true, field: error.field ?? "messages")
                }
            }
        }
    }

    /// `work` here when `size` is small, else on NIO's blocking thread pool.
    static func run(size: Int, _ work: @escaping @Sendable () throws -> [UInt32]) async throws -> [UInt32] {
        guard size >= offloadBytes else { return try work() }
        return try await NIOThreadPool.singleton.runIfActive(work)
    }

    /// The bytes of a chat request's message texts.
    static func size(of request: ChatRequest) -> Int {
        var n = 0
        for m in request.messages {
            switch m["content"] {
            case .string(let s)?: n += s.utf8.count
            case .array(let parts)?: for p in parts { n += p["text"]?.stringValue?.utf8.count ?? 0 }
            default: break
            }
        }
        return n
    }
}
