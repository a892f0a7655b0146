import Foundation
import Hummingbird
import KVCacheGateway
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// The floor under `kvcache-gateway`: the same server and client (Hummingbird 2 in front,
/// `KVCacheGateway`'s `EngineClient` to the engines, NIO's event loops as the concurrency
/// executor) passing `POST /v1/completions` and `POST /v1/chat/completions` to engines in
/// turn, with no parsing, tokenizing, routing or events. What it costs per request is what the
/// gateway costs before it does its own work; `scripts/gateway.py` measures it beside the
/// gateway.
///
/// `--nio` serves the same on NIO's HTTP server pipeline with one channel handler instead of
/// Hummingbird (``NIOServer``), to price Hummingbird's async server layer.
///
///     passthrough [--nio] PORT ENGINE_URL...
@main
struct Passthrough {
    static func main() async throws {
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        var arguments = CommandLine.arguments.dropFirst()
        let nio = arguments.first == "--nio"
        if nio { arguments = arguments.dropFirst() }
        guard arguments.count >= 2, let port = Int(arguments.first!), (0...65_535).contains(port) else {
            print("usage: passthrough [--nio] PORT ENGINE_URL...")
            exit(2)
        }
        let engines = Array(arguments.dropFirst())
        let client = EngineClient()
        if nio { return try await NIOServer.run(port: port, engines: engines, client: client) }
        let turn = Atomic<Int>(0)
        let router = Router()
        for path in ["/v1/completions", "/v1/chat/completions"] {
            router.post(RouterPath(path)) { request, _ -> Response in
                let body = try await request.body.collect(upTo: 32 << 20)
                let engine = engines[turn.add(1, ordering: .relaxed).oldValue % engines.count]
                let answer = try await client.send(
                    engine + path, headers: ["content-type": "application/json"], body: body, timeout: .seconds(600))
                let headers: HTTPFields = [.contentType: answer.headers.first(name: "content-type") ?? "application/json"]
                let status = HTTPResponse.Status(code: Int(answer.status.code))
                // Like the gateway: a whole answer in one write, a stream relayed as it comes.
                if let whole = answer.body.whole { return Response(status: status, headers: headers, body: .init(byteBuffer: whole)) }
                return Response(status: status, headers: headers, body: .init(asyncSequence: answer.body))
            }
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
        try await app.runService()
    }
}
