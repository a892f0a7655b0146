import Hummingbird

/// Counts each answer of an endpoint by its status, thrown errors included.
struct _AnswerMetricsMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let metrics: _GatewayMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let endpoint = request.uri.path
        do {
            let response = try await next(request, context)
            metrics.answered(endpoint, status: response.status.code)
            return response
        } catch let e as any HTTPResponseError {
            metrics.answered(endpoint, status: e.status.code)
            throw e
        } catch {
            metrics.answered(endpoint, status: 500)
            throw error
        }
    }
}
