import Foundation
import KVCache
import Testing

@testable import KVCacheSim

/// Runs the built `kvcache-sim` or another of the package's programs (they sit beside the test
/// bundle in the build products).
func runCLI(_ arguments: [String], program: String = "kvcache-sim") throws -> (status: Int32, stdout: String, stderr: String) {
    let products = Bundle.main.bundleURL.deletingLastPathComponent()
    var binary = products.appendingPathComponent(program)
    if !FileManager.default.fileExists(atPath: binary.path) {
        binary = SimFixtures.packageRoot.appendingPathComponent(".build/debug/\(program)")
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
    @Test(
        "bad input: one clear line on stderr, non-zero exit, no stack trace",
        arguments: [
            (["replay", "--capacity", "0"], "capacity"),
            (["replay", "--eviction", "mru"], "unknown --eviction 'mru'"),
            (["replay", "--trace", "/no/such/trace.jsonl"], "/no/such/trace.jsonl: no such file"),
            (["compare", "--selector", "best"], "unknown --selector 'best'"),
            (["compare", "--nodes", "0"], "--nodes"),
            (["hash", "--block-size", "0", "--tokens", "1"], "block size must be at least 1"),
            (["hash", "--tokens", "1,two"], "'two' is not a token id"),
            (["sweep", "--workload", "nope"], "unknown --workload 'nope'"),
            // numbers from flags are range-checked: one line naming the flag and the value
            (["replay", "--block-size", "9223372036854775807"], "--block-size 9223372036854775807"),
            (["replay", "--rate", "1e-300"], "--rate 1e-300"),
            (["replay", "--prefill-base-ms", "1e300"], "--prefill-base-ms 1e+300"),
            (["replay", "--host-capacity", "10", "--host-onboard-ms", "1e300"], "--host-onboard-ms 1e+300"),
            (["replay", "--decode-ms-per-token", "1e300"], "--decode-ms-per-token 1e+300"),
            (["compare", "--nodes", "100000"], "--nodes: 100000 is above the maximum"),
            (["replay", "--capacity", "4000000000"], "need about"),
            (["replay", "--capacity", "9223372036854775807"], "need about"),
            (["compare", "--selector", "weighted", "--alpha", "nan"], "--alpha nan"),
            (["compare", "--selector", "weighted", "--alpha", "inf"], "--alpha inf"),
            (["compare", "--selector", "kv-cost", "--temperature", "-1"], "--temperature -1"),
            (["compare", "--selector", "ttft-min", "--transfer-gbps", "-1"], "--transfer-gbps -1"),
            (["compare", "--cost-ratio", "-1"], "--cost-ratio -1"),
            (["replay", "--selector", "ttft-min", "--ttft-slo", "0"], "--ttft-slo 0"),
            (["replay", "--zipf", "-1"], "--zipf -1"),
            (["compare", "--selector", "kv-cost", "--alpha", "0.5"], "--alpha applies to weighted"),
            (["replay", "--selector", "ttft-min", "--ttft-slo", "0.000001"], "every one of the 10000 requests was rejected"),
            (["hash", "--tokens", "1,2,3"], "3 tokens make no full block of 512"),
            (["replay", "--router-view", "psychic"], "unknown --router-view 'psychic'"),
            (["replay", "--tier-weights", "1,2"], "expected three numbers"),
            (["replay", "--tier-weights", "1,x,0"], "the host weight 'x' is not a number"),
            (["replay", "--tier-weights", "1,0.5,-1"], "--tier-weights disk weight -1"),
            (["replay", "--routers", "0"], "--routers"),
            (["replay", "--routers", "1,2"], "lists in --routers"),
            (["replay", "--event-lag-ms", "-1"], "--event-lag-ms -1"),
            (["replay", "--event-lag-ms", "soon"], "--event-lag-ms 'soon'"),
            (["replay", "--router-view", "approximate", "--event-lag-ms", "5"], "apply to --router-view events"),
            (["replay", "--shadow-capacity", "10"], "apply to --router-view shadow"),
            (["replay", "--router-view", "shadow", "--shadow-eviction", "belady"], "a router does not know the future"),
            (["replay", "--nodes", "2", "--routers", "2", "--host-capacity", "10"], "no host or disk tier"),
            (["compare", "--prefill-nodes", "2"], "--prefill-nodes and --decode-nodes go together"),
            (["compare", "--load-view", "psychic"], "unknown --load-view 'psychic'"),
            (["compare", "--load-interval-ms", "50"], "--load-interval-ms applies to --load-view engine"),
            (["compare", "--load-view", "engine", "--load-interval-ms", "0"], "--load-interval-ms"),
            (["compare", "--prefill-nodes", "0", "--decode-nodes", "2"], "--prefill-nodes"),
            (["compare", "--pd-threshold-tokens", "512"], "the --pd-* flags need --prefill-nodes and --decode-nodes"),
            (["compare", "--prefill-nodes", "2", "--decode-nodes", "2", "--nodes", "4"], "--nodes: with --prefill-nodes"),
            (["compare", "--prefill-nodes", "2", "--decode-nodes", "2", "--pd-transfer-gbps", "0"], "--pd-transfer-gbps 0"),
            (["compare", "--prefill-nodes", "1", "--decode-nodes", "1", "--routers", "2"], "one immediate router"),
        ])
    func badInput(arguments: [String], fragment: String) throws {
        try expectOneErrorLine(try runCLI(arguments), fragment)
    }

    @Test(
        "kvcache-listen: bad input gets one clear line too",
        arguments: [
            (["--endpoint", "tcp://127.0.0.1:1,node=1000000000"], "node must be a whole number in 0...4095"),
            (["--endpoint", "tcp://127.0.0.1:1,node=9223372036854775807"], "node must be a whole number"),
            (["--endpoint", "tcp://127.0.0.1:1,colour=blue"], "unknown part 'colour=blue'"),
            (["--endpoint", "tcp://127.0.0.1:1", "--block-size", "0"], "--block-size 0"),
            (["--endpoint", "tcp://127.0.0.1:1", "--duration", "0"], "--duration 0"),
            (["--endpoint", "tcp://127.0.0.1:1", "--probe", "/no/such/prompts.txt"], "/no/such/prompts.txt: no such file"),
            ([], "give at least one --endpoint"),
        ])
    func listenBadInput(arguments: [String], fragment: String) throws {
        try expectOneErrorLine(try runCLI(arguments, program: "kvcache-listen"), fragment)
    }

    func expectOneErrorLine(_ r: (status: Int32, stdout: String, stderr: String), _ fragment: String) throws {
        #expect(r.status != 0)
        let lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: true)
        #expect(lines.count == 1, "stderr: \(r.stderr)")
        #expect(r.stderr.contains(fragment), "stderr: \(r.stderr)")
        #expect(!r.stderr.contains("Fatal error") && !r.stderr.contains("Stack dump"))
    }

    /// Traces that once crashed the simulator (overflow, stack depth): one error line now.
    @Test(
        "hostile traces: one line naming file, line and field",
        arguments: [
            (
                "{\"timestamp\": 0, \"input_length\": 9223372036854775807, \"output_length\": 1, \"hash_ids\": [1]}", ["replay"],
                ":1: field 'input_length'"
            ),
            ("{\"timestamp\": 1e16, \"input_length\": 10, \"output_length\": 1, \"hash_ids\": [1]}", ["replay"], ":1: field 'timestamp'"),
            ("{\"timestamp\": -1e300, \"input_length\": 10, \"output_length\": 1, \"hash_ids\": [1]}", ["replay"], ":1: field 'timestamp'"),
            ("{\"timestamp\": 1e308, \"input_length\": 10, \"output_length\": 1, \"hash_ids\": [1]}", ["replay"], ":1: field 'timestamp'"),
            (
                "{\"timestamp\": 0, \"input_length\": 9223372036854775000, \"output_length\": 9223372036854775000, \"hash_ids\": [1]}",
                ["replay", "--nodes", "2", "--decode-ms-per-token", "1"], ":1: field 'input_length'"
            ),
            (
                "{\"timestamp\": 0, \"input_length\": 5000000000000000000, \"output_length\": 1, \"hash_ids\": [1]}\n"
                    + "{\"timestamp\": 1, \"input_length\": 5000000000000000000, \"output_length\": 1, \"hash_ids\": [1]}", ["analyze"],
                ":1: field 'input_length'"
            ),
            (
                "{\"timestamp\": 0, \"input_length\": 10, \"output_length\": 1, \"hash_ids\": [1], \"x\": "
                    + String(repeating: "[", count: 20_500) + String(repeating: "]", count: 20_500) + "}", ["replay"],
                "nested more than 64 levels"
            ),
        ])
    func hostileTrace(text: String, command: [String], fragment: String) throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "kvcache-hostile-\(UInt32.random(in: 0...UInt32.max)).jsonl")
        try (text + "\n").write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        let r = try runCLI(command + ["--trace", url.path])
        #expect(r.status == 1, "status \(r.status): \(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1 && r.stderr.contains(fragment), "stderr: \(r.stderr)")
    }

    /// The simulator's own clock: times that cannot be represented end the run with an error.
    @Test("a simulated time beyond the clock is an error naming the request, not a trap")
    func clockOverflow() throws {
        let trace = try TraceReader().read(
            text: """
                {"timestamp": 1e15, "input_length": 4294967296, "output_length": 4294967296, "hash_ids": [1]}
                {"timestamp": 1e15, "input_length": 4294967296, "output_length": 4294967296, "hash_ids": [2]}
                """)
        let config = ClusterConfiguration(
            nodes: 1, capacity: 10, prefillModel: LinearPrefillModel(base: 3600, perToken: 1),
            decodeSecondsPerToken: 1e10)
        #expect(throws: SimulationError.self) { try ClusterSimulator.run(trace, config) }
    }

    /// Every command's JSON is one document a JSON parser accepts, whatever the trace path.
    @Test("every command prints one valid JSON document, even for a path with quotes, brackets and non-ASCII")
    func jsonEverywhere() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "kvcache \"json\" [test] ünï-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let trace = dir.appendingPathComponent("[1e5].jsonl")
        try FileManager.default.copyItem(atPath: SimFixtures.conversationPath, toPath: trace.path)
        let t = trace.path
        for command in [
            ["replay", "--trace", t, "--nodes", "4", "--capacity", "1000", "--format", "json"],
            ["replay", "--trace", t, "--nodes", "1", "--eviction", "belady", "--capacity", "1000", "--format", "json"],
            ["compare", "--trace", t, "--nodes", "4,8", "--capacity", "1000", "--selector", "round-robin,kv-cost", "--format", "json"],
            ["sweep", "--trace", t, "--capacity", "100,1000", "--format", "json"],
            ["analyze", "--trace", t, "--format", "json"],
            ["index-bench", "--trace", t, "--nodes", "4,8", "--format", "json"],
            ["index-bench", "--trace", t, "--nodes", "4", "--events", "engine", "--format", "json"],
            ["hash", "--block-size", "2", "--tokens", "1,2,3,4", "--lora", "a \"quoted\" [lora] ü", "--format", "json"],
        ] {
            let r = try runCLI(command)
            #expect(r.status == 0, "\(command): \(r.stderr)")
            let parsed = try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))
            #expect(parsed != nil, "\(command[0]) printed no single JSON document: \(r.stdout.prefix(300))")
            if let object = parsed as? [String: Any], let source = object["trace"] as? String { #expect(source == t) }
            if let array = parsed as? [[String: Any]], let source = array.first?["trace"] as? String { #expect(source == t) }
        }
    }

    @Test(
        "every command's help prints, fits 80 columns, and its examples run as printed",
        arguments: ["compare", "replay", "sweep", "analyze", "index-bench", "hash", "kvcache-listen"])
    func help(command: String) throws {
        let r = command == "kvcache-listen" ? try runCLI(["--help"], program: command) : try runCLI([command, "--help"])
        #expect(r.status == 0, "\(r.stderr)")
        // the overview and examples (ArgumentParser lays out the usage and option lists itself)
        let prose = r.stdout.components(separatedBy: "USAGE:")[0]
        for line in prose.split(separator: "\n") { #expect(line.count <= 80, "\(command) --help: \(line)") }
    }

    @Test("compare --baseline reports each configuration's TTFT reduction, and rejections beside TTFT")
    func compareBaseline() throws {
        let r = try runCLI([
            "compare", "--nodes", "4", "--capacity", "1000", "--selector", "round-robin,ttft-min", "--baseline", "--format", "json",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        #expect(rows.count == 2)
        for row in rows {
            let reduction = try #require(row["ttftReduction"] as? Double, "\(row["selector"] ?? "?")")
            #expect(reduction > 0 && reduction < 1)
            #expect(row["rejectionRate"] is Double)
        }
        let table = try runCLI(["compare", "--nodes", "4", "--capacity", "1000", "--selector", "round-robin", "--baseline"])
        #expect(table.status == 0 && table.stdout.contains("ttftReduction") && table.stdout.contains("rejected"))
    }

    @Test("compare runs every router model asked for, in order, with the router's prediction beside the hits")
    func compareRouters() throws {
        let r = try runCLI([
            "compare", "--nodes", "4", "--capacity", "500", "--selector", "kv-cost", "--routers", "1,2", "--router-view",
            "events,shadow", "--rank-by", "none", "--format", "json",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        #expect(rows.map { $0["router"] as? String ?? "k1/events" } == ["k1/events", "k1/shadow", "k2/events", "k2/shadow"])
        let exact = rows.map { ($0["prediction"] as? [String: Any])?["exactShare"] as? Double ?? -1 }
        #expect(exact[0] == 1 && exact[1] == 1 && exact[2] == 1, "events and a lone shadow know the pools: \(exact)")
        #expect(exact[3] < 1, "a shadow of half the traffic cannot: \(exact)")
        let table = try runCLI(["compare", "--nodes", "4", "--capacity", "500", "--selector", "kv-cost", "--event-lag-ms", "0,1000"])
        #expect(table.status == 0 && table.stdout.contains("k1/events+lag1000ms") && table.stdout.contains("predExact"))
        let plain = try runCLI(["compare", "--nodes", "4", "--capacity", "500", "--selector", "kv-cost,round-robin"])
        #expect(plain.status == 0 && !plain.stdout.contains("router") && !plain.stdout.contains("predExact"), "\(plain.stdout)")
    }

    @Test("compare --prefill-nodes/--decode-nodes runs every split and threshold, and says how requests were prefilled")
    func compareDisaggregated() throws {
        let r = try runCLI([
            "compare", "--capacity", "500", "--selector", "kv-cost", "--prefill-nodes", "1,2", "--decode-nodes", "2",
            "--pd-threshold-tokens", "0,100000", "--rank-by", "none", "--format", "json",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        let splits = rows.compactMap { $0["disaggregation"] as? [String: Any] }
        #expect(splits.map { "\($0["prefillNodes"]!)/\($0["thresholdTokens"]!)" } == ["1/0", "1/100000", "2/0", "2/100000"])
        #expect(rows.map { $0["nodes"] as? Int } == [3, 3, 4, 4])
        #expect(splits.map { $0["localPrefills"] as? Int } == [0, rows[1]["requests"] as? Int, 0, rows[3]["requests"] as? Int])
        let table = try runCLI(["compare", "--capacity", "500", "--selector", "kv-cost", "--prefill-nodes", "1", "--decode-nodes", "1"])
        #expect(table.status == 0 && table.stdout.contains("localShare") && table.stdout.contains("P1D1"), "\(table.stdout)")
    }

    @Test("compare on one node runs one selector, since every selector routes alike there")
    func compareOneNode() throws {
        let r = try runCLI(["compare", "--nodes", "1,2", "--capacity", "500", "--format", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        #expect(rows.filter { $0["nodes"] as? Int == 1 }.count == 1)
        #expect(rows.filter { $0["nodes"] as? Int == 2 }.count == 7)
        #expect(r.stderr.contains("with 1 node every selector routes alike"))
        let slo = try runCLI(["compare", "--nodes", "1", "--capacity", "500", "--ttft-slo", "1", "--format", "json"])
        let sloRows = try #require(try JSONSerialization.jsonObject(with: Data(slo.stdout.utf8)) as? [[String: Any]])
        #expect(sloRows.count == 7)
    }

    @Test("sweep makes LRU's one-pass curve only when --eviction names it, and it equals the LRU replay")
    func sweepCurveOnRequest() throws {
        func rows(_ eviction: String) throws -> [[String: Any]] {
            let r = try runCLI(["sweep", "--eviction", eviction, "--capacity", "1000,5000", "--format", "json"])
            #expect(r.status == 0, "\(r.stderr)")
            return try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        }
        #expect(try rows("lru").allSatisfy { $0["lru-mrc"] == nil && $0["lru"] is Double })
        for row in try rows("lru,lru-mrc") {
            let (lru, curve) = (try #require(row["lru"] as? Double), try #require(row["lru-mrc"] as? Double))
            #expect(abs(lru - curve) < 1e-12)
        }
        #expect(try rows("lru-mrc").allSatisfy { $0.keys.sorted() == ["capacity", "lru-mrc"] })
    }

    @Test("tables keep lists out of their cells and stay narrow")
    func narrowTables() throws {
        for command in [["replay", "--nodes", "16", "--capacity", "1000", "--selector", "kv-cost"], ["analyze"], ["compare"]] {
            let r = try runCLI(command)
            #expect(r.status == 0, "\(command): \(r.stderr)")
            let widest = r.stdout.split(separator: "\n").map(\.count).max() ?? 0
            #expect(widest <= 120, "\(command[0]) is \(widest) columns wide")
            #expect(!r.stdout.contains("[{"), "\(command[0]) puts a list in a cell")
        }
    }

    @Test("a malformed trace names file, line and field")
    func badTrace() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kvcache-bad-\(UInt32.random(in: 0...UInt32.max)).jsonl")
        try
            "{\"timestamp\": 0, \"input_length\": 600, \"output_length\": 1, \"hash_ids\": [1, 2]}\n{\"timestamp\": 1, \"input_length\": -5, \"output_length\": 1, \"hash_ids\": [1]}\n"
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
        for key in [
            "requests", "blockAccesses", "blockHitRatio", "accessHitRatio", "prefixHitRatio", "tokenHitRatio", "evictions",
            "elapsedSeconds", "maxRequestShare", "cvInputTokens", "cvPrefilledTokens", "ttft", "perNode",
        ] {
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
            #expect(ratio == replay.hits.accessHitRatio, "capacity \(c)")
            #expect(distances.hits(capacity: c) == replay.hits.accessHits)
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

@Suite("kvcache-sim output against its documentation")
struct OutputDocumentationTests {
    /// The keys docs/SIMULATOR.md's "JSON keys" table names: every backticked name in a row's
    /// first cell.
    static func documentedKeys() throws -> Set<String> {
        let doc = try String(contentsOf: SimFixtures.packageRoot.appendingPathComponent("docs/SIMULATOR.md"), encoding: .utf8)
        let section = try #require(doc.components(separatedBy: "## JSON keys").dropFirst().first)
        var keys: Set<String> = []
        for line in section.split(separator: "\n") {
            guard line.hasPrefix("| `") else {
                if line.hasPrefix("## ") { break }
                continue
            }
            let cell = line.dropFirst(2).prefix { $0 != "|" }
            for (i, part) in cell.split(separator: "`", omittingEmptySubsequences: false).enumerated() where i % 2 == 1 {
                keys.insert(String(part))
            }
        }
        return keys
    }

    @Test("every key replay prints is documented, and every documented key is printed by some run")
    func jsonKeysAreDocumented() throws {
        let trace = SimFixtures.packageRoot.deletingLastPathComponent().appendingPathComponent("shared/traces/conversation_trace.jsonl")
            .path
        var printed: Set<String> = []
        for arguments in [
            ["replay", "--nodes", "4", "--selector", "hotspot-replicating", "--host-capacity", "500", "--baseline"],
            ["replay", "--nodes", "4", "--selector", "kv-cost", "--routers", "2"],
            ["compare", "--selector", "kv-cost", "--prefill-nodes", "2", "--decode-nodes", "2"],
        ] {
            let run = try runCLI(arguments + ["--trace", trace, "--capacity", "500", "--format", "json"])
            #expect(run.status == 0, "\(run.stderr)")
            let output = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8))
            for object in (output as? [[String: Any]]) ?? [output as? [String: Any] ?? [:]] { printed.formUnion(object.keys) }
        }
        let documented = try Self.documentedKeys()
        // the run's own bookkeeping is not a measurement the table explains
        let bookkeeping: Set<String> = ["trace", "nodes", "capacity", "eviction", "selector", "elapsedSeconds"]
        #expect(printed.subtracting(documented).subtracting(bookkeeping) == [], "printed but not documented")
        #expect(documented.subtracting(printed) == [], "documented but never printed")
    }
}
