import ArgumentParser
import Foundation
import KVCache
import KVCacheSim

struct IndexBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index-bench",
        abstract: "Benchmark the prefix index the way Dynamo's indexer benchmark does.",
        discussion: """
            Requests are spread round-robin over N nodes, each with its own LRU pool whose real
            stored/removed events feed one PrefixIndex, interleaved with an overlaps query per
            request. Prints events+queries per second and the p50/p99 overlaps latency.
            Run it in release: swift run -c release kvcache-sim index-bench --trace F --nodes 16,256,1024

            With --events engine, the nodes publish engine events instead (each trace block
            stands for --block-size tokens; stored blocks carry their tokens) and a KVRouter
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

    @Option(help: "Tokens per block with --events engine.")
    var blockSize: Int = 16

    func run() throws {
        let counts = try parseIntList(nodes, option: "--nodes", minimum: 1)
        guard capacity >= 1 else { throw CLIError("--capacity must be at least 1 block, got \(capacity)") }
        let loaded = try source.load()
        if events == .engine { return try runEngine(loaded, counts) }
        var rows: [[String: String]] = []
        for n in counts {
            let ops = try IndexBenchmark.operations(trace: loaded, nodes: n, capacity: capacity)
            let r = IndexBenchmark.run(trace: loaded, nodes: n, workload: ops)
            rows.append([
                "nodes": "\(n)", "events": "\(r.events)", "queries": "\(r.queries)",
                "blockOperations": "\(r.blockOperations)",
                "operationsPerSecond": String(format: "%.0f", r.operationsPerSecond),
                "queryP50Microseconds": String(format: "%.3f", r.queryP50 * 1e6),
                "queryP99Microseconds": String(format: "%.3f", r.queryP99 * 1e6),
                "bytesPerBlock": String(format: "%.1f", r.bytesPerBlock),
                "indexedBlocks": "\(r.indexedBlocks)",
            ])
        }
        let keys = ["nodes", "events", "queries", "blockOperations", "operationsPerSecond", "queryP50Microseconds",
                    "queryP99Microseconds", "bytesPerBlock", "indexedBlocks"]
        print(Report.render(rows: rows, keys: keys, format: format))
    }
}

extension IndexBenchCommand {
    func runEngine(_ trace: Trace, _ counts: [Int]) throws {
        guard (1...4096).contains(blockSize) else { throw CLIError("--block-size \(blockSize): expected a whole number in 1...4096") }
        let hasher = try PrefixHasher(blockSize: blockSize)
        var rows: [[String: String]] = []
        for n in counts {
            let stream = try IndexBenchmark.engineOperations(trace: trace, nodes: n, capacity: capacity, hasher: hasher)
            let r = IndexBenchmark.runEngine(trace: trace, nodes: n, hasher: hasher, workload: stream)
            guard r.agree else { throw CLIError("engine events and router-scheme events ended in different indexes at \(n) nodes") }
            rows.append([
                "nodes": "\(n)", "events": "\(r.events)",
                "engineEventsPerSecond": String(format: "%.0f", r.eventsPerSecond),
                "routerSchemeEventsPerSecond": String(format: "%.0f", r.routerSchemeEventsPerSecond),
                "indexBytesPerBlock": String(format: "%.1f", r.indexBytesPerBlock),
                "mapBytesPerBlock": String(format: "%.1f", r.mapBytesPerBlock),
                "bytesPerBlock": String(format: "%.1f", r.indexBytesPerBlock + r.mapBytesPerBlock),
                "indexedBlocks": "\(r.indexedBlocks)",
            ])
        }
        let keys = ["nodes", "events", "engineEventsPerSecond", "routerSchemeEventsPerSecond", "indexBytesPerBlock", "mapBytesPerBlock",
                    "bytesPerBlock", "indexedBlocks"]
        print(Report.render(rows: rows, keys: keys, format: format))
    }
}

/// Parses "1,2,3" into integers ≥ `minimum`, naming the option on error.
func parseIntList(_ text: String, option: String, minimum: Int) throws -> [Int] {
    let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    guard !parts.isEmpty else { throw CLIError("\(option) needs at least one value") }
    return try parts.map { part in
        guard let v = Int(part) else { throw CLIError("\(option): '\(part)' is not a whole number") }
        guard v >= minimum else { throw CLIError("\(option): \(v) is below the minimum \(minimum)") }
        return v
    }
}
