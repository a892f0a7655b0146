import HTTPTypes
import Hummingbird
import KVCache
import NIOCore

/// How a request of a prefill/decode deployment was prefilled.
enum _PrefillPath: String, Sendable {
    /// On a prefill engine, its KV cache sent to the decode engine.
    case remote
    /// On the decode engine itself: few of its tokens were uncached there.
    case local
}

extension Gateway {
    /// The members of a request that its prefill-only copy leaves out or sets anew.
    static let prefillOnlyMembers: Set<String> = [
        "kv_transfer_params", "stream", "stream_options", "max_tokens", "max_completion_tokens", "min_tokens",
    ]

    /// What a prefill engine is asked to do: prefill, keep the blocks for a remote decode.
    static let prefillTransferParameters = ByteBuffer(
        string:
            #"{"do_remote_decode":true,"do_remote_prefill":false,"remote_engine_id":null,"remote_block_ids":null,"remote_host":null,"remote_port":null}"#
    )

    /// Serves a request of a prefill/decode deployment (vLLM's disaggregation protocol, as its
    /// NixlConnector proxy speaks it).
    ///
    /// The decode engine is chosen first, by the selector over the decode engines (their
    /// load, and their own caches when they publish events), or a session's own while it
    /// may keep it (``GatewayConfiguration/sessionHeader``). When fewer than
    /// ``GatewayConfiguration/prefillThresholdTokens`` of the prompt's tokens are uncached
    /// there, it gets the request as it is and prefills it itself. Otherwise a prefill engine,
    /// chosen by the selector over the prefill engines' caches, gets a prefill-only copy:
    /// `kv_transfer_params` asking for a remote decode, `stream: false`, one output token, no
    /// `stream_options` or `min_tokens`. Its answer's `kv_transfer_params` go into the
    /// original request, which the decode engine answers; that answer, streamed or not, is
    /// the client's. A failure before the first byte on either side is retried on another
    /// engine of the same role; a prefill answer without `kv_transfer_params` is that engine's
    /// failure. Each hop's load is on its own node while the hop runs: the prefill hop's until
    /// its answer, the decode hop's (with the prompt counted as cached, since it arrives by
    /// transfer) until the answer ends.
    func disaggregate(
        _ request: _RoutedRequest, body: ByteBuffer, endpoint: OpenAIEndpoint, fields: OpenAIRequest, tokens: [UInt32],
        adapter: String?, lease: _RequestLease, deadline: NIODeadline
    ) async throws -> _RoutedAnswer {
        let prefillNodes = directory.nodes(.prefill), decodeNodes = directory.nodes(.decode)
        // Hashed once: both hops, and any retry, route the same chain.
        let chain = router.blockHashes(tokens: tokens, adapter: adapter, cacheSalt: fields.cacheSalt)
        func route(excluding excluded: [NodeID], outputTokens: Int, starting id: UInt64? = nil) -> KVRouter.Routed {
            router.route(
                blockHashes: chain, inputTokens: tokens.count, expectedOutputTokens: outputTokens, excluding: excluded,
                startingRequest: id)
        }
        // The decode engine: a session's own while it may keep it, else the selector's.
        let session = sessionName(of: request)
        var affinity: _SessionOutcome?
        func placeDecode(excluding excluded: [NodeID]) -> KVRouter.Routed {
            if let session, affinity == nil {
                let placed = placeSession(session) { route(excluding: prefillNodes + $0, outputTokens: fields.maxTokens) }
                affinity = placed.1
                return placed.0
            }
            if session != nil { affinity = .moved }
            return route(excluding: prefillNodes + excluded, outputTokens: fields.maxTokens)
        }
        let first = placeDecode(excluding: [])
        var decode: KVRouter.Routed? = first
        guard first.node != nil else {
            throw RequestError(
                status: .badGateway, message: "no decode engine can take the request: \(first.decision.reason)", type: "upstream_error")
        }
        func chooseDecode(excluding excluded: [NodeID]) -> KVRouter.Routed {
            defer { decode = nil }
            return decode ?? placeDecode(excluding: excluded)
        }
        let uncached = tokens.count - min(tokens.count, first.overlapBlocks * router.blockSize)
        var answered: _RoutedAnswer
        if uncached < configuration.prefillThresholdTokens {
            metrics.prefillPath(.local)
            answered = try await deliver(
                request, body: body, endpoint: endpoint, stream: fields.stream, lease: lease, deadline: deadline,
                choose: chooseDecode,
                start: { routed, node in
                    router.requestStarted(routed, id: lease.id, expectedOutputTokens: fields.maxTokens)
                    if let session { sessions?.record(session, node: node) }
                    return predictedTokens(routed, promptTokens: tokens.count)
                },
                succeeded: { if let affinity { metrics.session(affinity) } })
        } else {
            let members = try _JSONMembers(body)
            let hop = try await prefill(
                request, members: members, endpoint: endpoint, lease: lease, deadline: deadline,
                route: { route(excluding: decodeNodes + $0, outputTokens: 1, starting: $1) })
            let transfer: ByteBuffer, prefillNode: NodeID, predicted: Int
            switch hop {
            case .refused(let response, let node): return respond(response, node: node, predicted: 0, lease: lease)
            case .prefilled(let t, let node, let p): (transfer, prefillNode, predicted) = (t, node, p)
            }
            metrics.prefillPath(.remote)
            let decodeBody = members.rewritten(removing: ["kv_transfer_params"], adding: [("kv_transfer_params", transfer)])
            answered = try await deliver(
                request, body: decodeBody, endpoint: endpoint, stream: fields.stream, lease: lease, deadline: deadline,
                choose: chooseDecode,
                start: { routed, node in
                    router.requestStarted(
                        id: lease.id, node: node, promptTokens: tokens.count, cachedTokens: tokens.count,
                        expectedOutputTokens: fields.maxTokens)
                    if let session { sessions?.record(session, node: node) }
                    return nil
                },
                succeeded: { if let affinity { metrics.session(affinity) } })
            answered.headers.replaceOrAdd(name: Self.predictedHeader, value: String(predicted))
            answered.headers.replaceOrAdd(name: Self.prefillNodeHeader, value: String(prefillNode))
        }
        if let affinity { answered.headers.replaceOrAdd(name: Self.sessionHeader, value: affinity.rawValue) }
        return answered
    }

    /// Names the prefill engine's node of a request prefilled remotely.
    static let prefillNodeHeader = "x-kvcache-prefill-node"

    /// What the prefill hop came to.
    enum _PrefillHop {
        /// A prefill engine holds the prompt's KV cache for the decode engine: its answer's
        /// `kv_transfer_params` as written, its node, and the cached tokens predicted there.
        case prefilled(transfer: ByteBuffer, node: NodeID, predicted: Int)
        /// The prefill engine refused the request as the client's mistake (a 4xx): its
        /// answer is the client's.
        case refused(_UpstreamResponse, node: NodeID)
    }

    /// The prefill hop: the prefill-only copy of the request to the prefill engine `route`
    /// picks (and to another when one fails), until one answers with `kv_transfer_params`.
    ///
    /// - Throws: ``RequestError`` 502 when no prefill engine answered.
    private func prefill(
        _ request: _RoutedRequest, members: _JSONMembers, endpoint: OpenAIEndpoint, lease: _RequestLease, deadline: NIODeadline,
        route: (_ excluded: [NodeID], _ starting: UInt64) -> KVRouter.Routed
    ) async throws -> _PrefillHop {
        var adding: [(key: String, json: ByteBuffer)] = [
            ("kv_transfer_params", Self.prefillTransferParameters), ("stream", ByteBuffer(string: "false")),
            ("max_tokens", ByteBuffer(string: "1")),
        ]
        if members.contains("max_completion_tokens") { adding.append(("max_completion_tokens", ByteBuffer(string: "1"))) }
        let body = members.rewritten(removing: Self.prefillOnlyMembers, adding: adding)
        // The hop's load has an id of its own beside the request's.
        let hop = lease.id | (1 << 63)
        // Each choice starts the hop on its node at once (`route`'s `starting`).
        defer { router.requestFinished(id: hop) }
        return try await attempting("prefill engine", endpoint: endpoint, deadline: deadline, choose: { route($0, hop) }) {
            routed, node, target, retryable in
            let predicted = predictedTokens(routed, promptTokens: routed.inputTokens)
            let started = ContinuousClock.now
            let response = try await send(
                request, body: body, to: node, target: target, stream: false, deadline: deadline, retryable: retryable)
            guard case .whole(let answer) = response.body else {
                throw _JSONExchange.Failure(
                    description: "a prefill answer not read whole (longer than \(Self.wholeAnswerLimit) bytes, or of unknown length)")
            }
            router.prefillFinished(id: hop)
            metrics.prefillHop.recordNanoseconds(Int64((ContinuousClock.now - started) / .nanoseconds(1)))
            let code = Int(response.status.code)
            if (400..<500).contains(code) { return .refused(response, node: node) }
            guard code == 200 else { throw _JSONExchange.Failure(description: "the prefill answered \(code)") }
            guard let transfer = try? _JSONMembers(answer).value(of: "kv_transfer_params"),
                transfer.readableBytesView.first == UInt8(ascii: "{")
            else { throw _JSONExchange.Failure(description: "the prefill answer has no kv_transfer_params object") }
            var usage = _UsageScanner()
            usage.feed(answer.readableBytesView)
            audit.record(predicted: predicted, realized: usage.cachedTokens, node: node)
            return .prefilled(transfer: transfer, node: node, predicted: predicted)
        }
    }
}
