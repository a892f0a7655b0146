import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1

/// A request to a routed endpoint (`POST /v1/completions`, `POST /v1/chat/completions`) as the
/// gateway reads it: the client's headers as NIO's codec parsed them, and the whole body.
///
/// The gateway's own server builds it straight from the codec's parts, with no Hummingbird
/// request or HTTP-types fields in between; the Hummingbird routes build it from their request.
struct _RoutedRequest: Sendable {
    var headers: HTTPHeaders
    /// The body, or its first bytes past the limit when ``exceedsLimit``.
    var body: ByteBuffer
    /// Whether the body is longer than ``GatewayConfiguration/maximumBodyBytes`` (answered `413`).
    var exceedsLimit: Bool
}

/// The client's answer to a routed request: the engine's status and headers (as NIO's, the
/// routing headers added) or the gateway's own error, and a body whole or produced as it comes.
struct _RoutedAnswer: Sendable {
    var status: HTTPResponseStatus
    var headers: HTTPHeaders
    var body: ResponseBody
    /// For an engine's streamed answer: what lets the gateway's own server, on the engine
    /// connection's event loop, relay the body straight from one socket to the other instead
    /// of running `body` (``_HTTPExchange/write(_:version:keepAlive:serverName:to:)``).
    var relay: _StreamRelay? = nil

    /// The answer as a Hummingbird response, for the routes of ``Gateway/router(metrics:)``.
    var response: Response {
        Response(
            status: HTTPResponse.Status(code: Int(status.code), reasonPhrase: status.reasonPhrase),
            headers: HTTPFields(headers, splitCookie: false), body: body)
    }
}

/// An engine's streamed answer as the server may take it: the exchange it comes from, and the
/// request's lease, which whoever writes the answer finishes with the cached tokens its usage
/// reports.
struct _StreamRelay: Sendable {
    let exchange: NIOLoopBound<_UpstreamExchange>
    let lease: _RequestLease
}

/// The routed endpoints, for the gateway's own server: which requests they are, and the
/// gateway that answers them.
struct _RoutedEndpoints: Sendable {
    let gateway: Gateway

    /// The endpoint a request head names, when it is a routed one: `POST` to either path
    /// (a query string ignored, as the router ignores it).
    static func endpoint(of head: HTTPRequestHead) -> OpenAIEndpoint? {
        guard head.method == .POST else { return nil }
        let uri = head.uri
        let path = uri.firstIndex(of: "?").map { uri[..<$0] } ?? Substring(uri)
        return OpenAIEndpoint(rawValue: String(path))
    }
}

extension Gateway {
    /// Answers a routed request: admits it within the gateway's bounds (or answers `429` / `503`
    /// with `Retry-After`), routes and sends it, and counts the answer by its status. A
    /// ``RequestError`` is its own OpenAI-style answer; any other error is logged and answered
    /// with a `500` of the same shape that does not spell out the gateway's internals. Both
    /// servers answer the routed endpoints through this one function.
    func answer(_ request: _RoutedRequest, endpoint: OpenAIEndpoint) async -> _RoutedAnswer {
        let answer: _RoutedAnswer
        do { answer = try await admit(request, endpoint: endpoint) } catch let error as RequestError {
            answer = error.answer
        } catch {
            configuration.logger.error("unanswered error", metadata: ["error": "\(error)"])
            answer =
                RequestError(
                    status: .internalServerError, message: "the gateway could not answer the request", type: "internal_error"
                ).answer
        }
        metrics.answered(endpoint.rawValue, status: Int(answer.status.code))
        return answer
    }

    /// Admits a request within the gateway's bounds and answers it; its lease gives its place
    /// back exactly once, however the request ends.
    private func admit(_ request: _RoutedRequest, endpoint: OpenAIEndpoint) async throws -> _RoutedAnswer {
        switch await gate.enter() {
        case .admitted: break
        case .queueFull:
            metrics.queueRejections.increment()
            throw busy(.tooManyRequests, "the gateway is at its limit of requests in flight and queued")
        case .timedOut:
            metrics.queueTimeouts.increment()
            throw busy(.serviceUnavailable, "no place became free within the queue timeout")
        }
        let lease = self.lease()
        do {
            return try await complete(request, endpoint: endpoint, lease: lease)
        } catch {
            lease.finish(realized: nil)
            throw error
        }
    }

    /// A routed endpoint's Hummingbird route: the request's body read up to one byte past the
    /// limit, then ``answer(_:endpoint:)``.
    func route(_ request: Request, endpoint: OpenAIEndpoint) async -> Response {
        var request = request
        let limit = configuration.maximumBodyBytes
        let routed: _RoutedRequest
        do {
            let body = try await request.collectBody(upTo: limit)
            routed = _RoutedRequest(headers: HTTPHeaders(request.headers), body: body, exceedsLimit: false)
        } catch {
            routed = _RoutedRequest(headers: HTTPHeaders(request.headers), body: ByteBuffer(), exceedsLimit: true)
        }
        return await answer(routed, endpoint: endpoint).response
    }
}

extension RequestError {
    /// The error as a routed request's answer: the body and headers of ``response``, in NIO's
    /// types.
    var answer: _RoutedAnswer {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        for field in self.headers { headers.add(name: field.name.rawName, value: field.value) }
        return _RoutedAnswer(
            status: HTTPResponseStatus(statusCode: status.code, reasonPhrase: status.reasonPhrase), headers: headers,
            body: ResponseBody(byteBuffer: body))
    }
}
