import ArgumentParser
import KVCache
import KVCacheCLI
import KVCacheSim

struct IndexBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index-bench",
        abstract: "Benchmark the prefix index the way Dynamo's indexer benchmark does.",
        discussion: """
            Requests are spread round-robin over N nodes, each with its own LRU pool whose real
            stored/removed events feed one PrefixIndex, interleaved with an overlaps query per
            request. Prints block operations per second (blocks stored and removed plus
            blocks the queries walked: comparable across node counts), over at least one
            second of passes on fresh indexes, and the p50/p99 overlaps latency over as
            many passes again.
            Run it in release:
              swift run -c release kvcache-sim index-bench --trace F \\
                  --nodes 16,256,1024

            With --events engine, the nodes publish engine events instead (each trace block
            stands for --engine-block-size tokens; stored blocks carry their tokens) and a KVRouter
            re-hashes them: prints engine events per second against the same changes given in
            the router's own scheme, and index plus engine-hash-map bytes per indexed block.
            """
    )

    @OptionGroup var source: TraceOptions

    @Option(help: "Comma-separated node counts.")
    var nodes: String = "16,256,1024"

    @Option(help: "LRU pool capacity per node, in blocks.")
    var capacity: Int = 2_000

    @Option(help: "Output: table or json.")
    var format: OutputFormat = .table

    enum Events: String, ExpressibleByArgument, CaseIterable { case router, engine }

    @Option(help: "Events in the router's scheme (router) or as engines publish them, re-hashed by a KVRouter (engine).")
    var events: Events = .router

    @Option(help: "Tokens each trace block stands for with --events engine (the engines' block size).")
    var engineBlockSize: Int = 16

    func run() throws {
        let counts = try parseIntList(nodes, option: "--nodes", minimum: 1, maximum: 65_536)
        guard capacity >= 1 else { throw CLIError("--capacity must be at least 1 block, got \(capacity)") }
        for n in counts { try ModelOptions.checkMemory(nodes: n, capacity: capacity, hostCapacity: 0, diskCapacity: 0) }
        let loaded = try source.load()
        if events == .engine { return try runEngine(loaded, counts) }
        var rows: [[String: Value]] = []
        for n in counts {
            let ops = try IndexBenchmark.operations(trace: loaded, nodes: n, capacity: capacity)
            let r = IndexBenchmark.run(trace: loaded, nodes: n, workload: ops)
            rows.append([
                "nodes": .int(n), "events": .int(r.events), "queries": .int(r.queries), "blockOperations": .int(r.blockOperations),
                "passes": .int(r.passes), "blockOperationsPerSecond": .num(r.blockOperationsPerSecond, 0),
                "operationsPerSecond": .num(r.operationsPerSecond, 0), "queryP50Microseconds": .num(r.queryP50 * 1e6, 3),
                "queryP99Microseconds": .num(r.queryP99 * 1e6, 3), "bytesPerBlock": .num(r.bytesPerBlock, 1),
                "indexedBlocks": .int(r.indexedBlocks),
            ])
        }
        let keys = [
            "nodes", "events", "queries", "blockOperations", "passes", "blockOperationsPerSecond", "operationsPerSecond",
            "queryP50Microseconds", "queryP99Microseconds", "bytesPerBlock", "indexedBlocks",
        ]
        print(Report.render(rows: rows, keys: keys, format: format))
    }
}

extension IndexBenchCommand {
    func runEngine(_ trace: Trace, _ counts: [Int]) throws {
        guard (1...4096).contains(engineBlockSize) else {
            throw CLIError("--engine-block-size \(engineBlockSize): expected a whole number in 1...4096")
        }
        let hasher = try PrefixHasher(blockSize: engineBlockSize)
        var rows: [[String: Value]] = []
        for n in counts {
            let stream = try IndexBenchmark.engineOperations(trace: trace, nodes: n, capacity: capacity, hasher: hasher)
            let r = IndexBenchmark.runEngine(trace: trace, nodes: n, hasher: hasher, workload: stream)
            guard r.agree else { throw CLIError("engine events and router-scheme events ended in different indexes at \(n) nodes") }
            rows.append([
                "nodes": .int(n), "events": .int(r.events), "engineEventsPerSecond": .num(r.eventsPerSecond, 0),
                "routerSchemeEventsPerSecond": .num(r.routerSchemeEventsPerSecond, 0), "indexBytesPerBlock": .num(r.indexBytesPerBlock, 1),
                "mapBytesPerBlock": .num(r.mapBytesPerBlock, 1), "bytesPerBlock": .num(r.indexBytesPerBlock + r.mapBytesPerBlock, 1),
                "indexedBlocks": .int(r.indexedBlocks),
            ])
        }
        let keys = [
            "nodes", "events", "engineEventsPerSecond", "routerSchemeEventsPerSecond", "indexBytesPerBlock", "mapBytesPerBlock",
            "bytesPerBlock", "indexedBlocks",
        ]
        print(Report.render(rows: rows, keys: keys, format: format))
    }
}

/// Parses "1,2,3" into integers in `minimum ... maximum`, naming the option on error.
func parseIntList(_ text: String, option: String, minimum: Int, maximum: Int = 1 << 40) throws -> [Int] {
    let parts = text.split(separator: ",").map { $0.trimmed }
    guard !parts.isEmpty else { throw CLIError("\(option) needs at least one value") }
    return try parts.map { part in
        guard let v = Int(part) else { throw CLIError("\(option): '\(part)' is not a whole number") }
        guard v >= minimum else { throw CLIError("\(option): \(v) is below the minimum \(minimum)") }
        guard v <= maximum else { throw CLIError("\(option): \(v) is above the maximum \(maximum)") }
        return v
    }
}
