import Foundation
import HTTPTypes
import Hummingbird
import KVCache
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

extension Gateway {
    /// Answers `POST /v1/completions` or `POST /v1/chat/completions` for an admitted request.
    func complete(_ request: _RoutedRequest, endpoint: OpenAIEndpoint, lease: _RequestLease) async throws -> _RoutedAnswer {
        guard !request.exceedsLimit else { throw bodyTooLarge }
        let fields = try OpenAIRequest(body: request.body, endpoint: endpoint)
        let tokens = try await tokens(of: fields.prompt, model: fields.model)
        return try await dispatch(request, endpoint: endpoint, fields: fields, tokens: tokens, lease: lease)
    }

    /// A request's whole body, at most ``GatewayConfiguration/maximumBodyBytes`` (larger: `413`).
    func body(of request: Request) async throws(RequestError) -> ByteBuffer {
        var request = request
        do { return try await request.collectBody(upTo: configuration.maximumBodyBytes) } catch { throw bodyTooLarge }
    }

    /// The `413` of a body past ``GatewayConfiguration/maximumBodyBytes``.
    var bodyTooLarge: RequestError {
        RequestError(
            status: .contentTooLarge, message: "the request body is larger than \(configuration.maximumBodyBytes) bytes",
            type: "invalid_request_error")
    }

    /// The prompt's token ids; a prompt the tokenizer refuses is the client's `400`, a
    /// tokenizer that cannot answer the gateway's `503`.
    func tokens(of prompt: PromptInput, model: String?) async throws(RequestError) -> [UInt32] {
        do { return try await tokenizer.tokens(for: prompt, model: model) } catch let e as TokenizerError where e.isClientError {
            var error = RequestError.invalid(e.description, param: e.field)
            if e.status != 400 {
                error.status = .init(code: e.status)
                if e.status == 404 { error.type = "NotFoundError" }
            }
            throw error
        } catch {
            throw RequestError(status: .serviceUnavailable, message: "cannot tokenize the prompt: \(error)", type: "service_unavailable")
        }
    }

    /// Headers of the client's request that the engine should see too.
    static let forwardedRequestHeaders = ["accept", "authorization", "user-agent", "x-request-id"]
    /// Headers of an engine's response that describe one hop only and are not passed on
    /// (lowercase; the engine's names are compared without case).
    static let hopByHop = ["connection", "keep-alive", "transfer-encoding", "content-length", "upgrade", "te", "trailer"]

    private func dispatch(
        _ request: _RoutedRequest, endpoint: OpenAIEndpoint, fields: OpenAIRequest, tokens: [UInt32], lease: _RequestLease
    ) async throws -> _RoutedAnswer {
        let body = request.body
        let adapter = fields.model.flatMap { directory.isAdapter($0) ? $0 : nil }
        let deadline = NIODeadline.now() + TimeAmount(configuration.requestTimeout)
        if configuration.isDisaggregated {
            return try await disaggregate(
                request, body: body, endpoint: endpoint, fields: fields, tokens: tokens, adapter: adapter, lease: lease,
                deadline: deadline)
        }
        let session = sessionName(of: request)
        var affinity: _SessionOutcome?
        var answered = try await deliver(
            request, body: body, endpoint: endpoint, stream: fields.stream, lease: lease, deadline: deadline,
            choose: { excluded in
                // The request starts on its node in the same step as the choice, so a request
                // routed a moment later sees its load.
                func route(excluding excluded: [NodeID]) -> KVRouter.Routed {
                    router.route(
                        tokens: tokens, adapter: adapter, cacheSalt: fields.cacheSalt, expectedOutputTokens: fields.maxTokens,
                        excluding: excluded, startingRequest: lease.id)
                }
                var routed: KVRouter.Routed
                if let session, excluded.isEmpty {
                    (routed, affinity) = placeSession(session, route: route)
                } else {
                    routed = route(excluding: excluded)
                    if session != nil { affinity = .moved }
                }
                return routed
            },
            start: { routed, node in
                if let session { sessions?.record(session, node: node) }
                return predictedTokens(routed, promptTokens: tokens.count)
            },
            succeeded: { if let affinity { metrics.session(affinity) } })
        if let affinity { answered.headers.replaceOrAdd(name: Self.sessionHeader, value: affinity.rawValue) }
        return answered
    }

    /// The cached tokens a request's engine should report for `routed`'s overlap. An engine
    /// always computes a prompt's last token (vLLM matches at most `tokens - 1` tokens, in
    /// whole blocks), so a fully cached prompt reports one block less.
    func predictedTokens(_ routed: KVRouter.Routed, promptTokens: Int) -> Int {
        min(routed.overlapBlocks, max(0, promptTokens - 1) / router.blockSize) * router.blockSize
    }

    /// Sends a request to the engine `choose` picks, and to another when that one fails
    /// before any byte reached the client (see ``attempting(_:endpoint:deadline:choose:attempt:)``).
    ///
    /// - Parameters:
    ///   - choose: Routes the request, given the nodes that failed it so far.
    ///   - start: Records the request's load on the chosen node; returns the cached tokens
    ///     predicted there, which the engine's answer is checked against (`nil`: not checked).
    ///   - succeeded: Called once an engine answered.
    /// - Returns: The client's response: the engine's, with the routing headers.
    /// - Throws: ``RequestError`` (502) when no engine answered.
    func deliver(
        _ request: _RoutedRequest, body: ByteBuffer, endpoint: OpenAIEndpoint, stream: Bool, lease: _RequestLease,
        deadline: NIODeadline, choose: (_ excluded: [NodeID]) -> KVRouter.Routed, start: (KVRouter.Routed, NodeID) -> Int?,
        succeeded: () -> Void = {}
    ) async throws -> _RoutedAnswer {
        try await attempting("engine", endpoint: endpoint, deadline: deadline, choose: choose) { routed, node, target, retryable in
            let audited = start(routed, node)
            let predicted = audited ?? predictedTokens(routed, promptTokens: routed.inputTokens)
            lease.dispatched(to: node, predicted: audited)
            do {
                let response = try await send(
                    request, body: body, to: node, target: target, stream: stream, deadline: deadline, retryable: retryable)
                succeeded()
                return respond(response, node: node, predicted: predicted, lease: lease)
            } catch {
                lease.attemptFailed()
                throw error
            }
        }
    }

    /// Runs `attempt` on the node `choose` routes to, and again on another when it fails
    /// (each failure counted and told to the node's circuit breaker), at most
    /// ``GatewayConfiguration/maximumAttempts`` times and while the deadline allows.
    ///
    /// - Parameters:
    ///   - role: What the engines are, for messages (`engine`, `prefill engine`).
    ///   - choose: Routes the request, given the nodes that failed it so far.
    ///   - attempt: One try on `node`; `retryable` says whether another may follow.
    /// - Throws: ``RequestError`` (502) when no attempt succeeded.
    func attempting<Result>(
        _ role: String, endpoint: OpenAIEndpoint, deadline: NIODeadline, choose: (_ excluded: [NodeID]) -> KVRouter.Routed,
        attempt: (_ routed: KVRouter.Routed, _ node: NodeID, _ target: _UpstreamTarget, _ retryable: Bool) async throws -> Result
    ) async throws -> Result {
        var excluded: [NodeID] = []
        // Made only when an attempt fails: a request answered at once builds no message.
        var lastFailure: String?
        for _ in 0..<configuration.maximumAttempts {
            let routed = choose(excluded)
            guard let node = routed.node, let target = directory.target(of: node, endpoint: endpoint) else {
                if excluded.isEmpty { lastFailure = "no \(role) can take the request: \(routed.decision.reason)" }
                break
            }
            do {
                return try await attempt(routed, node, target, excluded.count + 1 < configuration.maximumAttempts)
            } catch {
                let failure = "\(role) \(node) (\(target.origin)): \(error)"
                lastFailure = failure
                metrics.upstreamFailure(node: node)
                directory.recordFailure(node, error: error)
                excluded.append(node)
                guard NIODeadline.now() < deadline else { break }
                metrics.retries.increment()
                configuration.logger.info("retrying on another engine", metadata: ["failed": "\(failure)"])
            }
        }
        throw RequestError(
            status: .badGateway, message: "no \(role) answered: \(lastFailure ?? "no \(role) is in rotation")", type: "upstream_error")
    }

    /// Sends `body` to `node`'s `target` with the client's forwarded headers (and the node's
    /// data-parallel rank). A 502, 503 or 504 while another attempt remains is the engine's
    /// failure (its body read and dropped); any other answer is the engine's answer, and a
    /// success of the node.
    func send(
        _ request: _RoutedRequest, body: ByteBuffer, to node: NodeID, target: _UpstreamTarget, stream: Bool, deadline: NIODeadline,
        retryable: Bool
    ) async throws -> _UpstreamResponse {
        var upstream = _UpstreamRequest(target: target, deadline: deadline, wholeUpTo: stream ? nil : Self.wholeAnswerLimit)
        upstream.headers.reserveCapacity(4 + Self.forwardedRequestHeaders.count)
        upstream.headers.add(name: "host", value: target.origin.hostHeader)
        upstream.headers.add(name: "content-type", value: "application/json")
        upstream.headers.add(name: "content-length", value: String(body.readableBytes))
        if let rank = directory.dataParallelRank(of: node) { upstream.headers.add(name: "x-data-parallel-rank", value: String(rank)) }
        for name in Self.forwardedRequestHeaders {
            if let v = request.headers.first(name: name) { upstream.headers.add(name: name, value: v) }
        }
        upstream.body = body
        upstream.holdsStream = true  // for the server to relay it from the socket (see relay)
        let response = try await client.execute(upstream)
        let code = Int(response.status.code)
        if [502, 503, 504].contains(code), retryable {
            _ = try? await response.collect(upTo: 1 << 20)
            throw _JSONExchange.Failure(description: "answered \(code)")
        }
        directory.recordSuccess(node)
        return response
    }

    /// The client's response from `node`'s: a whole answer at once, any other relayed as it
    /// arrives; the routing headers added.
    func respond(_ response: _UpstreamResponse, node: NodeID, predicted: Int, lease: _RequestLease) -> _RoutedAnswer {
        var answered: _RoutedAnswer
        switch response.body {
        case .whole(let whole):
            // A whole answer is read before the client sees a byte of it, so its
            // failure still counts as the engine's and the request may go elsewhere.
            answered = answer(response, body: whole, node: node, predicted: predicted, lease: lease)
        case .stream, .held:
            answered = relay(response, node: node, predicted: predicted, lease: lease)
        }
        if let rank = directory.dataParallelRank(of: node) { answered.headers.replaceOrAdd(name: Self.rankHeader, value: String(rank)) }
        return answered
    }

    /// Largest answer to a non-streamed request that is read whole and sent on in one write;
    /// a longer one is relayed as it arrives.
    static let wholeAnswerLimit = 1 << 20

    /// The routing headers' names.
    static let nodeHeader = "x-kvcache-node"
    static let predictedHeader = "x-kvcache-predicted-cached-tokens"
    /// Names the data-parallel rank a request went to, when its engine has several.
    static let rankHeader = "x-kvcache-dp-rank"
    /// Says what became of a request's session: `kept`, `moved` or `new`.
    static let sessionHeader = "x-kvcache-session"

    /// The headers the client gets: the engine's, less those of one hop, plus the routing ones.
    /// The engine's names and values pass on as NIO's codec read them (its parser has checked
    /// them), so nothing is converted or allocated per header but its place in the list.
    static func clientHeaders(of response: _UpstreamResponse, node: NodeID, predicted: Int) -> HTTPHeaders {
        var headers = HTTPHeaders()
        // room for the routing headers and those the server adds (date, server, length, close)
        headers.reserveCapacity(response.headers.count + 6)
        for (name, value) in response.headers where !isHopByHop(name) { headers.add(name: name, value: value) }
        headers.add(name: nodeHeader, value: String(node))
        headers.add(name: predictedHeader, value: String(predicted))
        return headers
    }

    /// Whether `name` is one of ``hopByHop``, in any spelling, compared byte by byte with no
    /// lowercased copy (the names are letters and `-`, which setting bit 5 leaves alone).
    static func isHopByHop(_ name: String) -> Bool {
        hopByHop.contains { h in
            h.utf8.count == name.utf8.count && zip(h.utf8, name.utf8).allSatisfy { $0 == $1 | 0x20 }
        }
    }

    /// A whole engine answer, already read: the server writes its head, body and end at once.
    private func answer(
        _ response: _UpstreamResponse, body: ByteBuffer, node: NodeID, predicted: Int, lease: _RequestLease
    ) -> _RoutedAnswer {
        lease.firstByte()
        var usage = _UsageScanner()
        usage.feed(body.readableBytesView)
        lease.finish(realized: usage.cachedTokens)
        return _RoutedAnswer(
            status: response.status, headers: Self.clientHeaders(of: response, node: node, predicted: predicted),
            body: ResponseBody(byteBuffer: body))
    }

    /// The engine's response, passed to the client as it arrives: each element is one read
    /// of the engine's socket, written on with one flush.
    private func relay(_ response: _UpstreamResponse, node: NodeID, predicted: Int, lease: _RequestLease) -> _RoutedAnswer {
        let headers = Self.clientHeaders(of: response, node: node, predicted: predicted)
        let length = response.headers.first(name: "content-length").flatMap { Int($0) }
        let body = ResponseBody(contentLength: length) { writer in
            var usage = _UsageScanner()
            let stream = await response.stream()
            do {
                for try await chunk in stream {
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
        var answer = _RoutedAnswer(status: response.status, headers: headers, body: body)
        answer.relay = response.exchange.map { _StreamRelay(exchange: $0, lease: lease) }
        return answer
    }
}
