import Foundation
import HTTPTypes
import Hummingbird
import KVCache
import KVCacheZMQ
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// The KV-aware OpenAI-compatible gateway: it routes each completion to the engine whose KV
/// cache holds most of its prompt (as the engines' own KV events say), and passes the answer
/// back byte for byte.
///
/// A request goes: admission (bounded concurrency and queue, a middleware) → body and routing
/// fields → tokens (given; or the model's chat template and tokenizer in process; or the
/// engines' `/tokenize`, spread over them) → ``KVRouter/route(tokens:adapter:cacheSalt:expectedOutputTokens:excluding:)``
/// → the engine, through ``EngineClient`` → the response, streamed through unbuffered with
/// `x-kvcache-node` and `x-kvcache-predicted-cached-tokens`. An engine that fails before any
/// response byte reached the client is left out and the request goes to another; its circuit
/// breaker counts the failure. The router sees `requestStarted` at dispatch, `prefillFinished`
/// at the first response byte, and `requestFinished` when the response ends, fails, or the
/// client leaves — never a leaked load.
///
/// ``router(metrics:)`` holds the routes and middleware. ``server(metrics:onListening:)`` serves
/// them on the gateway's own HTTP/1.1 server (NIO's pipeline, one channel handler per
/// connection); ``application(metrics:onListening:)`` serves them as a Hummingbird
/// application. ``run(metrics:onListening:)`` runs the server beside the KV-event subscriber
/// and the health checks until SIGTERM or SIGINT, then stops taking connections and lets the
/// requests in flight finish within ``GatewayConfiguration/shutdownGrace``.
public final class Gateway: Sendable {
    /// The settings.
    public let configuration: GatewayConfiguration
    /// The router (index, loads, selector) the gateway routes with.
    public let router: KVRouter
    /// The engines' KV-event subscriber, when any engine publishes events.
    public let subscriber: EngineEventSubscriber?
    /// The client the gateway calls engines with.
    public let client: EngineClient
    let directory: EngineDirectory
    let tokenizer: any Tokenizer
    /// The engines' `/tokenize`, spread over them (chat without a template, and `/tokenize`
    /// without a model).
    let engineTokenizer: EngineTokenizer
    let gate: AdmissionGate
    let audit: CacheAudit
    let metrics: _GatewayMetrics
    let exchange: _JSONExchange
    /// The sessions' engines, with ``GatewayConfiguration/sessionHeader`` set.
    let sessions: _SessionTable?
    let sessionHeaderName: HTTPField.Name?
    /// The engines' own load reports (``GatewayConfiguration/loadInterval``).
    let engineLoad: _EngineLoad
    /// Each node's event address: what names it in a saved state.
    let eventSources: [NodeID: String]
    let stateKeeper: _StateKeeper
    private let nextRequestID = Atomic<UInt64>(0)

    /// Creates a gateway.
    /// - Parameters:
    ///   - configuration: The settings (checked with ``GatewayConfiguration/validate()``).
    ///   - tokenizer: Turns text and chat prompts into token ids; default: the model's in
    ///     process when ``GatewayConfiguration/model`` is set, else the engines' `/tokenize`,
    ///     behind a bounded cache.
    /// - Throws: ``GatewayError`` when the settings are inconsistent.
    public init(configuration: GatewayConfiguration, tokenizer: (any Tokenizer)? = nil) throws(GatewayError) {
        try configuration.validate()
        self.configuration = configuration
        let c = configuration
        let nodeCapacity = c.engines.map(\.nodes.upperBound).max() ?? 1
        let hasher: PrefixHasher
        do { hasher = try PrefixHasher(blockSize: c.blockSize) } catch { throw GatewayError("--block-size \(c.blockSize): \(error)") }
        router = KVRouter(
            configuration: .init(
                hasher: hasher, selector: c.selector, prefillModel: c.prefillModel, nodeCapacity: nodeCapacity,
                requestTimeout: Double(c.requestTimeout.components.seconds) + 60, approximate: c.approximate,
                speculativeTTL: c.speculativeTTL, tierWeights: c.tierWeights, metricsPrefix: "\(c.metricsPrefix)_router", logger: c.logger,
                learnsPrefillSpeed: c.learnsPrefillSpeed))
        var http = EngineClient.Configuration()
        http.connectTimeout = c.connectTimeout
        // Admission bounds the requests in flight; the pools leave room for health checks and
        // /tokenize calls beside them.
        http.maximumConnectionsPerEngine = c.maximumConcurrency + 8
        if let ca = c.engineCAFile { http.tls.trustRoots = .file(ca) }
        client = EngineClient(configuration: http)
        let usesTLS = c.engineCAFile != nil || c.engines.contains { $0.url.lowercased().hasPrefix("https:") }
        do { if usesTLS { try client.prepareTLS() } } catch {
            let source = c.engineCAFile.map { "--engine-ca \($0)" } ?? "the system's trust roots"
            throw GatewayError("\(source): cannot make a TLS context for https engines (\(error))")
        }
        directory = EngineDirectory(
            specs: c.engines, router: router, failureThreshold: c.failureThreshold, cooldown: c.breakerCooldown,
            metricsPrefix: c.metricsPrefix, logger: c.logger)
        exchange = _JSONExchange(client: client, timeout: c.healthTimeout, maximumBytes: 16 << 20)
        let directory = directory
        engineTokenizer = EngineTokenizer(
            client: client, timeout: c.tokenizeTimeout, attempts: c.maximumAttempts, chooseEngines: { directory.upURLs() },
            onFailure: { url, error in directory.recordFailure(url: url, error: error) })
        // a cache of no prompts or no tokens is none at all: each prompt goes to the tokenizer
        let cached = c.tokenizerCacheEntries > 0 && c.tokenizerCacheTokens > 0
        func caching(_ base: some Tokenizer) -> any Tokenizer {
            cached ? CachingTokenizer(base, maximumEntries: c.tokenizerCacheEntries, maximumTokens: c.tokenizerCacheTokens) : base
        }
        if let tokenizer {
            self.tokenizer = tokenizer
        } else if let model = c.model {
            // The model's tokenizer keeps the ids of the sections it has encoded (its segment
            // cache), which a repeated prompt finds as well. A cache of whole prompts in front
            // of it would pay only on exact repeats and cost every other prompt a hash, an
            // insert and an eviction (docs/GATEWAY.md); engines' /tokenize keeps one, since a
            // miss there is a round trip.
            self.tokenizer = InProcessTokenizer(model: model, chat: model.chatTemplate == nil ? caching(engineTokenizer) : nil)
        } else {
            self.tokenizer = caching(engineTokenizer)
        }
        sessionHeaderName = c.sessionHeader.flatMap { HTTPField.Name($0) }
        sessions = sessionHeaderName.map { _ in _SessionTable(entries: c.sessionEntries, timeToLive: c.sessionTTL) }
        engineLoad = _EngineLoad(specs: c.engines, prefix: c.metricsPrefix)
        gate = AdmissionGate(limit: c.maximumConcurrency, queueLimit: c.maximumQueue, timeout: c.queueTimeout)
        audit = CacheAudit(prefix: c.metricsPrefix, window: c.auditWindow, logger: c.logger)
        metrics = _GatewayMetrics(prefix: c.metricsPrefix)
        // One endpoint per rank; a rank's batches must name it when the engine has several.
        let endpoints = c.engines.flatMap { e -> [EngineEventSubscriber.Endpoint] in
            e.nodes.enumerated().compactMap { rank, node in
                guard let events = e.eventsAddress(rank: rank) else { return nil }
                return EngineEventSubscriber.Endpoint(
                    address: events, replayAddress: e.replayAddress(rank: rank), node: node,
                    rank: e.dataParallelSize > 1 ? rank : nil)
            }
        }
        eventSources = Dictionary(uniqueKeysWithValues: endpoints.map { ($0.node, $0.address) })
        stateKeeper = _StateKeeper(prefix: c.metricsPrefix)
        var sub = EngineEventSubscriber.Configuration()
        sub.logger = c.logger
        sub.coalescing = c.eventCoalescing
        subscriber = endpoints.isEmpty ? nil : EngineEventSubscriber(endpoints: endpoints, configuration: sub, router: router)
    }

    /// A new lease for an admitted request.
    func lease() -> _RequestLease {
        _RequestLease(
            id: nextRequestID.wrappingAdd(1, ordering: .relaxed).newValue, router: router, gate: gate, audit: audit, metrics: metrics)
    }

    func busy(_ status: HTTPResponse.Status, _ message: String) -> RequestError {
        var e = RequestError(status: status, message: message, type: "rate_limit_exceeded")
        e.headers[.retryAfter] = "\(configuration.retryAfterSeconds)"
        return e
    }

    /// Whether `error` says the engine is not there at all (refused, reset, unreachable, or no
    /// connection within the connect timeout), so its breaker opens at once rather than after
    /// several tries. Decided by the error's type and code, never its text.
    static func isUnreachable(_ error: any Error) -> Bool {
        switch error {
        case let e as EngineClientError: return e == .connectTimeout || e == .connectionClosed(beforeResponse: true)
        case is NIOConnectionError: return true
        case let e as IOError: return [ECONNREFUSED, ECONNRESET, EHOSTUNREACH, ENETUNREACH, ECONNABORTED, EPIPE].contains(e.errnoCode)
        case let e as ChannelError:
            if case .connectTimeout = e { return true }
            return e == .ioOnClosedChannel || e == .eof
        default: return false
        }
    }
}
