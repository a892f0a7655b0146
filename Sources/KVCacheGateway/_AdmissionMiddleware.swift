import Hummingbird

/// Admits a routed request within the gateway's bounds, or answers `429` (queue full) or
/// `503` (waited too long) with `Retry-After`. An admitted request carries a lease that gives
/// its place back exactly once, however the request ends.
struct _AdmissionMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let gateway: Gateway

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        switch await gateway.gate.enter() {
        case .admitted: break
        case .queueFull:
            gateway.metrics.queueRejections.increment()
            throw gateway.busy(.tooManyRequests, "the gateway is at its limit of requests in flight and queued")
        case .timedOut:
            gateway.metrics.queueTimeouts.increment()
            throw gateway.busy(.serviceUnavailable, "no place became free within the queue timeout")
        }
        var context = context
        let lease = gateway.lease()
        context.lease = lease
        do {
            return try await next(request, context)
        } catch {
            lease.finish(realized: nil)
            throw error
        }
    }
}

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
