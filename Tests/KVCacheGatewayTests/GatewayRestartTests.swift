import Foundation
import Testing

/// Conversations that grow by one turn per request, and what the gateway predicted of each.
private struct Conversations {
    var prompts: [[UInt32]]
    /// The longest prompt sent per conversation: the blocks the engines were given.
    var sent: [Int]

    init(count: Int, seed: UInt32) {
        prompts = (0..<count).map { tokens(160 + 16 * ($0 % 4), seed: seed &+ UInt32($0)) }
        sent = Array(repeating: 0, count: count)
    }

    /// Distinct blocks the engines were given.
    var blocks: Int { sent.reduce(0) { $0 + $1 / 16 } }

    /// One turn of each conversation in `which`, all at once (so that load spreads them over
    /// the engines), through `gateway`: per request, the cached tokens the gateway predicted
    /// and those the engine reported.
    mutating func turn(_ gateway: GatewayProcess, _ which: some Sequence<Int>, turn: Int) async throws -> [(predicted: Int, realized: Int)]
    {
        let prompts = prompts
        let answers = try await withThrowingTaskGroup(of: Answer.self) { group in
            for c in which {
                group.addTask {
                    try await Loopback.post(
                        gateway.url + "/v1/completions", json: ["model": "double", "prompt": prompts[c], "max_tokens": 4])
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for c in which {
            sent[c] = prompts[c].count
            self.prompts[c] += tokens(40, seed: UInt32(10_000 * turn + c))
        }
        return answers.map { a in
            #expect(a.status == 200, "\(a.text)")
            return (Int(a.header("x-kvcache-predicted-cached-tokens") ?? "") ?? -1, a.cachedTokens ?? -100)
        }
    }

    /// The share of requests predicted within a block of what the engine reported.
    static func withinBlock(_ pairs: [(predicted: Int, realized: Int)]) -> Double {
        Double(pairs.filter { abs($0.predicted - $0.realized) <= 16 }.count) / Double(max(pairs.count, 1))
    }
}

private func stateDirectory() throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kvcache-state-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

private func health(_ gateway: GatewayProcess, _ object: String, _ key: String) async throws -> Int? {
    (try await Loopback.get(gateway.url + "/health").json[object] as? [String: Any])?[key] as? Int
}

/// Gateways that restart, and gateways that start from another's state.
@Suite("kvcache-gateway restarts and replicas' state", .serialized, .enabled(if: haveEngineDoubles, "needs Python's pyzmq and msgspec"))
struct GatewayRestartTests {
    /// Four doubles that keep only their last 8 batches for replay, far fewer than a
    /// conversation workload publishes.
    static func engines() async throws -> [EngineDouble] {
        var out: [EngineDouble] = []
        for _ in 0..<4 { out.append(try await EngineDouble(["--replay-buffer", "8"])) }
        return out
    }

    /// One request sent to each engine directly, so that every engine has published events
    /// (and every node is in a saved state) whatever the gateway's choices.
    /// - Returns: The blocks they stored.
    @discardableResult
    static func warm(_ engines: [EngineDouble]) async throws -> Int {
        for (k, e) in engines.enumerated() {
            let a = try await Loopback.post(
                e.url + "/v1/completions", json: ["model": "double", "prompt": tokens(48, seed: UInt32(77_000 + k)), "max_tokens": 1])
            #expect(a.status == 200)
        }
        return engines.count * 3
    }

    /// The gateway's flags for these engines. These tests measure what a gateway knows of the
    /// engines' caches after a restart, so the default policy's relief of a busy engine is
    /// held off (`--overload-slack`): 24 turns sent at once, on a loaded machine, can leave one
    /// engine busy enough for a turn to move off its history, which would be a routing choice,
    /// not lost state.
    static func arguments(_ engines: [EngineDouble], _ extra: [String]) -> [String] {
        engines.enumerated().flatMap { ["--engine", $1.spec(node: $0)] } + ["--overload-slack", "1000"] + extra
    }

    @Test("SIGKILL, then a restart with --state-dir: the next turns are predicted as before; without it, they are not")
    func warmRestart() async throws {
        let engines = try await Self.engines()
        let dir = try stateDirectory()
        let arguments = Self.arguments(engines, ["--state-dir", dir, "--snapshot-interval", "2"])
        var conversations = Conversations(count: 24, seed: 500)
        var gateway = try await GatewayProcess(arguments: arguments)
        let warmed = try await Self.warm(engines)
        var before: [(predicted: Int, realized: Int)] = []
        for turn in 0..<3 { before += try await conversations.turn(gateway, 0..<24, turn: turn) }
        let expected = conversations.blocks + warmed
        try await Loopback.waitForHealth(gateway) { ($0["indexedBlocks"] as? Int) == expected }
        let writes = try await health(gateway, "state", "writes") ?? 0
        try await Loopback.waitForHealth(gateway) { (($0["state"] as? [String: Any])?["writes"] as? Int ?? 0) > writes }
        // A few more requests after the last write, then the crash: the engines still hold
        // those batches, the state does not.
        before += try await conversations.turn(gateway, 0..<3, turn: 3)
        let afterWrite = conversations.blocks + warmed
        try await Loopback.waitForHealth(gateway) { ($0["indexedBlocks"] as? Int) == afterWrite }
        gateway.child.signal(SIGKILL)
        _ = try await gateway.child.exitStatus(timeout: .seconds(10))
        #expect(Conversations.withinBlock(before) >= 0.95)

        gateway = try await GatewayProcess(arguments: arguments)
        try await Loopback.waitForHealth(gateway) { h in
            let events = h["events"] as? [String: Any] ?? [:]
            return (events["resumedEndpoints"] as? Int ?? 0) + (events["rebuiltEndpoints"] as? Int ?? 0) == 4
        }
        let h = try await Loopback.get(gateway.url + "/health").json
        let state = try #require(h["state"] as? [String: Any])
        #expect(state["restoredFrom"] as? String == "file")
        #expect(h["indexedBlocks"] as? Int == afterWrite, "the restored state plus the replayed batches")
        #expect((h["events"] as? [String: Any])?["rebuiltEndpoints"] as? Int == 0)
        let next = try await conversations.turn(gateway, 0..<24, turn: 4)
        let warm = Conversations.withinBlock(next)
        #expect(warm >= 0.95, "next turns predicted within a block after the restart: \(warm)")
        #expect(next.filter { $0.realized > 0 }.count == 24, "every next turn found its cache")

        // The same crash without the state: the engines replay only their last 8 batches.
        gateway.child.signal(SIGKILL)
        _ = try await gateway.child.exitStatus(timeout: .seconds(10))
        gateway = try await GatewayProcess(arguments: Self.arguments(engines, []))
        try await Task.sleep(for: .milliseconds(500))
        let coldTurn = try await conversations.turn(gateway, 0..<24, turn: 5)
        let (warmHits, coldHits) = (next.filter { $0.realized > 0 }.count, coldTurn.filter { $0.realized > 0 }.count)
        #expect(coldHits < warmHits, "a cold gateway sends turns away from their cache")
        print(
            "restart: predicted within a block \(warm) warm, \(Conversations.withinBlock(coldTurn)) cold; turns that found their cache \(warmHits) warm, \(coldHits) cold, of 24"
        )
    }

    @Test("a corrupt state file: one warning line, a cold start; a state of another block size is refused")
    func refusedStates() async throws {
        let engines = try await Self.engines()
        let dir = try stateDirectory()
        let arguments = Self.arguments(engines, ["--state-dir", dir, "--snapshot-interval", "1"])
        var gateway = try await GatewayProcess(arguments: arguments)
        var conversations = Conversations(count: 8, seed: 900)
        _ = try await conversations.turn(gateway, 0..<8, turn: 0)
        gateway.child.signal(SIGTERM)
        #expect(try await gateway.child.exitStatus(timeout: .seconds(20)) == 0)
        let path = dir + "/gateway.kvstate"
        let good = try #require(FileManager.default.contents(atPath: path))
        #expect(good.count > 48)

        // another block size: refused by name
        gateway = try await GatewayProcess(arguments: arguments + ["--block-size", "32"])
        try await Loopback.waitForHealth(gateway) { _ in gateway.child.stderr.contains("is not used") }
        let refused = gateway.child.stderr.split(separator: "\n").filter { $0.contains("is not used") }
        #expect(refused.count == 1)
        #expect(refused.first?.contains("written for blocks of 16 tokens; this router hashes blocks of 32") == true, "\(refused)")
        #expect(try await Loopback.get(gateway.url + "/health").json["indexedBlocks"] as? Int == 0)
        gateway.child.signal(SIGKILL)
        _ = try await gateway.child.exitStatus(timeout: .seconds(10))

        // a damaged byte: the checksum says so, the gateway starts cold and serves
        var damaged = good
        damaged[damaged.count - 5] ^= 0x40
        try damaged.write(to: URL(fileURLWithPath: path))
        gateway = try await GatewayProcess(arguments: arguments)
        let lines = gateway.child.stderr.split(separator: "\n").filter { $0.contains("is not used") }
        #expect(lines.count == 1 && lines.first?.contains("corrupt") == true, "\(lines)")
        let state = try #require(try await Loopback.get(gateway.url + "/health").json["state"] as? [String: Any])
        #expect(state["restoredFrom"] is NSNull)
        _ = try await conversations.turn(gateway, 0..<2, turn: 1)
    }

    @Test("a new replica starts from a peer's /admin/snapshot, which needs the admin token")
    func bootstrapFromPeer() async throws {
        let engines = try await Self.engines()
        let token = "replica-token-0123456789"
        let first = try await GatewayProcess(arguments: Self.arguments(engines, ["--admin-token", token]))
        let warmed = try await Self.warm(engines)
        var conversations = Conversations(count: 16, seed: 1_300)
        for turn in 0..<3 { _ = try await conversations.turn(first, 0..<16, turn: turn) }
        let expected = conversations.blocks + warmed
        try await Loopback.waitForHealth(first) { ($0["indexedBlocks"] as? Int) == expected }

        let anonymous = try await Loopback.get(first.url + "/admin/snapshot")
        #expect(anonymous.status == 401)
        #expect((anonymous.json["error"] as? [String: Any])?["type"] as? String == "authentication_error")
        let wrong = try await Loopback.send(first.url + "/admin/snapshot", body: nil, headers: [("authorization", "Bearer nope")])
        #expect(wrong.status == 401)
        let right = try await Loopback.send(first.url + "/admin/snapshot", body: nil, headers: [("authorization", "Bearer \(token)")])
        #expect(right.status == 200 && right.body.prefix(8) == Data("KVCSTATE".utf8))

        let second = try await GatewayProcess(
            arguments: Self.arguments(engines, ["--admin-token", token, "--bootstrap-from", first.url]))
        try await Loopback.waitForHealth(second) { (($0["events"] as? [String: Any])?["resumedEndpoints"] as? Int) == 4 }
        let h = try await Loopback.get(second.url + "/health").json
        #expect((h["state"] as? [String: Any])?["restoredFrom"] as? String == "peer")
        #expect(h["indexedBlocks"] as? Int == expected)
        let next = try await conversations.turn(second, 0..<16, turn: 3)
        #expect(Conversations.withinBlock(next) >= 0.95, "\(next)")

        // a wrong token: the peer refuses, the replica says so in one line and starts cold
        let third = try await GatewayProcess(
            arguments: Self.arguments(engines, ["--admin-token", "another-token-0123456789", "--bootstrap-from", first.url]))
        let lines = third.child.stderr.split(separator: "\n").filter { $0.contains("--bootstrap-from") }
        #expect(lines.count == 1 && lines.first?.contains("401") == true, "\(lines)")
        #expect(try await Loopback.get(third.url + "/health").json["indexedBlocks"] as? Int ?? 0 < expected)
    }

    @Test("an engine that restarts clears its node: live (its batches start again) and across a gateway restart")
    func engineRestarts() async throws {
        let engines = try await Self.engines()
        let dir = try stateDirectory()
        let arguments = Self.arguments(engines, ["--state-dir", dir])
        var gateway = try await GatewayProcess(arguments: arguments)
        let warmed = try await Self.warm(engines)
        var conversations = Conversations(count: 8, seed: 2_100)
        for turn in 0..<2 { _ = try await conversations.turn(gateway, 0..<8, turn: turn) }
        let expected = conversations.blocks + warmed
        try await Loopback.waitForHealth(gateway) { ($0["indexedBlocks"] as? Int) == expected }
        gateway.child.signal(SIGTERM)
        #expect(try await gateway.child.exitStatus(timeout: .seconds(20)) == 0)

        // engine 0 restarts while no gateway runs: its blocks must not come back
        _ = try await Loopback.post(engines[0].url + "/debug/restart", json: [:])
        gateway = try await GatewayProcess(arguments: arguments)
        try await Loopback.waitForHealth(gateway) { h in
            let events = h["events"] as? [String: Any] ?? [:]
            return events["resumedEndpoints"] as? Int == 3 && events["rebuiltEndpoints"] as? Int == 1
        }
        let next = try await conversations.turn(gateway, 0..<8, turn: 2)
        #expect(Conversations.withinBlock(next) >= 0.95, "\(next)")

        // engine 1 restarts while the gateway runs: its next batch starts again from 0
        _ = try await Loopback.post(engines[1].url + "/debug/restart", json: [:])
        _ = try await Self.warm([engines[1]])
        try await Loopback.waitForHealth(gateway) { (($0["events"] as? [String: Any])?["publisherRestarts"] as? Int ?? 0) == 1 }
        let after = try await conversations.turn(gateway, 0..<8, turn: 3)
        #expect(Conversations.withinBlock(after) >= 0.95, "\(after)")
    }
}
