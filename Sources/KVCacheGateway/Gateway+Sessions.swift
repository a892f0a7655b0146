import HTTPTypes
import Hummingbird
import KVCache

/// What became of a request's session.
enum _SessionOutcome: String, Sendable {
    /// It stayed on the engine that served it last.
    case kept
    /// It went elsewhere: its engine was out of rotation, too busy, or failed.
    case moved
    /// The gateway did not know it (first request, or forgotten).
    case new
}

extension Gateway {
    /// The session a request names in ``GatewayConfiguration/sessionHeader``, if any.
    func sessionName(of request: _RoutedRequest) -> String? {
        guard let name = sessionHeaderName, let value = request.headers.first(name: name.rawName), !value.isEmpty else { return nil }
        return value
    }

    /// Routes a request of `session`: to the engine that served the session last while that
    /// engine is in rotation and at most ``GatewayConfiguration/sessionMaximumImbalance``
    /// requests busier than the least busy one; otherwise as any request.
    func placeSession(_ session: String, route: (_ excluding: [NodeID]) -> KVRouter.Routed) -> (KVRouter.Routed, _SessionOutcome) {
        guard let sessions, let last = sessions.node(of: session) else { return (route([]), .new) }
        if directory.isUp(last), router.isWithinLoad(last, slack: configuration.sessionMaximumImbalance) {
            // The selector sees the session's engine alone: its overlap, its admission.
            let routed = route(router.nodes.filter { $0 != last })
            if routed.node == last { return (routed, .kept) }
        }
        let routed = route([])
        return (routed, routed.node == last ? .kept : .moved)
    }
}
