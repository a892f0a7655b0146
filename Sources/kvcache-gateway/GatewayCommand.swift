import ArgumentParser
import Foundation
import KVCache
import KVCacheCLI
import KVCacheGateway
import KVCacheTemplates
import KVCacheTokenizers
import Logging
import Metrics
import NIOCore
import NIOPosix
import Prometheus

/// The program's entry: NIO's event loops become the concurrency runtime's executor before any
/// task runs, so a request's steps (server, router, upstream client) run on the threads that do
/// its I/O instead of hopping between two thread pools at every `await`. The command line is
/// read first, because `--event-loops` sets how many loops there are.
@main
enum GatewayMain {
    static func main() async {
        let command: GatewayCommand
        do {
            guard let parsed = try GatewayCommand.parseAsRoot() as? GatewayCommand else { return }
            command = parsed
        } catch {
            GatewayCommand.exit(withError: error)
        }
        if let loops = command.eventLoops {
            NIOSingletons.groupLoopCountSuggestion = loops
        } else if ProcessInfo.processInfo.environment["NIO_SINGLETON_GROUP_LOOP_COUNT"] == nil {
            NIOSingletons.groupLoopCountSuggestion = GatewayCommand.defaultEventLoops(cores: System.coreCount)
        }
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        do {
            try await command.run()
        } catch {
            GatewayCommand.exit(withError: error)
        }
    }
}

/// `kvcache-gateway`: the KV-aware OpenAI-compatible router in front of vLLM-style engines.
struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kvcache-gateway",
        abstract: "A KV-cache-aware OpenAI-compatible router: each request goes to the engine whose KV cache holds most of its prompt.",
        discussion: """
            Each --engine is URL[,events=ADDR][,replay=ADDR][,node=N][,dp=N]: the engine's HTTP base \
            URL, its vLLM KV-event PUB address, its replay ROUTER address, the router's id for it \
            (default: the next free one), and its data-parallel ranks (vLLM's --data-parallel-size; \
            each rank is a node, ids node...node+N-1). An engine without events= is tracked in \
            approximate mode.

            Prefill/decode disaggregation: give --prefill and --decode engines (same form) instead \
            of --engine. Each request is prefilled on a prefill engine chosen by its KV cache, then \
            decoded on a decode engine chosen by load and its own cache (vLLM's kv_transfer_params \
            protocol); with --pd-threshold-tokens N, a request with fewer than N tokens not cached on \
            the decode engine is prefilled there instead.

            Several gateways and restarts: --state-dir keeps the router state across restarts (the \
            engines replay only the events since); --admin-token serves it at GET /admin/snapshot, \
            and --bootstrap-from starts a new gateway from a running one's.

            Serves POST /v1/completions, POST /v1/chat/completions, POST /tokenize, GET /v1/models, \
            GET /health and GET /metrics. SIGTERM or SIGINT: stop accepting, let requests in flight finish within \
            --shutdown-grace, exit 0.
            """)

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"
    @Option(help: "Port to listen on (0: any free port; the chosen one is printed).")
    var port = 8_080
    @Option(help: ArgumentHelp("Seconds requests in flight may take to finish after SIGTERM.", valueName: "seconds"))
    var shutdownGrace: Double = 30
    @Option(name: .customLong("engine"), help: "An engine: URL[,events=ADDR][,replay=ADDR][,node=N][,dp=N] (repeat for each).")
    var engines: [String] = []
    @Option(name: .customLong("prefill"), help: "A prefill engine, in --engine's form (repeat for each; needs --decode).")
    var prefillEngines: [String] = []
    @Option(name: .customLong("decode"), help: "A decode engine, in --engine's form (repeat for each; needs --prefill).")
    var decodeEngines: [String] = []
    @Option(help: "With --prefill/--decode: fewer tokens than this not cached on the decode engine are prefilled there (0: never).")
    var pdThresholdTokens = 0
    @Option(help: "Tokens per KV block, as the engines' --block-size.")
    var blockSize = 16
    @Option(help: "Routing policy: \(SelectorPolicy.allCases.map(\.rawValue).joined(separator: ", ")).")
    var selector = "cache-affinity"
    @Option(help: "Seed of the randomised selectors.")
    var seed: UInt64 = 0
    @OptionGroup var policy: SelectorOptions
    @Flag(
        inversion: .prefixedNo,
        help: "Learn each engine's prefill speed from its times to first byte (the --prefill-* flags are then starting values).")
    var learnPrefillSpeed = true

    @Option(help: "Requests sent to engines at once; more wait in the queue.")
    var maxConcurrency = 256
    @Option(help: "Requests waiting for a place; beyond them the gateway answers 429.")
    var maxQueue = 1_024
    @Option(help: ArgumentHelp("Seconds a request may wait in the queue before a 503.", valueName: "seconds"))
    var queueTimeout: Double = 30
    @Option(help: ArgumentHelp("Seconds one upstream request may take, from dispatch to its last byte.", valueName: "seconds"))
    var requestTimeout: Double = 600
    @Option(help: ArgumentHelp("Seconds connecting to an engine may take.", valueName: "seconds"))
    var connectTimeout: Double = 2
    @Option(
        help: ArgumentHelp(
            "PEM file of the certificate authorities https engines are verified against (default: the system's).",
            valueName: "file"))
    var engineCa: String?
    @Option(help: ArgumentHelp("Largest request body accepted, MiB (larger: 413).", valueName: "mib"))
    var maxBodyMib = 32
    @Option(help: "Engines tried per request when an engine fails before any response byte.")
    var maxAttempts = 3
    @Option(help: ArgumentHelp("Retry-After seconds of a 429 or 503.", valueName: "seconds"))
    var retryAfter = 1
    @Option(help: ArgumentHelp("Seconds between active health checks of each engine.", valueName: "seconds"))
    var healthInterval: Double = 2
    @Option(help: ArgumentHelp("Seconds a health check may take.", valueName: "seconds"))
    var healthTimeout: Double = 1
    @Option(help: "Failures in a row that take an engine out of rotation.")
    var failureThreshold = 3
    @Option(help: ArgumentHelp("Seconds an engine stays out of rotation before a healthy check brings it back.", valueName: "seconds"))
    var breakerCooldown: Double = 5
    @Option(
        help: ArgumentHelp(
            "The served model's directory (tokenizer.json, tokenizer_config.json, chat_template.jinja) or its tokenizer.json: text and chat prompts are tokenized in process, as the engines do.",
            valueName: "path"))
    var tokenizer: String?
    @Option(help: ArgumentHelp("A chat template to use instead of the model's own (needs --tokenizer).", valueName: "file"))
    var chatTemplate: String?
    @Option(help: ArgumentHelp("Seconds one call to an engine's /tokenize may take before the next engine is asked.", valueName: "seconds"))
    var tokenizeTimeout: Double = 10
    @Option(help: "Prompts the cache of engines' /tokenize answers keeps (0: no cache).")
    var tokenizerCacheEntries = 4_096
    @Option(help: "Token ids the cache of engines' /tokenize answers keeps in all (0: no cache).")
    var tokenizerCacheTokens = 8 << 20
    @Option(help: "Requests per window of the identity-mismatch alarm (predicted hits, no realized ones).")
    var auditWindow = 100
    @Option(help: ArgumentHelp("Approximate mode: seconds a routed prefix is assumed cached.", valueName: "seconds"))
    var approximateTtl: Double = 120
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Engines with events: seconds at most a routed prefix counts as cached there, until their events report it (0: off).",
            valueName: "seconds"))
    var speculativeTtl: Double = 2
    @Option(
        help: ArgumentHelp(
            "Milliseconds a burst of KV events may gather before it is applied in one router update (0: each as it arrives).",
            valueName: "ms"))
    var eventCoalescing: Double = 1
    @Option(
        help: ArgumentHelp(
            "Request header naming a session: its requests stay on the engine that served it last (default: no affinity).",
            valueName: "name"))
    var sessionHeader: String?
    @Option(help: "Requests a session's engine may run beyond the least busy engine's and keep the session.")
    var sessionMaxImbalance = 4
    @Option(help: "Sessions remembered (least recently used forgotten first).")
    var sessionEntries = 65_536
    @Option(help: ArgumentHelp("Seconds a session is remembered after its last request.", valueName: "seconds"))
    var sessionTtl: Double = 600
    @Option(
        help: ArgumentHelp(
            "Seconds between reads of each engine's /metrics (its running and waiting requests, shared by every gateway in front of it; 0: never).",
            valueName: "seconds"))
    var loadInterval: Double = 0.1
    @Option(
        help: ArgumentHelp(
            "Directory the router state is kept in: written every --snapshot-interval and at shutdown, read at start (a restart starts warm).",
            valueName: "dir"))
    var stateDir: String?
    @Option(help: ArgumentHelp("Seconds between writes of the state to --state-dir.", valueName: "seconds"))
    var snapshotInterval: Double = 30
    @Option(
        help: ArgumentHelp(
            "Bearer token of GET /admin/snapshot (off without one) and of --bootstrap-from; default: $KVCACHE_GATEWAY_ADMIN_TOKEN.",
            valueName: "token"))
    var adminToken: String?
    @Option(help: ArgumentHelp("A peer gateway's URL: start from its state (GET /admin/snapshot), else --state-dir's.", valueName: "url"))
    var bootstrapFrom: String?
    @Option(
        help: ArgumentHelp(
            "NIO event loops: the threads that serve connections and run requests (default: one per core the process may use but one, at least one; or $NIO_SINGLETON_GROUP_LOOP_COUNT).",
            valueName: "n"))
    var eventLoops: Int?

    /// The event loops when neither `--event-loops` nor NIO's variable says: one per core but
    /// one, at least one. The core left over is for the gateway's other threads (the KV-event
    /// subscriber's and libzmq's, the blocking pool that tokenizes long prompts and writes the
    /// state) and the host's other processes; and fewer loops wake less often, each wake-up
    /// finding more work (docs/GATEWAY.md, "Event loops").
    static func defaultEventLoops(cores: Int) -> Int { max(1, cores - 1) }

    @Option(help: "Prefix of the metric names.")
    var metricsPrefix = "kvcache_gateway"
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    func validate() throws {
        guard !engines.isEmpty || !prefillEngines.isEmpty || !decodeEngines.isEmpty else {
            throw ValidationError("give at least one --engine URL (or --prefill and --decode engines)")
        }
        try check(pdThresholdTokens, "--pd-threshold-tokens", 0...(1 << 24))
        try check(port, "--port", 0...65_535)
        if let eventLoops { try check(eventLoops, "--event-loops", 1...1_024) }
        try check(blockSize, "--block-size", 1...4_096)
        guard SelectorPolicy(name: selector) != nil else {
            throw ValidationError(
                "--selector \(selector): expected one of \(SelectorPolicy.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        try check(maxConcurrency, "--max-concurrency", 1...1_000_000)
        try check(maxQueue, "--max-queue", 0...10_000_000)
        try check(queueTimeout, "--queue-timeout", 0...86_400)
        try check(requestTimeout, "--request-timeout", 0.001...604_800)
        try check(connectTimeout, "--connect-timeout", 0.001...3_600)
        try check(sessionMaxImbalance, "--session-max-imbalance", 0...1_000_000)
        try check(sessionEntries, "--session-entries", 1...(1 << 24))
        try check(sessionTtl, "--session-ttl", 0.001...31_536_000)
        try check(maxBodyMib, "--max-body-mib", 1...4_096)
        try check(maxAttempts, "--max-attempts", 1...64)
        try check(retryAfter, "--retry-after", 0...86_400)
        try check(healthInterval, "--health-interval", 0.01...86_400)
        try check(healthTimeout, "--health-timeout", 0.001...3_600)
        try check(failureThreshold, "--failure-threshold", 1...1_000_000)
        try check(breakerCooldown, "--breaker-cooldown", 0...86_400)
        try check(shutdownGrace, "--shutdown-grace", 0...86_400)
        try check(tokenizeTimeout, "--tokenize-timeout", 0.001...3_600)
        try check(tokenizerCacheEntries, "--tokenizer-cache-entries", 0...100_000_000)
        try check(tokenizerCacheTokens, "--tokenizer-cache-tokens", 0...1 << 34)
        try check(auditWindow, "--audit-window", 1...100_000_000)
        try check(approximateTtl, "--approximate-ttl", 0.001...31_536_000)
        try check(speculativeTtl, "--speculative-ttl", 0...31_536_000)
        try check(eventCoalescing, "--event-coalescing", 0...1_000)
        if loadInterval != 0 { try check(loadInterval, "--load-interval", 0.001...3_600) }
        try check(snapshotInterval, "--snapshot-interval", 1...86_400)
        if chatTemplate != nil && tokenizer == nil { throw ValidationError("--chat-template needs --tokenizer (the model's tokenizer)") }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level \(logLevel): expected trace, debug, info, notice, warning, error or critical")
        }
        guard metricsPrefix.range(of: "^[a-zA-Z_][a-zA-Z0-9_]*$", options: .regularExpression) != nil else {
            throw ValidationError("--metrics-prefix \(metricsPrefix): expected a Prometheus name ([a-zA-Z_][a-zA-Z0-9_]*)")
        }
    }

    func run() async throws {
        let policyName = SelectorPolicy(name: selector)!
        try SelectorOptions.checkApplies(to: [policyName])
        let level = Logger.Level(rawValue: logLevel)!
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))

        var c = GatewayConfiguration()
        c.host = host
        c.port = port
        // An engine without node= takes the node after the previous engine's last.
        var nextNode = 0
        for (role, texts) in [(EngineRole.whole, engines), (.prefill, prefillEngines), (.decode, decodeEngines)] {
            for text in texts {
                let spec: EngineSpec
                do { spec = try EngineSpec(parsing: text, defaultNode: nextNode, role: role) } catch { throw ValidationError("\(error)") }
                c.engines.append(spec)
                nextNode = spec.nodes.upperBound
            }
        }
        c.prefillThresholdTokens = pdThresholdTokens
        c.blockSize = blockSize
        c.selector = policyName.makeSelector(policy.selectorConfiguration(seed: seed))
        c.prefillModel = policy.prefillModel
        c.learnsPrefillSpeed = learnPrefillSpeed
        c.tierWeights = try policy.parsedTierWeights()
        c.maximumConcurrency = maxConcurrency
        c.maximumQueue = maxQueue
        c.queueTimeout = .seconds(queueTimeout)
        c.requestTimeout = .seconds(requestTimeout)
        c.connectTimeout = .seconds(connectTimeout)
        c.engineCAFile = engineCa
        c.sessionHeader = sessionHeader
        c.sessionMaximumImbalance = sessionMaxImbalance
        c.sessionEntries = sessionEntries
        c.sessionTTL = .seconds(sessionTtl)
        c.maximumBodyBytes = maxBodyMib << 20
        c.maximumAttempts = maxAttempts
        c.retryAfterSeconds = retryAfter
        c.healthInterval = .seconds(healthInterval)
        c.healthTimeout = .seconds(healthTimeout)
        c.failureThreshold = failureThreshold
        c.breakerCooldown = .seconds(breakerCooldown)
        c.shutdownGrace = .seconds(shutdownGrace)
        if let tokenizer {
            do {
                c.model = try ModelTokenizer(
                    contentsOf: URL(fileURLWithPath: tokenizer), templateOverride: chatTemplate.map { URL(fileURLWithPath: $0) })
            } catch {
                throw CLIError("--tokenizer \(error)")
            }
        }
        c.tokenizeTimeout = .seconds(tokenizeTimeout)
        c.tokenizerCacheEntries = tokenizerCacheEntries
        c.tokenizerCacheTokens = tokenizerCacheTokens
        c.auditWindow = auditWindow
        c.approximate = ApproximateMode(ttl: approximateTtl)
        c.speculativeTTL = speculativeTtl
        c.eventCoalescing = .microseconds(Int64((eventCoalescing * 1_000).rounded()))
        c.loadInterval = loadInterval == 0 ? nil : .microseconds(Int64((loadInterval * 1e6).rounded()))
        c.stateDirectory = stateDir
        c.snapshotInterval = .milliseconds(Int64((snapshotInterval * 1_000).rounded()))
        c.adminToken = adminToken ?? ProcessInfo.processInfo.environment["KVCACHE_GATEWAY_ADMIN_TOKEN"]
        c.bootstrapFrom = bootstrapFrom
        c.metricsPrefix = metricsPrefix
        c.logger = Logger(label: "kvcache.gateway")

        let gateway: Gateway
        do { gateway = try Gateway(configuration: c) } catch { throw CLIError("\(error)") }
        let host = host
        try await gateway.run(metrics: registry) { port in
            // One unbuffered line, so a supervisor reading a pipe learns the port at once.
            FileHandle.standardOutput.write(Data("kvcache-gateway listening on http://\(host):\(port)\n".utf8))
        }
    }
}
