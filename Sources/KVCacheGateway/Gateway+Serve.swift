import AsyncHTTPClient
import Foundation
import Hummingbird
import KVCache
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle

extension Gateway {
    /// Serves the gateway over HTTP until SIGTERM or SIGINT.
    ///
    /// Routes: `POST /v1/completions`, `POST /v1/chat/completions`, `GET /v1/models`,
    /// `GET /health`, and `GET /metrics` when `metrics` is given (the registry the process's
    /// swift-metrics factory writes to). Alongside the server run the KV-event subscriber and
    /// the active health checks. On the signal the server stops accepting connections, the
    /// requests in flight finish within ``GatewayConfiguration/shutdownGrace``, and the call
    /// returns.
    ///
    /// - Parameters:
    ///   - metrics: The Prometheus registry `/metrics` prints, or `nil` for no `/metrics`.
    ///   - onListening: Called once with the port the server listens on (useful with port 0).
    /// - Throws: When the server cannot bind its address or the subscriber cannot start.
    public func run(
        metrics: PrometheusCollectorRegistry? = nil, onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    )
        async throws
    {
        let http = Router()
        http.post("/v1/completions") { request, _ in await self.complete(request, endpoint: .completions) }
        http.post("/v1/chat/completions") { request, _ in await self.complete(request, endpoint: .chatCompletions) }
        http.get("/v1/models") { _, _ in await self.models() }
        http.get("/health") { _, _ in self.health() }
        if let metrics {
            http.get("/metrics") { _, _ in
                Response(
                    status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                    body: ResponseBody(byteBuffer: ByteBuffer(bytes: metrics.emitToBuffer())))
            }
        }
        let c = configuration
        let app = Application(
            router: http,
            configuration: .init(address: .hostname(c.host, port: c.port), serverName: "kvcache-gateway"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? c.port) },
            logger: c.logger)
        // The group stops its services in reverse order: the server drains first, then the
        // background work it relied on.
        var lifecycle = ServiceGroupConfiguration(
            services: [_GatewayBackground(gateway: self), app], gracefulShutdownSignals: [.sigterm, .sigint], logger: c.logger)
        lifecycle.maximumGracefulShutdownDuration = c.shutdownGrace
        let group = ServiceGroup(configuration: lifecycle)
        do {
            try await group.run()
        } catch {
            await clients.shutdown()
            throw error
        }
        await clients.shutdown()
    }

    /// One round of active health checks: each engine's `GET /health`, and the adapters its
    /// `GET /v1/models` lists.
    func checkEngines() async {
        let exchange = exchange
        await withTaskGroup(of: Void.self) { group in
            for spec in directory.specs {
                group.addTask {
                    do {
                        let (status, _) = try await exchange.call(spec.url + "/health")
                        guard status == 200 else {
                            self.directory.recordFailure(spec.node, reason: "health check answered \(status)")
                            return
                        }
                        self.directory.recordSuccess(spec.node)
                        if let (status, body) = try? await exchange.call(spec.url + "/v1/models"), status == 200 {
                            self.directory.setAdapters(Self.adapters(inModelList: body), of: spec.node)
                        }
                    } catch {
                        if Self.isUnreachable(error) {
                            self.directory.recordUnreachable(spec.node, reason: "health check: \(error)")
                        } else {
                            self.directory.recordFailure(spec.node, reason: "health check: \(error)")
                        }
                    }
                }
            }
        }
    }

    /// The ids of the model cards that name a `parent` (vLLM lists LoRA adapters that way).
    static func adapters(inModelList body: Data) -> Set<String> {
        guard let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any],
            let cards = object["data"] as? [[String: Any]]
        else { return [] }
        return Set(cards.compactMap { card in card["parent"] is String ? card["id"] as? String : nil })
    }
}

/// What runs beside the server: the KV-event subscriber and the health checks.
struct _GatewayBackground: Service {
    let gateway: Gateway

    func run() async throws {
        try gateway.subscriber?.start()
        defer { gateway.subscriber?.stop() }
        let interval = gateway.configuration.healthInterval
        await gateway.checkEngines()
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                await gateway.checkEngines()
            }
        }
    }
}
