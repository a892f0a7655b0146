import NIOCore
import NIOHTTP1

/// Why a call through ``EngineClient`` failed (besides NIO's and NIOSSL's own errors for a
/// connection that could not be made or secured).
public enum EngineClientError: Error, Hashable, CustomStringConvertible {
    /// The URL is not `http://` or `https://` with a host.
    case invalidURL(String)
    /// No connection within the connect timeout.
    case connectTimeout
    /// The answer did not end by the request's deadline.
    case deadlineExceeded
    /// The engine closed the connection before its answer ended; `beforeResponse` when no
    /// byte of the answer had arrived.
    case connectionClosed(beforeResponse: Bool)
    /// The engine's bytes are not an HTTP/1.1 response.
    case invalidResponse(String)
    /// An answer read whole was longer than the caller allows.
    case answerTooLarge(Int)
    /// The client is shut down.
    case shutdown
    /// The caller gave up (its task was cancelled).
    case cancelled

    public var description: String {
        switch self {
        case .invalidURL(let u): return "'\(u)' is not an http:// or https:// URL with a host"
        case .connectTimeout: return "no connection within the connect timeout"
        case .deadlineExceeded: return "no complete answer by the request's deadline"
        case .connectionClosed(let before):
            return before ? "the engine closed the connection before answering" : "the engine closed the connection mid-answer"
        case .invalidResponse(let why): return "not an HTTP/1.1 answer (\(why))"
        case .answerTooLarge(let limit): return "the answer is longer than \(limit) bytes"
        case .shutdown: return "the client is shut down"
        case .cancelled: return "cancelled"
        }
    }
}

/// One request to an engine: written in one write (head, body and end, then a single flush).
struct _UpstreamRequest: Sendable {
    var target: _UpstreamTarget
    var method: HTTPMethod = .POST
    /// The headers; the client adds `host` and `content-length` when they are not among them
    /// (a caller that gives them spares the client a copy of the list per request).
    var headers: HTTPHeaders = [:]
    var body: ByteBuffer?
    /// When the whole exchange must be over: connect, answer and its last byte.
    var deadline: NIODeadline
    /// Answers that say their length and are at most this long are read whole and delivered
    /// at once (``_UpstreamResponse/Body/whole(_:)``); others are streamed. `nil`: always stream.
    var wholeUpTo: Int?
    /// A streamed answer waits in its connection (its reads held past
    /// ``_UpstreamConnection/heldBytes``) until its consumer either takes the body as it is
    /// read (``_UpstreamConnection/attach(_:for:)``) or asks for the stream
    /// (``_UpstreamResponse/stream()``): its body is ``_UpstreamResponse/Body/held(_:)``, and
    /// no async sequence is made for an answer a sink takes.
    var holdsStream = false
}

/// An engine's answer: its head as it arrived and its body, whole or as a stream.
struct _UpstreamResponse: Sendable {
    enum Body: Sendable {
        /// The whole body, already read.
        case whole(ByteBuffer)
        /// The body as it arrives, with backpressure: the engine's socket is not read while
        /// the consumer is behind.
        case stream(_UpstreamBody)
        /// A streamed body waiting in its connection for the consumer's choice
        /// (``_UpstreamRequest/holdsStream``).
        case held(_HeldBody)
    }
    var status: HTTPResponseStatus
    var headers: HTTPHeaders
    var body: Body
    /// The exchange a streamed body comes from, on its connection's event loop: a consumer on
    /// that loop may take a held body as it is read instead (``_UpstreamConnection/attach(_:for:)``).
    var exchange: NIOLoopBound<_UpstreamExchange>? = nil

    /// The body as a stream (a held one's made now; a whole one's in one element).
    func stream() async -> _UpstreamBody {
        switch body {
        case .whole(let b): return _UpstreamConnection.finishedStream(b, error: nil)
        case .stream(let s): return s
        case .held(let h): return await h.stream()
        }
    }

    /// The whole body, at most `limit` bytes: read now when it was streamed.
    /// - Throws: ``EngineClientError/answerTooLarge(_:)`` past `limit`, or the stream's failure.
    func collect(upTo limit: Int) async throws -> ByteBuffer {
        if case .whole(let b) = body {
            guard b.readableBytes <= limit else { throw EngineClientError.answerTooLarge(limit) }
            return b
        }
        var all = ByteBuffer()
        for try await var chunk in await stream() {
            guard all.readableBytes + chunk.readableBytes <= limit else { throw EngineClientError.answerTooLarge(limit) }
            all.writeBuffer(&chunk)
        }
        return all
    }
}

/// A streamed answer held in its connection until its consumer takes it: as a sink on the
/// connection's loop (``_UpstreamConnection/attach(_:for:)``), or as a stream
/// (``stream()``). Dropped untaken (its request ended without reading it), it tells the
/// connection so, which then closes: the rest of the answer will not be read.
final class _HeldBody: Sendable {
    let exchange: NIOLoopBound<_UpstreamExchange>

    init(_ exchange: NIOLoopBound<_UpstreamExchange>) { self.exchange = exchange }

    /// The answer as a stream, with what the connection held first.
    func stream() async -> _UpstreamBody {
        let x = exchange
        if x.eventLoop.inEventLoop { return Self.take(x.value) }
        do {
            return try await x.eventLoop.submit { Self.take(x.value) }.get()
        } catch {
            return _UpstreamConnection.finishedStream(nil, error: error)
        }
    }

    /// On the loop: the connection's stream for `exchange`, or the one it left when the
    /// answer ended (or failed) before anyone asked.
    private static func take(_ exchange: _UpstreamExchange) -> _UpstreamBody {
        exchange.taken = true
        if let made = exchange.connection?.stream(for: exchange) { return made }
        if let left = exchange.unclaimed {
            exchange.unclaimed = nil
            return left
        }
        return _UpstreamConnection.finishedStream(nil, error: EngineClientError.connectionClosed(beforeResponse: false))
    }

    deinit {
        let x = exchange
        if x.eventLoop.inEventLoop {
            Self.dropped(x.value)
        } else {
            x.eventLoop.execute { Self.dropped(x.value) }
        }
    }

    private static func dropped(_ exchange: _UpstreamExchange) {
        guard !exchange.taken else { return }
        exchange.taken = true
        exchange.unclaimed = nil
        exchange.connection?.consumerLeft(exchange)
    }
}

/// The body of a streamed answer. Each element is what one read of the engine's socket
/// brought (several body parts merged), so a consumer writes it on with one flush.
typealias _UpstreamBody = NIOThrowingAsyncSequenceProducer<
    ByteBuffer, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, _UpstreamBodyDelegate
>

/// Tells the connection that carries a streamed body when its consumer wants more, or has gone
/// (nothing, for a stream that was over when it was made).
struct _UpstreamBodyDelegate: NIOAsyncSequenceProducerDelegate {
    let exchange: NIOLoopBound<_UpstreamExchange>?

    func produceMore() {
        guard let x = exchange else { return }
        if x.eventLoop.inEventLoop {
            x.value.connection?.consumerWantsMore(x.value)
        } else {
            x.eventLoop.execute { x.value.connection?.consumerWantsMore(x.value) }
        }
    }

    func didTerminate() {
        guard let x = exchange else { return }
        x.eventLoop.execute { x.value.connection?.consumerLeft(x.value) }
    }
}

/// Where a streamed body goes when a consumer on its connection's event loop takes it as it is
/// read (``_UpstreamConnection/attach(_:for:)``), with no task between the two sockets. Called
/// on that loop only.
protocol _UpstreamSink: AnyObject {
    /// What one read of the engine's socket brought. Returns whether to read on now: on
    /// ``_UpstreamSinkDemand/later`` the connection holds its reads until the sink calls
    /// ``_UpstreamConnection/consumerWantsMore(_:)``; on ``_UpstreamSinkDemand/never`` (the
    /// sink's own client went away) it closes, since the rest of the answer will not be read.
    func receive(_ part: ByteBuffer) -> _UpstreamSinkDemand
    /// The body ended (`nil`) or failed; called once, and nothing is received after it.
    func end(_ error: (any Error)?)
}

/// What an ``_UpstreamSink`` wants after a part.
enum _UpstreamSinkDemand {
    case now, later, never
}
