import Foundation
import KVCacheTokenizers

/// A served model's tokenizer as its engine loads it: the token ids of a completion's text
/// and of a chat request, in process.
///
/// Loads a model directory as engines hold it — `tokenizer.json`, `tokenizer_config.json`
/// (its `chat_template`, special tokens and `model_max_length`), and `chat_template.jinja` or
/// `chat_template.json` where present, which take precedence over the config's template, as
/// in Hugging Face's loader — or a lone `tokenizer.json` (text only).
///
/// Text is encoded with the tokenizer's special tokens, as an engine encodes a completion's
/// prompt; chat is rendered with the template and encoded without them (the template writes
/// its own), as vLLM does.
public struct ModelTokenizer: Sendable {
    /// The tokenizer.
    public let tokenizer: HuggingFaceTokenizer
    /// The chat template, or `nil` when the model has none (chat requests cannot be tokenized).
    public let chatTemplate: ChatTemplate?
    /// `model_max_length` from the config, when it gives a usable one.
    public let maximumLength: Int?
    /// Where the ids of long sections between special tokens are kept: in a chat, each
    /// message's text, so a conversation's earlier turns and a shared system prompt are
    /// encoded once (``KVCacheTokenizers/SegmentCache``).
    public let segments = SegmentCache()

    /// Creates one from its parts.
    public init(tokenizer: HuggingFaceTokenizer, chatTemplate: ChatTemplate?, maximumLength: Int? = nil) {
        self.tokenizer = tokenizer
        self.chatTemplate = chatTemplate
        self.maximumLength = maximumLength
    }

    /// Loads a model directory, or a `tokenizer.json` file.
    /// - Parameters:
    ///   - url: The directory or the file.
    ///   - templateOverride: A chat template file to use instead of the model's own.
    /// - Throws: ``KVCacheTokenizers/TokenizerFileError`` naming the file, the field (or the
    ///   template's line) and what is wrong.
    public init(contentsOf url: URL, templateOverride: URL? = nil) throws(TokenizerFileError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw TokenizerFileError(file: url.path, field: "", message: "does not exist")
        }
        let tokenizerFile = isDirectory.boolValue ? url.appendingPathComponent("tokenizer.json") : url
        guard FileManager.default.fileExists(atPath: tokenizerFile.path) else {
            throw TokenizerFileError(file: url.path, field: "", message: "is a directory without tokenizer.json")
        }
        tokenizer = try HuggingFaceTokenizer(contentsOf: tokenizerFile)
        var config = TemplateObject()
        var templateSource: (text: String, file: String)? = nil
        if isDirectory.boolValue {
            let configURL = url.appendingPathComponent("tokenizer_config.json")
            if let data = try? Data(contentsOf: configURL) {
                guard case .object(let o) = try Self.json(data, file: configURL.path) else {
                    throw TokenizerFileError(file: configURL.path, field: "", message: "is not a JSON object")
                }
                config = o
                if let t = try Self.template(in: o["chat_template"], file: configURL.path) { templateSource = (t, configURL.path) }
            }
            let jsonURL = url.appendingPathComponent("chat_template.json")
            if let data = try? Data(contentsOf: jsonURL) {
                let o = try Self.json(data, file: jsonURL.path)
                if let t = try Self.template(in: o["chat_template"], file: jsonURL.path) { templateSource = (t, jsonURL.path) }
            }
            let jinjaURL = url.appendingPathComponent("chat_template.jinja")
            if let data = try? Data(contentsOf: jinjaURL) { templateSource = (String(decoding: data, as: UTF8.self), jinjaURL.path) }
        }
        if let templateOverride {
            do { templateSource = (try String(contentsOf: templateOverride, encoding: .utf8), templateOverride.path) } catch {
                throw TokenizerFileError(file: templateOverride.path, field: "", message: "cannot be read as UTF-8 text")
            }
        }
        var special: [String: TemplateValue] = [:]
        for key in ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"] {
            switch config[key] {
            case .string(let s)?: special[key] = .string(s)
            case .object(let added)?:
                if let s = added["content"]?.stringValue { special[key] = .string(s) }
            default: break
            }
        }
        if case .array(let extra)? = config["additional_special_tokens"] {
            special["additional_special_tokens"] = .array(extra.compactMap { $0.stringValue.map(TemplateValue.string) ?? $0["content"] })
        }
        if let (text, file) = templateSource {
            do { chatTemplate = try ChatTemplate(text, specialTokens: special) } catch {
                throw TokenizerFileError(
                    file: file, field: error.line.map { "chat template line \($0)" } ?? "chat template", message: error.message)
            }
        } else {
            chatTemplate = nil
        }
        switch config["model_max_length"] {
        case .int(let n)? where n > 0 && n < 1 << 40: maximumLength = n
        default: maximumLength = nil
        }
    }

    private static func json(_ data: Data, file: String) throws(TokenizerFileError) -> TemplateValue {
        do { return try TemplateValue(json: data) } catch {
            throw TokenizerFileError(file: file, field: "", message: "is not valid JSON: \(error.message)")
        }
    }

    /// A config's `chat_template`: a string, or a list of named templates (the `default` one).
    private static func template(in value: TemplateValue?, file: String) throws(TokenizerFileError) -> String? {
        switch value {
        case nil, .null?: return nil
        case .string(let s)?: return s
        case .array(let named)?:
            for entry in named where entry["name"]?.stringValue == "default" {
                if let t = entry["template"]?.stringValue { return t }
            }
            throw TokenizerFileError(file: file, field: "chat_template", message: "lists named templates but none named 'default'")
        default: throw TokenizerFileError(file: file, field: "chat_template", message: "is neither a string nor a list of named templates")
        }
    }

    /// The token ids of a completion's text prompt.
    /// - Parameter addSpecialTokens: Whether to add the tokenizer's special tokens (engines do).
    public func encode(text: String, addSpecialTokens: Bool = true) -> [UInt32] {
        tokenizer.encode(text, addSpecialTokens: addSpecialTokens, cache: segments)
    }

    /// The token ids of a chat request: its rendered template, encoded without special tokens
    /// unless asked.
    /// - Throws: ``TemplateError``: the model has no chat template (``TemplateError/Kind/input``),
    ///   or the template refuses or fails on this request.
    public func encode(chat: ChatRequest, addSpecialTokens: Bool = false, now: Date = Date()) throws(TemplateError) -> [UInt32] {
        guard let chatTemplate else {
            throw TemplateError(.input, "the model has no chat template: chat requests cannot be tokenized", field: "messages")
        }
        return tokenizer.encode(try chatTemplate.render(chat, now: now), addSpecialTokens: addSpecialTokens, cache: segments)
    }
}
