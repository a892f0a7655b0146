import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import KVCache
import KVCacheZMQ
import Logging
import NIOCore
import NIOFoundationCompat
import Synchronization

/// The KV-aware OpenAI-compatible gateway: it routes each completion to the engine whose KV
/// cache holds most of its prompt (as the engines' own KV events say), and passes the answer
/// back byte for byte.
///
/// A request goes: admission (bounded concurrency and queue) → body and routing fields →
/// tokens (given, or from the ``Tokenizer``) → ``KVRouter/route(tokens:adapter:cacheSalt:expectedOutputTokens:excluding:)``
/// → the engine, through AsyncHTTPClient → the response, streamed through unbuffered with
/// `x-kvcache-node` and `x-kvcache-predicted-cached-tokens`. An engine that fails before any
/// response byte reached the client is left out and the request goes to another; its circuit
/// breaker counts the failure. The router sees `requestStarted` at dispatch, `prefillFinished`
/// at the first response byte, and `requestFinished` when the response ends, fails, or the
/// client leaves — never a leaked load.
///
/// ``run(metrics:onListening:)`` serves it over HTTP until SIGTERM or SIGINT, then stops taking
/// connections and lets the requests in flight finish within
/// ``GatewayConfiguration/shutdownGrace``.
public final class Gateway: Sendable {
    /// The settings.
    public let configuration: GatewayConfiguration
    /// The router (index, loads, selector) the gateway routes with.
    public let router: KVRouter
    /// The engines' KV-event subscriber, when any engine publishes events.
    public let subscriber: EngineEventSubscriber?
    let clients: _UpstreamClients
    let directory: EngineDirectory
    let tokenizer: any Tokenizer
    let gate: AdmissionGate
    let audit: CacheAudit
    let metrics: _GatewayMetrics
    let exchange: _JSONExchange
    private let nextRequestID = Atomic<UInt64>(0)

    /// Creates a gateway.
    /// - Parameters:
    ///   - configuration: The settings (checked with ``GatewayConfiguration/validate()``).
    ///   - tokenizer: Turns text and chat prompts into token ids; default: the engines'
    ///     `/tokenize` (text prompts in process with ``GatewayConfiguration/textTokenizer`` when
    ///     set) behind a bounded cache.
    /// - Throws: ``GatewayError`` when the settings are inconsistent.
    public init(configuration: GatewayConfiguration, tokenizer: (any Tokenizer)? = nil) throws(GatewayError) {
        try configuration.validate()
        self.configuration = configuration
        let c = configuration
        let nodeCapacity = (c.engines.map(\.node).max() ?? 0) + 1
        let hasher: PrefixHasher
        do { hasher = try PrefixHasher(blockSize: c.blockSize) } catch { throw GatewayError("--block-size \(c.blockSize): \(error)") }
        router = KVRouter(
            configuration: .init(
                hasher: hasher, selector: c.selector, prefillModel: c.prefillModel, nodeCapacity: nodeCapacity,
                requestTimeout: Double(c.requestTimeout.components.seconds) + 60, approximate: c.approximate,
                speculativeTTL: c.speculativeTTL, tierWeights: c.tierWeights, metricsPrefix: "\(c.metricsPrefix)_router", logger: c.logger))
        var http = HTTPClient.Configuration()
        http.timeout = .init(connect: TimeAmount(c.connectTimeout))
        http.connectionPool = .init(
            idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: c.maximumConcurrency + c.engines.count * 2)
        http.decompression = .disabled
        // A proxy passes an engine's redirect to its client rather than following it.
        http.redirectConfiguration = .disallow
        // The gateway bootstraps no tracer; without one, a request opens no (no-op) span.
        http.tracing.tracer = nil
        clients = _UpstreamClients(configuration: http)
        directory = EngineDirectory(
            specs: c.engines, router: router, failureThreshold: c.failureThreshold, cooldown: c.breakerCooldown,
            metricsPrefix: c.metricsPrefix, logger: c.logger)
        exchange = _JSONExchange(clients: clients, timeout: c.healthTimeout, maximumBytes: 16 << 20)
        let directory = directory
        let engines = EngineTokenizer(clients: clients, timeout: c.requestTimeout) { directory.upURLs().first }
        if let tokenizer {
            self.tokenizer = tokenizer
        } else if let text = c.textTokenizer {
            self.tokenizer = CachingTokenizer(
                InProcessTokenizer(text: text, chat: engines), maximumEntries: c.tokenizerCacheEntries,
                maximumTokens: c.tokenizerCacheTokens)
        } else {
            self.tokenizer = CachingTokenizer(engines, maximumEntries: c.tokenizerCacheEntries, maximumTokens: c.tokenizerCacheTokens)
        }
        gate = AdmissionGate(limit: c.maximumConcurrency, queueLimit: c.maximumQueue, timeout: c.queueTimeout)
        audit = CacheAudit(prefix: c.metricsPrefix, window: c.auditWindow, logger: c.logger)
        metrics = _GatewayMetrics(prefix: c.metricsPrefix)
        let endpoints = c.engines.compactMap { e -> EngineEventSubscriber.Endpoint? in
            guard let events = e.events else { return nil }
            return EngineEventSubscriber.Endpoint(address: events, replayAddress: e.replay, node: e.node)
        }
        var sub = EngineEventSubscriber.Configuration()
        sub.logger = c.logger
        sub.coalescing = c.eventCoalescing
        subscriber = endpoints.isEmpty ? nil : EngineEventSubscriber(endpoints: endpoints, configuration: sub, router: router)
    }

    // MARK: Completions

    /// Answers `POST /v1/completions` or `POST /v1/chat/completions`.
    func complete(_ request: Request, endpoint: OpenAIEndpoint) async -> Response {
        let response = await _complete(request, endpoint: endpoint)
        metrics.answered(endpoint.rawValue, status: response.status.code)
        return response
    }

    private func _complete(_ request: Request, endpoint: OpenAIEndpoint) async -> Response {
        switch await gate.enter() {
        case .admitted: break
        case .queueFull:
            metrics.queueRejections.increment()
            return Self.errorResponse(busy(.tooManyRequests, "the gateway is at its limit of requests in flight and queued"))
        case .timedOut:
            metrics.queueTimeouts.increment()
            return Self.errorResponse(busy(.serviceUnavailable, "no place became free within the queue timeout"))
        }
        let lease = _RequestLease(
            id: nextRequestID.wrappingAdd(1, ordering: .relaxed).newValue, router: router, gate: gate, audit: audit, metrics: metrics)
        do {
            var request = request
            let body: ByteBuffer
            do { body = try await request.collectBody(upTo: configuration.maximumBodyBytes) } catch {
                throw RequestError(
                    status: .contentTooLarge, message: "the request body is larger than \(configuration.maximumBodyBytes) bytes",
                    type: "invalid_request_error")
            }
            let fields = try OpenAIRequest(body: Data(buffer: body), endpoint: endpoint)
            let tokens: [UInt32]
            do { tokens = try await tokenizer.tokens(for: fields.prompt, model: fields.model) } catch {
                throw RequestError(
                    status: .serviceUnavailable, message: "cannot tokenize the prompt: \(error)", type: "service_unavailable")
            }
            return try await dispatch(request, body: body, endpoint: endpoint, fields: fields, tokens: tokens, lease: lease)
        } catch let e as RequestError {
            lease.finish(realized: nil)
            return Self.errorResponse(e)
        } catch {
            lease.finish(realized: nil)
            return Self.errorResponse(RequestError(status: .internalServerError, message: "\(error)", type: "internal_error"))
        }
    }

    private func busy(_ status: HTTPResponse.Status, _ message: String) -> RequestError {
        var e = RequestError(status: status, message: message, type: "rate_limit_exceeded")
        e.headers[.retryAfter] = "\(configuration.retryAfterSeconds)"
        return e
    }

    /// Headers of the client's request that the engine should see too.
    static let forwardedRequestHeaders: [HTTPField.Name] = [.accept, .authorization, .userAgent, HTTPField.Name("x-request-id")!]
    /// Headers of an engine's response that describe one hop only and are not passed on.
    static let hopByHop: Set<HTTPField.Name> = [
        .connection, HTTPField.Name("keep-alive")!, .transferEncoding, .contentLength, .upgrade, .te, .trailer,
    ]

    private func dispatch(
        _ request: Request, body: ByteBuffer, endpoint: OpenAIEndpoint, fields: OpenAIRequest, tokens: [UInt32],
        lease: _RequestLease
    ) async throws -> Response {
        let adapter = fields.model.flatMap { directory.isAdapter($0) ? $0 : nil }
        let deadline = NIODeadline.now() + TimeAmount(configuration.requestTimeout)
        var excluded: [NodeID] = []
        var lastFailure = "no engine is in rotation"
        for _ in 0..<configuration.maximumAttempts {
            let routed = router.route(
                tokens: tokens, adapter: adapter, cacheSalt: fields.cacheSalt, expectedOutputTokens: fields.maxTokens,
                excluding: excluded)
            guard let node = routed.node, let engine = directory.spec(of: node) else {
                if excluded.isEmpty { lastFailure = "no engine can take the request: \(routed.decision.reason)" }
                break
            }
            // An engine always computes a prompt's last token (vLLM matches at most
            // `tokens - 1` tokens, in whole blocks), so a fully cached prompt reports one block less.
            let predicted = min(routed.overlapBlocks, max(0, tokens.count - 1) / router.blockSize) * router.blockSize
            router.requestStarted(routed, id: lease.id, expectedOutputTokens: fields.maxTokens)
            lease.dispatched(to: node, predicted: predicted)
            var upstream = HTTPClientRequest(url: engine.url + endpoint.rawValue)
            upstream.method = .POST
            upstream.headers.add(name: "content-type", value: "application/json")
            for name in Self.forwardedRequestHeaders {
                if let v = request.headers[name] { upstream.headers.add(name: name.rawName, value: v) }
            }
            upstream.body = .bytes(body)
            do {
                let response = try await clients.current.execute(upstream, deadline: deadline)
                let code = Int(response.status.code)
                if [502, 503, 504].contains(code), excluded.count + 1 < configuration.maximumAttempts {
                    _ = try? await response.body.collect(upTo: 1 << 20)
                    throw _JSONExchange.Failure(description: "answered \(code)")
                }
                // A whole answer is read before the client sees a byte of it, so its failure
                // still counts as the engine's and the request may go elsewhere.
                if !fields.stream, let whole = try await Self.wholeBody(of: response) {
                    directory.recordSuccess(node)
                    return answer(response, body: whole, node: node, predicted: predicted, lease: lease)
                }
                directory.recordSuccess(node)
                return relay(response, node: node, predicted: predicted, lease: lease)
            } catch {
                lease.attemptFailed()
                metrics.upstreamFailure(node: node)
                lastFailure = "engine \(node) (\(engine.url)): \(error)"
                if Self.isUnreachable(error) {
                    directory.recordUnreachable(node, reason: "\(error)")
                } else {
                    directory.recordFailure(node, reason: "\(error)")
                }
                excluded.append(node)
                guard NIODeadline.now() < deadline else { break }
                metrics.retries.increment()
                configuration.logger.info("retrying on another engine", metadata: ["failed": "\(lastFailure)"])
            }
        }
        throw RequestError(status: .badGateway, message: "no engine answered: \(lastFailure)", type: "upstream_error")
    }

    /// Largest answer to a non-streamed request that is read whole and sent on in one write;
    /// a longer one is relayed chunk by chunk.
    static let wholeAnswerLimit = 1 << 20

    /// The body of a non-streamed answer that says its length and is at most
    /// ``wholeAnswerLimit`` bytes, read whole; `nil` for any other answer (relayed instead).
    static func wholeBody(of response: HTTPClientResponse) async throws -> ByteBuffer? {
        guard let length = response.headers.first(name: "content-length").flatMap({ Int($0) }), (0...wholeAnswerLimit).contains(length)
        else { return nil }
        return try await response.body.collect(upTo: length)
    }

    /// The headers the client gets: the engine's, less those of one hop, plus the routing ones.
    private static func clientHeaders(of response: HTTPClientResponse, node: NodeID, predicted: Int) -> HTTPFields {
        var headers = HTTPFields()
        for h in response.headers {
            if let name = HTTPField.Name(h.name), !hopByHop.contains(name) { headers.append(HTTPField(name: name, value: h.value)) }
        }
        headers.append(HTTPField(name: HTTPField.Name("x-kvcache-node")!, value: "\(node)"))
        headers.append(HTTPField(name: HTTPField.Name("x-kvcache-predicted-cached-tokens")!, value: "\(predicted)"))
        return headers
    }

    /// A whole engine answer, already read: the server writes its head, body and end at once.
    private func answer(_ response: HTTPClientResponse, body: ByteBuffer, node: NodeID, predicted: Int, lease: _RequestLease) -> Response {
        lease.firstByte()
        var usage = _UsageScanner()
        usage.feed(body.readableBytesView)
        lease.finish(realized: usage.cachedTokens)
        return Response(
            status: HTTPResponse.Status(code: Int(response.status.code)),
            headers: Self.clientHeaders(of: response, node: node, predicted: predicted), body: ResponseBody(byteBuffer: body))
    }

    /// The engine's response, passed to the client chunk by chunk as it arrives.
    private func relay(_ response: HTTPClientResponse, node: NodeID, predicted: Int, lease: _RequestLease) -> Response {
        let headers = Self.clientHeaders(of: response, node: node, predicted: predicted)
        let length = response.headers.first(name: "content-length").flatMap { Int($0) }
        let body = ResponseBody(contentLength: length) { writer in
            var usage = _UsageScanner()
            do {
                for try await chunk in response.body {
                    lease.firstByte()
                    usage.feed(chunk.readableBytesView)
                    try await writer.write(chunk)
                }
                lease.firstByte()
                try await writer.finish(nil)
                lease.finish(realized: usage.cachedTokens)
            } catch {
                lease.finish(realized: nil)
                throw error
            }
        }
        return Response(status: HTTPResponse.Status(code: Int(response.status.code)), headers: headers, body: body)
    }

    /// Whether `error` says the engine is not there at all (refused, reset, unresolvable), so
    /// its breaker opens at once rather than after several tries.
    static func isUnreachable(_ error: any Error) -> Bool {
        if let e = error as? HTTPClientError, e == .connectTimeout || e == .remoteConnectionClosed { return true }
        let text = String(describing: error).lowercased()
        return ["connection refused", "connect", "reset by peer", "econnrefused", "unreachable"].contains { text.contains($0) }
    }

    // MARK: Answers of the gateway's own

    /// `GET /v1/models`: the models of every engine in rotation, merged by id.
    func models() async -> Response {
        let urls = directory.upURLs()
        let exchange = exchange
        let answers = await withTaskGroup(of: Data?.self) { group in
            for url in urls {
                group.addTask {
                    guard let (status, body) = try? await exchange.call(url + "/v1/models"), status == 200 else { return nil }
                    return body
                }
            }
            var all: [Data] = []
            for await a in group { if let a { all.append(a) } }
            return all
        }
        let cards = answers.flatMap { data -> [[String: Any]] in
            ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any])?["data"] as? [[String: Any]] ?? []
        }
        var seen = Set<String>()
        var merged: [[String: Any]] = []
        for card in cards {
            guard let id = card["id"] as? String, seen.insert(id).inserted else { continue }
            merged.append(card)
        }
        guard !answers.isEmpty else {
            return Self.errorResponse(
                RequestError(status: .serviceUnavailable, message: "no engine is in rotation", type: "service_unavailable"))
        }
        return Self.json(["object": "list", "data": merged], status: .ok)
    }

    /// `GET /health`: 200 while some engine is in rotation, else 503; the body says each
    /// engine's state and what the index holds.
    func health() -> Response {
        let engines = directory.report()
        let up = engines.contains { ($0["up"] as? Bool) == true }
        let snapshot = router.snapshot
        let load = gate.load
        let body: [String: Any] = [
            "status": up ? "ok" : "no engine in rotation", "engines": engines, "indexedBlocks": snapshot.indexedBlocks,
            "inFlight": load.running, "queued": load.queued, "routerInFlight": snapshot.inFlight,
        ]
        return Self.json(body, status: up ? .ok : .serviceUnavailable)
    }

    static func errorResponse(_ e: RequestError) -> Response {
        var error: [String: Any] = ["message": e.message, "type": e.type, "code": e.status.code]
        error["param"] = e.param ?? NSNull()
        var response = json(["error": error], status: e.status)
        for h in e.headers { response.headers.append(h) }
        return response
    }

    static func json(_ object: [String: Any], status: HTTPResponse.Status) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return Response(
            status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(data: data)))
    }
}
