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
    /// A streamed answer's first reads wait in the connection (up to
    /// ``_UpstreamConnection/heldBytes``) until its consumer either takes the body as it is
    /// read (``_UpstreamConnection/attach(_:for:)``) or asks for the stream
    /// (``_UpstreamResponse/release()``), which it must do before reading the stream.
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
    }
    var status: HTTPResponseStatus
    var headers: HTTPHeaders
    var body: Body
    /// The exchange a streamed body comes from, on its connection's event loop: a consumer on
    /// that loop may take the body as it is read instead (``_UpstreamConnection/attach(_:for:)``).
    var exchange: NIOLoopBound<_UpstreamExchange>? = nil

    /// Lets a held stream (``_UpstreamRequest/holdsStream``) go to its async sequence: what
    /// the connection holds is yielded, and the rest as it is read.
    func release() async {
        guard let x = exchange else { return }
        if x.eventLoop.inEventLoop {
            x.value.connection?.release(x.value)
        } else {
            try? await x.eventLoop.submit { x.value.connection?.release(x.value) }.get()
        }
    }

    /// The whole body, at most `limit` bytes: read now when it was streamed.
    /// - Throws: ``EngineClientError/answerTooLarge(_:)`` past `limit`, or the stream's failure.
    func collect(upTo limit: Int) async throws -> ByteBuffer {
        switch body {
        case .whole(let b):
            guard b.readableBytes <= limit else { throw EngineClientError.answerTooLarge(limit) }
            return b
        case .stream(let s):
            await release()
            var all = ByteBuffer()
            for try await var chunk in s {
                guard all.readableBytes + chunk.readableBytes <= limit else { throw EngineClientError.answerTooLarge(limit) }
                all.writeBuffer(&chunk)
            }
            return all
        }
    }
}

/// The body of a streamed answer. Each element is what one read of the engine's socket
/// brought (several body parts merged), so a consumer writes it on with one flush.
typealias _UpstreamBody = NIOThrowingAsyncSequenceProducer<
    ByteBuffer, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, _UpstreamBodyDelegate
>

/// Tells the connection that carries a streamed body when its consumer wants more, or has gone.
struct _UpstreamBodyDelegate: NIOAsyncSequenceProducerDelegate {
    let exchange: NIOLoopBound<_UpstreamExchange>

    func produceMore() {
        let x = exchange
        if x.eventLoop.inEventLoop {
            x.value.connection?.consumerWantsMore(x.value)
        } else {
            x.eventLoop.execute { x.value.connection?.consumerWantsMore(x.value) }
        }
    }

    func didTerminate() {
        let x = exchange
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
