import KVCacheGateway
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// The same proxy with Hummingbird taken out: NIO's HTTP/1.1 server pipeline and one channel
/// handler that collects a request, starts one task for it on the connection's event loop
/// (NIO's loops are the concurrency executor), sends it with `EngineClient` and writes the
/// answer from that loop. What it saves against ``Passthrough`` is what Hummingbird's
/// async server layer (`NIOAsyncChannel`, a task per connection reading request parts and
/// writing response parts through async sequences) costs per request.
enum NIOServer {
    static func run(port: Int, engines: [String], client: EngineClient) async throws {
        let turn = Atomic<Int>(0)
        let pick: @Sendable () -> String = { engines[turn.add(1, ordering: .relaxed).oldValue % engines.count] }
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(ProxyHandler(client: client, pick: pick))
                }
            }
            .bind(host: "127.0.0.1", port: port).get()
        try await channel.closeFuture.get()
    }
}

/// Collects one request, proxies it, writes the answer; the next request waits for it (NIO's
/// pipelining helper holds later requests back).
final class ProxyHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let client: EngineClient
    let pick: @Sendable () -> String
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?

    init(client: EngineClient, pick: @escaping @Sendable () -> String) {
        self.client = client
        self.pick = pick
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body = nil
        case .body(var chunk):
            if body == nil { body = chunk } else { body!.writeBuffer(&chunk) }
        case .end:
            guard let head else { return }
            self.head = nil
            let requestBody = body ?? ByteBuffer()
            body = nil
            proxy(head, body: requestBody, context: context)
        }
    }

    private func proxy(_ head: HTTPRequestHead, body: ByteBuffer, context: ChannelHandlerContext) {
        let channel = context.channel
        let loop = context.eventLoop
        let keepAlive = head.isKeepAlive
        let url = pick() + head.uri
        let client = self.client
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        Task {
            do {
                let answer = try await client.send(
                    url, headers: ["content-type": "application/json"], body: body, timeout: .seconds(600))
                var headers = HTTPHeaders()
                headers.add(name: "content-type", value: answer.headers.first(name: "content-type") ?? "application/json")
                if !keepAlive { headers.add(name: "connection", value: "close") }
                if let whole = answer.body.whole {
                    headers.add(name: "content-length", value: String(whole.readableBytes))
                    let response = HTTPResponseHead(version: .http1_1, status: answer.status, headers: headers)
                    loop.execute {
                        let (handler, context) = bound.value
                        handler.write(response, body: whole, keepAlive: keepAlive, context: context)
                    }
                    return
                }
                let response = HTTPResponseHead(version: .http1_1, status: answer.status, headers: headers)
                try await channel.writeAndFlush(HTTPServerResponsePart.head(response))
                for try await chunk in answer.body {
                    try await channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(chunk)))
                }
                try await channel.writeAndFlush(HTTPServerResponsePart.end(nil))
                if !keepAlive { try await channel.close() }
            } catch {
                channel.close(promise: nil)
            }
        }
    }

    private func write(_ head: HTTPResponseHead, body: ByteBuffer, keepAlive: Bool, context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
        }
    }
}
