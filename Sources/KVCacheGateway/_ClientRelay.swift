import NIOCore
import NIOHTTP1

/// Relays an engine's streamed answer to the client from the engine connection's event loop,
/// which is also the client channel's: each read of the engine's socket is written and flushed
/// to the client as it comes, with no task resumed and no async sequence between the two
/// sockets. Confined to that loop.
///
/// It keeps what the relay through the answer's body gives: the head goes out with the first
/// part; the usage the answer reports finishes the request's lease; a client that cannot keep
/// up holds the engine's socket (its reads wait until the part written last reaches the
/// client's socket); a client gone closes the engine's connection (the rest is not read); a
/// failed or expired answer closes the client's connection.
///
/// A chunked answer's parts skip the HTTP pipeline: each goes out framed as one chunk (size,
/// data, CRLF in one buffer), written below NIO's response encoder. Through the pipeline every
/// part passed four handlers and became three writes; a streamed answer is mostly parts. The
/// head and the end still go through the pipeline, so the encoder frames the answer and writes
/// its last chunk, and the server's pipelining and error handlers see the response begin and
/// end.
final class _ClientRelay: _UpstreamSink {
    private let channel: any Channel
    /// Where framed chunks are written: the response encoder's context (writes from it go to
    /// the socket), when the encoder chunks this answer; else `nil` and parts go through the
    /// pipeline.
    private let chunks: ChannelHandlerContext?
    private let exchange: _UpstreamExchange
    private let lease: _RequestLease
    private let keepAlive: Bool
    /// The response head, until the first part or the end carries it.
    private var head: HTTPResponseHead?
    private var usage = _UsageScanner()
    /// Whether the client's connection may carry another request, once the relay is over.
    private var outcome: Bool?
    private var waiting: CheckedContinuation<Bool, Never>?

    init(channel: any Channel, head: HTTPResponseHead, keepAlive: Bool, exchange: _UpstreamExchange, lease: _RequestLease) {
        self.channel = channel
        self.head = head
        self.keepAlive = keepAlive
        self.exchange = exchange
        self.lease = lease
        chunks = Self.chunksHead(head) ? try? channel.pipeline.syncOperations.context(handlerType: HTTPResponseEncoder.self) : nil
    }

    /// Whether NIO's response encoder sends `head`'s body in chunks: HTTP/1.1 or later, a status
    /// that has a body, and no length (the relay answers requests that are neither `HEAD` nor
    /// `CONNECT`).
    static func chunksHead(_ head: HTTPResponseHead) -> Bool {
        head.version.major == 1 && head.version.minor >= 1 && head.status.mayHaveResponseBody
            && !head.headers.contains(name: "content-length")
    }

    /// `part` as one chunk of chunked transfer coding: its size in hex, CRLF, the bytes, CRLF.
    static func chunk(_ part: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        let count = part.readableBytes
        var digits = 1
        while count >> (4 * digits) > 0 { digits += 1 }
        var out = allocator.buffer(capacity: digits + count + 4)
        for k in stride(from: digits - 1, through: 0, by: -1) {
            let nibble = UInt8((count >> (4 * k)) & 0xF)
            out.writeInteger(nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10)
        }
        out.writeStaticString("\r\n")
        out.writeImmutableBuffer(part)
        out.writeStaticString("\r\n")
        return out
    }

    /// Writes the head (if still due) and `part`, and flushes; `promise` completes with the part.
    private func write(_ head: HTTPResponseHead?, _ part: ByteBuffer, promise: EventLoopPromise<Void>?) {
        guard let chunks, part.readableBytes > 0 else {
            return _ChannelBodyWriter.send(head, .none, part, end: nil, on: channel, promise: promise)
        }
        if let head { channel.write(HTTPServerResponsePart.head(head), promise: nil) }
        chunks.writeAndFlush(NIOAny(IOData.byteBuffer(Self.chunk(part, allocator: channel.allocator))), promise: promise)
    }

    func receive(_ part: ByteBuffer) -> _UpstreamSinkDemand {
        guard outcome == nil else { return .never }
        guard channel.isActive else {
            lease.finish(realized: nil)
            over(false)
            return .never
        }
        lease.firstByte()
        usage.feed(part.readableBytesView)
        let head = self.head
        self.head = nil
        guard !channel.isWritable else {
            write(head, part, promise: nil)
            return .now
        }
        // The client is behind: read the engine again once this part reaches its socket.
        let written = channel.eventLoop.makePromise(of: Void.self)
        write(head, part, promise: written)
        let exchange = NIOLoopBound(self.exchange, eventLoop: channel.eventLoop)
        written.futureResult.whenComplete { _ in exchange.value.connection?.consumerWantsMore(exchange.value) }
        return .later
    }

    func end(_ error: (any Error)?) {
        guard outcome == nil else { return }
        guard error == nil, channel.isActive else {
            lease.finish(realized: nil)
            return over(false)
        }
        lease.firstByte()
        let head = self.head
        self.head = nil
        lease.finish(realized: usage.cachedTokens)
        guard keepAlive else {
            // the connection closes after this answer: not before its end is on the socket
            let written = channel.eventLoop.makePromise(of: Void.self)
            _ChannelBodyWriter.send(head, .none, nil, end: .end(nil), on: channel, promise: written)
            let this = NIOLoopBound(self, eventLoop: channel.eventLoop)
            written.futureResult.whenComplete { _ in this.value.over(false) }
            return
        }
        _ChannelBodyWriter.send(head, .none, nil, end: .end(nil), on: channel, promise: nil)
        over(true)
    }

    /// Waits for the relay to be over. Call it on the loop.
    /// - Returns: Whether the client's connection may be reused.
    func finished() async -> Bool {
        await withCheckedContinuation { continuation in
            if let outcome { continuation.resume(returning: outcome) } else { waiting = continuation }
        }
    }

    private func over(_ reusable: Bool) {
        guard outcome == nil else { return }
        outcome = reusable
        waiting?.resume(returning: reusable)
        waiting = nil
    }
}
