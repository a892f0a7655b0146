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
/// protocol-error handler) and one ``_HTTPConnectionHandler`` per connection. The routed
/// endpoints are answered from NIO's types straight through (``_RoutedEndpoints``); every other
/// request goes to the gateway's Hummingbird router.
///
/// Hummingbird's own server reads each connection in a task through async sequences of
/// request parts and writes through an async writer; on the gateway's load that layer is a
/// third of a proxy's CPU per request (docs/GATEWAY.md, "The gateway's own cost"). Here a
/// request is collected on its connection's event loop, answered in one task started there
/// (NIO's loops are the concurrency executor in `kvcache-gateway`), and its response written
/// straight to the channel. The routed endpoints' request heads and engine answers keep NIO's
/// header lists from the codec to the codec, with no Hummingbird request or response and no
/// HTTP-types fields between. The other routes, middleware and responses are the router's, the
/// same ones ``Gateway/application(metrics:onListening:)`` serves.
///
/// Graceful shutdown stops accepting, lets each connection finish the request it is
/// answering, closes idle ones at once, and returns when every connection has closed;
/// cancellation closes them all.
struct _HTTPServer<Responder: HTTPResponder>: Service where Responder.Context == GatewayRequestContext {
    let responder: Responder
    /// The routed endpoints, answered without the responder; `nil`: every request is the
    /// responder's.
    var routed: _RoutedEndpoints? = nil
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
            responder: responder, routed: routed, bodyLimit: maximumBodyBytes + 1, serverName: serverName, logger: logger)
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
        let routed: _RoutedEndpoints?
        let bodyLimit: Int
        let serverName: String?
        let logger: Logger
    }

    let settings: Settings
    private var head: HTTPRequestHead?
    /// The request's body so far: its first chunk as it came, copied only when a second comes.
    private var body: ByteBuffer?
    private var answering = false
    private var closeWhenIdle = false

    init(settings: Settings) {
        self.settings = settings
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body = nil
            // A client that asks first (curl does for bodies past 1 KB) is told to go on: the
            // body's size is judged once it is read, as any other.
            if h.version == .http1_1, h.headers[canonicalForm: "expect"].contains(where: { $0.lowercased() == "100-continue" }) {
                context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: h.version, status: .continue))), promise: nil)
            }
        case .body(var chunk):
            let room = settings.bodyLimit - (body?.readableBytes ?? 0)
            guard room > 0 else { return }
            if chunk.readableBytes > room { chunk = chunk.getSlice(at: chunk.readerIndex, length: room)! }
            if body == nil {
                body = chunk
            } else {
                body!.writeBuffer(&chunk)
            }
        case .end:
            guard let head else { return }
            self.head = nil
            let requestBody = body ?? ByteBuffer()
            body = nil
            answer(head, body: requestBody, context: context)
        }
    }

    /// A request NIO's codec could not parse (its error handler has answered it `400`), or a
    /// broken connection: either way the connection is done.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// A connection closes at the drain only between requests: one whose head has arrived is
    /// read, answered and written first.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is _HTTPConnectionDrain else { return context.fireUserInboundEventTriggered(event) }
        closeWhenIdle = true
        if !answering && head == nil { Self.closeAfterQueuedWrites(context.channel) }
    }

    private func answer(_ head: HTTPRequestHead, body: ByteBuffer, context: ChannelHandlerContext) {
        let keepAlive = head.isKeepAlive && !closeWhenIdle
        let channel = context.channel
        let loop = context.eventLoop
        let settings = self.settings
        let this = NIOLoopBound(self, eventLoop: loop)
        let version = head.version
        if let routed = settings.routed, let endpoint = _RoutedEndpoints.endpoint(of: head) {
            answering = true
            let request = _RoutedRequest(
                headers: head.headers, body: body, exceedsLimit: body.readableBytes >= settings.bodyLimit)
            Task {
                let answer = await routed.gateway.answer(request, endpoint: endpoint)
                let reuse = await _HTTPExchange.write(
                    answer, version: version, keepAlive: keepAlive, serverName: settings.serverName, to: channel)
                if loop.inEventLoop {
                    this.value.answered(keepAlive: reuse, channel: channel)
                } else {
                    loop.execute { this.value.answered(keepAlive: reuse, channel: channel) }
                }
            }
            return
        }
        let request: HTTPRequest
        do { request = try HTTPRequest(head, secure: false, splitCookie: false) } catch {
            return reply(status: .badRequest, version: head.version, context: context)
        }
        answering = true
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

    /// The response is written, its last byte on the socket: the connection reads on, or
    /// closes.
    private func answered(keepAlive: Bool, channel: any Channel) {
        answering = false
        guard !keepAlive || closeWhenIdle else { return }
        guard keepAlive else { return channel.close(promise: nil) }
        Self.closeAfterQueuedWrites(channel)
    }

    /// Closes a kept-alive connection once the bytes queued for it have reached its socket: its
    /// last response was handed over without waiting for its end (``_ChannelBodyWriter/awaitsEnd``),
    /// so some may still be in the channel's buffer, and closing the output first keeps them.
    private static func closeAfterQueuedWrites(_ channel: any Channel) {
        channel.close(mode: .output).whenComplete { _ in channel.close(promise: nil) }
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
        let status = HTTPResponseStatus(statusCode: response.status.code, reasonPhrase: response.status.reasonPhrase)
        let answer = _RoutedAnswer(status: status, headers: HTTPHeaders(response.headers), body: response.body)
        return await write(answer, version: version, keepAlive: keepAlive, serverName: settings.serverName, to: channel)
    }

    /// Writes `answer` to `channel`: its head (with `Date`, `Server` unless the answer names
    /// one, its length when known, and `Connection: close` when the connection ends), then its
    /// body as the body's writer gives it (see ``_ChannelBodyWriter``).
    /// - Returns: Whether the connection may be reused: `keepAlive`, unless the write failed.
    static func write(
        _ answer: consuming _RoutedAnswer, version: HTTPVersion, keepAlive: Bool, serverName: String?, to channel: any Channel
    ) async -> Bool {
        // The answer is this call's own, so its header list is extended in place, not copied.
        let body = answer.body
        var headers = answer.headers
        answer.headers = [:]
        if let serverName, !headers.contains(name: "server") { headers.add(name: "server", value: serverName) }
        headers.add(name: "date", value: _HTTPDate.now())
        let length = body.contentLength
        if let length { headers.replaceOrAdd(name: "content-length", value: String(length)) }
        if !keepAlive { headers.replaceOrAdd(name: "connection", value: "close") }
        let head = HTTPResponseHead(version: version, status: answer.status, headers: headers)
        // An engine's stream read on this loop goes straight from its socket to the client's.
        if let relay = answer.relay, relay.exchange.eventLoop === channel.eventLoop, channel.eventLoop.inEventLoop,
            let connection = relay.exchange.value.connection
        {
            let sink = _ClientRelay(
                channel: channel, head: head, keepAlive: keepAlive, exchange: relay.exchange.value, lease: relay.lease)
            if connection.attach(sink, for: relay.exchange.value) { return await sink.finished() }
        }
        do {
            try await body.write(_ChannelBodyWriter(channel: channel, head: head, unflushed: length, awaitsEnd: !keepAlive))
            return keepAlive
        } catch {
            return false
        }
    }
}

/// Writes a response to its channel, in as few hand-overs to the channel's event loop as the
/// body allows: a body of known length goes with its head and end in one write and one flush
/// when it finishes; any other is flushed at each write, the head with the first.
///
/// Its calls run where their caller runs (`nonisolated(nonsending)`), so a body produced on the
/// channel's event loop is written there without a hand-over.
///
/// A slow client holds the body's producer back: on the channel's event loop a write waits for
/// its bytes to reach the socket while the channel is not writable; off it (where the
/// channel's writability lags the writes handed over), once more than ``highWaterBytes`` are
/// on their way. A write or finish on a closed channel throws.
struct _ChannelBodyWriter: ResponseBodyWriter {
    /// Bytes handed to the channel from off its loop and not yet written to its socket, past
    /// which a write waits.
    static let highWaterBytes = 256 << 10

    let channel: any Channel
    /// Whether ``finish(_:)`` waits for the end to reach the socket: a connection that closes
    /// after the response needs it; one kept alive writes its next response after this one
    /// in the channel's order anyway, and spares a promise and a wait per response.
    let awaitsEnd: Bool
    /// The head, until it is handed to the channel with the first flush.
    private var head: HTTPResponseHead?
    /// Body parts written and not yet handed to the channel (most bodies of known length are
    /// one part, and need no array).
    private var parts: _Parts = .none
    /// Bytes of a body of known length still to come (its parts wait for the end); `nil` for a
    /// body of unknown length, or once a part went past the length.
    private var unflushed: Int?
    /// Bytes handed to the channel from off its loop whose writes have not completed.
    private var inFlight: _InFlightBytes?

    init(channel: any Channel, head: HTTPResponseHead, unflushed: Int?, awaitsEnd: Bool = true) {
        self.channel = channel
        self.awaitsEnd = awaitsEnd
        self.head = head
        self.unflushed = unflushed
    }

    nonisolated(nonsending) mutating func write(_ buffer: ByteBuffer) async throws {
        guard channel.isActive else { throw ChannelError.ioOnClosedChannel }
        if let left = unflushed, buffer.readableBytes <= left {
            unflushed = left - buffer.readableBytes
            parts.append(buffer)
            return
        }
        unflushed = nil
        let (head, earlier) = (self.head, parts)
        self.head = nil
        parts = .none
        let loop = channel.eventLoop
        if loop.inEventLoop {
            if channel.isWritable {
                Self.send(head, earlier, buffer, end: nil, on: channel, promise: nil)
            } else {
                let written = loop.makePromise(of: Void.self)
                Self.send(head, earlier, buffer, end: nil, on: channel, promise: written)
                try await written.futureResult.get()
            }
            return
        }
        let inFlight = self.inFlight ?? _InFlightBytes()
        self.inFlight = inFlight
        let bytes = buffer.readableBytes
        let written = loop.makePromise(of: Void.self)
        let waiting = inFlight.add(bytes) > Self.highWaterBytes
        written.futureResult.whenComplete { _ in inFlight.add(-bytes) }
        let channel = self.channel
        loop.execute { Self.send(head, earlier, buffer, end: nil, on: channel, promise: written) }
        if waiting { try await written.futureResult.get() }
    }

    /// With ``awaitsEnd``, returns once the end is written to the socket (on the loop, at once
    /// when the socket took it), so that a connection closed after its response loses none of
    /// it; without, once the end is handed to the channel.
    nonisolated(nonsending) consuming func finish(_ trailingHeaders: HTTPFields?) async throws {
        guard channel.isActive else { throw ChannelError.ioOnClosedChannel }
        let (head, parts, channel) = (self.head, self.parts, self.channel)
        let end = HTTPServerResponsePart.end(trailingHeaders.map { HTTPHeaders($0) })
        guard awaitsEnd else {
            if channel.eventLoop.inEventLoop {
                Self.send(head, parts, nil, end: end, on: channel, promise: nil)
            } else {
                channel.eventLoop.execute { Self.send(head, parts, nil, end: end, on: channel, promise: nil) }
            }
            return
        }
        let written = channel.eventLoop.makePromise(of: Void.self)
        if channel.eventLoop.inEventLoop {
            Self.send(head, parts, nil, end: end, on: channel, promise: written)
        } else {
            channel.eventLoop.execute { Self.send(head, parts, nil, end: end, on: channel, promise: written) }
        }
        try await written.futureResult.get()
    }

    /// On the channel's loop: writes the head (if not yet written), the parts, then `last` or
    /// `end`, and flushes; `promise` completes with the last write. (``_ClientRelay`` writes
    /// through it too.)
    static func send(
        _ head: HTTPResponseHead?, _ parts: _Parts, _ last: ByteBuffer?, end: HTTPServerResponsePart?,
        on channel: any Channel, promise: EventLoopPromise<Void>?
    ) {
        if let head { channel.write(HTTPServerResponsePart.head(head), promise: nil) }
        switch parts {
        case .none: break
        case .one(let part): channel.write(HTTPServerResponsePart.body(.byteBuffer(part)), promise: nil)
        case .many(let all): for part in all { channel.write(HTTPServerResponsePart.body(.byteBuffer(part)), promise: nil) }
        }
        if let last { channel.write(HTTPServerResponsePart.body(.byteBuffer(last)), promise: promise) }
        if let end { channel.write(end, promise: promise) }
        channel.flush()
    }
}

/// Body parts waiting for their flush.
enum _Parts: Sendable {
    case none
    case one(ByteBuffer)
    case many([ByteBuffer])

    mutating func append(_ buffer: ByteBuffer) {
        switch self {
        case .none: self = .one(buffer)
        case .one(let first): self = .many([first, buffer])
        case .many(var all):
            self = .none
            all.append(buffer)
            self = .many(all)
        }
    }
}

/// A streamed body's bytes on their way to the socket.
final class _InFlightBytes: Sendable {
    private let bytes = Atomic(0)

    /// Adds `delta`; the new total.
    @discardableResult
    func add(_ delta: Int) -> Int { bytes.wrappingAdd(delta, ordering: .relaxed).newValue }
}
