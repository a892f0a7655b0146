import Hummingbird

/// The per-request context of the gateway's routes: Hummingbird's core context, plus the
/// request's lease on the gateway (its admission place and router load) once the admission
/// middleware has granted one.
public struct GatewayRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by the admission middleware for the routed endpoints.
    var lease: _RequestLease?

    public init(source: Source) {
        coreContext = .init(source: source)
    }
}
