import NIOCore
import NIOHTTP1

/// One exchange with an engine: the caller's request, where its answer's head (or whole
/// answer) goes, and its deadline. Confined to its pool's event loop.
///
/// The exchange is its own deadline's callback handler, so arming the deadline allocates no
/// promise or closure.
final class _UpstreamExchange: NIOScheduledCallbackHandler {
    /// Where the answer's head goes: the waiting task itself when it waits on the exchange's
    /// loop (no promise, and no callback on its future, per request), else a promise.
    enum Reply {
        /// No one waits yet.
        case none
        /// The exchange ended before its task began to wait (cancelled on the way): the task
        /// gets this as soon as it does.
        case early(Result<_UpstreamResponse, any Error>)
        case task(UnsafeContinuation<_UpstreamResponse, any Error>)
        case promise(EventLoopPromise<_UpstreamResponse>)
        /// Given.
        case given
    }

    let request: _UpstreamRequest
    private var reply: Reply
    /// The armed deadline, until the exchange is over.
    var deadline: NIOScheduledCallback?
    /// The connection carrying it, once it has one.
    var connection: _UpstreamConnection?
    /// The reply is given: the caller has its answer's head, or a failure.
    var answered = false
    /// The exchange is over: its answer ended, or it failed.
    var over = false
    /// Connections tried: a pooled connection found closed when the request was written is
    /// replaced once by a new one.
    var attempts = 0
    /// A held answer's consumer has taken it (as a sink or as a stream), or dropped it.
    var taken = false
    /// A held answer's stream, made when the answer ended or failed before its consumer asked.
    var unclaimed: _UpstreamBody?

    init(request: _UpstreamRequest, promise: EventLoopPromise<_UpstreamResponse>? = nil) {
        self.request = request
        self.reply = promise.map { .promise($0) } ?? .none
    }

    /// The waiting task: resumed with the answer's head or the failure, at once if the
    /// exchange has already ended.
    func wait(_ continuation: UnsafeContinuation<_UpstreamResponse, any Error>) {
        if case .early(let result) = reply {
            reply = .given
            continuation.resume(with: result)
        } else {
            reply = .task(continuation)
        }
    }

    /// Gives the answer's head or the failure, once.
    private func complete(_ result: Result<_UpstreamResponse, any Error>) {
        switch reply {
        case .none: reply = .early(result)
        case .task(let continuation):
            reply = .given
            continuation.resume(with: result)
        case .promise(let promise):
            reply = .given
            promise.completeWith(result)
        case .early, .given: break
        }
    }

    /// Arms the request's deadline on `loop`, the exchange's loop; past it the exchange fails
    /// with ``EngineClientError/deadlineExceeded``. A loop shutting down fails it at once.
    func armDeadline(on loop: any EventLoop) {
        do { deadline = try loop.assumeIsolatedUnsafeUnchecked().scheduleCallback(at: request.deadline, handler: self) } catch {
            fail(error)
        }
    }

    func handleScheduledCallback(eventLoop: some EventLoop) {
        deadline = nil
        fail(EngineClientError.deadlineExceeded)
    }

    func answer(_ response: _UpstreamResponse) {
        guard !answered else { return }
        answered = true
        complete(.success(response))
    }

    /// Ends the exchange with `error`: the caller gets the failure if it has no answer yet, and the
    /// connection (if any) is closed, since its state mid-exchange is unknown.
    func fail(_ error: any Error) {
        guard !over else { return }
        over = true
        deadline?.cancel()
        deadline = nil
        if !answered {
            answered = true
            complete(.failure(error))
        }
        connection?.abort(self, error)
    }

    /// The answer ended: the deadline no longer applies.
    func finish() {
        over = true
        deadline?.cancel()
        deadline = nil
    }
}

/// The handler at the end of a connection to an engine: writes one request at a time and
/// turns the answer into an ``_UpstreamResponse``, then goes back to its pool when the engine
/// keeps the connection alive.
///
/// A streamed body goes to an async sequence, or, when a consumer on this loop takes a held
/// answer (``attach(_:for:)``), straight to that sink as each read completes. Either way it is
/// backpressured: while the consumer is behind (the producer said stop, or the sink said
/// later), or has not yet chosen past ``heldBytes``, the handler holds the channel's `read`,
/// so the engine's bytes stay in the kernel and the engine's own writes stall.
final class _UpstreamConnection: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    private enum State {
        /// In the pool, or between exchanges.
        case idle
        /// The request is written; no answer byte yet.
        case awaitingHead(_UpstreamExchange)
        /// An answer of known, small length being read whole: its first part as it came (most
        /// answers are one), the later ones appended to a copy of it.
        case collecting(_UpstreamExchange, HTTPResponseHead, ByteBuffer?)
        /// An answer being streamed to the consumer; `pending` is what this read brought.
        case streaming(_UpstreamExchange, _UpstreamBody.Source, pending: ByteBuffer?)
        /// A held answer (``_UpstreamRequest/holdsStream``) waiting for its consumer to take it
        /// as a sink or a stream; `pending` is all it has read so far.
        case holding(_UpstreamExchange, pending: ByteBuffer?)
        /// An answer handed to a sink on this loop as it is read (``attach(_:for:)``).
        case relaying(_UpstreamExchange, any _UpstreamSink, pending: ByteBuffer?)
        case closed

        /// The exchange whose answer is being read, once its head has come.
        var exchange: _UpstreamExchange? {
            switch self {
            case .collecting(let x, _, _), .streaming(let x, _, _), .holding(let x, _), .relaying(let x, _, _): x
            case .idle, .awaitingHead, .closed: nil
            }
        }
    }

    weak var pool: _UpstreamPool?
    private var state = State.idle
    private var context: ChannelHandlerContext?
    /// Exchanges this connection has carried to their end.
    private(set) var served = 0
    private var keepAlive = true
    /// The consumer said stop: `read` waits until it asks for more.
    private var paused = false
    private var heldRead = false
    /// The pool was told this connection is gone.
    private var leftPool = false
    /// When the connection last went idle in the pool.
    var idleSince = NIODeadline.distantPast
    /// What a held answer reads before it holds its reads for its consumer's choice.
    static let heldBytes = 256 << 10

    init(pool: _UpstreamPool) { self.pool = pool }

    var isActive: Bool { context?.channel.isActive ?? false }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    /// Closes the channel.
    func closeChannel() { context?.close(promise: nil) }

    // MARK: Requests

    /// Writes `exchange`'s request: head, body and end in one flush, so one `writev`.
    func start(_ exchange: _UpstreamExchange) {
        guard case .idle = state, let context, context.channel.isActive else {
            pool?.retryOrFail(exchange, EngineClientError.connectionClosed(beforeResponse: true), reused: served > 0)
            return
        }
        exchange.connection = self
        exchange.attempts += 1
        paused = false
        state = .awaitingHead(exchange)
        let r = exchange.request
        var headers = r.headers
        if !headers.contains(name: "host") { headers.add(name: "host", value: r.target.origin.hostHeader) }
        if let body = r.body, !headers.contains(name: "content-length") {
            headers.add(name: "content-length", value: String(body.readableBytes))
        }
        context.write(
            wrapOutboundOut(.head(HTTPRequestHead(version: .http1_1, method: r.method, uri: r.target.path, headers: headers))), promise: nil
        )
        if let body = r.body, body.readableBytes > 0 { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    /// Ends `exchange` on this connection with `error`: the stream (if any) fails and the
    /// connection closes.
    func abort(_ exchange: _UpstreamExchange, _ error: any Error) {
        switch state {
        case .awaitingHead(let x) where x === exchange, .collecting(let x, _, _) where x === exchange:
            state = .closed
        case .streaming(let x, let source, _) where x === exchange:
            state = .closed
            source.finish(error)
        case .holding(let x, _) where x === exchange:
            state = .closed
            if !x.taken { x.unclaimed = Self.finishedStream(nil, error: error) }
        case .relaying(let x, let sink, _) where x === exchange:
            state = .closed
            sink.end(error)
        default: return
        }
        context?.close(promise: nil)
    }

    /// Hands `exchange`'s held answer to `sink`: what was read so far now, the rest as it is
    /// read.
    /// - Returns: Whether `sink` has the answer (not when the answer is no longer held here).
    func attach(_ sink: any _UpstreamSink, for exchange: _UpstreamExchange) -> Bool {
        guard case .holding(let x, let pending) = state, x === exchange else { return false }
        exchange.taken = true
        state = .relaying(exchange, sink, pending: nil)
        paused = false
        if let pending { deliver(pending, to: sink, exchange) }
        resumeReads()
        return true
    }

    /// `exchange`'s held answer as a stream, made now: what was read so far first, the rest as
    /// it is read.
    /// - Returns: `nil` when the answer is no longer held here.
    func stream(for exchange: _UpstreamExchange) -> _UpstreamBody? {
        guard case .holding(let x, let pending) = state, x === exchange, let context else { return nil }
        let made = Self.makeStream(exchange, on: context.eventLoop)
        state = .streaming(exchange, made.source, pending: nil)
        paused = false
        if let pending { yield(pending, to: made.source, exchange) }
        resumeReads()
        return made.sequence
    }

    /// An async sequence for `exchange`'s streamed answer, fed from this loop.
    private static func makeStream(_ exchange: _UpstreamExchange, on loop: any EventLoop) -> _UpstreamBody.NewSequence {
        _UpstreamBody.makeSequence(
            backPressureStrategy: .init(lowWatermark: 2, highWatermark: 8), finishOnDeinit: false,
            delegate: _UpstreamBodyDelegate(exchange: NIOLoopBound(exchange, eventLoop: loop)))
    }

    /// A stream that is already over: `part` (if any), then its end or `error`.
    static func finishedStream(_ part: ByteBuffer?, error: (any Error)?) -> _UpstreamBody {
        let made = _UpstreamBody.makeSequence(
            backPressureStrategy: .init(lowWatermark: 2, highWatermark: 8), finishOnDeinit: false,
            delegate: _UpstreamBodyDelegate(exchange: nil))
        if let part { _ = made.source.yield(part) }
        if let error { made.source.finish(error) } else { made.source.finish() }
        return made.sequence
    }

    /// Reads again if a read waits and nothing holds it.
    private func resumeReads() {
        if !paused, heldRead, let context {
            heldRead = false
            context.read()
        }
    }

    private func yield(_ part: ByteBuffer, to source: _UpstreamBody.Source, _ exchange: _UpstreamExchange) {
        switch source.yield(part) {
        case .produceMore: break
        case .stopProducing: paused = true
        case .dropped: consumerLeft(exchange)
        }
    }

    private func deliver(_ part: ByteBuffer, to sink: any _UpstreamSink, _ exchange: _UpstreamExchange) {
        switch sink.receive(part) {
        case .now: break
        case .later: paused = true
        case .never: sinkLeft(exchange)
        }
    }

    // MARK: Answers

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            guard case .awaitingHead(let exchange) = state else { return unexpected(context, "a response nobody asked for") }
            // An interim answer (100 Continue, 103 Early Hints) precedes the real one.
            if (100..<200).contains(head.status.code), head.status != .switchingProtocols { return }
            keepAlive = head.isKeepAlive
            let length = head.headers.first(name: "content-length").flatMap { Int($0) }
            if let limit = exchange.request.wholeUpTo, let length, (0...limit).contains(length),
                !head.headers.contains(name: "transfer-encoding")
            {
                state = .collecting(exchange, head, nil)
                return
            }
            let bound = NIOLoopBound(exchange, eventLoop: context.eventLoop)
            let body: _UpstreamResponse.Body
            if exchange.request.holdsStream {
                state = .holding(exchange, pending: nil)
                body = .held(_HeldBody(bound))
            } else {
                let made = Self.makeStream(exchange, on: context.eventLoop)
                state = .streaming(exchange, made.source, pending: nil)
                body = .stream(made.sequence)
            }
            exchange.answer(_UpstreamResponse(status: head.status, headers: head.headers, body: body, exchange: bound))
        case .body(var part):
            switch state {
            case .collecting(let exchange, let head, var body):
                state = .idle  // the buffer's only reference is `body` now: appending copies nothing
                Self.append(&part, to: &body)
                state = .collecting(exchange, head, body)
            case .streaming(let exchange, let source, var pending):
                state = .idle
                Self.append(&part, to: &pending)
                state = .streaming(exchange, source, pending: pending)
            case .holding(let exchange, var pending):
                state = .idle
                Self.append(&part, to: &pending)
                state = .holding(exchange, pending: pending)
            case .relaying(let exchange, let sink, var pending):
                state = .idle
                Self.append(&part, to: &pending)
                state = .relaying(exchange, sink, pending: pending)
            default: unexpected(context, "a body part outside an answer")
            }
        case .end:
            let answer = state
            guard let exchange = answer.exchange else { return unexpected(context, "an answer's end outside an answer") }
            state = .idle
            exchange.connection = nil
            exchange.finish()
            switch answer {
            case .collecting(_, let head, let body):
                exchange.answer(_UpstreamResponse(status: head.status, headers: head.headers, body: .whole(body ?? ByteBuffer())))
            case .streaming(_, let source, let pending):
                if let pending { _ = source.yield(pending) }
                source.finish()
            case .holding(_, let pending):
                // the whole answer is read before its consumer asked: it waits, whole, in a stream
                if !exchange.taken { exchange.unclaimed = Self.finishedStream(pending, error: nil) }
            case .relaying(_, let sink, let pending):
                // the whole answer is read: the connection is reusable whatever the sink does
                if let pending { _ = sink.receive(pending) }
                sink.end(nil)
            case .idle, .awaitingHead, .closed: break
            }
            exchangeEnded(context)
        }
    }

    /// Adds `part` to what a read has brought so far: the first part as it came (most reads
    /// bring one), later ones copied onto it.
    private static func append(_ part: inout ByteBuffer, to earlier: inout ByteBuffer?) {
        if earlier == nil { earlier = part } else { earlier!.writeBuffer(&part) }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        switch state {
        case .streaming(let exchange, let source, let pending?):
            state = .streaming(exchange, source, pending: nil)
            yield(pending, to: source, exchange)
        case .holding(_, let pending?) where pending.readableBytes > Self.heldBytes:
            // enough waits for the consumer's choice: no more reads until it takes the answer
            paused = true
        case .relaying(let exchange, let sink, let pending?):
            state = .relaying(exchange, sink, pending: nil)
            deliver(pending, to: sink, exchange)
        default: return
        }
    }

    private func exchangeEnded(_ context: ChannelHandlerContext) {
        served += 1
        paused = false
        if keepAlive, context.channel.isActive {
            pool?.release(self)
        } else {
            state = .closed
            context.close(promise: nil)
        }
        if heldRead {
            heldRead = false
            context.read()
        }
    }

    private func unexpected(_ context: ChannelHandlerContext, _ what: String) {
        fail(context, EngineClientError.invalidResponse("the engine sent \(what)"))
    }

    // MARK: Backpressure

    func read(context: ChannelHandlerContext) {
        if paused {
            heldRead = true
        } else {
            context.read()
        }
    }

    /// The consumer of `exchange`'s streamed body is ready for more.
    func consumerWantsMore(_ exchange: _UpstreamExchange) {
        switch state {
        case .streaming(let x, _, _) where x === exchange, .relaying(let x, _, _) where x === exchange: break
        default: return
        }
        paused = false
        if heldRead, let context {
            heldRead = false
            context.read()
        }
    }

    /// The consumer of the streamed body stopped reading it (its client went away): the rest
    /// of the answer will not be read, so the connection cannot be reused.
    func consumerLeft(_ exchange: _UpstreamExchange) {
        switch state {
        case .streaming(let x, let source, _) where x === exchange:
            source.finish()
        case .holding(let x, _) where x === exchange: break
        default: return
        }
        state = .closed
        exchange.finish()
        context?.close(promise: nil)
    }

    /// The sink of `exchange`'s answer stopped taking it (its client went away): as
    /// ``consumerLeft(_:)``, the connection cannot be reused.
    private func sinkLeft(_ exchange: _UpstreamExchange) {
        guard case .relaying(let x, let sink, _) = state, x === exchange else { return }
        state = .closed
        exchange.finish()
        sink.end(EngineClientError.cancelled)
        context?.close(promise: nil)
    }

    // MARK: Failures

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(context, error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        let before: Bool
        switch state {
        case .awaitingHead: before = true
        default: before = false
        }
        fail(context, EngineClientError.connectionClosed(beforeResponse: before))
        if !leftPool {
            leftPool = true
            pool?.closed(self)
        }
        context.fireChannelInactive()
    }

    /// The connection is unusable: the exchange on it fails (or, when it was written to a
    /// pooled connection the engine had already closed, is tried once on a new one).
    private func fail(_ context: ChannelHandlerContext, _ error: any Error) {
        let previous = state
        state = .closed
        switch previous {
        case .awaitingHead(let exchange):
            exchange.connection = nil
            let stale =
                (error as? EngineClientError) == EngineClientError.connectionClosed(beforeResponse: true) || Gateway.isUnreachable(error)
            if stale, let pool {
                pool.retryOrFail(exchange, error, reused: served > 0)
            } else {
                exchange.fail(error)
            }
        case .collecting(let exchange, _, _):
            exchange.connection = nil
            exchange.fail(error)
        case .streaming(let exchange, let source, _):
            exchange.connection = nil
            source.finish(error)
            exchange.fail(error)
        case .holding(let exchange, _):
            exchange.connection = nil
            if !exchange.taken { exchange.unclaimed = Self.finishedStream(nil, error: error) }
            exchange.fail(error)
        case .relaying(let exchange, let sink, _):
            exchange.connection = nil
            sink.end(error)
            exchange.fail(error)
        case .idle, .closed: break
        }
        if context.channel.isActive { context.close(promise: nil) }
    }
}
