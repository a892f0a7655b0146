import Hummingbird

/// The per-request context of the gateway's routes: Hummingbird's core context.
public struct GatewayRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage

    public init(source: Source) {
        coreContext = .init(source: source)
    }
}
