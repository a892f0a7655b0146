import NIOCore
import NIOHTTP1

extension EngineClient {
    /// An engine's answer: its status and headers as they arrived, and its body.
    public struct Response: Sendable {
        /// The status.
        public let status: HTTPResponseStatus
        /// The headers, as the engine sent them.
        public let headers: HTTPHeaders
        /// The body: read whole already, or arriving.
        public let body: ResponseBody
    }

    /// An answer's body: one buffer when it was read whole, else the buffers as they arrive,
    /// one per read of the engine's socket. While its reader is behind, the engine's socket is
    /// not read.
    public struct ResponseBody: AsyncSequence, Sendable {
        public typealias Element = ByteBuffer
        let storage: _UpstreamResponse.Body

        /// The whole body, when it was read at once (a short answer that said its length).
        public var whole: ByteBuffer? {
            if case .whole(let b) = storage { return b }
            return nil
        }

        /// Reads the body's buffers in order.
        public struct AsyncIterator: AsyncIteratorProtocol {
            var whole: ByteBuffer?
            var stream: _UpstreamBody.AsyncIterator?
            /// A held body, taken as a stream at the first `next()`.
            var held: _HeldBody?

            public mutating func next() async throws -> ByteBuffer? {
                if let w = whole {
                    whole = nil
                    return w
                }
                if let h = held {
                    held = nil
                    stream = await h.stream().makeAsyncIterator()
                }
                return try await stream?.next()
            }
        }

        public func makeAsyncIterator() -> AsyncIterator {
            switch storage {
            case .whole(let b): return AsyncIterator(whole: b, stream: nil)
            case .stream(let s): return AsyncIterator(whole: nil, stream: s.makeAsyncIterator())
            case .held(let h): return AsyncIterator(whole: nil, stream: nil, held: h)
            }
        }
    }

    /// Sends one request to an engine and returns its answer once the answer's head has
    /// arrived (or, for a short answer of known length, once all of it has).
    ///
    /// - Parameters:
    ///   - url: The engine's URL, `http://` or `https://`.
    ///   - method: The method (`POST` by default).
    ///   - headers: Headers to send besides `host` and `content-length`, which the client sets.
    ///   - body: The request body, written with the head in one `writev`.
    ///   - timeout: How long the whole exchange may take, through the answer's last byte.
    ///   - readWholeUpTo: Answers that say their length and are at most this many bytes are
    ///     read whole before this returns; `nil` streams every answer.
    /// - Throws: ``EngineClientError``, or NIO's or NIOSSL's error for a connection that could
    ///   not be made or secured.
    public func send(
        _ url: String, method: HTTPMethod = .POST, headers: HTTPHeaders = [:], body: ByteBuffer? = nil, timeout: Duration,
        readWholeUpTo: Int? = 1 << 20
    ) async throws -> Response {
        var request = _UpstreamRequest(
            target: try _UpstreamTarget(url: url), deadline: .now() + TimeAmount(timeout), wholeUpTo: readWholeUpTo)
        request.method = method
        request.headers = headers
        request.body = body
        let answer = try await execute(request)
        return Response(status: answer.status, headers: answer.headers, body: ResponseBody(storage: answer.body))
    }
}
