import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization
import Testing

@testable import KVCacheGateway

/// The gateway's HTTP server (`_HTTPServer`), in process, spoken to over raw TCP so that what
/// the wire carries (keep-alive, closes, heads, chunk boundaries) is what is checked.
@Suite("HTTP server")
struct HTTPServerTests {
    /// Serves `router` on a free port for `body`, then shuts the server down gracefully.
    func withServer(
        _ router: Router<GatewayRequestContext>, maximumBodyBytes: Int = 1_024,
        _ body: (_ port: Int, _ group: ServiceGroup) async throws -> Void
    ) async throws {
        try await withServer(responder: router.buildResponder(), maximumBodyBytes: maximumBodyBytes, body)
    }

    /// Serves `responder` (and `routed`'s endpoints, when given) on a free port for `body`, then
    /// shuts the server down gracefully.
    func withServer<Responder: HTTPResponder>(
        responder: Responder, routed: _RoutedEndpoints? = nil, maximumBodyBytes: Int = 1_024,
        _ body: (_ port: Int, _ group: ServiceGroup) async throws -> Void
    ) async throws where Responder.Context == GatewayRequestContext {
        let (ports, listening) = AsyncStream<Int>.makeStream()
        let server = _HTTPServer(
            responder: responder, routed: routed, host: "127.0.0.1", port: 0, maximumBodyBytes: maximumBodyBytes,
            serverName: "kvcache-gateway", logger: Logger(label: "test"), onListening: { listening.yield($0) })
        let group = ServiceGroup(configuration: .init(services: [server], logger: Logger(label: "test")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var next = ports.makeAsyncIterator()
            guard let port = await next.next() else { throw HarnessError("the server did not start") }
            do { try await body(port, group) } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    static func router() -> Router<GatewayRequestContext> {
        let router = Router(context: GatewayRequestContext.self)
        router.post("/echo") { request, _ -> Response in
            var request = request
            let body = try await request.collectBody(upTo: 1_024)
            return Response(status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: body))
        }
        router.get("/hello") { _, _ in "hello" }
        return router
    }

    @Test("keep-alive: requests on one connection are answered in turn, with length, date and server")
    func keepAlive() async throws {
        try await withServer(Self.router()) { port, _ in
            let c = try await RawConnection(port: port)
            try await c.send("POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\nabcde")
            let first = try await c.response()
            #expect(first.head.hasPrefix("HTTP/1.1 200"))
            #expect(first.header("content-length") == "5")
            #expect(first.header("server") == "kvcache-gateway")
            #expect(first.header("date")?.hasSuffix(" GMT") == true)
            #expect(first.body == "abcde")
            try await c.send("GET /hello HTTP/1.1\r\nhost: x\r\n\r\n")
            let second = try await c.response()
            #expect(second.body == "hello")
            #expect(!c.isClosed)
            try await c.close()
        }
    }

    @Test("the Date header is RFC 9110's IMF-fixdate")
    func date() {
        #expect(_HTTPDate.format(784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(_HTTPDate.format(0) == "Thu, 01 Jan 1970 00:00:00 GMT")
    }

    @Test("Expect: 100-continue is answered 100 before the body is sent, then the answer follows")
    func expectContinue() async throws {
        try await withServer(Self.router()) { port, _ in
            let c = try await RawConnection(port: port)
            try await c.send("POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\nexpect: 100-continue\r\n\r\n")
            #expect(await eventually(.seconds(5)) { c.text.hasPrefix("HTTP/1.1 100 Continue\r\n\r\n") })
            try await c.send("abc")
            let informational = try await c.response()
            #expect(informational.head.hasPrefix("HTTP/1.1 100"))
            let answer = try await c.response()
            #expect(answer.head.hasPrefix("HTTP/1.1 200"))
            #expect(answer.body == "abc")
            try await c.close()
        }
    }

    @Test("Connection: close, and HTTP/1.0 without keep-alive: the answer says close, and the server closes")
    func close() async throws {
        try await withServer(Self.router()) { port, _ in
            for request in ["GET /hello HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n", "GET /hello HTTP/1.0\r\n\r\n"] {
                let c = try await RawConnection(port: port)
                try await c.send(request)
                let answer = try await c.response()
                #expect(answer.body == "hello")
                #expect(answer.header("connection") == "close")
                #expect(await c.closes())
            }
        }
    }

    @Test("a large answer on a connection that closes after it arrives whole")
    func closeAfterLargeAnswer() async throws {
        let big = ByteBuffer(repeating: UInt8(ascii: "b"), count: 16 << 20)
        let router = Self.router()
        router.get("/big") { _, _ in Response(status: .ok, body: .init(byteBuffer: big)) }
        try await withServer(router) { port, _ in
            let c = try await RawConnection(port: port)
            try await c.send("GET /big HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            #expect(await c.closes())
            let answer = try await c.response()
            #expect(answer.header("content-length") == String(16 << 20))
            #expect(answer.body.utf8.count == 16 << 20)
        }
    }

    @Test("a malformed request head is answered 400 and the connection closed; an unknown route 404")
    func malformed() async throws {
        try await withServer(Self.router()) { port, _ in
            let c = try await RawConnection(port: port)
            try await c.send("NOT HTTP AT ALL\r\n\r\n")
            let answer = try await c.response()
            #expect(answer.head.hasPrefix("HTTP/1.1 400"))
            #expect(await c.closes())
            let d = try await RawConnection(port: port)
            try await d.send("GET /nowhere HTTP/1.1\r\nhost: x\r\n\r\n")
            #expect(try await d.response().head.hasPrefix("HTTP/1.1 404"))
            try await d.close()
        }
    }

    @Test("the gateway through the server: a body past the limit is its 413, a malformed one its 400, other routes the router's")
    func gatewayErrors() async throws {
        var c = GatewayConfiguration()
        c.engines = [try EngineSpec(url: "http://127.0.0.1:9", node: 0)]
        c.maximumBodyBytes = 64
        let gateway = try Gateway(configuration: c)
        try await withServer(
            responder: gateway.router().buildResponder(), routed: _RoutedEndpoints(gateway: gateway), maximumBodyBytes: 64
        ) { port, _ in
            let conn = try await RawConnection(port: port)
            let big = #"{"prompt": ""# + String(repeating: "x", count: 10_000) + #""}"#
            try await conn.send("POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-length: \(big.utf8.count)\r\n\r\n" + big)
            let tooLarge = try await conn.response()
            #expect(tooLarge.head.hasPrefix("HTTP/1.1 413"))
            #expect(tooLarge.body.contains("invalid_request_error"))
            let bad = #"{"prompt": 5}"#
            try await conn.send("POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-length: \(bad.utf8.count)\r\n\r\n" + bad)
            let malformed = try await conn.response()
            #expect(malformed.head.hasPrefix("HTTP/1.1 400"))
            #expect(malformed.body.contains("\"param\":\"prompt\"") || malformed.body.contains("\"param\": \"prompt\""))
            // the routed endpoints' other methods and paths are the router's
            try await conn.send("GET /v1/completions HTTP/1.1\r\nhost: x\r\n\r\n")
            #expect(try await conn.response().head.hasPrefix("HTTP/1.1 404"))
            try await conn.send("GET /v1/models HTTP/1.1\r\nhost: x\r\n\r\n")
            let models = try await conn.response()  // its engine is unreachable: the gateway's 503
            #expect(models.head.hasPrefix("HTTP/1.1 503"))
            #expect(models.header("content-type") == "application/json")
            try await conn.close()
        }
        await gateway.shutdown()
    }

    @Test(
        "graceful shutdown: no new connections, idle ones close once their queued bytes are written, requests in flight (and one half read) are answered in full"
    )
    func gracefulShutdown() async throws {
        let (release, releaser) = AsyncStream<Void>.makeStream()
        let started = Mutex(false)
        let router = Self.router()
        router.get("/slow") { _, _ -> String in
            started.withLock { $0 = true }
            for await _ in release { break }
            return "finished"
        }
        let largeBytes = 4 << 20
        router.get("/large") { _, _ in
            Response(status: .ok, body: .init(byteBuffer: ByteBuffer(repeating: UInt8(ascii: "a"), count: largeBytes)))
        }
        try await withServer(router) { port, group in
            let busy = try await RawConnection(port: port)
            let idle = try await RawConnection(port: port)
            try await idle.send("GET /hello HTTP/1.1\r\nhost: x\r\n\r\n")
            _ = try await idle.response()
            // answered and handed to the channel, but not yet read by its client: most of it
            // waits in the server's buffers when the drain comes
            let unread = try await RawConnection(port: port, reading: false)
            try await unread.send("GET /large HTTP/1.1\r\nhost: x\r\n\r\n")
            try await busy.send("GET /slow HTTP/1.1\r\nhost: x\r\n\r\n")
            #expect(await eventually { started.withLock { $0 } })
            // a request whose head has come and whose body has not
            let reading = try await RawConnection(port: port)
            try await reading.send("POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\n\r\nab")
            try await Task.sleep(for: .milliseconds(100))
            await group.triggerGracefulShutdown()
            #expect(await idle.closes())
            #expect(!busy.isClosed)
            #expect(!reading.isClosed)
            try await reading.send("cd")
            #expect(try await reading.response().body == "abcd")
            #expect(await reading.closes())
            await #expect(throws: (any Error).self) { _ = try await RawConnection(port: port) }
            releaser.yield()
            let answer = try await busy.response()
            #expect(answer.body == "finished")
            #expect(await busy.closes())
            unread.startReading()
            #expect(await unread.closes())
            let text = unread.text
            let body = text.range(of: "\r\n\r\n").map { text.utf8.count - text.utf8.distance(from: text.startIndex, to: $0.upperBound) }
            #expect(body == largeBytes, "a drained connection's queued answer was cut short")
        }
    }

    @Test("a streamed answer is flushed chunk by chunk, and a client that does not read holds the producer back")
    func streamBackpressure() async throws {
        let produced = Mutex(0)
        let chunk = ByteBuffer(repeating: UInt8(ascii: "z"), count: 64 << 10)
        let chunks = 1_024  // 64 MB in all
        let router = Self.router()
        router.get("/stream") { _, _ in
            Response(
                status: .ok,
                body: ResponseBody { writer in
                    for _ in 0..<chunks {
                        try await writer.write(chunk)
                        produced.withLock { $0 += 1 }
                    }
                    try await writer.finish(nil)
                })
        }
        router.get("/tick") { _, _ in
            Response(
                status: .ok,
                body: ResponseBody { writer in
                    try await writer.write(ByteBuffer(string: "one "))
                    try await Task.sleep(for: .seconds(30))
                    try await writer.finish(nil)
                })
        }
        try await withServer(router) { port, _ in
            // the first chunk arrives while the body is still being produced
            let ticking = try await RawConnection(port: port)
            try await ticking.send("GET /tick HTTP/1.1\r\nhost: x\r\n\r\n")
            #expect(await eventually { ticking.text.contains("one ") })
            #expect(ticking.text.lowercased().contains("transfer-encoding: chunked"))
            try await ticking.close()

            let slow = try await RawConnection(port: port, reading: false)
            try await slow.send("GET /stream HTTP/1.1\r\nhost: x\r\n\r\n")
            try await Task.sleep(for: .milliseconds(500))
            let held = produced.withLock { $0 }
            #expect(held < chunks / 4, "the producer ran \(held) chunks ahead of a client that read nothing")
            slow.startReading()
            #expect(await eventually(.seconds(60)) { slow.byteCount >= chunks * (64 << 10) })
            #expect(produced.withLock { $0 } == chunks)
            try await slow.close()
        }
    }
}

extension HTTPServerTests {
    /// Runs on a channel's event loop, as the gateway's request tasks do when NIO's loops are
    /// the concurrency executor (there the writer judges backpressure by the channel's own
    /// writability).
    actor OnLoop {
        let loop: any EventLoop
        nonisolated var unownedExecutor: UnownedSerialExecutor { loop.executor.asUnownedSerialExecutor() }
        init(_ loop: any EventLoop) { self.loop = loop }

        /// Writes `chunks` chunks of `chunk` as a streamed body, counting each in `produced`.
        func stream(_ chunk: ByteBuffer, chunks: Int, to channel: any Channel, produced: _Received) async throws {
            #expect(loop.inEventLoop)
            let head = HTTPResponseHead(version: .http1_1, status: .ok)
            var writer = _ChannelBodyWriter(channel: channel, head: head, unflushed: nil)
            for _ in 0..<chunks {
                try await writer.write(chunk)
                produced.bytes.withLock { $0.append(1) }
            }
            try await writer.finish(nil)
        }
    }

    @Test("on the connection's event loop, a client that does not read holds a streamed body's producer back")
    func streamBackpressureOnLoop() async throws {
        let (accepted, accept) = AsyncStream<any Channel>.makeStream()
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelOption(.socketOption(.so_sndbuf), value: 64 << 10)
            .childChannelInitializer { channel in
                accept.yield(channel)
                return channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(HTTPResponseEncoder()) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let client = try await RawConnection(port: server.localAddress!.port!, reading: false)
        // the server's side of this client's connection (another test's client may reach a
        // port it no longer serves, now this server's)
        var next = accepted.makeAsyncIterator()
        var found: (any Channel)?
        while found == nil, let c = await next.next() {
            if c.remoteAddress?.port == client.channel.localAddress?.port { found = c }
        }
        let channel = try #require(found)
        #expect(await eventually { channel.isActive })  // handed over before its activation
        let produced = _Received()
        let chunks = 1_024
        let chunk = ByteBuffer(repeating: 122, count: 64 << 10)
        let producing = Task { try await OnLoop(channel.eventLoop).stream(chunk, chunks: chunks, to: channel, produced: produced) }
        try await Task.sleep(for: .milliseconds(500))
        let held = produced.bytes.withLock { $0.count }
        #expect(held < chunks / 4, "the producer ran \(held) chunks ahead of a client that read nothing")
        client.startReading()
        try await producing.value
        #expect(await eventually(.seconds(60)) { client.byteCount >= chunks * (64 << 10) })
        try await client.close()
        try await server.close()
    }
}

/// A raw TCP connection to the server: what was received, as bytes.
final class RawConnection: Sendable {
    let channel: any Channel
    private let received: _Received

    /// Connects; with `reading` false nothing is read until ``startReading()``.
    init(port: Int, reading: Bool = true) async throws {
        let received = _Received()
        self.received = received
        channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.autoRead, value: reading)
            .channelOption(.socketOption(.so_rcvbuf), value: reading ? 1 << 20 : 16 << 10)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(_Collector(received: received)) }
            }
            .connect(host: "127.0.0.1", port: port).get()
    }

    func send(_ text: String) async throws { try await channel.writeAndFlush(ByteBuffer(string: text)).get() }
    func close() async throws { try? await channel.close() }
    func startReading() { channel.setOption(.autoRead, value: true).whenSuccess { self.channel.read() } }

    var text: String { received.bytes.withLock { String(decoding: $0, as: UTF8.self) } }
    var byteCount: Int { received.bytes.withLock { $0.count } }
    var isClosed: Bool { !channel.isActive }

    /// Whether the server closes the connection within five seconds.
    func closes() async -> Bool { await eventually(.seconds(5)) { !self.channel.isActive } }

    /// The first whole response received (by its content length), removed from what was received.
    func response(timeout: Duration = .seconds(10)) async throws -> (head: String, body: String, header: (String) -> String?) {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let taken = received.bytes.withLock { bytes -> (String, String)? in
                let text = String(decoding: bytes, as: UTF8.self)
                guard let end = text.range(of: "\r\n\r\n") else { return nil }
                let head = String(text[..<end.lowerBound])
                let length =
                    head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                    .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                let bodyStart = text.utf8.distance(from: text.startIndex, to: end.upperBound)
                guard bytes.count >= bodyStart + length else { return nil }
                let body = String(decoding: bytes[bodyStart..<(bodyStart + length)], as: UTF8.self)
                bytes.removeFirst(bodyStart + length)
                return (head, body)
            }
            if let (head, body) = taken {
                let lines = head.split(separator: "\r\n").dropFirst()
                return (
                    head, body,
                    { name in
                        lines.first { $0.lowercased().hasPrefix(name + ":") }
                            .map { String($0.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespaces) }
                    }
                )
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw HarnessError("no whole response within \(timeout); received: \(text.prefix(300))")
    }
}

/// What a connection read.
final class _Received: Sendable {
    let bytes = Mutex<[UInt8]>([])
}

/// Appends what a connection reads.
private final class _Collector: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let received: _Received
    init(received: _Received) { self.received = received }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        received.bytes.withLock { $0.append(contentsOf: buffer.readableBytesView) }
    }
}

extension HTTPServerTests {
    /// What NIO's response encoder writes for `parts`, as one byte string.
    static func encoded(_ parts: [HTTPServerResponsePart]) throws -> [UInt8] {
        let channel = EmbeddedChannel(handler: HTTPResponseEncoder())
        for part in parts { try channel.writeOutbound(part) }
        var bytes: [UInt8] = []
        while let out = try channel.readOutbound(as: IOData.self) {
            guard case .byteBuffer(let buffer) = out else { throw HarnessError("the encoder wrote a file region") }
            bytes += buffer.readableBytesView
        }
        _ = try channel.finish()
        return bytes
    }

    @Test("a relayed part framed as one chunk is the bytes NIO's encoder writes for it, and chunks exactly the heads it chunks")
    func relayChunks() throws {
        let head = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["content-type": "text/event-stream"])
        var rng = SystemRandomNumberGenerator()  // a failure names its size
        let edges = [1, 9, 15, 16, 17, 255, 256, 4_095, 4_096, 65_535, 65_536, 1 << 20]
        let sizes = edges + (0..<100).map { _ in Int.random(in: 1...70_000, using: &rng) }
        let headBytes = try Self.encoded([.head(head)])
        for size in sizes {
            let part = ByteBuffer(bytes: (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ size) })
            let framed = _ClientRelay.chunk(part, allocator: ByteBufferAllocator())
            let expected = try Self.encoded([.head(head), .body(.byteBuffer(part))])
            #expect(headBytes + Array(framed.readableBytesView) == expected, "\(size) bytes")
        }
        // the relay frames parts itself exactly when the encoder would chunk the answer
        for version in [HTTPVersion.http1_0, .http1_1] {
            for status in [HTTPResponseStatus.ok, .created, .noContent, .notModified, .badRequest, .serviceUnavailable] {
                for length in [nil, "12"] {
                    var h = HTTPResponseHead(version: version, status: status, headers: ["content-type": "text/event-stream"])
                    if let length { h.headers.add(name: "content-length", value: length) }
                    let wire = String(decoding: try Self.encoded([.head(h)]), as: UTF8.self).lowercased()
                    #expect(
                        _ClientRelay.chunksHead(h) == wire.contains("transfer-encoding: chunked"),
                        "HTTP/\(version.major).\(version.minor) \(status.code), length \(length ?? "none")")
                }
            }
        }
    }
}
