import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// The keep-alive connections of one event loop to one engine, and the requests waiting for
/// one. Confined to its loop.
///
/// A request takes the most recently used idle connection (the likeliest to be alive), else a
/// new one while fewer than ``maximumConnections`` are open, else waits in line. A connection
/// the engine closes, or that has been idle for ``idleTimeout``, leaves the pool at once.
///
/// Idle connections sit in the order they went idle, so one timer per pool, set for the
/// oldest's time, closes them all as they expire: a request that takes and returns a
/// connection schedules and cancels nothing.
final class _UpstreamPool {
    let origin: _UpstreamOrigin
    let loop: any EventLoop
    let settings: EngineClient.Configuration
    let tls: NIOSSLContext?
    private var idle: [_UpstreamConnection] = []
    /// Connections open or opening.
    private(set) var open = 0
    private var waiting = CircularBuffer<_UpstreamExchange>()
    private var isShutdown = false
    /// Closes the oldest idle connection when its idle time is up (nil: none is idle).
    private var idleSweep: Scheduled<Void>?

    init(origin: _UpstreamOrigin, loop: any EventLoop, settings: EngineClient.Configuration, tls: NIOSSLContext?) {
        self.origin = origin
        self.loop = loop
        self.settings = settings
        self.tls = tls
    }

    /// Idle connections (for tests and shutdown).
    var idleCount: Int { idle.count }

    /// Sends `exchange` on a connection: an idle one, a new one, or the next to come free.
    func execute(_ exchange: _UpstreamExchange) {
        guard !exchange.over else { return }
        guard !isShutdown else { return exchange.fail(EngineClientError.shutdown) }
        while let c = idle.popLast() {
            if c.isActive { return c.start(exchange) }
        }
        if open < settings.maximumConnectionsPerEngine {
            connect(for: exchange)
        } else {
            waiting.append(exchange)
        }
    }

    /// `exchange` failed on a connection before any answer byte: on a pooled connection the
    /// engine had closed (a keep-alive race) it is tried once more on a new connection;
    /// otherwise it fails.
    func retryOrFail(_ exchange: _UpstreamExchange, _ error: any Error, reused: Bool) {
        if reused, exchange.attempts < 2, !exchange.over, !isShutdown {
            if open < settings.maximumConnectionsPerEngine { connect(for: exchange) } else { waiting.prepend(exchange) }
        } else {
            exchange.fail(error)
        }
    }

    /// `connection` finished an exchange and the engine keeps it alive.
    func release(_ connection: _UpstreamConnection) {
        while let next = waiting.popFirst() {
            if !next.over { return connection.start(next) }
        }
        guard !isShutdown else { return connection.closeIdle() }
        connection.idleSince = .now()
        idle.append(connection)
        scheduleIdleSweep()
    }

    /// Sets the timer for the oldest idle connection, unless one is set.
    private func scheduleIdleSweep() {
        guard idleSweep == nil, let oldest = idle.first else { return }
        let pool = NIOLoopBound(self, eventLoop: loop)
        idleSweep = loop.scheduleTask(deadline: oldest.idleSince + TimeAmount(settings.idleTimeout)) { pool.value.sweepIdle() }
    }

    /// Closes the connections whose idle time is up, then sets the timer for the next.
    private func sweepIdle() {
        idleSweep = nil
        let expired = NIODeadline.now() - TimeAmount(settings.idleTimeout)
        var closing = 0
        while closing < idle.count, idle[closing].idleSince <= expired { closing += 1 }
        // out of the pool before they close: a close may call `closed(_:)` at once, which
        // must not find them in `idle`
        let done = idle[..<closing]
        idle.removeFirst(closing)
        for c in done { c.closeIdle() }
        scheduleIdleSweep()
    }

    /// `connection` is closed: it leaves the pool, and a waiting request gets a new one.
    func closed(_ connection: _UpstreamConnection) {
        open -= 1
        if let i = idle.firstIndex(where: { $0 === connection }) { idle.remove(at: i) }
        while let next = waiting.first, next.over { waiting.removeFirst() }
        if let next = waiting.popFirst() { connect(for: next) }
    }

    /// Fails the waiting requests and closes the idle connections; busy ones close as their
    /// exchanges end.
    func shutdown() {
        isShutdown = true
        idleSweep?.cancel()
        idleSweep = nil
        while let next = waiting.popFirst() { next.fail(EngineClientError.shutdown) }
        for c in idle { c.closeIdle() }
        idle.removeAll()
    }

    private func connect(for exchange: _UpstreamExchange) {
        open += 1
        // The bootstrap runs its closures on `loop`, where these references belong.
        let connection = NIOLoopBound(_UpstreamConnection(pool: self), eventLoop: loop)
        let pool = NIOLoopBound(self, eventLoop: loop)
        let pending = NIOLoopBound(exchange, eventLoop: loop)
        let origin = origin
        let tls = tls
        ClientBootstrap(group: loop)
            .connectTimeout(TimeAmount(settings.connectTimeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                do {
                    let sync = channel.pipeline.syncOperations
                    if let tls {
                        let name = origin.host.contains(":") || origin.host.allSatisfy({ $0.isNumber || $0 == "." }) ? nil : origin.host
                        try sync.addHandler(NIOSSLClientHandler(context: tls, serverHostname: name))
                    }
                    try sync.addHTTPClientHandlers(leftOverBytesStrategy: .fireError)
                    try sync.addHandler(connection.value)
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
            .connect(host: origin.host, port: origin.port)
            .whenComplete { result in
                switch result {
                case .success:
                    connection.value.start(pending.value)
                case .failure(let error):
                    pool.value.connectFailed(pending.value, error)
                }
            }
    }
}

extension _UpstreamPool {
    private func connectFailed(_ exchange: _UpstreamExchange, _ error: any Error) {
        open -= 1
        if let e = error as? ChannelError, case .connectTimeout = e {
            exchange.fail(EngineClientError.connectTimeout)
        } else {
            exchange.fail(error)
        }
        if let next = waiting.popFirst() { execute(next) }
    }
}

extension _UpstreamConnection {
    /// Closes an idle connection (its idle time is up, or the pool shuts down).
    func closeIdle() {
        guard isActive else { return }
        closeChannel()
    }
}
