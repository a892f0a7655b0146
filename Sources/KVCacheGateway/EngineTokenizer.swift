import Foundation
import KVCacheTemplates
import Synchronization

/// Tokenizes through the engines' own `POST /tokenize` (vLLM's endpoint), so the gateway's
/// tokens are exactly the engines' (chat template included) without a tokenizer in process.
///
/// Calls are spread over the engines: each goes to the engine with the fewest `/tokenize`
/// calls in flight, in the chooser's order among equals, and one that fails (unreachable, a
/// `5xx`, a broken answer, or no `/tokenize` at all) is reported to `onFailure` and retried on
/// the next engine. An engine's `400` or `422`, or its `404` for a model it does not serve
/// (vLLM's `NotFoundError`), is the request's fault: it comes back as a client error with the
/// engine's status and message, and is not retried.
public struct EngineTokenizer: Tokenizer {
    /// The base URLs of the engines that can answer now, in the order to prefer them.
    public typealias EngineChooser = @Sendable () -> [String]
    /// Told of an engine that failed to answer a `/tokenize` call, and why.
    public typealias FailureHandler = @Sendable (_ engine: String, _ error: any Error) -> Void

    let exchange: _JSONExchange
    let chooseEngines: EngineChooser
    let onFailure: FailureHandler
    let attempts: Int
    private let inFlight = _InFlightCounts()

    /// Creates a tokenizer over `client`.
    /// - Parameters:
    ///   - client: The client to call engines with.
    ///   - timeout: How long one `/tokenize` call may take.
    ///   - attempts: Engines tried per prompt before giving up.
    ///   - chooseEngines: The engines to ask, called once per prompt.
    ///   - onFailure: Told of each engine that failed (a breaker's input).
    public init(
        client: EngineClient, timeout: Duration = .seconds(10), attempts: Int = 3, chooseEngines: @escaping EngineChooser,
        onFailure: @escaping FailureHandler = { _, _ in }
    ) {
        exchange = _JSONExchange(client: client, timeout: timeout, maximumBytes: 256 << 20)
        self.chooseEngines = chooseEngines
        self.onFailure = onFailure
        self.attempts = max(1, attempts)
    }

    public func tokens(for input: PromptInput, model: String?) async throws -> [UInt32] {
        var fields: TemplateObject
        switch input {
        case .tokens(let ids): return ids
        case .text(let text): fields = TemplateObject([("prompt", .string(text))])
        case .chat(let request): fields = request.fields
        }
        if let model { fields["model"] = .string(model) }
        let (engine, status, answer) = try await forward(Data(TemplateValue.object(fields).jsonText.utf8))
        guard status == 200 else {
            throw TokenizerError(
                "the engine refused to tokenize the prompt: \(Self.message(in: answer) ?? "status \(status)")", isClientError: true,
                field: Self.field(in: answer), status: status)
        }
        do {
            return try _TokenizeAnswer.tokens(in: answer)
        } catch {
            onFailure(engine, error)
            throw TokenizerError("\(engine)/tokenize answered with an unexpected body (\(_JSONExchange.reason(error)))")
        }
    }

    /// Sends a `/tokenize` body to the engines in turn until one answers it or refuses it as
    /// the request's fault (see ``isRefusal(status:body:)``): the engine, its status and its body.
    /// - Throws: ``TokenizerError`` when no engine answered.
    func forward(_ body: Data) async throws -> (engine: String, status: Int, body: Data) {
        let candidates = inFlight.ordered(chooseEngines())
        guard !candidates.isEmpty else { throw TokenizerError("no engine in rotation can tokenize the prompt") }
        var last = ""
        for engine in candidates.prefix(attempts) {
            inFlight.add(engine, 1)
            defer { inFlight.add(engine, -1) }
            do {
                let (status, answer) = try await exchange.call(engine + "/tokenize", body: body)
                if (200..<300).contains(status) || Self.isRefusal(status: status, body: answer) { return (engine, status, answer) }
                last = "\(engine)/tokenize answered \(status)"
                onFailure(engine, _JSONExchange.Failure(description: last))
            } catch {
                last = "\(engine)/tokenize: \(error)"
                onFailure(engine, error)
            }
        }
        throw TokenizerError("no engine could tokenize the prompt: \(last)")
    }

    /// Whether an engine's answer refuses the request as the client's fault: a `400` or `422`,
    /// or a `404` whose OpenAI-style error is vLLM's `NotFoundError` (a model it does not
    /// serve). Another `4xx` (no `/tokenize` route, say) is the engine's failure.
    static func isRefusal(status: Int, body: Data) -> Bool {
        if status == 400 || status == 422 { return true }
        guard status == 404, case .object(let o)? = try? TemplateValue(json: body) else { return false }
        return o["error"]?["type"]?.stringValue == "NotFoundError"
    }

    /// The message of an OpenAI- or FastAPI-style error body.
    static func message(in body: Data) -> String? {
        guard case .object(let o)? = try? TemplateValue(json: body) else { return nil }
        if let m = o["error"]?["message"]?.stringValue { return m }
        if let m = o["message"]?.stringValue { return m }
        if case .array(let details)? = o["detail"], let m = details.first?["msg"]?.stringValue { return m }
        return o["detail"]?.stringValue
    }

    /// The field an OpenAI-style error body names (`param`), if any.
    static func field(in body: Data) -> String? {
        guard case .object(let o)? = try? TemplateValue(json: body) else { return nil }
        return o["error"]?["param"]?.stringValue
    }
}

/// `/tokenize` calls in flight per engine, to send the next to the least busy.
final class _InFlightCounts: Sendable {
    private let counts = Mutex<[String: Int]>([:])

    func add(_ engine: String, _ delta: Int) { counts.withLock { $0[engine, default: 0] += delta } }

    /// `engines` with the least busy first, in their given order among equals.
    func ordered(_ engines: [String]) -> [String] {
        let c = counts.withLock { $0 }
        return engines.enumerated().sorted { a, b in
            let (x, y) = (c[a.element] ?? 0, c[b.element] ?? 0)
            return x != y ? x < y : a.offset < b.offset
        }.map(\.element)
    }
}
