import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization
import Testing

@testable import KVCacheGateway

/// A small HTTP/1.1 engine on loopback whose answers each test chooses, and which counts what
/// the client does to it: connections accepted, open at once, and bytes it managed to send.
final class StubEngine: Sendable {
    enum Behaviour: Sendable {
        /// Answers `body` after `delay`; closes the connection after answering when `close`
        /// (without saying so in a header, as a crashed or restarted engine would).
        case answer(String, delay: TimeAmount = .zero, close: Bool = false)
        /// Reads the request and never answers.
        case silent
        /// Streams `total` bytes in chunks of `chunk`, as fast as the client reads them.
        case stream(total: Int, chunk: Int)
        /// Streams as ``stream(total:chunk:)`` to requests for `path`, and answers others
        /// `{}` at once (a gateway's probes of the engine).
        case streamOn(path: String, total: Int, chunk: Int)
    }

    struct Counts {
        var accepted = 0
        var open = 0
        var mostOpen = 0
        var streamed = 0
    }

    let counts = StubCounts()
    private let channel: any Channel
    private let group: MultiThreadedEventLoopGroup
    let port: Int

    init(_ behaviour: Behaviour, tls: NIOSSLContext? = nil) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.group = group
        let counts = counts
        channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                counts.withLock {
                    $0.accepted += 1
                    $0.open += 1
                    $0.mostOpen = max($0.mostOpen, $0.open)
                }
                channel.closeFuture.whenComplete { _ in counts.withLock { $0.open -= 1 } }
                do {
                    let sync = channel.pipeline.syncOperations
                    if let tls { try sync.addHandler(NIOSSLServerHandler(context: tls)) }
                    try sync.configureHTTPServerPipeline()
                    try sync.addHandler(_StubHandler(behaviour: behaviour, counts: counts))
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = channel.localAddress?.port ?? 0
    }

    var url: String { "http://127.0.0.1:\(port)" }

    func stop() async throws {
        try await channel.close()
        try await group.shutdownGracefully()
    }
}

/// A stub engine's counts, shared with its connections' handlers.
final class StubCounts: Sendable {
    private let counts = Mutex(StubEngine.Counts())

    func withLock<R: Sendable>(_ body: (inout StubEngine.Counts) -> R) -> R { counts.withLock { body(&$0) } }
}

private final class _StubHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    let behaviour: StubEngine.Behaviour
    let counts: StubCounts
    var remaining = 0
    var chunk = 0
    var uri = ""

    init(behaviour: StubEngine.Behaviour, counts: StubCounts) {
        self.behaviour = behaviour
        self.counts = counts
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if case .head(let head) = part { uri = head.uri }
        guard case .end = part else { return }
        var behaviour = behaviour
        if case .streamOn(let path, let total, let size) = behaviour {
            behaviour = uri.hasPrefix(path) ? .stream(total: total, chunk: size) : .answer("{}")
        }
        switch behaviour {
        case .silent: break
        case .answer(let body, let delay, let close):
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: delay) {
                let (handler, context) = bound.value
                var head = HTTPResponseHead(version: .http1_1, status: .ok)
                head.headers.add(name: "content-length", value: String(body.utf8.count))
                head.headers.add(name: "content-type", value: "application/json")
                context.write(handler.wrapOutboundOut(.head(head)), promise: nil)
                context.write(handler.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
                let done = context.writeAndFlush(handler.wrapOutboundOut(.end(nil)))
                if close { done.whenComplete { _ in bound.value.1.close(promise: nil) } }
            }
        case .stream(let total, let size):
            remaining = total
            chunk = size
            var head = HTTPResponseHead(version: .http1_1, status: .ok)
            head.headers.add(name: "transfer-encoding", value: "chunked")
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            pump(context)
        case .streamOn: break
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        pump(context)
        context.fireChannelWritabilityChanged()
    }

    /// Writes chunks while the socket takes them; what the kernel took counts as sent.
    private func pump(_ context: ChannelHandlerContext) {
        while remaining > 0, context.channel.isWritable {
            let n = min(chunk, remaining)
            remaining -= n
            // a write may call this again (the channel's writability changed): the call that
            // wrote the last chunk writes the end
            let last = remaining == 0
            let counts = counts
            context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(repeating: 0x61, count: n))))).whenSuccess {
                counts.withLock { $0.streamed += n }
            }
            if last { context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil) }
        }
    }
}

/// Whether `condition` holds within `timeout`, checked every 20 ms: what happens on the
/// client's and the engine's own event loops, awaited without timing the test's own task
/// (which a busy test run may hold back).
func eventually(_ timeout: Duration = .seconds(20), _ condition: () async -> Bool) async -> Bool {
    let end = ContinuousClock.now + timeout
    while ContinuousClock.now < end {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return await condition()
}

@Suite("the engine client: timeouts, pool bounds, dead connections, TLS, backpressure")
struct EngineClientTests {
    /// One loop, so which connection serves which request is deterministic.
    static let oneLoop = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    static func client(_ change: (inout EngineClient.Configuration) -> Void = { _ in }) throws -> EngineClient {
        var c = EngineClient.Configuration()
        change(&c)
        return EngineClient(configuration: c, group: oneLoop)
    }

    static func request(_ url: String, timeout: TimeAmount = .seconds(10), whole: Bool = true) throws -> _UpstreamRequest {
        var r = _UpstreamRequest(target: try _UpstreamTarget(url: url), deadline: .now() + timeout, wholeUpTo: whole ? 1 << 20 : nil)
        r.body = ByteBuffer(string: #"{"prompt":"x"}"#)
        return r
    }

    @Test("an exchange that ends before its task waits (cancelled on the way in) gives the task that end at once")
    func endsBeforeTheWait() async throws {
        let request = _UpstreamRequest(target: try _UpstreamTarget(url: "http://127.0.0.1:9/"), deadline: .now() + .seconds(5))
        let exchange = _UpstreamExchange(request: request)
        exchange.fail(EngineClientError.cancelled)
        await #expect(throws: EngineClientError.cancelled) {
            _ = try await withUnsafeThrowingContinuation { exchange.wait($0) }
        }
    }

    @Test("keep-alive: sequential requests share one connection, and answers arrive whole or streamed")
    func reuse() async throws {
        let engine = try await StubEngine(.answer(#"{"ok":true}"#))
        let client = try Self.client()
        for k in 0..<20 {
            let response = try await client.execute(Self.request(engine.url + "/v1/completions", whole: k % 2 == 0))
            #expect(response.status == .ok)
            if k % 2 == 0 {
                guard case .whole = response.body else { Issue.record("a small answer was not read whole"); continue }
            }
            #expect(String(buffer: try await response.collect(upTo: 1 << 10)) == #"{"ok":true}"#)
        }
        #expect(engine.counts.withLock { $0.accepted } == 1)
        await client.shutdown()
        try await engine.stop()
    }

    @Test("connect timeout: an engine whose accept queue is full fails within the timeout, as unreachable")
    func connectTimeout() async throws {
        // A listener that never accepts, its queue filled: the kernel drops further SYNs.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        #expect(listen(fd, 0) == 0)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        let port = Int(UInt16(bigEndian: address.sin_port))
        var fillers: [any Channel] = []
        for _ in 0..<4 {
            if let c = try? await ClientBootstrap(group: Self.oneLoop).connectTimeout(.milliseconds(200)).connect(
                host: "127.0.0.1", port: port
            ).get() {
                fillers.append(c)
            }
        }
        let client = try Self.client { $0.connectTimeout = .milliseconds(300) }
        await #expect(throws: EngineClientError.connectTimeout) { try await client.execute(Self.request("http://127.0.0.1:\(port)/")) }
        #expect(Gateway.isUnreachable(EngineClientError.connectTimeout))
        for c in fillers { try? await c.close() }
        await client.shutdown()
    }

    @Test("deadline: an engine that never answers fails the call at its deadline, and the connection is closed")
    func deadline() async throws {
        let engine = try await StubEngine(.silent)
        let client = try Self.client()
        await #expect(throws: EngineClientError.deadlineExceeded) {
            try await client.execute(Self.request(engine.url + "/", timeout: .milliseconds(300)))
        }
        #expect(await eventually { engine.counts.withLock { $0.open } == 0 })
        #expect(await eventually { await client.openConnections().values.reduce(0, +) == 0 })
        await client.shutdown()
        try await engine.stop()
    }

    @Test("pool bound: at most N connections per engine; the requests beyond wait and all succeed")
    func poolBound() async throws {
        let engine = try await StubEngine(.answer("{}", delay: .milliseconds(100)))
        let client = try Self.client { $0.maximumConnectionsPerEngine = 2 }
        let codes = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<8 { group.addTask { Int(try await client.execute(Self.request(engine.url + "/")).status.code) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(codes == Array(repeating: 200, count: 8))
        #expect(engine.counts.withLock { $0.mostOpen } <= 2)
        #expect(engine.counts.withLock { $0.accepted } == 2)
        await client.shutdown()
        try await engine.stop()
    }

    @Test("dead connections: an engine that closes each connection after answering costs no request")
    func deadConnections() async throws {
        let engine = try await StubEngine(.answer("{}", close: true))
        let client = try Self.client()
        for k in 0..<20 {
            let response = try await client.execute(Self.request(engine.url + "/"))
            #expect(response.status == .ok)
            // Half the time the next request follows at once, racing the engine's close.
            if k % 2 == 0 { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(await eventually { await client.openConnections().values.reduce(0, +) == 0 })
        #expect(engine.counts.withLock { $0.accepted } == 20)
        await client.shutdown()
        try await engine.stop()
    }

    @Test("idle timeout: a connection unused for the idle time is closed")
    func idleTimeout() async throws {
        let engine = try await StubEngine(.answer("{}"))
        let client = try Self.client { $0.idleTimeout = .milliseconds(200) }
        _ = try await client.execute(Self.request(engine.url + "/"))
        // (Without an idle time, a connection stays open: see the keep-alive test.)
        #expect(await eventually { await client.openConnections().values.reduce(0, +) == 0 })
        #expect(await eventually { engine.counts.withLock { $0.open } == 0 })
        await client.shutdown()
        try await engine.stop()
    }

    @Test("idle timeout: each idle connection closes at its own time; one used again starts its idle time anew")
    func idleTimesApart() async throws {
        let engine = try await StubEngine(.answer("{}", delay: .milliseconds(100)))
        let client = try Self.client { $0.idleTimeout = .seconds(2) }
        func open() async -> Int { await client.openConnections().values.reduce(0, +) }
        // two at once: two connections, idle from about the same time
        _ = try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<2 { group.addTask { _ = try await client.execute(Self.request(engine.url + "/")) } }
            try await group.waitForAll()
        }
        // one of them again, half an idle time later: its idle time restarts from there, so the
        // last connection cannot close before a whole idle time after this request was sent
        // (however loaded the machine: a delay only makes it later), while a pool that closed
        // every idle connection at the first one's time would close it half an idle time
        // sooner. (Had both expired before the request, it opens a third, which outlives them.)
        try await Task.sleep(for: .seconds(1))
        let sent = ContinuousClock.now
        _ = try await client.execute(Self.request(engine.url + "/"))
        #expect(await eventually { await open() == 0 })
        #expect(ContinuousClock.now - sent >= .seconds(2))
        await client.shutdown()
        try await engine.stop()
    }

    @Test("TLS: an https engine is reached and verified against the given root; an unknown root is refused")
    func tls() async throws {
        let dir = packageRoot.appendingPathComponent("Tests/KVCacheGatewayTests/Fixtures/tls")
        let cert = try NIOSSLCertificate.fromPEMFile(dir.appendingPathComponent("cert.pem").path)
        let key = try NIOSSLPrivateKey(file: dir.appendingPathComponent("key.pem").path, format: .pem)
        let server = try NIOSSLContext(
            configuration: .makeServerConfiguration(certificateChain: cert.map { .certificate($0) }, privateKey: .privateKey(key)))
        let engine = try await StubEngine(.answer(#"{"secure":true}"#), tls: server)
        let trusting = try Self.client { $0.tls.trustRoots = .certificates(cert) }
        for host in ["localhost", "127.0.0.1"] {
            let response = try await trusting.execute(Self.request("https://\(host):\(engine.port)/v1/completions"))
            #expect(String(buffer: try await response.collect(upTo: 1 << 10)) == #"{"secure":true}"#)
        }
        let stranger = try Self.client()
        await #expect(throws: (any Error).self) { try await stranger.execute(Self.request("https://localhost:\(engine.port)/")) }
        await trusting.shutdown()
        await stranger.shutdown()
        try await engine.stop()
    }

    /// A streamed answer to `request`, held for the consumer's choice when `held` (the stream
    /// then taken as a consumer off the loop takes it), else streamed from the start.
    static func streamed(_ client: EngineClient, _ request: _UpstreamRequest, held: Bool) async throws -> _UpstreamBody? {
        var request = request
        request.holdsStream = held
        let response = try await client.execute(request)
        switch response.body {
        case .stream(let body) where !held: return body
        case .held where held: return await response.stream()
        default: return nil
        }
    }

    @Test(
        "backpressure: a consumer that stops reading stops the engine's stream; the whole stream arrives after",
        arguments: [false, true])
    func backpressure(held: Bool) async throws {
        let total = 64 << 20
        let engine = try await StubEngine(.stream(total: total, chunk: 64 << 10))
        let client = try Self.client()
        let request = try Self.request(engine.url + "/", timeout: .seconds(600), whole: false)
        guard let body = try await Self.streamed(client, request, held: held) else {
            Issue.record("a chunked answer was not streamed (held: \(held))")
            return
        }
        let iterator = body.makeAsyncIterator()
        var received = try await iterator.next()?.readableBytes ?? 0
        // Until the engine's sending stalls (or it has sent everything).
        var sentWhilePaused = -1
        _ = await eventually {
            let sent = engine.counts.withLock { $0.streamed }
            defer { sentWhilePaused = sent }
            try? await Task.sleep(for: .milliseconds(200))
            return sent == sentWhilePaused || sent == total
        }
        // Loopback's socket buffers hold a few MiB; the client itself at most its high
        // watermark of reads.
        #expect(sentWhilePaused < 32 << 20, "the engine sent \(sentWhilePaused) bytes to a consumer that read \(received)")
        while let chunk = try await iterator.next() { received += chunk.readableBytes }
        #expect(received == total)
        await client.shutdown()
        try await engine.stop()
    }

    @Test("a streamed answer whose consumer leaves closes its connection; the pool stays usable", arguments: [false, true])
    func consumerLeaves(held: Bool) async throws {
        let engine = try await StubEngine(.stream(total: 64 << 20, chunk: 64 << 10))
        let client = try Self.client()
        do {
            let request = try Self.request(engine.url + "/", whole: false)
            guard let body = try await Self.streamed(client, request, held: held) else { return }
            let iterator = body.makeAsyncIterator()
            _ = try await iterator.next()
        }
        #expect(await eventually { await client.openConnections().values.reduce(0, +) == 0 })
        // the pool still serves
        let again = try await client.execute(Self.request(engine.url + "/", whole: false))
        #expect(again.status == .ok)
        await client.shutdown()
        try await engine.stop()
    }

    @Test("a held answer: dropped untaken it closes its connection and holds no more than its limit; taken after it ended it arrives whole")
    func heldAnswers() async throws {
        let engine = try await StubEngine(.stream(total: 64 << 20, chunk: 64 << 10))
        let client = try Self.client()
        var request = try Self.request(engine.url + "/", timeout: .seconds(600), whole: false)
        request.holdsStream = true
        do {
            let response = try await client.execute(request)
            guard case .held = response.body else {
                Issue.record("a held answer's body is not held")
                return
            }
            // nobody takes it: the connection reads what it may hold, then waits
            var sentWhileHeld = -1
            _ = await eventually {
                let sent = engine.counts.withLock { $0.streamed }
                defer { sentWhileHeld = sent }
                try? await Task.sleep(for: .milliseconds(200))
                return sent == sentWhileHeld
            }
            // what it holds (256 KiB) and loopback's socket buffers (a few MiB)
            #expect(sentWhileHeld < 16 << 20, "the engine sent \(sentWhileHeld) bytes to an answer nobody took")
        }
        // long before the request's deadline
        let closed = await eventually(.seconds(5)) { await client.openConnections().values.reduce(0, +) == 0 }
        #expect(closed, "the untaken answer's connection closes")
        try await engine.stop()

        // an answer that ends before anyone asks for it waits whole for its consumer
        let short = try await StubEngine(.stream(total: 100 << 10, chunk: 4 << 10))
        request = try Self.request(short.url + "/", whole: false)
        request.holdsStream = true
        let response = try await client.execute(request)
        #expect(await eventually { short.counts.withLock { $0.streamed } == 100 << 10 })
        try await Task.sleep(for: .milliseconds(100))
        #expect(try await response.collect(upTo: 1 << 20).readableBytes == 100 << 10)
        await client.shutdown()
        try await short.stop()
    }

    @Test("the public send: a short answer arrives whole, a stream buffer by buffer; a bad URL is refused")
    func send() async throws {
        let short = try await StubEngine(.answer(#"{"ok":1}"#))
        let long = try await StubEngine(.stream(total: 1 << 20, chunk: 1 << 12))
        let client = try Self.client()
        let answer = try await client.send(short.url + "/v1/completions", body: ByteBuffer(string: "{}"), timeout: .seconds(10))
        #expect(answer.status == .ok && answer.body.whole.map { String(buffer: $0) } == #"{"ok":1}"#)
        let stream = try await client.send(long.url + "/", method: .GET, timeout: .seconds(10))
        #expect(stream.body.whole == nil)
        var bytes = 0
        for try await chunk in stream.body { bytes += chunk.readableBytes }
        #expect(bytes == 1 << 20)
        await #expect(throws: EngineClientError.invalidURL("ftp://x")) { try await client.send("ftp://x", timeout: .seconds(1)) }
        await client.shutdown()
        try await short.stop()
        try await long.stop()
    }

    @Test("engine URLs: http and https with hosts, ports and base paths; anything else is refused")
    func targets() throws {
        let t = try _UpstreamTarget(url: "http://10.0.0.5:8000")
        #expect(t.origin == _UpstreamOrigin(tls: false, host: "10.0.0.5", port: 8000) && t.path == "/")
        #expect(t.appending("/v1/completions").path == "/v1/completions")
        let s = try _UpstreamTarget(url: "https://engine.example/base/")
        #expect(s.origin.port == 443 && s.origin.tls && s.origin.hostHeader == "engine.example")
        #expect(s.appending("/tokenize").path == "/base/tokenize")
        let v6 = try _UpstreamTarget(url: "http://[::1]:9000/x?y=1")
        #expect(v6.origin.host == "::1" && v6.origin.hostHeader == "[::1]:9000" && v6.path == "/x?y=1")
        for bad in ["ftp://a/", "http://", "not a url", "http://a:0/"] {
            #expect(throws: EngineClientError.self, "\(bad)") { try _UpstreamTarget(url: bad) }
        }
    }
}
