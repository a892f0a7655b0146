import AsyncHTTPClient
import NIOCore
import NIOPosix

/// The HTTP clients the gateway calls engines with: one per event loop of NIO's shared group,
/// and one over the whole group.
///
/// A client over a single loop keeps all its connections on that loop. A request's task runs
/// on the loop that last resumed it (the one that read the client's body, when NIO's loops are
/// the concurrency executor), so taking that loop's client keeps the upstream connection, the
/// response's arrival and the write back to the client on one thread: no hand-over between
/// loops, and no wake-up of another thread, per request. A task that runs on no loop of the
/// group (NIO not installed as the executor) gets the client over the whole group.
final class _UpstreamClients: Sendable {
    private let byLoop: [ObjectIdentifier: HTTPClient]
    private let whole: HTTPClient
    private let owned: Bool

    /// Clients made from `configuration`, owned and shut down by ``shutdown()``.
    init(configuration: HTTPClient.Configuration) {
        let group = MultiThreadedEventLoopGroup.singleton
        var byLoop: [ObjectIdentifier: HTTPClient] = [:]
        for loop in group.makeIterator() {
            byLoop[ObjectIdentifier(loop)] = HTTPClient(eventLoopGroup: loop, configuration: configuration)
        }
        self.byLoop = byLoop
        whole = HTTPClient(eventLoopGroup: group, configuration: configuration)
        owned = true
    }

    /// The one client `client`, which stays its owner's to shut down.
    init(_ client: HTTPClient) {
        byLoop = [:]
        whole = client
        owned = false
    }

    /// The client for the calling thread's event loop.
    ///
    /// - Complexity: O(1).
    var current: HTTPClient {
        guard !byLoop.isEmpty, let loop = MultiThreadedEventLoopGroup.currentEventLoop else { return whole }
        return byLoop[ObjectIdentifier(loop)] ?? whole
    }

    /// Shuts the owned clients down; a borrowed one is left running.
    func shutdown() async {
        guard owned else { return }
        for client in byLoop.values { try? await client.shutdown() }
        try? await whole.shutdown()
    }
}
