import Foundation
import KVCache
import Testing

@testable import KVCacheZMQ

/// `engine.py`: vLLM-shaped engines on 127.0.0.1 that publish real token prompts with engine
/// hashes computed as vLLM computes them (sha256), driven command by command over stdin.
final class EngineProcess {
    let process = Process()
    let input = Pipe(), output = Pipe(), errors = Pipe()
    private(set) var pubPorts: [Int] = [], replayPorts: [Int] = []
    private var buffer = Data()

    /// Starts `engine.py`, whose sockets bind ports the kernel picks and which names them when ready.
    init(blockSizes: [Int], binary: [Int] = []) throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("engine.py").path
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", script, "--block-sizes", blockSizes.map(String.init).joined(separator: ","),
            "--binary", binary.map(String.init).joined(separator: ","),
        ]
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let ready = try readLine()
        guard ready["ready"] as? Bool == true, let pub = ready["pub"] as? [Int], let replay = ready["replay"] as? [Int],
            pub.count == blockSizes.count, replay.count == blockSizes.count
        else { throw EngineError(message: "engine.py did not start: \(ready) \(stderrText())") }
        pubPorts = pub
        replayPorts = replay
    }

    struct EngineError: Error, CustomStringConvertible { var message: String; var description: String { message } }

    func stderrText() -> String {
        process.terminate()
        return String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    }

    func readLine() throws -> [String: Any] {
        while true {
            if let nl = buffer.firstIndex(of: 0x0A) {
                let line = buffer[..<nl]
                buffer.removeSubrange(...nl)
                return (try JSONSerialization.jsonObject(with: Data(line))) as? [String: Any] ?? [:]
            }
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { throw EngineError(message: "engine.py exited: \(stderrText())") }
            buffer.append(chunk)
        }
    }

    @discardableResult
    func send(_ command: [String: Any]) throws -> [String: Any] {
        var data = try JSONSerialization.data(withJSONObject: command)
        data.append(0x0A)
        input.fileHandleForWriting.write(data)
        return try readLine()
    }

    func quit() {
        _ = try? send(["quit": true])
        process.waitUntilExit()
    }

    func endpoints(nodes: [Int]) -> [EngineEventSubscriber.Endpoint] {
        nodes.enumerated().map { i, node in
            .init(address: "tcp://127.0.0.1:\(pubPorts[i])", replayAddress: "tcp://127.0.0.1:\(replayPorts[i])", node: node)
        }
    }
}

/// Waits (up to 10 s) for `condition`.
func eventually(_ condition: () -> Bool) -> Bool {
    let deadline = ContinuousClock.now + .seconds(10)
    while ContinuousClock.now < deadline {
        if condition() { return true }
        Thread.sleep(forTimeInterval: 0.01)
    }
    return condition()
}

func prompt(_ conversation: Int, tokens: Int) -> [Int] { (0..<tokens).map { conversation * 1_000_000 + $0 * 7 + 1 } }

@Suite("Routing on a real engine event stream", .serialized)
struct RoutingIntegrationTests {
    @Test("engine-hashed stores route to their holder; removal, clear, adapters and block sizes behave")
    func engineTrueRouting() throws {
        try requirePython()
        let engine = try EngineProcess(blockSizes: [16, 16, 32], binary: [1])
        defer { engine.quit() }
        let router = KVRouter(configuration: .init(hasher: try PrefixHasher(blockSize: 16), selector: CacheAware()))
        for n in 0..<3 { router.addNode(n) }
        let subscriber = EngineEventSubscriber(endpoints: engine.endpoints(nodes: [0, 1, 2]), router: router)
        try subscriber.start()
        defer { subscriber.stop() }
        Thread.sleep(forTimeInterval: 0.5)  // let the SUB sockets connect
        func applied() -> Int { router.snapshot.index.eventsApplied }
        func depths(_ p: [Int], adapter: String? = nil) -> [Int] {
            router.overlaps(router.blockHashes(tokens: p.map(UInt32.init), adapter: adapter)).depths.map(Int.init)
        }

        // node 0 (integer hashes) holds 5 blocks of P; node 1 (32-byte hashes) its first 2
        let p = prompt(1, tokens: 5 * 16 + 3)
        try engine.send(["endpoint": 0, "store": p])
        try engine.send(["endpoint": 1, "store": Array(p[..<40])])
        #expect(eventually { applied() >= 2 }, "\(subscriber.statistics)")
        let routed = router.route(tokens: p.map(UInt32.init))
        #expect(routed.node == 0 && routed.overlapBlocks == 5)
        #expect(depths(p) == [5, 2])

        // a BlockRemoved by engine hash lowers node 0's overlap to the blocks before it
        try engine.send(["endpoint": 0, "remove": p, "block": 3])
        #expect(eventually { applied() >= 3 })
        #expect(depths(p) == [3, 2])

        // AllBlocksCleared zeroes it; the prompt now goes to node 1
        try engine.send(["endpoint": 0, "clear": true])
        #expect(eventually { applied() >= 4 })
        #expect(depths(p) == [0, 2])
        #expect(router.route(tokens: p.map(UInt32.init)).node == 1)

        // adapter A's prompt matches A's blocks only
        let q = prompt(2, tokens: 3 * 16)
        try engine.send(["endpoint": 1, "store": q, "lora": "A"])
        #expect(eventually { applied() >= 5 })
        #expect(depths(q, adapter: "A") == [0, 3])
        #expect(depths(q, adapter: "B") == [0, 0] && depths(q) == [0, 0])

        // node 2 publishes 32-token blocks: a counted error, nothing indexed for it
        try engine.send(["endpoint": 2, "store": p])
        #expect(eventually { subscriber.statistics.blockSizeMismatches == 1 })
        #expect(router.indexedBlocks(of: 2) == 0)
        let s = subscriber.statistics
        #expect(s.malformed == 0 && s.lostRanges == 0 && s.failedReplays == 0, "\(s)")
    }

    @Test("kvcache-listen --probe answers which node holds how much of each prompt")
    func listenProbe() throws {
        try requirePython()
        let engine = try EngineProcess(blockSizes: [16, 16, 16, 32], binary: [0])
        let p = prompt(3, tokens: 4 * 16 + 5), q = prompt(4, tokens: 2 * 16)
        let probes = FileManager.default.temporaryDirectory.appendingPathComponent("probe-\(UUID().uuidString).txt")
        try """
        # prompts to look up
        \(p.map(String.init).joined(separator: ","))
        lora=A:\(q.map(String.init).joined(separator: ","))
        \(q.map(String.init).joined(separator: ","))
        """.write(to: probes, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: probes) }
        let listener = Process()
        listener.executableURL = cliBinary()
        listener.arguments = [
            "--endpoint", "tcp://127.0.0.1:\(engine.pubPorts[0]),replay=tcp://127.0.0.1:\(engine.replayPorts[0])",
            "--endpoint", "tcp://127.0.0.1:\(engine.pubPorts[1]),replay=tcp://127.0.0.1:\(engine.replayPorts[1]),node=3",
            "--endpoint", "tcp://127.0.0.1:\(engine.pubPorts[2]),replay=tcp://127.0.0.1:\(engine.replayPorts[2]),node=4",
            "--endpoint", "tcp://127.0.0.1:\(engine.pubPorts[3]),replay=tcp://127.0.0.1:\(engine.replayPorts[3]),node=5",
            "--block-size", "16", "--duration", "3", "--format", "json", "--probe", probes.path,
        ]
        let out = Pipe()
        listener.standardOutput = out
        listener.standardError = Pipe()
        try listener.run()
        Thread.sleep(forTimeInterval: 0.7)
        try engine.send(["endpoint": 0, "store": p])
        try engine.send(["endpoint": 1, "store": Array(p[..<32])])
        try engine.send(["endpoint": 1, "store": q, "lora": "A"])
        try engine.send(["endpoint": 0, "remove": p, "block": 2])
        try engine.send(["endpoint": 2, "store": p])  // node 4 stores, then clears
        try engine.send(["endpoint": 2, "clear": true])
        try engine.send(["endpoint": 3, "store": p])  // node 5: 32-token blocks
        let data = out.fileHandleForReading.readDataToEndOfFile()
        listener.waitUntilExit()
        engine.quit()
        #expect(listener.terminationStatus == 0)
        let text = String(decoding: data, as: UTF8.self)
        let summary = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(text)")
        let got = (summary["probes"] as? [[String: Any]] ?? []).map { entry -> [Int] in
            [entry["line"] as? Int ?? -1] + (entry["overlaps"] as? [[String: Int]] ?? []).flatMap { [$0["node"]!, $0["blocks"]!] }
        }
        // line 2: P — node 0 lost block 2 (2 leading blocks left), node 3 holds 2, node 4
        // cleared, node 5's 32-token blocks were refused; line 3: Q for adapter A — node 3 holds
        // all 2; line 4: Q for the base model — nobody
        #expect(got == [[2, 0, 2, 3, 2, 4, 0, 5, 0], [3, 0, 0, 3, 2, 4, 0, 5, 0], [4, 0, 0, 3, 0, 4, 0, 5, 0]], "\(summary)")
        #expect(summary["blockSizeMismatches"] as? Int == 1, "\(summary)")
        #expect(summary["batches"] as? Int == 7 && summary["gaps"] as? Int == 0, "every batch arrived: \(summary)")
    }
}

/// The built `kvcache-listen` beside the test bundle.
func cliBinary() -> URL {
    let products = Bundle.main.bundleURL.deletingLastPathComponent()
    let beside = products.appendingPathComponent("kvcache-listen")
    if FileManager.default.fileExists(atPath: beside.path) { return beside }
    return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(".build/debug/kvcache-listen")
}
