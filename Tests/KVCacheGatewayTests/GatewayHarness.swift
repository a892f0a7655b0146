import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import Testing

/// The package root, from this file's place in it.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// Whether `python3` can import `modules` (comma-separated).
func pythonImports(_ modules: String) -> Bool {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", "-c", "import \(modules)"]
    p.standardError = FileHandle.nullDevice
    p.standardOutput = FileHandle.nullDevice
    guard (try? p.run()) != nil else { return false }
    p.waitUntilExit()
    return p.terminationStatus == 0
}

/// Whether Python has what the engine doubles import.
let haveEngineDoubles = pythonImports("zmq, msgspec")

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// A child process whose stdout and stderr go to files, so it never blocks on a full pipe and
/// its output can be read while it runs.
final class ChildProcess: @unchecked Sendable {
    let process = Process()
    let stdoutURL: URL
    let stderrURL: URL

    init(_ executable: String, _ arguments: [String]) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kvcache-gateway-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        stdoutURL = dir.appendingPathComponent("stdout")
        stderrURL = dir.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var stdout: String { (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }

    /// The first stdout line that contains `marker`, waiting for it at most `timeout`.
    func line(containing marker: String, timeout: Duration = .seconds(60)) async throws -> String {
        // The condition is checked after every wake-up, the last one included: on a busy machine
        // other tests can hold every thread of the cooperative pool past the deadline, and the
        // child's output that arrived meanwhile must still count.
        let deadline = ContinuousClock.now + timeout
        while true {
            if let line = stdout.split(separator: "\n").first(where: { $0.contains(marker) }) { return String(line) }
            guard process.isRunning else { throw HarnessError("\(process.executableURL!.lastPathComponent) exited: \(stderr)") }
            guard ContinuousClock.now < deadline else { throw HarnessError("no '\(marker)' within \(timeout): \(stderr)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    func signal(_ s: Int32) { if process.isRunning { kill(pid, s) } }

    /// The exit status, waiting at most `timeout`.
    func exitStatus(timeout: Duration) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            guard ContinuousClock.now < deadline else { throw HarnessError("still running after \(timeout)") }
            try await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }

    /// Resident memory, bytes (Linux's /proc).
    var residentBytes: Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kb = Int(line.split(separator: " ").dropFirst().first ?? "")
        else { return nil }
        return kb * 1024
    }

    deinit {
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: stdoutURL.deletingLastPathComponent())
    }
}

/// One engine double (`engine_double.py`): vLLM's HTTP API over a real LRU block pool that
/// publishes vLLM KV events.
final class EngineDouble: Sendable {
    let child: ChildProcess
    let port: Int
    let events: String?
    let replay: String?

    init(_ arguments: [String] = []) async throws {
        let script = packageRoot.appendingPathComponent("Tests/KVCacheGatewayTests/engine_double.py").path
        child = try ChildProcess("/usr/bin/env", ["python3", script] + arguments)
        let line = try await child.line(containing: "\"ready\"")
        let ready = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
        port = ready["port"] as! Int
        events = ready["events"] as? String
        replay = ready["replay"] as? String
    }

    var url: String { "http://127.0.0.1:\(port)" }

    /// The `--engine` argument for this engine as node `node` (rank 0's, with `dp`).
    func spec(node: Int?, dp: Int? = nil) -> String {
        var parts = [url]
        if let events { parts.append("events=\(events)") }
        if let replay { parts.append("replay=\(replay)") }
        if let node { parts.append("node=\(node)") }
        if let dp { parts.append("dp=\(dp)") }
        return parts.joined(separator: ",")
    }

    /// `GET /debug/stats`: what the double counted.
    func stats() async throws -> [String: Any] { try await Loopback.get(url + "/debug/stats").json }
}

/// A `kvcache-gateway` process in front of engine doubles.
final class GatewayProcess: Sendable {
    let child: ChildProcess
    let port: Int

    convenience init(engines: [EngineDouble], _ arguments: [String] = []) async throws {
        try await self.init(arguments: engines.enumerated().flatMap { ["--engine", $1.spec(node: $0)] } + arguments)
    }

    /// A gateway given exactly `arguments` besides its port and health interval.
    init(arguments: [String]) async throws {
        let products = Bundle.main.bundleURL.deletingLastPathComponent()
        var binary = products.appendingPathComponent("kvcache-gateway")
        if !FileManager.default.fileExists(atPath: binary.path) {
            binary = packageRoot.appendingPathComponent(".build/debug/kvcache-gateway")
        }
        child = try ChildProcess(binary.path, ["--port", "0", "--health-interval", "0.2"] + arguments)
        let line = try await child.line(containing: "listening on")
        guard let port = Int(line.split(separator: ":").last ?? "") else { throw HarnessError("no port in '\(line)'") }
        self.port = port
    }

    var url: String { "http://127.0.0.1:\(port)" }
}

/// An HTTP answer, whole.
struct Answer: Sendable {
    var status: Int
    var headers: [(String, String)]
    var body: Data

    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name }?.1 }
    var json: [String: Any] { ((try? JSONSerialization.jsonObject(with: body)) as? [String: Any]) ?? [:] }
    var text: String { String(decoding: body, as: UTF8.self) }
    /// `usage.prompt_tokens_details.cached_tokens` of a JSON body.
    var cachedTokens: Int? {
        ((json["usage"] as? [String: Any])?["prompt_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int
    }
}

/// HTTP on loopback, for the tests.
struct Loopback {
    static let client: HTTPClient = {
        var c = HTTPClient.Configuration()
        // Enough connections to offer more load than the gateway under test accepts.
        c.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 512)
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: c)
    }()

    static func post(
        _ url: String, json: [String: Any], headers: [(String, String)] = [], timeout: Duration = .seconds(60)
    ) async throws -> Answer {
        try await send(url, body: try JSONSerialization.data(withJSONObject: json), headers: headers, timeout: timeout)
    }

    static func send(
        _ url: String, body: Data?, headers: [(String, String)] = [], timeout: Duration = .seconds(60)
    ) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.method = .POST
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: body))
        }
        let response = try await client.execute(request, timeout: .seconds(Int64(timeout.components.seconds)))
        let bytes = try await response.body.collect(upTo: 64 << 20)
        return Answer(
            status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) }, body: Data(buffer: bytes))
    }

    static func get(_ url: String) async throws -> Answer { try await send(url, body: nil) }

    /// A streamed answer: its head, then each body chunk with the seconds since the request.
    static func stream(
        _ url: String, json: [String: Any], onChunk: @Sendable (Int) -> Void = { _ in }
    ) async throws -> (answer: Answer, arrivals: [Double]) {
        try await stream(url, body: try JSONSerialization.data(withJSONObject: json), onChunk: onChunk)
    }

    /// A streamed answer to exactly `body`'s bytes.
    static func stream(
        _ url: String, body: Data, onChunk: @Sendable (Int) -> Void = { _ in }
    ) async throws -> (answer: Answer, arrivals: [Double]) {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.body = .bytes(ByteBuffer(data: body))
        let start = ContinuousClock.now
        let response = try await client.execute(request, timeout: .seconds(60))
        var body = Data()
        var arrivals: [Double] = []
        for try await chunk in response.body {
            body.append(contentsOf: chunk.readableBytesView)
            let t = ContinuousClock.now - start
            arrivals.append(Double(t.components.seconds) + Double(t.components.attoseconds) / 1e18)
            onChunk(arrivals.count)
        }
        return (
            Answer(status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) }, body: body), arrivals
        )
    }

    /// Waits until `condition` holds for the gateway's `/health` body, at most `timeout`.
    static func waitForHealth(
        _ gateway: GatewayProcess, timeout: Duration = .seconds(10), _ condition: ([String: Any]) -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let a = try? await get(gateway.url + "/health"), condition(a.json) { return }
            guard ContinuousClock.now < deadline else { break }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw HarnessError("/health never met the condition: \((try? await get(gateway.url + "/health"))?.text ?? "-")")
    }
}

/// `n` token ids from `seed`, deterministic.
func tokens(_ n: Int, seed: UInt32) -> [UInt32] {
    var x = seed &* 2_654_435_761 | 1
    return (0..<n).map { _ in
        x ^= x << 13
        x ^= x >> 17
        x ^= x << 5
        return x % 50_000
    }
}
