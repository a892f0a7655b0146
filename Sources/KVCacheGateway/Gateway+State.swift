import Foundation
import HTTPTypes
import Hummingbird
import KVCache
import NIOCore
import NIOHTTP1

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Gateway {
    /// The state file's name in ``GatewayConfiguration/stateDirectory``.
    public static let stateFileName = "gateway.kvstate"

    /// What the router learned from the engines' events, each node named by its event address
    /// and the last batch of it the state includes: what ``GatewayConfiguration/stateDirectory``
    /// keeps and `GET /admin/snapshot` serves. Nodes without events are left out; nodes with
    /// events but no blocks are in it, so that their streams resume too.
    /// - Complexity: O(1) while events wait (the tables are shared until the next event copies
    ///   them); O(entries + blocks) after.
    public func captureState() -> RouterState {
        func named(_ state: RouterState, _ batches: [String: UInt64]) -> RouterState {
            var state = state
            state.nodes = state.nodes.compactMap { n in
                guard let address = eventSources[n.id] else { return nil }
                var n = n
                n.source = address
                n.lastBatch = batches[address]
                return n
            }
            let present = Set(state.nodes.map(\.id))
            for (node, address) in eventSources where !present.contains(node) && batches[address] != nil {
                state.nodes.append(RouterState.Node(id: node, source: address, lastBatch: batches[address]))
            }
            state.nodes.sort { $0.id < $1.id }
            return state
        }
        guard let subscriber else { return named(router.captureState(), [:]) }
        return subscriber.withAppliedBatches { batches in named(router.captureState(), batches) }
    }

    /// Restores a state ``captureState()`` took, here or in another gateway: each of its nodes
    /// goes to this gateway's node with the same event address, and the subscriber resumes
    /// each from the state's last batch. Nodes whose address no engine here has, or whose last
    /// batch is unknown, are left out (their engines' caches are learned from their events).
    ///
    /// Call it before ``run(metrics:onListening:)`` starts the subscriber (``run`` calls it
    /// itself with ``GatewayConfiguration/bootstrapFrom`` and ``GatewayConfiguration/stateDirectory``).
    /// - Returns: The engine blocks restored, and the state's nodes left out.
    /// - Throws: ``KVCache/RouterStateError`` when the state was taken with another block size
    ///   or hash scheme; nothing is restored then.
    @discardableResult
    public func restore(_ state: RouterState) throws(RouterStateError) -> (blocks: Int, leftOut: Int) {
        var byAddress: [String: NodeID] = [:]
        for (node, address) in eventSources { byAddress[address] = node }
        var state = state
        let all = state.nodes.count
        state.nodes = state.nodes.compactMap { n in
            guard let node = byAddress[n.source], n.lastBatch != nil else { return nil }
            var n = n
            n.id = node
            return n
        }
        try router.restore(state)
        var resume: [String: UInt64] = [:]
        for n in state.nodes { resume[n.source] = n.lastBatch }
        subscriber?.resume(after: resume)
        return (state.blockCount, all - state.nodes.count)
    }

    /// Starts from a peer's state (``GatewayConfiguration/bootstrapFrom``), else from the state
    /// directory's; anything that cannot be used is said in one line, and the gateway starts
    /// cold.
    public func restoreSavedState() async {
        let c = configuration
        if let peer = c.bootstrapFrom {
            do {
                let bytes = try await fetchState(from: peer)
                let state = try RouterState(decoding: bytes)
                let (blocks, leftOut) = try restore(state)
                stateKeeper.restored(from: "peer", blocks: blocks)
                c.logger.info("started from \(peer)'s state: \(blocks) engine blocks of \(state.nodes.count - leftOut) nodes")
                return
            } catch {
                c.logger.warning("--bootstrap-from \(peer): \(error); not used")
            }
        }
        guard let directory = c.stateDirectory else { return }
        let path = Self.statePath(directory)
        guard FileManager.default.fileExists(atPath: path) else {
            c.logger.info("no state in \(directory) yet: starting cold")
            return
        }
        do {
            guard let data = FileManager.default.contents(atPath: path) else { throw GatewayError("cannot be read") }
            let state = try RouterState(decoding: [UInt8](data))
            let (blocks, leftOut) = try restore(state)
            stateKeeper.restored(from: "file", blocks: blocks)
            let unmatched = leftOut > 0 ? "; \(leftOut) nodes match no engine here" : ""
            c.logger.info("restored \(path): \(blocks) engine blocks of \(state.nodes.count - leftOut) nodes\(unmatched)")
        } catch {
            c.logger.warning("state file \(path) is not used, starting cold: \(error)")
        }
    }

    /// A peer's `GET /admin/snapshot`, read whole (at most 4 GiB).
    func fetchState(from peer: String) async throws -> [UInt8] {
        let url = (peer.hasSuffix("/") ? String(peer.dropLast()) : peer) + "/admin/snapshot"
        var headers = HTTPHeaders()
        if let token = configuration.adminToken { headers.add(name: "authorization", value: "Bearer \(token)") }
        let answer = try await client.send(url, method: .GET, headers: headers, timeout: .seconds(120), readWholeUpTo: nil)
        var bytes: [UInt8] = []
        for try await buffer in answer.body {
            guard bytes.count + buffer.readableBytes <= 1 << 32 else { throw GatewayError("its snapshot is over 4 GiB") }
            bytes.append(contentsOf: buffer.readableBytesView)
        }
        guard answer.status.code == 200 else {
            throw GatewayError("answered \(answer.status.code): \(String(decoding: bytes.prefix(200), as: UTF8.self))")
        }
        return bytes
    }

    static func statePath(_ directory: String) -> String {
        (directory.hasSuffix("/") ? String(directory.dropLast()) : directory) + "/" + stateFileName
    }

    /// Writes the state to ``GatewayConfiguration/stateDirectory`` (made if missing): to a
    /// temporary file, flushed to disk, then renamed over the last one, so a crash at any
    /// point leaves a whole state behind.
    /// - Returns: The bytes written.
    @discardableResult
    public func writeState() throws -> Int {
        guard let directory = configuration.stateDirectory else { return 0 }
        let started = ContinuousClock.now
        let bytes = captureState().encoded()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = Self.statePath(directory)
        try Self.writeDurably(bytes, to: path)
        stateKeeper.wrote(bytes: bytes.count, seconds: Self.seconds(ContinuousClock.now - started))
        return bytes.count
    }

    static func writeDurably(_ bytes: [UInt8], to path: String) throws {
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw GatewayError("cannot write \(temporary): \(String(cString: strerror(errno)))") }
        var written = 0
        let ok = bytes.withUnsafeBytes { b -> Bool in
            while written < b.count {
                let n = write(fd, b.baseAddress! + written, b.count - written)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return false }
                written += n
            }
            return fsync(fd) == 0
        }
        let reason = String(cString: strerror(errno))
        close(fd)
        guard ok else {
            unlink(temporary)
            throw GatewayError("cannot write \(temporary): \(reason)")
        }
        guard rename(temporary, path) == 0 else {
            throw GatewayError("cannot rename \(temporary) to \(path): \(String(cString: strerror(errno)))")
        }
        let dir = open((path as NSString).deletingLastPathComponent, O_RDONLY)
        if dir >= 0 {
            fsync(dir)
            close(dir)
        }
    }

    static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

    /// `GET /admin/snapshot`: the state, for a peer's ``GatewayConfiguration/bootstrapFrom``,
    /// to a bearer of ``GatewayConfiguration/adminToken`` only.
    func adminSnapshot(_ request: Request) throws -> Response {
        guard let token = configuration.adminToken else {
            throw RequestError(status: .notFound, message: "no such route", type: "not_found_error")
        }
        let given = request.headers[.authorization] ?? ""
        guard Self.constantTimeEqual(Array(given.utf8), Array("Bearer \(token)".utf8)) else {
            var e = RequestError(
                status: .unauthorized, message: "/admin/snapshot needs the admin bearer token", type: "authentication_error")
            e.headers[.wwwAuthenticate] = "Bearer"
            throw e
        }
        let bytes = captureState().encoded()
        return Response(
            status: .ok, headers: [.contentType: "application/octet-stream"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// Whether `a` equals `b`, in time that depends on their lengths only.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for i in 0..<max(a.count, b.count) {
            difference |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return difference == 0
    }
}
