import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// The HTTP/1.1 client the gateway calls engines with, on SwiftNIO itself.
///
/// Each event loop of NIO's shared group keeps its own keep-alive connections to each engine,
/// so a request's upstream connection, its answer's arrival and the write back to its client
/// stay on the thread that read the client's request: no hand-over between threads. A request
/// is written in one `writev` (head, body and end flushed once); an answer of known small
/// length is read whole and delivered at once, any other is streamed as it arrives, one
/// element per read of the socket, with backpressure (a consumer that falls behind stops the
/// reads, so a slow client never makes the gateway buffer an engine's stream without bound).
///
/// Every call has a deadline covering connect, answer and last byte; connects time out after
/// ``Configuration/connectTimeout``; a pool holds at most
/// ``Configuration/maximumConnectionsPerEngine`` connections per engine and loop (more requests
/// wait in line); a connection the engine closed leaves its pool at once, and one idle for
/// ``Configuration/idleTimeout`` is closed. `https` engines are reached over TLS (NIOSSL),
/// verified against the system's roots or ``Configuration/tls``'s.
public final class EngineClient: Sendable {
    /// The client's settings.
    public struct Configuration: Sendable {
        /// How long a connection may take to open.
        public var connectTimeout: Duration = .seconds(2)
        /// How long a connection may stay unused in its pool.
        public var idleTimeout: Duration = .seconds(60)
        /// The most connections to one engine from one event loop; more requests wait.
        public var maximumConnectionsPerEngine = 1_024
        /// TLS for `https` engines.
        public var tls: TLSConfiguration = .makeClientConfiguration()

        /// The default settings.
        public init() {}
    }

    /// The settings.
    public let configuration: Configuration
    private let group: MultiThreadedEventLoopGroup
    private let pools: [ObjectIdentifier: NIOLoopBoundBox<_UpstreamPools>]
    /// The TLS context, made on the first call to an `https` engine (or by ``prepareTLS()``):
    /// loading the trust roots costs a client of plain `http` engines nothing.
    private let tls = Mutex<NIOSSLContext?>(nil)

    /// Creates a client over NIO's shared event loops.
    public convenience init(configuration: Configuration = .init()) {
        self.init(configuration: configuration, group: .singleton)
    }

    /// Creates a client over the loops of `group`.
    init(configuration: Configuration, group: MultiThreadedEventLoopGroup) {
        self.configuration = configuration
        self.group = group
        var pools: [ObjectIdentifier: NIOLoopBoundBox<_UpstreamPools>] = [:]
        for loop in group.makeIterator() {
            pools[ObjectIdentifier(loop)] = .makeBoxSendingValue(_UpstreamPools(loop: loop, settings: configuration), eventLoop: loop)
        }
        self.pools = pools
    }

    /// Makes the TLS context for `https` engines now, so that a configuration it cannot use
    /// (an unreadable CA file, say) is found before the first request.
    /// - Throws: NIOSSL's error.
    public func prepareTLS() throws {
        _ = try tlsContext()
    }

    /// The TLS context, made once.
    func tlsContext() throws -> NIOSSLContext {
        try tls.withLock { context in
            if let context { return context }
            let made = try NIOSSLContext(configuration: configuration.tls)
            context = made
            return made
        }
    }

    /// Sends `request` and returns its answer's head and body.
    ///
    /// Runs on the calling task's event loop when it has one (NIO's loops as the concurrency
    /// executor), else on the next loop of the group.
    /// - Throws: ``EngineClientError`` or NIO's error for a failed connection.
    func execute(_ request: _UpstreamRequest) async throws -> _UpstreamResponse {
        let current = MultiThreadedEventLoopGroup.currentEventLoop.flatMap { pools[ObjectIdentifier($0)] }
        guard let bound = current ?? pools[ObjectIdentifier(group.next())] else { throw EngineClientError.shutdown }
        let loop = bound.eventLoop
        /// On the loop: arms the deadline and hands the exchange to its origin's pool (unless
        /// it was cancelled before it started).
        @Sendable func start(_ exchange: _UpstreamExchange) {
            guard !exchange.over else { return }
            exchange.armDeadline(on: loop)
            do {
                try bound.value.pool(for: request.target.origin, tls: self.tlsContext).execute(exchange)
            } catch {
                exchange.fail(error)
            }
        }
        if loop.inEventLoop {
            // The task waits on the exchange itself, resumed from the loop: no promise between.
            // Cancellation may end the exchange before the task begins to wait (the task can
            // be scheduled again on its way into the wait); it then gets that failure at once.
            let exchange = _UpstreamExchange(request: request)
            let x = NIOLoopBound(exchange, eventLoop: loop)
            return try await withTaskCancellationHandler {
                try await withUnsafeThrowingContinuation { continuation in
                    if loop.inEventLoop {
                        x.value.wait(continuation)
                        start(x.value)
                    } else {
                        loop.execute {
                            x.value.wait(continuation)
                            start(x.value)
                        }
                    }
                }
            } onCancel: {
                loop.execute { x.value.fail(EngineClientError.cancelled) }
            }
        }
        let promise = loop.makePromise(of: _UpstreamResponse.self)
        let started = loop.submit {
            let exchange = _UpstreamExchange(request: request, promise: promise)
            start(exchange)
            return NIOLoopBound(exchange, eventLoop: loop)
        }
        return try await withTaskCancellationHandler {
            try await promise.futureResult.get()
        } onCancel: {
            started.whenSuccess { $0.value.fail(EngineClientError.cancelled) }
        }
    }

    /// `GET url` (`body == nil`) or `POST url` with a JSON body, read whole (at most
    /// `maximumBytes`) within `timeout`: its status and body.
    func call(_ url: String, body: ByteBuffer? = nil, timeout: Duration, maximumBytes: Int) async throws -> (status: Int, body: ByteBuffer)
    {
        var request = _UpstreamRequest(
            target: try _UpstreamTarget(url: url), deadline: .now() + TimeAmount(timeout), wholeUpTo: maximumBytes)
        if let body {
            request.method = .POST
            request.headers.add(name: "content-type", value: "application/json")
            request.body = body
        } else {
            request.method = .GET
        }
        let response = try await execute(request)
        return (Int(response.status.code), try await response.collect(upTo: maximumBytes))
    }

    /// Closes idle connections and fails waiting requests; a request in flight ends as its
    /// exchange does. Later calls fail with a shutdown error.
    public func shutdown() async {
        for bound in pools.values {
            try? await bound.eventLoop.submit { bound.value.shutdown() }.get()
        }
    }

    /// Connections open per engine, summed over loops (for tests).
    func openConnections() async -> [String: Int] {
        var all: [String: Int] = [:]
        for bound in pools.values {
            let counts = (try? await bound.eventLoop.submit { bound.value.openCounts() }.get()) ?? [:]
            all.merge(counts, uniquingKeysWith: +)
        }
        return all
    }
}

/// One event loop's pools, by engine.
final class _UpstreamPools {
    let loop: any EventLoop
    let settings: EngineClient.Configuration
    private var byOrigin: [_UpstreamOrigin: _UpstreamPool] = [:]
    private var isShutdown = false

    init(loop: any EventLoop, settings: EngineClient.Configuration) {
        self.loop = loop
        self.settings = settings
    }

    /// `origin`'s pool, made on first use.
    /// - Complexity: O(1), one hash of the origin.
    /// - Throws: `tls`'s error, for an `https` origin whose TLS context cannot be made.
    func pool(for origin: _UpstreamOrigin, tls: () throws -> NIOSSLContext) throws -> _UpstreamPool {
        if let p = byOrigin[origin] { return p }
        let p = _UpstreamPool(origin: origin, loop: loop, settings: settings, tls: origin.tls ? try tls() : nil)
        if isShutdown { p.shutdown() }
        byOrigin[origin] = p
        return p
    }

    func shutdown() {
        isShutdown = true
        for p in byOrigin.values { p.shutdown() }
    }

    func openCounts() -> [String: Int] {
        var counts: [String: Int] = [:]
        for (origin, p) in byOrigin { counts[origin.description] = p.open }
        return counts
    }
}
