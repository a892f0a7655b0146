import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The gateway's HTTP/1.1 server: NIO's server pipeline (its codec, pipelining helper and
/// protocol-error handler) and one ``_HTTPConnectionHandler`` per connection, answering with
/// the gateway's Hummingbird router.
///
/// Hummingbird's own server reads each connection in a task through async sequences of
/// request parts and writes through an async writer; on the gateway's load that layer costs
/// more CPU than the rest of the proxy (docs/GATEWAY.md, "The gateway's own cost"). Here a
/// request is collected on its connection's event loop, answered in one task started there
/// (NIO's loops are the concurrency executor in `kvcache-gateway`), and its response written
/// straight to the channel. The routes, middleware and responses are the router's, the same
/// ones ``Gateway/application(metrics:onListening:)`` serves.
///
/// Graceful shutdown stops accepting, lets each connection finish the request it is
/// answering, closes idle ones at once, and returns when every connection has closed;
/// cancellation closes them all.
struct _HTTPServer<Responder: HTTPResponder>: Service where Responder.Context == GatewayRequestContext {
    let responder: Responder
    let host: String
    let port: Int
    /// Request bodies are kept up to one byte past this, so that a handler reading at most
    /// this many bytes sees that the body was longer.
    let maximumBodyBytes: Int
    let serverName: String?
    let logger: Logger
    let onListening: @Sendable (Int) async -> Void

    func run() async throws {
        let connections = _ServerConnections()
        let settings = _HTTPConnectionHandler<Responder>.Settings(
            responder: responder, bodyLimit: maximumBodyBytes + 1, serverName: serverName, logger: logger)
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                guard connections.add(channel) else { return channel.close() }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(_HTTPConnectionHandler(settings: settings))
                }
            }
            .bind(host: host, port: port).get()
        logger.info("listening", metadata: ["address": "\(server.localAddress.map { "\($0)" } ?? "\(host):\(port)")"])
        await onListening(server.localAddress?.port ?? port)
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                try? await server.closeFuture.get()
            } onGracefulShutdown: {
                server.close(promise: nil)
            }
            server.close(promise: nil)
            await connections.drain()
        } onCancel: {
            server.close(promise: nil)
            connections.closeAll()
        }
    }
}

/// The server's open connections, for graceful shutdown.
final class _ServerConnections: Sendable {
    private struct State {
        var channels: [ObjectIdentifier: any Channel] = [:]
        var draining = false
    }
    private let state = Mutex(State())

    /// Tracks `channel` until it closes; `false` once draining (the channel is to be closed).
    func add(_ channel: any Channel) -> Bool {
        let id = ObjectIdentifier(channel)
        let added = state.withLock { s -> Bool in
            guard !s.draining else { return false }
            s.channels[id] = channel
            return true
        }
        if added { channel.closeFuture.whenComplete { _ in _ = self.state.withLock { $0.channels.removeValue(forKey: id) } } }
        return added
    }

    /// Asks every connection to close once its current request is answered (an idle one
    /// closes at once), and waits until all have closed.
    func drain() async {
        let channels = state.withLock { s in
            s.draining = true
            return Array(s.channels.values)
        }
        for channel in channels { channel.pipeline.fireUserInboundEventTriggered(_HTTPConnectionDrain()) }
        for channel in channels { try? await channel.closeFuture.get() }
    }

    /// Closes every connection now.
    func closeAll() {
        let channels = state.withLock { s in
            s.draining = true
            return Array(s.channels.values)
        }
        for channel in channels { channel.close(promise: nil) }
    }
}

/// Tells a connection to close once it is idle.
struct _HTTPConnectionDrain: Sendable {}

/// One connection: collects each request (head and body, the body up to the server's limit),
/// answers it with the responder in a task, writes the response, and reads the next request
/// only then (NIO's pipelining helper holds later requests back until the response's end).
final class _HTTPConnectionHandler<Responder: HTTPResponder>: ChannelInboundHandler, RemovableChannelHandler
where Responder.Context == GatewayRequestContext {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// What every connection of one server shares.
    struct Settings: Sendable {
        let responder: Responder
        let bodyLimit: Int
        let serverName: String?
        let logger: Logger
    }

    let settings: Settings
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()
    private var answering = false
    private var closeWhenIdle = false

    init(settings: Settings) {
        self.settings = settings
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body.clear()
            // A client that asks first (curl does for bodies past 1 KB) is told to go on: the
            // body's size is judged once it is read, as any other.
            if h.version == .http1_1, h.headers[canonicalForm: "expect"].contains(where: { $0.lowercased() == "100-continue" }) {
                context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: h.version, status: .continue))), promise: nil)
            }
        case .body(var chunk):
            let room = settings.bodyLimit - body.readableBytes
            if room > 0 {
                if chunk.readableBytes > room { chunk = chunk.getSlice(at: chunk.readerIndex, length: room)! }
                body.writeBuffer(&chunk)
            }
        case .end:
            guard let head else { return }
            self.head = nil
            let requestBody = body
            body = ByteBuffer()
            answer(head, body: requestBody, context: context)
        }
    }

    /// A request NIO's codec could not parse (its error handler has answered it `400`), or a
    /// broken connection: either way the connection is done.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is _HTTPConnectionDrain else { return context.fireUserInboundEventTriggered(event) }
        closeWhenIdle = true
        if !answering { context.close(promise: nil) }
    }

    private func answer(_ head: HTTPRequestHead, body: ByteBuffer, context: ChannelHandlerContext) {
        let keepAlive = head.isKeepAlive && !closeWhenIdle
        let request: HTTPRequest
        do { request = try HTTPRequest(head, secure: false, splitCookie: false) } catch {
            return reply(status: .badRequest, version: head.version, context: context)
        }
        answering = true
        let channel = context.channel
        let loop = context.eventLoop
        let settings = self.settings
        let this = NIOLoopBound(self, eventLoop: loop)
        let version = head.version
        let whole = Request(head: request, body: RequestBody(buffer: body))
        Task {
            let reuse = await _HTTPExchange.serve(whole, version: version, keepAlive: keepAlive, settings: settings, channel: channel)
            if loop.inEventLoop {
                this.value.answered(keepAlive: reuse, channel: channel)
            } else {
                loop.execute { this.value.answered(keepAlive: reuse, channel: channel) }
            }
        }
    }

    /// The response is written: the connection reads on, or closes.
    private func answered(keepAlive: Bool, channel: any Channel) {
        answering = false
        if !keepAlive || closeWhenIdle { channel.close(promise: nil) }
    }

    /// A response the server makes itself (a request head HTTP types cannot hold).
    private func reply(status: HTTPResponseStatus, version: HTTPVersion, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "content-length", value: "0")
        headers.add(name: "connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}

/// One request's answer, from the responder to the channel.
enum _HTTPExchange {
    /// Answers `request` and writes the response; whether the connection may be reused.
    static func serve<Responder: HTTPResponder>(
        _ request: Request, version: HTTPVersion, keepAlive: Bool,
        settings: _HTTPConnectionHandler<Responder>.Settings, channel: any Channel
    ) async -> Bool {
        let context = GatewayRequestContext(source: .init(channel: channel, logger: settings.logger))
        let response: Response
        do { response = try await settings.responder.respond(to: request, context: context) } catch {
            settings.logger.debug("unanswered error", metadata: ["error": "\(error)"])
            response = Response(status: .internalServerError)
        }
        do {
            try await write(response, version: version, keepAlive: keepAlive, serverName: settings.serverName, to: channel)
            return keepAlive
        } catch {
            return false
        }
    }

    /// Writes `response` to `channel`: its head, then its body as the body's writer gives it.
    /// A body of known length is flushed once, with its end; any other at each write, whose
    /// completion the writer awaits, so a slow client holds the writer back.
    static func write(
        _ response: Response, version: HTTPVersion, keepAlive: Bool, serverName: String?, to channel: any Channel
    ) async throws {
        var headers = HTTPHeaders(response.headers)
        if let serverName, response.headers[.server] == nil { headers.add(name: "server", value: serverName) }
        headers.add(name: "date", value: _HTTPDate.now())
        let length = response.body.contentLength
        if let length { headers.replaceOrAdd(name: "content-length", value: String(length)) }
        if !keepAlive { headers.replaceOrAdd(name: "connection", value: "close") }
        let status = HTTPResponseStatus(statusCode: response.status.code, reasonPhrase: response.status.reasonPhrase)
        channel.write(HTTPServerResponsePart.head(HTTPResponseHead(version: version, status: status, headers: headers)), promise: nil)
        try await response.body.write(_ChannelBodyWriter(channel: channel, unflushed: length))
    }
}

/// Writes a response body to its channel.
struct _ChannelBodyWriter: ResponseBodyWriter {
    let channel: any Channel
    /// Bytes of a body of known length still to come, written without a flush (its end
    /// flushes them); `nil` for a body of unknown length, flushed at each write.
    var unflushed: Int?

    mutating func write(_ buffer: ByteBuffer) async throws {
        if let left = unflushed, buffer.readableBytes <= left {
            unflushed = left - buffer.readableBytes
            channel.write(HTTPServerResponsePart.body(.byteBuffer(buffer)), promise: nil)
            return
        }
        unflushed = nil
        try await channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(buffer))).get()
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {
        try await channel.writeAndFlush(HTTPServerResponsePart.end(trailingHeaders.map { HTTPHeaders($0) })).get()
    }
}
