import ArgumentParser
import Foundation
import KVCache
import KVCacheSim

struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay a trace (or a built-in workload) through one configuration and print its metrics.",
        discussion: """
            With --nodes 1 this is a single pool ("lookup, then update"); with more nodes each
            has its own pool and the selector routes every request. JSON keys are lowerCamelCase
            (see the README). Examples:
              kvcache-sim replay --trace conversation_trace.jsonl --nodes 1 --capacity 10000 --eviction lru --format json
              kvcache-sim replay --trace conversation_trace.jsonl --nodes 16 --capacity 1000 --selector ttft-min --baseline
              kvcache-sim replay --workload extreme-hotspot --nodes 8 --selector hotspot-replicating
            """
    )

    @OptionGroup var source: TraceOptions
    @OptionGroup var model: ModelOptions

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
        guard nodes >= 1 else { throw CLIError("--nodes must be at least 1, got \(nodes)") }
        let trace = try source.load()
        if policy == .belady {
            guard nodes == 1 else { throw CLIError("--eviction belady needs the future of one pool: use --nodes 1") }
            let r = try PoolReplay.run(trace, capacity: capacity, policy: policy)
            let row: [(String, String)] = [
                ("trace", trace.source), ("nodes", "1"), ("capacity", "\(capacity)"), ("eviction", policy.rawValue),
                ("requests", "\(r.requests)"), ("blockAccesses", "\(r.blockAccesses)"), ("blockHitRatio", fmt(r.blockHitRatio, 9)),
                ("accessHitRatio", fmt(r.accessHitRatio, 9)), ("prefixHitRatio", fmt(r.prefixHitRatio, 9)),
                ("tokenHitRatio", fmt(r.tokenHitRatio, 9)), ("evictions", "\(r.evictions)"), ("elapsedSeconds", fmt(r.elapsedSeconds)),
            ]
            print(render(row))
            return
        }
        let config = try model.configuration(nodes: nodes, capacity: capacity, eviction: policy, selector: route, seed: seed)
        let r = try ClusterSimulator.run(trace, config, baseline: baseline)
        print(render(Self.rows(trace: trace, r)))
    }

    func render(_ row: [(String, String)]) -> String {
        switch format {
        case .json:
            return "{" + row.map { "\(jsonString($0.0)):\(Report.jsonValue($0.1))" }.joined(separator: ",") + "}"
        default:
            return Report.render(rows: row.map { ["metric": $0.0, "value": $0.1] }, keys: ["metric", "value"], format: format)
        }
    }

    static func rows(trace: Trace, _ r: ClusterResult) -> [(String, String)] {
        let c = r.configuration
        var row: [(String, String)] = [
            ("trace", trace.source), ("nodes", "\(c.nodes)"), ("capacity", "\(c.capacity)"), ("eviction", c.eviction.rawValue),
            ("selector", c.selector.rawValue), ("requests", "\(r.requests)"), ("rejected", "\(r.rejected)"),
            ("blockAccesses", "\(r.blockAccesses)"), ("blockHitRatio", fmt(r.blockHitRatio, 9)), ("accessHitRatio", fmt(r.accessHitRatio, 9)),
            ("prefixHitRatio", fmt(r.prefixHitRatio, 9)), ("tokenHitRatio", fmt(r.tokenHitRatio, 9)), ("evictions", "\(r.evictions)"),
            ("maxRequestShare", fmt(r.maxRequestShare, 9)), ("cvInputTokens", fmt(r.cvInputTokens, 9)),
            ("cvPrefilledTokens", fmt(r.cvPrefilledTokens, 9)), ("efficiency", fmt(r.efficiency)),
            ("ttft", "{\"mean\":\(fmt(r.ttft.mean, 9)),\"p50\":\(fmt(r.ttft.p50, 9)),\"p90\":\(fmt(r.ttft.p90, 9)),\"p99\":\(fmt(r.ttft.p99, 9))}"),
            ("prefillGPUSeconds", fmt(r.prefillSeconds)), ("netScore", fmt(r.netScore)),
            ("transfers", "\(r.transfers)"), ("replicatedBlocks", "\(r.replicatedBlocks)"), ("onboardedBlocks", "\(r.onboardedBlocks)"),
        ]
        if let reduction = r.ttftReduction { row.append(("ttftReduction", fmt(reduction))) }
        row.append(("perNode", "[" + r.perNode.enumerated().map { k, n in
            "{\"node\":\(k),\"requests\":\(n.requests),\"inputTokens\":\(n.inputTokens),\"prefilledTokens\":\(n.prefilledTokens),\"evictions\":\(n.evictions),\"prefillSeconds\":\(fmt(n.prefillSeconds))}"
        }.joined(separator: ",") + "]"))
        if !r.replicaSamples.isEmpty {
            row.append(("hottestBlocks", "[" + r.hottestBlocks.map { "\($0.rawValue)" }.joined(separator: ",") + "]"))
            row.append(("replicaSamples", "[" + r.replicaSamples.map { s in
                "{\"request\":\(s.request),\"replicas\":[\(s.replicas.map(String.init).joined(separator: ","))]}"
            }.joined(separator: ",") + "]"))
        }
        row.append(("elapsedSeconds", fmt(r.elapsedSeconds)))
        return row
    }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, markdown, csv, json
}

func jsonString(_ s: String) -> String {
    var out = "\""
    for c in s.unicodeScalars {
        switch c {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        default:
            if c.value < 0x20 { out += String(format: "\\u%04x", c.value) } else { out.unicodeScalars.append(c) }
        }
    }
    return out + "\""
}
