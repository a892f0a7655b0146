import Foundation
import Testing
import KVCache
@testable import KVCacheSim

/// Runs the built `kvcache-sim` (it sits beside the test bundle in the build products).
func runCLI(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    let products = Bundle.main.bundleURL.deletingLastPathComponent()
    var binary = products.appendingPathComponent("kvcache-sim")
    if !FileManager.default.fileExists(atPath: binary.path) {
        binary = SimFixtures.packageRoot.appendingPathComponent(".build/debug/kvcache-sim")
    }
    let process = Process()
    process.executableURL = binary
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

@Suite("kvcache-sim command line")
struct CommandLineTests {
    @Test("bad input: one clear line on stderr, non-zero exit, no stack trace", arguments: [
        (["replay", "--capacity", "0"], "capacity"),
        (["replay", "--eviction", "mru"], "unknown --eviction 'mru'"),
        (["replay", "--trace", "/no/such/trace.jsonl"], "/no/such/trace.jsonl: no such file"),
        (["compare", "--selector", "best"], "unknown --selector 'best'"),
        (["compare", "--nodes", "0"], "--nodes"),
        (["hash", "--block-size", "0", "--tokens", "1"], "block size must be at least 1"),
        (["hash", "--tokens", "1,two"], "'two' is not a token id"),
        (["sweep", "--workload", "nope"], "unknown --workload 'nope'"),
    ])
    func badInput(arguments: [String], fragment: String) throws {
        let r = try runCLI(arguments)
        #expect(r.status != 0)
        let lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: true)
        #expect(lines.count == 1, "stderr: \(r.stderr)")
        #expect(r.stderr.contains(fragment), "stderr: \(r.stderr)")
        #expect(!r.stderr.contains("Fatal error") && !r.stderr.contains("Stack dump"))
    }

    @Test("a malformed trace names file, line and field")
    func badTrace() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kvcache-bad-\(UInt32.random(in: 0...UInt32.max)).jsonl")
        try "{\"timestamp\": 0, \"input_length\": 600, \"output_length\": 1, \"hash_ids\": [1, 2]}\n{\"timestamp\": 1, \"input_length\": -5, \"output_length\": 1, \"hash_ids\": [1]}\n"
            .write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        let r = try runCLI(["replay", "--trace", url.path])
        #expect(r.status != 0)
        #expect(r.stderr.contains("\(url.path):2: field 'input_length'"))
    }

    @Test("replay --format json prints the pool keys and the cluster keys")
    func replayJSON() throws {
        let r = try runCLI(["replay", "--trace", SimFixtures.conversationPath, "--nodes", "1", "--capacity", "5000", "--format", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        for key in ["requests", "blockAccesses", "blockHitRatio", "accessHitRatio", "prefixHitRatio", "tokenHitRatio", "evictions",
                    "elapsedSeconds", "maxRequestShare", "cvInputTokens", "cvPrefilledTokens", "ttft", "perNode"] {
            #expect(object[key] != nil, "missing \(key)")
        }
        let expected = SimFixtures.reference.global_pool["LRU@5000"]!
        #expect(abs((object["prefixHitRatio"] as! Double) - expected["prefix_hit"]!) < 1e-9)
        let ttft = object["ttft"] as! [String: Double]
        #expect(Set(ttft.keys) == ["mean", "p50", "p90", "p99"])
    }

    @Test("hash prints 16 hex digits per full block, and JSON with local hashes for dynamo")
    func hash() throws {
        let text = try runCLI(["hash", "--block-size", "2", "--tokens", "1,2,3,4,5"])
        #expect(text.status == 0)
        let lines = text.stdout.split(separator: "\n")
        #expect(lines.count == 2 && lines.allSatisfy { $0.count == 16 && $0.allSatisfy(\.isHexDigit) })
        let json = try runCLI(["hash", "--block-size", "2", "--tokens", "1 2 3 4", "--scheme", "dynamo", "--format", "json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [String: Any]
        #expect((object["hashes"] as! [String]).count == 2 && (object["localHashes"] as! [String]).count == 2)
        #expect(object["blockSize"] as! Int == 2)
    }
}

@Suite("Sweep and analysis")
struct SweepAnalysisTests {
    @Test("the one-pass LRU curve equals per-capacity LRU replays at every capacity")
    func missRatioCurve() throws {
        let trace = SimFixtures.conversation
        let distances = StackDistances(trace.blocks)
        let capacities = [1, 10, 100, 1000, 2500, 5000, 10000, 20000, 50000, 200_000]
        let curve = distances.hitRatios(capacities: capacities)
        for (c, ratio) in zip(capacities, curve) {
            let replay = try PoolReplay.run(trace, capacity: c, policy: .lru)
            #expect(ratio == replay.accessHitRatio, "capacity \(c)")
            #expect(distances.hits(capacity: c) == replay.accessHits)
        }
        #expect(distances.coldAccesses == SimFixtures.reference.stats.unique_blocks)
    }

    @Test("analyze matches the reference trace statistics")
    func statistics() {
        let s = TraceStatistics(SimFixtures.conversation, top: 12)
        let ref = SimFixtures.reference.stats
        #expect(s.requests == ref.requests && s.blockAccesses == ref.block_accesses && s.uniqueBlocks == ref.unique_blocks)
        #expect(abs(s.infiniteBlockHitRatio - ref.inf_block_hit_ratio) < 1e-12)
        #expect(abs(s.infinitePrefixHitRatio - ref.inf_prefix_hit_ratio) < 1e-12)
        #expect(abs(s.infiniteTokenHitRatio - ref.inf_token_hit_ratio) < 1e-12)
        #expect(abs(s.meanBlocksPerRequest - ref.mean_blocks_per_req) < 1e-12)
        #expect(abs(s.hottestShare - ref.share_accesses_top12_blocks) < 1e-12)
        #expect(Set(s.hottestBlocks.map(\.block.rawValue)) == Set(ref.top12_blocks))
        #expect(s.mostCommonFirstBlock == 0 && s.shareOfRequestsWithMostCommonFirstBlock == 1)
    }

    @Test("built-in workloads are reproducible and valid traces", arguments: Workload.Scenario.allCases)
    func workloads(scenario: Workload.Scenario) throws {
        let a = try Workload(scenario: scenario, requests: 500, seed: 7).generate()
        let b = try Workload(scenario: scenario, requests: 500, seed: 7).generate()
        #expect(a.count == 500 && a.blocks == b.blocks && a.records == b.records)
        for r in a.records {
            #expect(r.blockCount >= 1 && r.blockCount <= (r.inputLength + 511) / 512 && r.inputLength > 0)
        }
        #expect(zip(a.records, a.records.dropFirst()).allSatisfy { $0.timestamp <= $1.timestamp })
        let stats = TraceStatistics(a)
        if scenario != .uniform { #expect(stats.infiniteBlockHitRatio > 0.1, "\(scenario) has reuse") }
        #expect(throws: ConfigurationError.self) { try Workload(scenario: scenario, requests: 0).generate() }
    }
}
