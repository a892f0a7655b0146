import Foundation

/// A model's chat template, rendered as vLLM renders a chat request: the messages normalised
/// as vLLM's chat parser leaves them, then the template run as Hugging Face's
/// `apply_chat_template` runs it.
///
/// vLLM's part: a message's text parts become one string joined by newlines (or stay a list of
/// `{"type": "text", "text": …}` parts for templates that loop over `content`); an assistant's
/// `tool_calls` arguments given as JSON text become objects; `name`, `tool_call_id` and
/// reasoning are kept, other fields dropped. Hugging Face's part: the special tokens
/// (`bos_token`, …) and `chat_template_kwargs` as variables, reasoning under its three names,
/// and `continue_final_message` cutting the prompt where the last message ends.
public struct ChatTemplate: Sendable {
    /// The template.
    public let template: Template
    /// Variables every rendering sees: the tokenizer's special tokens (`bos_token`,
    /// `eos_token`, …).
    public var specialTokens: [String: TemplateValue]
    /// Whether the template reads a message's `content` as a list of parts (vLLM's "openai"
    /// content format) rather than as a string.
    public let takesContentParts: Bool

    /// Parses a chat template.
    /// - Throws: ``TemplateError`` (``TemplateError/Kind/syntax``) naming the construct and line.
    public init(_ source: String, specialTokens: [String: TemplateValue] = [:]) throws(TemplateError) {
        template = try Template(source)
        self.specialTokens = specialTokens
        takesContentParts = template.iteratesContent
    }

    /// Names a request's `chat_template_kwargs` may not set: the ones the renderer sets itself.
    static let reserved: Set<String> = ["messages", "tools", "documents", "add_generation_prompt", "continue_final_message"]

    /// The prompt text of `request`.
    /// - Parameter now: The time `strftime_now` formats.
    /// - Throws: ``TemplateError``: the template's own `raise_exception` (``TemplateError/Kind/raised``),
    ///   a failure on this input (``TemplateError/Kind/render``), or an input the template cannot
    ///   continue (``TemplateError/Kind/input``). Each is the client's to fix.
    public func render(_ request: ChatRequest, now: Date = Date()) throws(TemplateError) -> String {
        var messages = request.messages.map(normalized)
        let tag = "CONTINUE_FINAL_MESSAGE_TAG "
        var finalText: String? = nil
        if request.continueFinalMessage {
            guard case .object(var last)? = messages.last else { throw TemplateError(.input, "'messages' is empty", field: "messages") }
            guard template.source.contains("content") else {
                throw TemplateError(
                    .input, "continue_final_message is set but the chat template does not read 'content'", field: "continue_final_message")
            }
            switch last["content"] {
            case .string(let s)?:
                finalText = s
                last["content"] = .string(s + tag)
            case .array(var parts)?:
                guard let k = parts.lastIndex(where: { Self.text(of: $0) != nil }), case .object(var part) = parts[k],
                    let text = Self.text(of: parts[k])
                else {
                    throw TemplateError(
                        .input, "continue_final_message is set but the final message has no text to continue",
                        field: "continue_final_message")
                }
                finalText = text
                part["text"] = .string(text + tag)
                parts[k] = .object(part)
                last["content"] = .array(parts)
            default:
                throw TemplateError(
                    .input, "continue_final_message is set but the final message has no content to continue",
                    field: "continue_final_message")
            }
            messages[messages.count - 1] = .object(last)
        }
        var context: [String: _V] = specialTokens.mapValues(_V.init)
        for (k, v) in request.templateArguments.pairs where !Self.reserved.contains(k) { context[k] = _V(v) }
        context["messages"] = .array(messages)
        context["tools"] = request.tools.map { .array($0.map(_V.init)) } ?? _V.none
        context["documents"] = request.documents.map { .array($0.map(_V.init)) } ?? _V.none
        context["add_generation_prompt"] = .bool(request.addGenerationPrompt)
        var text = try template.render(values: context, now: now)
        if let finalText {
            let trimmedTag = _Text.strip(tag, nil, leading: true, trailing: true)
            guard _Text.contains(text, _Text.strip(finalText, nil, leading: true, trailing: true)), _Text.contains(text, trimmedTag) else {
                throw TemplateError(
                    .input, "continue_final_message is set but the final message does not appear in the rendered chat",
                    field: "continue_final_message")
            }
            let scalars = Array(text.unicodeScalars)
            let needle = Array(trimmedTag.unicodeScalars)
            var at = 0
            var found = 0
            while let hit = _Text.find(scalars, needle, from: at) {
                found = hit
                at = hit + 1
            }
            let head = _Text.string(scalars[..<found])
            text = _Text.hasPrefix(_Text.string(scalars[found...]), tag) ? head : _Text.strip(head, nil, leading: false, trailing: true)
        }
        return text
    }

    /// The `text` of a content part, when it has one.
    private static func text(of part: _V) -> String? {
        guard case .object(let p) = part, case .string(let text)? = p["text"] else { return nil }
        return text
    }

    /// A message as vLLM's chat parser passes it to the template, with Hugging Face's
    /// reasoning aliases, made straight into the renderer's values.
    func normalized(_ message: TemplateValue) -> _V {
        guard case .object(let m) = message else { return _V(message) }
        let role = m["role"]?.stringValue ?? ""
        var texts: [String] = []
        switch m["content"] {
        case .string(let s)?: texts = [s]
        case .array(let parts)?:
            for part in parts {
                if let t = part["text"]?.stringValue {
                    texts.append(t)
                } else if let t = part["refusal"]?.stringValue {
                    texts.append(t)
                }
            }
        default: break
        }
        let reasoning = role == "assistant" ? [m["reasoning"], m["reasoning_content"]].compactMap { $0 }.first { $0 != .null } : nil
        var out = _Object()
        // Hugging Face fills the reasoning under its other names, `thinking` first and
        // `reasoning_content` in the message's place.
        if let reasoning { out["thinking"] = _V(reasoning) }
        out["role"] = .string(role)
        if takesContentParts {
            out["content"] = .array(
                texts.map { text in
                    var part = _Object()
                    part["type"] = .string("text")
                    part["text"] = .string(text)
                    return .object(part)
                })
        } else {
            out["content"] = .string(texts.joined(separator: "\n"))
        }
        if role == "assistant" {
            if case .array(let calls)? = m["tool_calls"] { out["tool_calls"] = .array(calls.map { _V(Self.parsedArguments($0)) }) }
            if let reasoning {
                out["reasoning"] = _V(reasoning)
                out["reasoning_content"] = _V(reasoning)
            }
        } else if role == "tool", let id = m["tool_call_id"] {
            out["tool_call_id"] = _V(id)
        }
        if case .string(let name)? = m["name"] { out["name"] = .string(name) }
        return .object(out)
    }

    /// A tool call whose `function.arguments` is JSON text, with the arguments parsed (an
    /// empty or missing one becomes `{}`), as vLLM passes it to templates.
    static func parsedArguments(_ call: TemplateValue) -> TemplateValue {
        guard case .object(var c) = call, case .object(var f)? = c["function"] else { return call }
        switch f["arguments"] {
        case .string(let s)? where !s.isEmpty:
            if let parsed = try? TemplateValue(json: Array(s.utf8)) { f["arguments"] = parsed }
        case .object?, .array?: break
        case .string?, .null?, nil, .bool(false)?, .int(0)?: f["arguments"] = .object(TemplateObject())
        default: break
        }
        c["function"] = .object(f)
        return .object(c)
    }
}
