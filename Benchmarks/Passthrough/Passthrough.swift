import AsyncHTTPClient
import Foundation
import Hummingbird
import NIOCore
import NIOPosix
import Synchronization

/// The floor under `kvcache-gateway`: the same server and client libraries (Hummingbird 2,
/// AsyncHTTPClient, one client per event loop) passing `POST /v1/completions` and
/// `POST /v1/chat/completions` to engines in turn, with no parsing, tokenizing, routing or
/// events. What it costs per request is what any gateway built on these libraries costs before
/// it does its own work; `scripts/gateway.py` measures it beside the gateway.
///
///     passthrough PORT ENGINE_URL...
@main
struct Passthrough {
    static func main() async throws {
        let arguments = CommandLine.arguments.dropFirst()
        guard arguments.count >= 2, let port = Int(arguments.first!), (0...65_535).contains(port) else {
            print("usage: passthrough PORT ENGINE_URL...")
            exit(2)
        }
        let engines = Array(arguments.dropFirst())
        let clients = Clients()
        let turn = Atomic<Int>(0)
        let router = Router()
        for path in ["/v1/completions", "/v1/chat/completions"] {
            router.post(RouterPath(path)) { request, _ -> Response in
                let body = try await request.body.collect(upTo: 32 << 20)
                let engine = engines[turn.add(1, ordering: .relaxed).oldValue % engines.count]
                var upstream = HTTPClientRequest(url: engine + path)
                upstream.method = .POST
                upstream.headers.add(name: "content-type", value: "application/json")
                upstream.body = .bytes(body)
                let answer = try await clients.current.execute(upstream, timeout: .seconds(600))
                let headers: HTTPFields = [.contentType: answer.headers.first(name: "content-type") ?? "application/json"]
                let status = HTTPResponse.Status(code: Int(answer.status.code))
                // Like the gateway: a whole answer in one write, a stream relayed as it comes.
                if let length = answer.headers.first(name: "content-length").flatMap({ Int($0) }), length <= 1 << 20 {
                    return Response(status: status, headers: headers, body: .init(byteBuffer: try await answer.body.collect(upTo: length)))
                }
                return Response(status: status, headers: headers, body: .init(asyncSequence: answer.body))
            }
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
        try await app.runService()
    }
}

/// One HTTP client per event loop of NIO's shared group, taken by the loop a request runs on
/// (as the gateway's `_UpstreamClients`), so an upstream call stays on its request's thread.
final class Clients: Sendable {
    let byLoop: [ObjectIdentifier: HTTPClient]
    let whole = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton)

    init() {
        var byLoop: [ObjectIdentifier: HTTPClient] = [:]
        for loop in MultiThreadedEventLoopGroup.singleton.makeIterator() {
            byLoop[ObjectIdentifier(loop)] = HTTPClient(eventLoopGroup: loop)
        }
        self.byLoop = byLoop
    }

    var current: HTTPClient {
        guard let loop = MultiThreadedEventLoopGroup.currentEventLoop else { return whole }
        return byLoop[ObjectIdentifier(loop)] ?? whole
    }
}
