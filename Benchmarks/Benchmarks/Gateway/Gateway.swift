// Gateway: what one proxied request costs in allocations and time, in process — an engine
// (a Hummingbird app answering vLLM's completions, whole or streamed in SSE chunks), the
// gateway's application in front of it, and an AsyncHTTPClient client, all on loopback in
// this process. Each case runs once straight to the engine and once through the gateway; the
// difference is the gateway's own cost per request (package-benchmark counts every
// allocation of the process, the engine's and the client's too).
import AsyncHTTPClient
import Benchmark
import Foundation
import Hummingbird
import KVCacheGateway
import NIOCore
import NIOPosix
import ServiceLifecycle

/// A prompt of about 1 KB, as token ids (no tokenizer on either side).
let promptBody: ByteBuffer = {
    let ids = (0..<256).map { String(($0 &* 2_654_435_761) % 50_000) }.joined(separator: ",")
    return ByteBuffer(string: #"{"model":"m","max_tokens":16,"prompt":[\#(ids)]}"#)
}()

/// The same prompt, streamed: 16 SSE chunks and a usage chunk.
let streamBody: ByteBuffer = {
    let ids = (0..<256).map { String(($0 &* 2_654_435_761) % 50_000) }.joined(separator: ",")
    return ByteBuffer(string: #"{"model":"m","max_tokens":16,"stream":true,"prompt":[\#(ids)]}"#)
}()

let wholeAnswer = ByteBuffer(
    string: #"{"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":" w1 w2 w3 w4","finish_reason":"length"}],"usage":{"prompt_tokens":256,"completion_tokens":16,"total_tokens":272,"prompt_tokens_details":{"cached_tokens":0}}}"#
)

/// An engine: `POST /v1/completions`, whole or as 16 SSE chunks and a usage chunk.
func engineRouter() -> Router<BasicRequestContext> {
    let router = Router()
    router.post("/v1/completions") { request, _ -> Response in
        let body = try await request.body.collect(upTo: 1 << 20)
        // the test bodies put "stream" before the prompt: its first 64 bytes tell
        guard body.getString(at: body.readerIndex, length: min(64, body.readableBytes))?.contains(#""stream":true"#) == true else {
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: wholeAnswer))
        }
        return Response(
            status: .ok, headers: [.contentType: "text/event-stream"],
            body: ResponseBody { writer in
                for i in 0..<16 {
                    try await writer.write(
                        ByteBuffer(string: #"data: {"id":"cmpl-1","object":"text_completion","choices":[{"index":0,"text":" w\#(i)"}]}"# + "\n\n"))
                }
                try await writer.write(ByteBuffer(string: #"data: {"usage":{"prompt_tokens":256,"prompt_tokens_details":{"cached_tokens":0}}}"# + "\n\ndata: [DONE]\n\n"))
                try await writer.finish(nil)
            })
    }
    router.get("/health") { _, _ in HTTPResponse.Status.ok }
    router.get("/v1/models") { _, _ in Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: #"{"data":[]}"#))) }
    return router
}

/// Runs `app` in the background; its port once it listens.
func start(_ run: @escaping @Sendable (@escaping @Sendable (Int) async -> Void) async throws -> Void) async -> Int {
    await withCheckedContinuation { (ready: CheckedContinuation<Int, Never>) in
        Task { try await run { port in ready.resume(returning: port) } }
    }
}

let client = HTTPClient(eventLoopGroupProvider: .singleton)

func post(_ url: String, _ body: ByteBuffer) async throws -> Int {
    var request = HTTPClientRequest(url: url)
    request.method = .POST
    request.headers.add(name: "content-type", value: "application/json")
    request.body = .bytes(body)
    let response = try await client.execute(request, timeout: .seconds(30))
    var n = 0
    for try await chunk in response.body { n += chunk.readableBytes }
    return n
}

/// The engine and the gateway, started once, on the first call (a warm-up run).
actor Servers {
    static let shared = Servers()
    private var ports: (engine: Int, gateway: Int, hummingbird: Int)?

    /// The engine; the gateway on its own server (as `kvcache-gateway` serves it); the same
    /// gateway as a Hummingbird application, on Hummingbird's server.
    func urls() async throws -> (engine: String, gateway: String, hummingbird: String) {
        if ports == nil {
            let engine = await start { ready in
                let app = Application(
                    router: engineRouter(), configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                    onServerRunning: { channel in await ready(channel.localAddress?.port ?? 0) })
                try await app.runService()
            }
            var c = GatewayConfiguration()
            c.port = 0
            c.engines = [try EngineSpec(url: "http://127.0.0.1:\(engine)", node: 0)]
            let gateway = try Gateway(configuration: c)
            let port = await start { ready in try await gateway.server(onListening: ready).run() }
            let onHummingbird = try Gateway(configuration: c)
            let hummingbird = await start { ready in try await onHummingbird.application(onListening: ready).runService() }
            ports = (engine, port, hummingbird)
        }
        let p = ports!
        return ("http://127.0.0.1:\(p.engine)", "http://127.0.0.1:\(p.gateway)", "http://127.0.0.1:\(p.hummingbird)")
    }
}

/// A tokenizer that answers at once, so that a ``CachingTokenizer`` in front of it costs only
/// its own look-ups, inserts and evictions.
struct InstantTokenizer: Tokenizer {
    let ids = [UInt32](repeating: 7, count: 256)
    func tokens(for input: PromptInput, model: String?) async throws -> [UInt32] { ids }
}

/// 4,096 distinct prompts of about 1 KB, to fill a cache and keep missing it.
let distinctPrompts: [PromptInput] = (0..<4_096).map { i in
    .text("request \(i) " + String(repeating: "abcdefghijklmnopqrstuvwxyz ", count: 38))
}

let benchmarks: @Sendable () -> Void = {
    // As in kvcache-gateway: NIO's event loops are the concurrency executor, so a request's
    // tasks run on the loop of its connections. The benchmark runner calls this before it
    // starts any task, which the installation needs.
    guard NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor() else {
        fatalError("NIO's event loops could not become the concurrency executor")
    }
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .throughput],
        timeUnits: .microseconds,
        warmupIterations: 200,
        maxDuration: .seconds(3),
        maxIterations: 20_000
    )
    // The gateway's prompt cache in front of a tokenizer: a miss at capacity (look-up, insert,
    // one eviction) and a hit, as each text request pays one of them.
    let missing = CachingTokenizer(InstantTokenizer(), maximumEntries: 1_024)
    Benchmark("prompt cache, miss at capacity, 1 KB prompts") { benchmark async throws in
        for _ in benchmark.scaledIterations {
            blackHole(try await missing.tokens(for: distinctPrompts[benchmark.currentIteration & 4_095], model: "m"))
        }
    }
    let hitting = CachingTokenizer(InstantTokenizer(), maximumEntries: 1_024)
    Benchmark("prompt cache, hit, 1 KB prompts") { benchmark async throws in
        for _ in benchmark.scaledIterations {
            blackHole(try await hitting.tokens(for: distinctPrompts[benchmark.currentIteration & 511], model: "m"))
        }
    }
    for (name, body) in [("whole", promptBody), ("streamed, 17 chunks", streamBody)] {
        Benchmark("engine alone, \(name)") { benchmark async throws in
            let url = try await Servers.shared.urls().engine + "/v1/completions"
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations { blackHole(try await post(url, body)) }
        }
        Benchmark("through kvcache-gateway, \(name)") { benchmark async throws in
            let url = try await Servers.shared.urls().gateway + "/v1/completions"
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations { blackHole(try await post(url, body)) }
        }
        Benchmark("through kvcache-gateway on Hummingbird's server, \(name)") { benchmark async throws in
            let url = try await Servers.shared.urls().hummingbird + "/v1/completions"
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations { blackHole(try await post(url, body)) }
        }
    }
}
