import CZeroMQ
import Foundation
import KVCache
import Logging

/// Subscribes to engines' KV-event streams (vLLM's ZeroMQ publisher) and feeds the decoded
/// events (``KVCache/EngineEvent``s: engine hashes plus the tokens of stored blocks) to a
/// router, recovering lost batches from the engines' replay sockets.
///
/// Events reach the sink in each node's order, numbered 0, 1, 2, … per node by the
/// subscriber (endpoints of one node share the numbering). With
/// ``Configuration/blockSize`` set (a router's sink sets it to the router's), stored runs of
/// another block size are dropped here with one error per endpoint naming both sizes, and
/// counted in ``Statistics/blockSizeMismatches``.
///
/// Wire protocol (vLLM v0.33 `vllm/distributed/kv_events.py`): a PUB message is three frames,
/// topic (UTF-8, SUB filters by prefix), sequence number (8 bytes, big-endian, from 0 per
/// data-parallel rank) and payload (see ``VLLMEventDecoder``). A jump in sequence numbers is a
/// gap: the subscriber asks the endpoint's replay ROUTER with a DEALER (`["", start_seq]`),
/// applies the replies (`["", topic, seq, payload]`) up to the end marker
/// (`["", "", 0xFF×8, ""]`) and then the batch that revealed the gap. If the replay starts
/// later than asked (the engine keeps only its last 10,000 batches) the node is cleared and
/// the loss counted. A malformed request gets no reply, so replay waits at most
/// ``Configuration/replayTimeout``. When the first batch seen from an endpoint is not batch 0
/// (the subscriber joined late), it first replays from 0 whatever the engine still buffers.
/// A SUB socket receives nothing published before its subscription reaches the engine, and
/// with no batch after it nothing would reveal the loss: so when an endpoint's connection
/// completes its handshake before any live batch came, the subscriber asks the replay socket
/// at once for what the engine published so far (from 0, or after the batch it resumed from).
/// A live batch numbered at or below the last live one means the engine's publisher started
/// again (the engine restarted, its cache empty): the node is cleared and followed anew.
///
/// Resuming (``Endpoint/resumeAfter``): a sink restored from a saved state tells each endpoint
/// the last batch the state includes; at start the subscriber asks the replay socket for the
/// batches from that one on. If the engine still has it, the batches after it are applied and
/// the node continues where the state ended. If the engine no longer reaches back that far,
/// the node is cleared and rebuilt from what the replay still has; if the engine has nothing
/// from there (it restarted) or cannot be asked, the node is cleared and followed anew. Both
/// are counted (``Statistics/rebuiltEndpoints``). ``withAppliedBatches(_:)`` reads each
/// endpoint's last applied batch consistently with the sink's state, for saving.
///
/// One thread polls every socket (no busy waiting; ``stop()`` returns within the poll
/// interval). After a wake-up it waits ``Configuration/coalescing`` for more messages, then
/// hands everything that arrived to the sink in one call: a busy engine's stream then costs
/// one wake-up and one router update per burst rather than per message. Memory stays bounded
/// when the sink falls behind: at most a burst is held here; the SUB socket's high-water mark
/// (``Configuration/receiveHighWaterMark`` messages) makes ZeroMQ drop what does not fit,
/// which shows up as a sequence gap and is replayed.
public final class EngineEventSubscriber: @unchecked Sendable {
    /// One engine endpoint (one data-parallel rank).
    public struct Endpoint: Sendable, Hashable {
        /// How to attach to the engine's PUB socket.
        public enum Mode: Sendable, Hashable {
            /// Connect (the engine binds: `tcp://*:…`, `ipc://`, `inproc://`).
            case connect
            /// Bind (the engine connects to us: any other tcp address).
            case bind
        }
        /// The PUB address (`tcp://127.0.0.1:5557`).
        public var address: String
        /// The engine's replay ROUTER address, if any (gaps cannot be filled without it).
        public var replayAddress: String?
        /// The node this endpoint's events belong to.
        public var node: NodeID
        /// Connect or bind.
        public var mode: Mode

        /// The data-parallel rank whose events this endpoint carries, if known: a batch that
        /// names another rank is refused and counted (``Statistics/rankMismatches``), never
        /// applied to this endpoint's node. A batch that names no rank is taken from a rank-0
        /// endpoint only.
        public var rank: Int?

        /// The last batch of this endpoint the sink already has, from a saved state (see
        /// ``EngineEventSubscriber``, "Resuming"): at start the subscriber replays what came
        /// after it instead of following the stream from wherever it joins.
        public var resumeAfter: UInt64?

        /// The endpoints of one engine with `dataParallelSize` ranks, rank *r* as node
        /// `firstNode + r`: vLLM's publisher of rank *r* binds the PUB and replay addresses
        /// offset by *r* (see ``address(_:rank:)``).
        ///
        /// - Parameters:
        ///   - address: Rank 0's PUB address (`tcp://10.0.0.5:5557`).
        ///   - replayAddress: Rank 0's replay address, if any.
        /// - Returns: One endpoint per rank, or `nil` when a `tcp://` address has no numeric port.
        public static func ranks(
            address: String, replayAddress: String? = nil, dataParallelSize: Int, firstNode: NodeID,
            mode: Mode = .connect
        ) -> [Endpoint]? {
            var out: [Endpoint] = []
            for rank in 0..<max(dataParallelSize, 1) {
                guard let pub = Self.address(address, rank: rank) else { return nil }
                var replay: String?
                if let replayAddress {
                    guard let r = Self.address(replayAddress, rank: rank) else { return nil }
                    replay = r
                }
                out.append(Endpoint(address: pub, replayAddress: replay, node: firstNode + rank, mode: mode, rank: rank))
            }
            return out
        }

        /// Where rank `rank` of an engine whose rank 0 uses `address` publishes, as vLLM's
        /// `offset_endpoint_port` derives it: rank 0 as given; a `tcp://` port plus the rank;
        /// any other address with `_dp<rank>` appended.
        /// - Returns: `nil` for a `tcp://` address without a numeric port, or a port past 65535.
        public static func address(_ address: String, rank: Int) -> String? {
            guard rank != 0 else { return address }
            guard address.hasPrefix("tcp://") else { return address + "_dp\(rank)" }
            guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
                port + rank <= 65_535
            else { return nil }
            return address[..<colon] + ":\(port + rank)"
        }

        /// Creates an endpoint.
        public init(address: String, replayAddress: String? = nil, node: NodeID, mode: Mode = .connect, rank: Int? = nil) {
            self.address = address
            self.replayAddress = replayAddress
            self.node = node
            self.mode = mode
            self.rank = rank
        }
    }

    /// Subscriber settings.
    public struct Configuration: Sendable {
        /// SUB topic prefix (vLLM's default topic is empty).
        public var topic: String = ""
        /// How long one poll waits, and so how fast ``stop()`` returns (default 100 ms).
        public var pollInterval: Duration = .milliseconds(100)
        /// How long the thread lets messages gather after a wake-up before it decodes and
        /// applies them, in one sink call (default 1 ms; zero: each message as it arrives).
        /// Events reach the sink at most this much later; in exchange a burst of messages
        /// costs one wake-up and one sink call. At most 1 s.
        public var coalescing: Duration = .milliseconds(1)
        /// How long a replay may take before it is abandoned (default 2 s).
        public var replayTimeout: Duration = .seconds(2)
        /// Messages ZeroMQ queues per SUB socket before dropping (default 10,000).
        public var receiveHighWaterMark: Int32 = 10_000
        /// The block size the sink hashes with; stored runs of another size are dropped and
        /// counted (`nil`: pass every run on).
        public var blockSize: Int?
        /// Where log messages go.
        public var logger = Logger(label: "kvcache.zmq")

        /// Defaults.
        public init() {}
    }

    /// Counters, readable while running.
    public struct Statistics: Sendable, Hashable {
        /// Batches decoded and applied (live and replayed).
        public var batches = 0
        /// Events applied.
        public var events = 0
        /// Payloads rejected (see the log for each reason).
        public var malformed = 0
        /// Sequence gaps seen.
        public var gaps = 0
        /// Batches recovered through replay.
        public var replayedBatches = 0
        /// Gaps whose range the engine no longer had (the node was cleared).
        public var lostRanges = 0
        /// Replays that timed out or had no replay address.
        public var failedReplays = 0
        /// Stale or repeated sequence numbers ignored.
        public var staleBatches = 0
        /// Replays from batch 0 made because the first batch seen from an endpoint was later.
        public var initialReplays = 0
        /// Replays asked when an endpoint's connection completed its handshake before any live
        /// batch came: for what the engine published before the subscription took effect.
        public var connectReplays = 0
        /// Stored runs dropped because their block size was not ``Configuration/blockSize``.
        public var blockSizeMismatches = 0
        /// Batches refused because they named another data-parallel rank than their
        /// endpoint's (``Endpoint/rank``).
        public var rankMismatches = 0
        /// Endpoints that resumed from their ``Endpoint/resumeAfter`` batch.
        public var resumedEndpoints = 0
        /// Endpoints that could not resume: their engine no longer had the batch after
        /// ``Endpoint/resumeAfter``, had restarted, or could not be asked; the node was
        /// cleared (and rebuilt from the replay where it had anything).
        public var rebuiltEndpoints = 0
        /// Times an endpoint's live batches started again from a lower number (the engine's
        /// publisher restarted); its node was cleared.
        public var publisherRestarts = 0
    }

    /// What receives the events.
    public typealias Sink = @Sendable ([EngineEvent]) -> Void

    let endpoints: [Endpoint]
    let configuration: Configuration
    let sink: Sink
    let decoder = VLLMEventDecoder()
    private let lock = NSLock()
    private var _statistics = Statistics()
    private var running = false
    private var stopRequested = false
    private var thread: Thread?
    private let finished = DispatchSemaphore(value: 0)
    private var startupError: String?
    /// Events decoded and not yet given to the sink, with the batches they came in; touched
    /// by the polling thread only.
    private var pending: [EngineEvent] = []
    private var pendingBatches = 0
    /// Per endpoint address, the last batch whose events are in `pending`.
    private var pendingPositions: [String: UInt64] = [:]
    /// Held while the sink runs and while ``withAppliedBatches(_:)`` reads: the positions
    /// `applied` names are exactly those whose events the sink has taken.
    private let applyLock = NSLock()
    private var applied: [String: UInt64] = [:]
    /// Resume points set after creation (``resume(after:)``), by address.
    private var resumePoints: [String: UInt64] = [:]
    /// Events past which the polling thread hands what it holds to the sink without waiting
    /// for the end of the burst, so a flood never piles up here.
    static let flushThreshold = 8_192

    /// Creates a subscriber that hands every decoded batch's events to `sink`.
    public init(endpoints: [Endpoint], configuration: Configuration = Configuration(), sink: @escaping Sink) {
        self.endpoints = endpoints
        self.configuration = configuration
        self.sink = sink
    }

    /// Creates a subscriber that feeds a router (events for unknown nodes are ignored by it);
    /// ``Configuration/blockSize`` defaults to the router's.
    public convenience init(endpoints: [Endpoint], configuration: Configuration = Configuration(), router: KVRouter) {
        var configuration = configuration
        if configuration.blockSize == nil { configuration.blockSize = router.blockSize }
        self.init(endpoints: endpoints, configuration: configuration) { events in router.apply(events) }
    }

    /// The counters so far.
    public var statistics: Statistics { lock.withLock { _statistics } }

    /// Makes the endpoints at these addresses resume after these batches, as if their
    /// ``Endpoint/resumeAfter`` were set: for a sink whose state was restored after the
    /// subscriber was made. Call it before ``start()``.
    public func resume(after batches: [String: UInt64]) {
        lock.withLock { resumePoints.merge(batches) { _, new in new } }
    }

    /// Runs `body` with the last batch of each endpoint (by ``Endpoint/address``) whose events
    /// the sink has taken, while no batch is handed to the sink: what `body` reads of the
    /// sink's state (a ``KVCache/KVRouter/captureState()``) includes exactly those batches.
    /// Endpoints with no batch yet are absent; an endpoint that resumed starts at its
    /// ``Endpoint/resumeAfter``.
    public func withAppliedBatches<T>(_ body: ([String: UInt64]) throws -> T) rethrows -> T {
        applyLock.lock()
        defer { applyLock.unlock() }
        return try body(applied)
    }

    /// Starts the polling thread.
    /// - Throws: ``SubscriberError`` when a socket cannot be created, bound or connected.
    public func start() throws(SubscriberError) {
        let ready = DispatchSemaphore(value: 0)
        lock.withLock {
            running = true
            stopRequested = false
        }
        let t = Thread { [self] in
            kvz_name_thread("kvcache-events")
            self.run(ready: ready)
            self.finished.signal()
        }
        t.name = "kvcache-events"
        thread = t
        t.start()
        ready.wait()
        if let error = lock.withLock({ startupError }) {
            finished.wait()
            throw SubscriberError(message: error)
        }
    }

    /// Starts, runs until the calling task is cancelled, then stops. The waits for the polling
    /// thread to start and to finish happen on threads of their own, never on the concurrency
    /// runtime's.
    /// - Throws: ``SubscriberError`` when a socket cannot be created, bound or connected.
    public func run() async throws {
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
            Thread.detachNewThread {
                do {
                    try self.start()
                    done.resume()
                } catch {
                    done.resume(throwing: error)
                }
            }
        }
        while !Task.isCancelled { try? await Task.sleep(for: .seconds(3_600)) }
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                self.stop()
                done.resume()
            }
        }
    }

    /// Stops polling and closes the sockets; returns within about one poll interval.
    public func stop() {
        let wasRunning = lock.withLock { () -> Bool in
            let r = running
            stopRequested = true
            return r
        }
        guard wasRunning else { return }
        finished.wait()
        lock.withLock { running = false }
    }

    // MARK: The polling thread

    struct Stream {
        var endpoint: Endpoint
        var socket: UnsafeMutableRawPointer
        var lastSequence: UInt64?
        /// The last batch received live (not replayed): live batches only go up.
        var lastLive: UInt64?
        var reportedMismatch = false
        var reportedRank = false
        /// The PAIR socket that receives the SUB socket's handshake events, when the endpoint
        /// has a replay socket to ask.
        var monitor: UnsafeMutableRawPointer?
    }

    private func update(_ body: (inout Statistics) -> Void) { lock.withLock { body(&_statistics) } }

    private func run(ready: DispatchSemaphore) {
        let context = zmq_ctx_new()!
        var streams: [Stream] = []
        var nextEventID: [NodeID: UInt64] = [:]
        func fail(_ message: String) {
            lock.withLock { startupError = message }
            for s in streams {
                zmq_close(s.socket)
                if let m = s.monitor { zmq_close(m) }
            }
            zmq_ctx_term(context)
            ready.signal()
        }
        for e in endpoints {
            guard let socket = zmq_socket(context, ZMQ_SUB) else { return fail("cannot create a SUB socket: \(Self.zmqError())") }
            _ = kvz_setsockopt_int(socket, ZMQ_RCVHWM, configuration.receiveHighWaterMark)
            _ = kvz_setsockopt_int(socket, ZMQ_LINGER, 0)
            let topic = Array(configuration.topic.utf8)
            _ = topic.withUnsafeBytes { zmq_setsockopt(socket, ZMQ_SUBSCRIBE, $0.baseAddress, $0.count) }
            streams.append(Stream(endpoint: e, socket: socket, lastSequence: nil))
            if e.replayAddress != nil {
                // before connecting, so that the first handshake is seen
                let address = "inproc://kvcache-monitor-\(streams.count)"
                guard zmq_socket_monitor(socket, address, ZMQ_EVENT_HANDSHAKE_SUCCEEDED) == 0,
                    let monitor = zmq_socket(context, ZMQ_PAIR)
                else { return fail("cannot monitor the SUB socket of \(e.address): \(Self.zmqError())") }
                _ = kvz_setsockopt_int(monitor, ZMQ_LINGER, 0)
                streams[streams.count - 1].monitor = monitor
                guard zmq_connect(monitor, address) == 0 else {
                    return fail("cannot monitor the SUB socket of \(e.address): \(Self.zmqError())")
                }
            }
            let rc = e.mode == .connect ? zmq_connect(socket, e.address) : zmq_bind(socket, e.address)
            if rc != 0 { return fail("\(e.mode == .connect ? "connect to" : "bind") \(e.address) failed: \(Self.zmqError())") }
        }
        ready.signal()
        let resumePoints = lock.withLock { self.resumePoints }
        for i in streams.indices {
            guard let after = streams[i].endpoint.resumeAfter ?? resumePoints[streams[i].endpoint.address] else { continue }
            applyLock.withLock { applied[streams[i].endpoint.address] = after }
            resume(after: after, stream: &streams[i], context: context, nextEventID: &nextEventID)
        }
        flush()
        let timeout = Int(
            configuration.pollInterval.components.seconds * 1000
                + configuration.pollInterval.components.attoseconds / 1_000_000_000_000_000)
        let coalescing = min(max(configuration.coalescing, .zero), .seconds(1))
        let coalescingSeconds = Double(coalescing.components.seconds) + Double(coalescing.components.attoseconds) / 1e18
        func pollItems() -> [zmq_pollitem_t] {
            streams.map { zmq_pollitem_t(socket: $0.socket, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0) }
                + streams.compactMap { $0.monitor.map { zmq_pollitem_t(socket: $0, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0) } }
        }
        var items = pollItems()
        while !lock.withLock({ stopRequested }) {
            let n = zmq_poll(&items, Int32(items.count), timeout)
            if n <= 0 { continue }
            if coalescingSeconds > 0 { Thread.sleep(forTimeInterval: coalescingSeconds) }
            // handshakes first: a catch-up replay makes batches already queued on the SUB stale
            for i in streams.indices {
                guard let monitor = streams[i].monitor else { continue }
                while let frames = Self.receive(monitor, flags: ZMQ_DONTWAIT) {
                    guard Self.isHandshake(frames), streams[i].lastLive == nil else { continue }
                    catchUp(stream: &streams[i], context: context, nextEventID: &nextEventID)
                }
            }
            // drain every socket without blocking, then apply it all at once
            for i in streams.indices {
                while let frames = Self.receive(streams[i].socket, flags: ZMQ_DONTWAIT), frames.count == 3 {
                    handle(frames, stream: &streams[i], context: context, nextEventID: &nextEventID)
                }
            }
            flush()
            // a stream that has had a live batch never catches up on connecting again (a gap
            // or a restart shows instead): its monitor goes, and every poll asks one socket less
            var retired = false
            for i in streams.indices where streams[i].lastLive != nil {
                guard let monitor = streams[i].monitor else { continue }
                zmq_socket_monitor(streams[i].socket, nil, 0)
                zmq_close(monitor)
                streams[i].monitor = nil
                retired = true
            }
            if retired { items = pollItems() }
        }
        flush()
        for s in streams {
            zmq_close(s.socket)
            if let m = s.monitor { zmq_close(m) }
        }
        zmq_ctx_term(context)
    }

    private func handle(_ frames: [[UInt8]], stream: inout Stream, context: UnsafeMutableRawPointer, nextEventID: inout [NodeID: UInt64]) {
        guard frames[1].count == 8 else {
            update { $0.malformed += 1 }
            configuration.logger.warning("message from \(stream.endpoint.address): sequence frame has \(frames[1].count) bytes, not 8")
            return
        }
        let seq = frames[1].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        if let live = stream.lastLive, seq <= live {
            // live batches of one publisher only go up: this one started again, cache empty
            update { $0.publisherRestarts += 1 }
            configuration.logger.warning(
                "\(stream.endpoint.address) started again at batch \(seq) after \(live): clearing node \(stream.endpoint.node)")
            clear(stream: &stream, nextEventID: &nextEventID)
        }
        stream.lastLive = seq
        if stream.lastSequence == nil && seq > 0 && stream.endpoint.replayAddress != nil {
            // joined after the engine started: fetch what its replay buffer still has
            update { $0.initialReplays += 1 }
            configuration.logger.info("joined \(stream.endpoint.address) at batch \(seq): replaying from 0")
            replay(from: 0, before: seq, stream: &stream, context: context, nextEventID: &nextEventID, initial: true)
        }
        if let last = stream.lastSequence {
            if seq <= last {
                update { $0.staleBatches += 1 }
                return
            }
            if seq > last + 1 {
                update { $0.gaps += 1 }
                configuration.logger.notice("gap on \(stream.endpoint.address): batches \(last + 1)...\(seq - 1) missing; replaying")
                replay(from: last + 1, before: seq, stream: &stream, context: context, nextEventID: &nextEventID)
            }
        }
        stream.lastSequence = seq
        apply(frames[2], stream: &stream, source: stream.endpoint.address, nextEventID: &nextEventID)
        pendingPositions[stream.endpoint.address] = seq
    }

    /// Queues a `cleared` event for the stream's node and forgets where the stream was.
    private func clear(stream: inout Stream, nextEventID: inout [NodeID: UInt64]) {
        let node = stream.endpoint.node
        var next = nextEventID[node, default: 0]
        pending.append(EngineEvent(node: node, eventID: next, kind: .cleared))
        next += 1
        nextEventID[node] = next
        stream.lastSequence = nil
        pendingPositions[stream.endpoint.address] = nil
        applyLock.withLock { applied[stream.endpoint.address] = nil }
    }

    private func apply(_ payload: [UInt8], stream: inout Stream, source: String, nextEventID: inout [NodeID: UInt64]) {
        let node = stream.endpoint.node
        do {
            var batch = try decoder.decode(payload)
            if let expected = stream.endpoint.rank, batch.dataParallelRank != expected,
                batch.dataParallelRank != nil || expected != 0
            {
                update { $0.rankMismatches += 1 }
                if !stream.reportedRank {
                    stream.reportedRank = true
                    let named = batch.dataParallelRank.map { "rank \($0)" } ?? "no rank"
                    configuration.logger.error(
                        "\(source) is rank \(expected)'s endpoint (node \(node)) but a batch names \(named); such batches are refused"
                    )
                }
                return
            }
            if let expected = configuration.blockSize {
                let before = batch.events.count
                var seen: Int?
                batch.events.removeAll { e in
                    guard case .stored(let run) = e, run.blockSize != expected else { return false }
                    seen = run.blockSize
                    return true
                }
                if let seen {
                    update { $0.blockSizeMismatches += before - batch.events.count }
                    if !stream.reportedMismatch {
                        stream.reportedMismatch = true
                        configuration.logger.error(
                            "\(stream.endpoint.address) (node \(node)) publishes blocks of \(seen) tokens but the router hashes blocks of \(expected); its stored blocks are dropped"
                        )
                    }
                }
            }
            var next = nextEventID[node, default: 0]
            pending.append(contentsOf: VLLMEventDecoder.engineEvents(batch, node: node, nextEventID: &next))
            nextEventID[node] = next
            pendingBatches += 1
            if pending.count >= Self.flushThreshold { flush() }
        } catch {
            update { $0.malformed += 1 }
            configuration.logger.warning("malformed payload from \(source): \(error.reason)")
        }
    }

    /// Gives the sink the events decoded so far, in the order they came, and counts them.
    private func flush() {
        guard !pending.isEmpty || pendingBatches > 0 || !pendingPositions.isEmpty else { return }
        applyLock.withLock {
            if !pending.isEmpty { sink(pending) }
            applied.merge(pendingPositions) { _, new in new }
        }
        let (batches, events) = (pendingBatches, pending.count)
        pending.removeAll(keepingCapacity: true)
        pendingPositions.removeAll(keepingCapacity: true)
        pendingBatches = 0
        update {
            $0.batches += batches
            $0.events += events
        }
    }

    /// How a replay request ended.
    private enum ReplayEnd {
        /// The engine sent its end marker; `first` is the first batch it sent, if any.
        case ended(first: UInt64?)
        /// No replay address, no connection, or no end marker within the timeout.
        case failed
    }

    /// Asks the endpoint's replay socket for its batches from `start` on and hands each to
    /// `batch` (its number and payload) as it arrives.
    private func requestReplay(
        from start: UInt64, stream: Stream, context: UnsafeMutableRawPointer, batch: (UInt64, [UInt8]) -> Void
    ) -> ReplayEnd {
        guard let address = stream.endpoint.replayAddress, let dealer = zmq_socket(context, ZMQ_DEALER) else {
            update { $0.failedReplays += 1 }
            configuration.logger.warning("cannot replay \(stream.endpoint.address): no replay address")
            return .failed
        }
        defer { zmq_close(dealer) }
        _ = kvz_setsockopt_int(dealer, ZMQ_LINGER, 0)
        guard zmq_connect(dealer, address) == 0 else {
            update { $0.failedReplays += 1 }
            configuration.logger.warning("cannot connect to replay socket \(address): \(Self.zmqError())")
            return .failed
        }
        var startBytes = withUnsafeBytes(of: start.bigEndian) { Array($0) }
        _ = zmq_send(dealer, nil, 0, ZMQ_SNDMORE)
        _ = startBytes.withUnsafeMutableBytes { zmq_send(dealer, $0.baseAddress, 8, 0) }
        let deadline = ContinuousClock.now + configuration.replayTimeout
        var first: UInt64?
        var item = zmq_pollitem_t(socket: dealer, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)
        while ContinuousClock.now < deadline {
            let left = deadline - ContinuousClock.now
            let ms = Int(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000)
            guard zmq_poll(&item, 1, max(1, ms)) > 0, let frames = Self.receive(dealer, flags: 0) else { continue }
            // ["", topic, seq, payload], ending with ["", "", 0xFF×8, ""]
            guard frames.count == 4, frames[2].count == 8 else { continue }
            if frames[2].allSatisfy({ $0 == 0xFF }) { return .ended(first: first) }
            let seq = frames[2].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            if first == nil { first = seq }
            batch(seq, frames[3])
        }
        update { $0.failedReplays += 1 }
        configuration.logger.warning("replay from \(address) timed out after \(configuration.replayTimeout)")
        return .failed
    }

    /// Fetches batches `from ..< before` from the endpoint's replay socket and applies them.
    /// When the engine no longer has batch `start` (except for the `initial` replay of a late
    /// joiner), the node is cleared before what it still has is applied.
    private func replay(
        from start: UInt64, before end: UInt64, stream: inout Stream, context: UnsafeMutableRawPointer,
        nextEventID: inout [NodeID: UInt64], initial: Bool = false
    ) {
        var first = true
        let source = stream.endpoint.replayAddress ?? stream.endpoint.address
        let outcome = requestReplay(from: start, stream: stream, context: context) { seq, payload in
            if first && !initial && seq > start { lose(from: start, stream: &stream, nextEventID: &nextEventID) }
            first = false
            guard seq >= start && seq < end else { return }
            apply(payload, stream: &stream, source: source, nextEventID: &nextEventID)
            pendingPositions[stream.endpoint.address] = seq
            update { $0.replayedBatches += 1 }
        }
        if case .ended(nil) = outcome, !initial { lose(from: start, stream: &stream, nextEventID: &nextEventID) }
    }

    /// The range from `start` is gone from the engine: the node is cleared and counted.
    private func lose(from start: UInt64, stream: inout Stream, nextEventID: inout [NodeID: UInt64]) {
        update { $0.lostRanges += 1 }
        configuration.logger.warning("replay of \(stream.endpoint.address) from \(start) is gone: clearing node \(stream.endpoint.node)")
        let last = stream.lastSequence
        clear(stream: &stream, nextEventID: &nextEventID)
        stream.lastSequence = last
    }

    /// Whether a monitor message (`[event (2 bytes, native order) + value (4), endpoint]`) is
    /// a completed handshake.
    static func isHandshake(_ frames: [[UInt8]]) -> Bool {
        guard frames.count == 2, frames[0].count == 6 else { return false }
        let event = frames[0].withUnsafeBytes { $0.loadUnaligned(as: UInt16.self) }
        return Int32(event) == ZMQ_EVENT_HANDSHAKE_SUCCEEDED
    }

    /// The stream's connection completed its handshake before any live batch came: what the
    /// engine published before the subscription took effect (all of it, or what followed the
    /// batch the stream resumed after) comes from the replay socket. Batches already queued
    /// on the SUB socket are then stale; one missed between the replay and the subscription
    /// shows up as a gap with the next batch.
    private func catchUp(stream: inout Stream, context: UnsafeMutableRawPointer, nextEventID: inout [NodeID: UInt64]) {
        let start = stream.lastSequence.map { $0 + 1 } ?? 0
        let resumed = stream.lastSequence != nil
        update { $0.connectReplays += 1 }
        var first = true
        let source = stream.endpoint.replayAddress ?? stream.endpoint.address
        let outcome = requestReplay(from: start, stream: stream, context: context) { seq, payload in
            // a resumed stream that finds its next batch gone lost what came between
            if first && resumed && seq > start { lose(from: start, stream: &stream, nextEventID: &nextEventID) }
            first = false
            if seq >= start { applyReplayed(seq, payload, stream: &stream, source: source, nextEventID: &nextEventID) }
        }
        if case .ended = outcome {
            let position = stream.lastSequence.map { "at batch \($0)" } ?? "nothing published yet"
            configuration.logger.debug("\(stream.endpoint.address) connected: \(position)")
        }
    }

    /// Applies a replayed batch that continues the stream (one at or below its last batch is
    /// already applied) and moves the stream to it.
    private func applyReplayed(
        _ seq: UInt64, _ payload: [UInt8], stream: inout Stream, source: String, nextEventID: inout [NodeID: UInt64]
    ) {
        if let last = stream.lastSequence, seq <= last { return }
        apply(payload, stream: &stream, source: source, nextEventID: &nextEventID)
        stream.lastSequence = seq
        pendingPositions[stream.endpoint.address] = seq
        update { $0.replayedBatches += 1 }
    }

    /// Brings the stream from batch `after` (the sink's saved state includes it) to the end
    /// of what the engine buffers: see ``EngineEventSubscriber``, "Resuming".
    private func resume(after: UInt64, stream: inout Stream, context: UnsafeMutableRawPointer, nextEventID: inout [NodeID: UInt64]) {
        stream.lastSequence = after
        var first = true
        let source = stream.endpoint.replayAddress ?? stream.endpoint.address
        let outcome = requestReplay(from: after, stream: stream, context: context) { seq, payload in
            if first && seq > after {
                // the engine no longer has the state's last batch: what followed it is lost
                clear(stream: &stream, nextEventID: &nextEventID)
            }
            first = false
            applyReplayed(seq, payload, stream: &stream, source: source, nextEventID: &nextEventID)
        }
        let address = stream.endpoint.address, node = stream.endpoint.node
        switch outcome {
        case .ended(first: let first?) where first <= after:
            update { $0.resumedEndpoints += 1 }
            configuration.logger.info("resumed \(address) (node \(node)) after batch \(after), now at \(stream.lastSequence ?? after)")
            return
        case .ended(first: let first?):
            configuration.logger.warning(
                "\(address) keeps batches from \(first) only, not \(after + 1): node \(node) rebuilt from them")
        case .ended(first: nil):
            configuration.logger.warning("\(address) has no batch \(after) (it restarted): node \(node) cleared")
            clear(stream: &stream, nextEventID: &nextEventID)
        case .failed:
            configuration.logger.warning("cannot ask \(address) for the batches after \(after): node \(node) cleared")
            clear(stream: &stream, nextEventID: &nextEventID)
        }
        update { $0.rebuiltEndpoints += 1 }
    }

    /// Receives one multipart message (nil when nothing is waiting, with `ZMQ_DONTWAIT`).
    static func receive(_ socket: UnsafeMutableRawPointer, flags: Int32) -> [[UInt8]]? {
        var frames: [[UInt8]] = []
        var more = true
        var first = true
        while more {
            var msg = zmq_msg_t()
            zmq_msg_init(&msg)
            defer { zmq_msg_close(&msg) }
            let rc = zmq_msg_recv(&msg, socket, first ? flags : 0)
            if rc < 0 { return frames.isEmpty ? nil : frames }
            first = false
            let size = zmq_msg_size(&msg)
            if size > 0, let data = zmq_msg_data(&msg) {
                frames.append(Array(UnsafeRawBufferPointer(start: data, count: size)))
            } else {
                frames.append([])
            }
            more = zmq_msg_more(&msg) != 0
        }
        return frames
    }

    static func zmqError() -> String { String(cString: zmq_strerror(zmq_errno())) }
}

/// Why the subscriber could not start.
public struct SubscriberError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What failed, naming the address.
    public var message: String
    public var description: String { message }
}
