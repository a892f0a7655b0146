/// The fields of a chat request that decide its prompt: what vLLM's `/v1/chat/completions`
/// and `/tokenize` hand to the chat template.
public struct ChatRequest: Sendable, Hashable {
    /// The messages, as the client sent them (objects with a string `role`).
    public var messages: [TemplateValue]
    /// `tools`: the function definitions, or `nil`.
    public var tools: [TemplateValue]?
    /// `documents`, or `nil`.
    public var documents: [TemplateValue]?
    /// `add_generation_prompt` (vLLM's default: true).
    public var addGenerationPrompt: Bool
    /// `continue_final_message`: the prompt ends inside the last message, to be continued.
    public var continueFinalMessage: Bool
    /// `chat_template_kwargs`: extra variables for the template.
    public var templateArguments: TemplateObject

    /// A request of `messages` with vLLM's defaults.
    public init(
        messages: [TemplateValue], tools: [TemplateValue]? = nil, documents: [TemplateValue]? = nil, addGenerationPrompt: Bool = true,
        continueFinalMessage: Bool = false, templateArguments: TemplateObject = TemplateObject()
    ) {
        self.messages = messages
        self.tools = tools
        self.documents = documents
        self.addGenerationPrompt = addGenerationPrompt
        self.continueFinalMessage = continueFinalMessage
        self.templateArguments = templateArguments
    }

    /// The request's chat fields under vLLM's names, as an engine's `/tokenize` takes them.
    public var fields: TemplateObject {
        var o = TemplateObject()
        o["messages"] = .array(messages)
        if let tools { o["tools"] = .array(tools) }
        if let documents { o["documents"] = .array(documents) }
        o["add_generation_prompt"] = .bool(addGenerationPrompt)
        if continueFinalMessage { o["continue_final_message"] = .bool(true) }
        if templateArguments.count > 0 { o["chat_template_kwargs"] = .object(templateArguments) }
        return o
    }

    /// The chat fields of a request body (`messages`, `tools`, `documents`,
    /// `add_generation_prompt`, `continue_final_message`, `chat_template_kwargs`), checked.
    /// - Throws: ``TemplateError`` of kind ``TemplateError/Kind/input`` whose
    ///   ``TemplateError/field`` names the field at fault.
    public init(body: TemplateValue) throws(TemplateError) {
        guard case .object(let o) = body else { throw TemplateError(.input, "the request body is not a JSON object") }
        guard case .array(let messages)? = o["messages"], !messages.isEmpty else {
            throw TemplateError(.input, "'messages' must be a non-empty array of message objects", field: "messages")
        }
        for (k, m) in messages.enumerated() {
            guard case .object(let message) = m else {
                throw TemplateError(.input, "'messages[\(k)]' must be an object with a string 'role'", field: "messages")
            }
            guard case .string? = message["role"] else {
                throw TemplateError(.input, "'messages[\(k)].role' must be a string", field: "messages")
            }
            switch message["content"] {
            case nil, .null?, .string?: break
            case .array(let parts)?:
                for (j, part) in parts.enumerated() {
                    guard case .object(let p) = part, case .string(let type)? = p["type"] else {
                        throw TemplateError(
                            .input, "'messages[\(k)].content[\(j)]' must be an object with a string 'type'", field: "messages")
                    }
                    if ["text", "input_text", "output_text", "refusal"].contains(type) {
                        let key = type == "refusal" ? "refusal" : "text"
                        guard case .string? = p[key] else {
                            throw TemplateError(.input, "'messages[\(k)].content[\(j)].\(key)' must be a string", field: "messages")
                        }
                    } else {
                        throw TemplateError(
                            .input, "'messages[\(k)].content[\(j)]' is a '\(type)' part; only text parts are routed", field: "messages")
                    }
                }
            default:
                throw TemplateError(.input, "'messages[\(k)].content' must be a string, an array of parts, or null", field: "messages")
            }
        }
        self.messages = messages
        func list(_ key: String) throws(TemplateError) -> [TemplateValue]? {
            switch o[key] {
            case nil, .null?: return nil
            case .array(let a)?:
                for (k, item) in a.enumerated() {
                    guard case .object = item else { throw TemplateError(.input, "'\(key)[\(k)]' must be an object", field: key) }
                }
                return a
            default: throw TemplateError(.input, "'\(key)' must be an array of objects", field: key)
            }
        }
        func flag(_ key: String, _ fallback: Bool) throws(TemplateError) -> Bool {
            switch o[key] {
            case nil, .null?: return fallback
            case .bool(let b)?: return b
            default: throw TemplateError(.input, "'\(key)' must be true or false", field: key)
            }
        }
        tools = try list("tools")
        documents = try list("documents")
        addGenerationPrompt = try flag("add_generation_prompt", true)
        continueFinalMessage = try flag("continue_final_message", false)
        switch o["chat_template_kwargs"] {
        case nil, .null?: templateArguments = TemplateObject()
        case .object(let kwargs)?: templateArguments = kwargs
        default: throw TemplateError(.input, "'chat_template_kwargs' must be an object", field: "chat_template_kwargs")
        }
        // vLLM's default for add_generation_prompt is true, so continuing the final message
        // needs it set to false, as transformers requires.
        if addGenerationPrompt && continueFinalMessage {
            throw TemplateError(
                .input, "'continue_final_message' needs 'add_generation_prompt': false (it defaults to true)",
                field: "continue_final_message")
        }
    }
}
