import ArgumentParser
import KVCache
import KVCacheCLI
import KVCacheSim

struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay a trace (or a built-in workload) through one configuration and print its metrics.",
        discussion: """
            With --nodes 1 this is a single pool ("lookup, then update"); with more nodes each
            has its own pool and the selector routes every request. JSON keys are lowerCamelCase
            (see docs/SIMULATOR.md). Examples:
              kvcache-sim replay --trace conversation_trace.jsonl --nodes 1 \\
                  --capacity 10000 --eviction lru --format json
              kvcache-sim replay --trace conversation_trace.jsonl --nodes 16 \\
                  --capacity 1000 --selector ttft-min --baseline
              kvcache-sim replay --workload extreme-hotspot --nodes 8 \\
                  --selector hotspot-replicating
            """
    )

    @OptionGroup var source: TraceOptions
    @OptionGroup var model: ModelOptions
    @OptionGroup(title: "Routers") var routing: RouterOptions

    @Option(help: "Serving nodes (1 = a single pool).")
    var nodes: Int = 1

    @Option(help: "Device cache capacity per node, in blocks.")
    var capacity: Int = 10_000

    @Option(help: "Eviction policy: \(EvictionPolicy.allCases.map(\.rawValue).joined(separator: ", ")).")
    var eviction: String = "lru"

    @Option(help: "Routing policy: \(SelectorPolicy.allCases.map(\.rawValue).joined(separator: ", ")).")
    var selector: String = "round-robin"

    @Option(help: "Seed of randomised selectors.")
    var seed: UInt64 = 0

    @Flag(help: "Also run without caching and report the TTFT reduction against it.")
    var baseline = false

    @Option(help: "Output: table, markdown, csv or json.")
    var format: OutputFormat = .table

    func run() throws {
        let policy = try parseEviction(eviction)
        let route = try parseSelector(selector)
        guard capacity >= 1 else { throw CLIError("--capacity must be at least 1 block, got \(capacity)") }
        guard (1...65_536).contains(nodes) else { throw CLIError("--nodes \(nodes): expected a whole number in 1...65536") }
        try ModelOptions.checkMemory(
            nodes: nodes, capacity: capacity, hostCapacity: max(model.tiers.hostCapacity, 0),
            diskCapacity: max(model.tiers.diskCapacity, 0))
        let trace = try source.load()
        if policy == .belady {
            guard nodes == 1 else { throw CLIError("--eviction belady needs the future of one pool: use --nodes 1") }
            let r = try PoolReplay.run(trace, capacity: capacity, policy: policy)
            let row: [(String, Value)] = [
                ("trace", .string(trace.source)), ("nodes", .int(1)), ("capacity", .int(capacity)), ("eviction", .string(policy.rawValue)),
                ("requests", .int(r.requests)), ("blockAccesses", .int(r.hits.blockAccesses)),
                ("blockHitRatio", .num(r.hits.blockHitRatio, 9)),
                ("accessHitRatio", .num(r.hits.accessHitRatio, 9)), ("prefixHitRatio", .num(r.hits.prefixHitRatio, 9)),
                ("tokenHitRatio", .num(r.hits.tokenHitRatio, 9)), ("evictions", .int(r.evictions)),
                ("elapsedSeconds", .num(r.elapsedSeconds)),
            ]
            print(Report.renderRecord(row, format: format))
            return
        }
        try ModelOptions.checkApplies(to: [route])
        var config = try model.configuration(nodes: nodes, capacity: capacity, eviction: policy, selector: route, seed: seed)
        config.router = try routing.model()
        let r = try ClusterSimulator.run(trace, config, baseline: baseline)
        if r.rejected == r.requests {
            throw CLIError(
                "every one of the \(r.requests) requests was rejected (no TTFT to report): the estimated TTFTs all exceed --ttft-slo")
        }
        print(Report.renderRecord(ResultRecord(trace: trace, r).pairs, format: format))
    }
}
