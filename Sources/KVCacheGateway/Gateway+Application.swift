import Foundation
import Hummingbird
import NIOCore
import Prometheus
import ServiceLifecycle

extension Gateway {
    /// The gateway's routes and middleware.
    ///
    /// `POST /v1/completions` and `POST /v1/chat/completions` (admitted within the gateway's
    /// bounds and counted by status), `POST /tokenize`, `GET /v1/models`, `GET /health`,
    /// `GET /admin/snapshot` with ``GatewayConfiguration/adminToken`` set, and
    /// `GET /metrics` when `metrics` is given (the registry the process's swift-metrics
    /// factory writes to).
    public func router(metrics registry: PrometheusCollectorRegistry? = nil) -> Router<GatewayRequestContext> {
        let http = Router(context: GatewayRequestContext.self)
        // The gateway's own server answers these two without the router (`_RoutedEndpoints`),
        // through the same `route(_:endpoint:)`.
        http.post("/v1/completions") { request, _ in await self.route(request, endpoint: .completions) }
        http.post("/v1/chat/completions") { request, _ in await self.route(request, endpoint: .chatCompletions) }
        http.group()
            .add(middleware: _AnswerMetricsMiddleware(metrics: metrics))
            .post("/tokenize") { request, _ in try await self.tokenize(request) }
        http.get("/v1/models") { _, _ in await self.models() }
        http.get("/health") { _, _ in self.health() }
        if configuration.adminToken != nil {
            http.get("/admin/snapshot") { request, _ in try self.adminSnapshot(request) }
        }
        if let registry {
            http.get("/metrics") { _, _ in
                Response(
                    status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                    body: ResponseBody(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
            }
        }
        return http
    }

    /// The HTTP application on the configured address: the gateway's routes served by
    /// Hummingbird's own server, for a program that runs Hummingbird applications (and for
    /// HummingbirdTesting). `kvcache-gateway` serves the same routes with
    /// ``server(metrics:onListening:)``.
    /// - Parameters:
    ///   - metrics: The Prometheus registry `/metrics` prints, or `nil` for no `/metrics`.
    ///   - onListening: Called once with the port the server listens on (useful with port 0).
    public func application(
        metrics: PrometheusCollectorRegistry? = nil, onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let c = configuration
        return Application(
            router: router(metrics: metrics),
            configuration: .init(address: .hostname(c.host, port: c.port), serverName: "kvcache-gateway"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? c.port) },
            logger: c.logger)
    }

    /// The gateway's HTTP/1.1 server on the configured address, as a service: the routes and
    /// middleware of ``application(metrics:onListening:)``, served on NIO's HTTP pipeline with one
    /// channel handler per connection rather than Hummingbird's async server, which on the
    /// gateway's load is a third of a proxy's CPU per request. Each request is
    /// collected whole (bodies past ``GatewayConfiguration/maximumBodyBytes`` are answered
    /// `413`), answered in a task started on its connection's event loop, and its response
    /// written from there; connections are kept alive. At graceful shutdown it stops
    /// accepting, answers the requests in flight, closes every connection and returns.
    /// ``run(metrics:onListening:)`` serves it.
    ///
    /// - Parameters:
    ///   - metrics: The Prometheus registry `/metrics` prints, or `nil` for no `/metrics`.
    ///   - onListening: Called once with the port the server listens on (useful with port 0).
    public func server(
        metrics: PrometheusCollectorRegistry? = nil, onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some Service {
        let c = configuration
        return _HTTPServer(
            responder: router(metrics: metrics).buildResponder(), routed: _RoutedEndpoints(gateway: self), host: c.host,
            port: c.port, maximumBodyBytes: c.maximumBodyBytes, serverName: "kvcache-gateway", logger: c.logger,
            onListening: onListening)
    }

    /// The services that run beside the server: the state writes (with a state directory),
    /// the KV-event subscriber (when an engine publishes events), the engines' health checks,
    /// and their load reads.
    var backgroundServices: [any Service] {
        var services: [any Service] = configuration.stateDirectory == nil ? [] : [_StateService(gateway: self)]
        services.append(_HealthCheckService(gateway: self))
        if let interval = configuration.loadInterval { services.append(_EngineLoadService(gateway: self, interval: interval)) }
        if let subscriber { services.append(_EventService(subscriber: subscriber)) }
        return services
    }

    /// Serves the gateway over HTTP until SIGTERM or SIGINT.
    ///
    /// The application runs in one service group with the KV-event subscriber and the health
    /// checks. On the signal the server stops accepting connections, the requests in flight
    /// finish within ``GatewayConfiguration/shutdownGrace``, then the services it relied on stop,
    /// and the call returns.
    ///
    /// - Parameters:
    ///   - metrics: The Prometheus registry `/metrics` prints, or `nil` for no `/metrics`.
    ///   - onListening: Called once with the port the server listens on (useful with port 0).
    /// - Throws: When the server cannot bind its address or the subscriber cannot start.
    public func run(
        metrics: PrometheusCollectorRegistry? = nil, onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws {
        let c = configuration
        await restoreSavedState()
        // The group stops its services in reverse order: the server drains first, then the
        // background work it relied on.
        var lifecycle = ServiceGroupConfiguration(
            services: backgroundServices + [server(metrics: metrics, onListening: onListening)],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: c.logger)
        lifecycle.maximumGracefulShutdownDuration = c.shutdownGrace
        do {
            try await ServiceGroup(configuration: lifecycle).run()
        } catch {
            await shutdown()
            throw error
        }
        await shutdown()
    }

    /// Closes the gateway's connections to the engines. ``run(metrics:onListening:)`` calls it
    /// when it returns; a program that serves ``application(metrics:onListening:)`` itself calls
    /// it once the application has stopped.
    public func shutdown() async {
        await client.shutdown()
    }
}
