import HTTPTypes
import KVCache
import KVCacheTemplates
import Logging

/// Everything a ``Gateway`` needs to know: where to listen, the engines, the routing policy, and
/// the limits that keep it bounded.
public struct GatewayConfiguration: Sendable {
    /// The address to listen on (default `127.0.0.1`).
    public var host = "127.0.0.1"
    /// The port to listen on (0: any free port; the one chosen is logged and printed).
    public var port = 8_080
    /// The engines: all ``EngineRole/whole`` (each request goes to one of them), or
    /// ``EngineRole/prefill`` and ``EngineRole/decode`` ones (each request is prefilled on a
    /// prefill engine and decoded on a decode engine; see ``prefillThresholdTokens``).
    public var engines: [EngineSpec] = []
    /// With prefill and decode engines: a request whose tokens not cached on the chosen decode
    /// engine are fewer than this is prefilled there too, without a prefill engine (Dynamo's
    /// conditional disaggregation: a remote prefill of a short suffix costs more than it
    /// saves). Default 0: every request is prefilled remotely.
    public var prefillThresholdTokens = 0
    /// Tokens per KV block, as the engines' (`--block-size` of vLLM; default 16).
    public var blockSize = 16
    /// The routing policy (default ``KVCache/CacheAffinity``: the longest cached prefix while
    /// its engine is not overloaded, the least loaded engine when nothing much is cached, and
    /// the soonest estimated first token for an overloaded engine's requests; see
    /// docs/GATEWAY.md for the measurement behind the choice).
    public var selector: any PrefillNodeSelector & Sendable = CacheAffinity()
    /// Prefill time estimates that turn queued work into queue delay for the selector; with
    /// ``learnsPrefillSpeed``, each engine's starting value.
    public var prefillModel: any PrefillTimeModel = LinearPrefillModel()
    /// Whether each engine's prefill speed is learned from its requests' times to first byte
    /// (default true; see ``KVCache/KVRouter/Configuration/learnsPrefillSpeed``).
    public var learnsPrefillSpeed = true
    /// What a cached block is worth to the selector by the fastest tier an engine reports it in.
    public var tierWeights = TierWeights()
    /// Requests sent to engines at once; more wait in the queue (default 256).
    public var maximumConcurrency = 256
    /// Requests waiting for a place; beyond them the gateway answers 429 (default 1,024).
    public var maximumQueue = 1_024
    /// How long a request may wait in the queue before a 503 (default 30 s).
    public var queueTimeout: Duration = .seconds(30)
    /// How long one upstream request may take, from dispatch to its last byte (default 600 s).
    public var requestTimeout: Duration = .seconds(600)
    /// How long connecting to an engine may take (default 2 s).
    public var connectTimeout: Duration = .seconds(2)
    /// A PEM file of the certificate authorities that `https` engines' certificates are
    /// verified against, instead of the system's (`nil`: the system's).
    public var engineCAFile: String?
    /// Largest request body accepted (default 32 MiB; larger: 413).
    public var maximumBodyBytes = 32 << 20
    /// Engines tried per request: a request whose engine fails before any response byte
    /// reached the client goes to another (default 3).
    public var maximumAttempts = 3
    /// The `Retry-After` seconds of a 429 (default 1).
    public var retryAfterSeconds = 1
    /// Time between active health checks of each engine (default 2 s).
    public var healthInterval: Duration = .seconds(2)
    /// How long a health check may take (default 1 s).
    public var healthTimeout: Duration = .seconds(1)
    /// Failures in a row that take an engine out of rotation (default 3).
    public var failureThreshold = 3
    /// How long an engine stays out of rotation before a healthy check brings it back (default 5 s).
    public var breakerCooldown: Duration = .seconds(5)
    /// How long in-flight requests may take to finish after SIGTERM (default 30 s).
    public var shutdownGrace: Duration = .seconds(30)
    /// The served model's tokenizer and chat template, run in process for text and chat
    /// prompts and for `POST /tokenize` (``InProcessTokenizer``); `nil` (the default): the
    /// engines' `/tokenize` tokenizes them, spread over the engines.
    public var model: ModelTokenizer? = nil
    /// How long one call to an engine's `/tokenize` may take before the next engine is asked
    /// (default 10 s).
    public var tokenizeTimeout: Duration = .seconds(10)
    /// Prompts the cache of engines' `/tokenize` answers keeps (default 4,096; 0: no cache).
    /// The in-process tokenizer keeps its own cache of sections instead.
    public var tokenizerCacheEntries = 4_096
    /// Token ids the cache of engines' `/tokenize` answers keeps in all (default 8 Mi; 0: no
    /// cache).
    public var tokenizerCacheTokens = 8 << 20
    /// Requests per window of the identity-mismatch alarm (default 100).
    public var auditWindow = 100
    /// Settings of approximate mode, for engines without events.
    public var approximate = ApproximateMode()
    /// Seconds at most a prefix routed to an engine with events counts as cached there, until
    /// its events report it (default 2; 0: off; see ``KVRouter/Configuration/speculativeTTL``). An
    /// engine reports blocks once it has computed them, so without these entries a burst of
    /// requests sharing a new prefix sees it nowhere while the first of them waits in a queue,
    /// and spreads it over several engines that each compute it.
    public var speculativeTTL = 2.0
    /// How long the event subscriber lets a burst of KV events gather before it applies them
    /// to the router in one update (default 1 ms; zero: each message as it arrives; see
    /// ``KVCacheZMQ/EngineEventSubscriber/Configuration/coalescing``).
    public var eventCoalescing: Duration = .milliseconds(1)
    /// The request header that names a session (`x-session-id`, say): requests that carry it
    /// stay on the engine that served the session last, while that engine runs at most
    /// ``sessionMaximumImbalance`` more requests than the least busy one (`nil`, the default:
    /// no session affinity).
    public var sessionHeader: String?
    /// How many more requests than the least busy engine a session's engine may run and
    /// still keep the session (default 4).
    public var sessionMaximumImbalance = 4
    /// Sessions remembered, the least recently used forgotten first (default 65,536).
    public var sessionEntries = 65_536
    /// How long a session is remembered after its last request (default 600 s).
    public var sessionTTL: Duration = .seconds(600)
    /// How often each engine's own load is read from its Prometheus `/metrics` (vLLM's
    /// running and waiting requests; SGLang's likewise), so that several gateways in front of
    /// the same engines see each other's load (default 100 ms; `nil`: never, each gateway
    /// counts only its own requests).
    public var loadInterval: Duration? = .milliseconds(100)
    /// A directory the gateway keeps its router state in (`gateway.kvstate`), written every
    /// ``snapshotInterval`` and at shutdown, and read at start: a restarted gateway knows what
    /// the engines cache at once, and asks each engine only for the events after its state
    /// (`nil`, the default: no state is kept; a restart starts cold).
    public var stateDirectory: String?
    /// How often the state is written to ``stateDirectory`` (default 30 s).
    public var snapshotInterval: Duration = .seconds(30)
    /// The bearer token `GET /admin/snapshot` requires, and the one ``bootstrapFrom`` sends
    /// (`nil`, the default: no `/admin/snapshot`).
    public var adminToken: String?
    /// A peer gateway whose state this one starts from (its base URL; it must serve
    /// `/admin/snapshot` with the same ``adminToken``), before ``stateDirectory``'s own (`nil`,
    /// the default: none).
    public var bootstrapFrom: String?
    /// Prefix of the gateway's metric names (the router's are `<prefix>_router_*`).
    public var metricsPrefix = "kvcache_gateway"
    /// Where log messages go.
    public var logger = Logger(label: "kvcache.gateway")

    /// The defaults, with no engine.
    public init() {}

    /// Whether requests are split between prefill and decode engines.
    public var isDisaggregated: Bool { engines.contains { $0.role != .whole } }

    /// Checks the settings together.
    /// - Throws: ``GatewayError`` naming the first that is wrong.
    public func validate() throws(GatewayError) {
        guard !engines.isEmpty else { throw GatewayError("no engine: give at least one --engine URL") }
        var seen: [NodeID: EngineSpec] = [:]
        for e in engines {
            for node in e.nodes {
                if let other = seen[node] {
                    throw GatewayError(
                        "\(e.role.flag) \(e.url) and \(other.role.flag) \(other.url) are both node \(node) (give node= to tell them apart)")
                }
                seen[node] = e
            }
        }
        if isDisaggregated {
            if let whole = engines.first(where: { $0.role == .whole }) {
                throw GatewayError("--engine \(whole.url): with --prefill and --decode engines, every engine is one or the other")
            }
            guard engines.contains(where: { $0.role == .prefill }) else {
                throw GatewayError("--decode needs at least one --prefill engine")
            }
            guard engines.contains(where: { $0.role == .decode }) else {
                throw GatewayError("--prefill needs at least one --decode engine")
            }
        }
        guard (0...(1 << 24)).contains(prefillThresholdTokens) else {
            throw GatewayError("--pd-threshold-tokens \(prefillThresholdTokens) is outside 0...16777216")
        }
        guard (1...4_096).contains(blockSize) else { throw GatewayError("--block-size \(blockSize) is outside 1...4096") }
        guard (0...65_535).contains(port) else { throw GatewayError("--port \(port) is outside 0...65535") }
        guard maximumConcurrency >= 1 else { throw GatewayError("--max-concurrency must be at least 1") }
        guard maximumQueue >= 0 else { throw GatewayError("--max-queue must not be negative") }
        guard maximumAttempts >= 1 else { throw GatewayError("--max-attempts must be at least 1") }
        guard eventCoalescing >= .zero && eventCoalescing <= .seconds(1) else {
            throw GatewayError("--event-coalescing \(eventCoalescing) is outside 0...1000 ms")
        }
        if let name = sessionHeader, HTTPField.Name(name) == nil {
            throw GatewayError("--session-header '\(name)' is not an HTTP header name")
        }
        guard (0...1_000_000).contains(sessionMaximumImbalance) else {
            throw GatewayError("--session-max-imbalance \(sessionMaximumImbalance) is outside 0...1000000")
        }
        guard (1...(1 << 24)).contains(sessionEntries) else {
            throw GatewayError("--session-entries \(sessionEntries) is outside 1...16777216")
        }
        guard sessionTTL > .zero && sessionTTL <= .seconds(31_536_000) else {
            throw GatewayError("--session-ttl \(sessionTTL) is outside 0...31536000 seconds")
        }
        if let loadInterval, !(loadInterval >= .milliseconds(1) && loadInterval <= .seconds(3_600)) {
            throw GatewayError("--load-interval \(loadInterval) is outside 0.001...3600 seconds")
        }
        guard snapshotInterval >= .seconds(1) && snapshotInterval <= .seconds(86_400) else {
            throw GatewayError("--snapshot-interval \(snapshotInterval) is outside 1...86400 seconds")
        }
        if let stateDirectory, stateDirectory.isEmpty { throw GatewayError("--state-dir is empty") }
        if let adminToken, adminToken.count < 16 || adminToken.contains(where: { $0.isWhitespace }) {
            throw GatewayError("--admin-token must be at least 16 characters, without spaces (it was \(adminToken.count))")
        }
        if let bootstrapFrom {
            let lower = bootstrapFrom.lowercased()
            guard lower.hasPrefix("http://") || lower.hasPrefix("https://"), bootstrapFrom.count > 8 else {
                throw GatewayError("--bootstrap-from '\(bootstrapFrom)' is not an http:// or https:// URL")
            }
            guard adminToken != nil else { throw GatewayError("--bootstrap-from needs --admin-token (the peer's)") }
        }
        guard speculativeTTL >= 0 && speculativeTTL <= 31_536_000 else {
            throw GatewayError("--speculative-ttl \(speculativeTTL) is outside 0...31536000 seconds")
        }
    }
}
