import Hummingbird

/// The gateway's server's responder: `POST /v1/completions` and `POST /v1/chat/completions`
/// go straight to their handler through the same middleware the router puts in front of them
/// (answer counts, then admission), without the router's path look-up; every other request
/// goes through the router. An error the handler or middleware throws becomes its response,
/// as the router makes it.
struct _GatewayResponder: HTTPResponder {
    typealias Context = GatewayRequestContext
    let gateway: Gateway
    let router: RouterResponder<GatewayRequestContext>

    func respond(to request: Request, context: Context) async throws -> Response {
        guard request.method == .post, let endpoint = OpenAIEndpoint(rawValue: request.uri.path) else {
            return try await router.respond(to: request, context: context)
        }
        let gateway = self.gateway
        do {
            return try await _AnswerMetricsMiddleware(metrics: gateway.metrics).handle(request, context: context) { request, context in
                try await _AdmissionMiddleware(gateway: gateway).handle(request, context: context) { request, context in
                    try await gateway.complete(request, context: context, endpoint: endpoint)
                }
            }
        } catch let error as any HTTPResponseError {
            return try error.response(from: request, context: context)
        }
    }
}
