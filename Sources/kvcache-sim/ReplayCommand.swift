import ArgumentParser
import Foundation
import KVCache
import KVCacheSim

struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay a trace through one configuration and print its metrics.",
        discussion: """
            Examples:
              kvcache-sim replay --trace conversation_trace.jsonl --nodes 1 --capacity 10000 --eviction lru --format json
              kvcache-sim replay --eviction s3fifo --capacity 5000
            """
    )

    @Option(help: "A Mooncake JSONL trace (default: the built-in workload).")
    var trace: String?

    @Option(help: "Serving nodes (1 = a single global pool).")
    var nodes: Int = 1

    @Option(help: "Pool capacity per node, in blocks.")
    var capacity: Int = 10_000

    @Option(help: "Eviction policy: \(EvictionPolicy.allCases.map(\.rawValue).joined(separator: ", ")).")
    var eviction: String = "lru"

    @Option(help: "Tokens per block.")
    var blockSize: Int = 512

    @Flag(help: "Reorder requests by timestamp instead of rejecting a timestamp that goes back.")
    var sort = false

    @Option(help: "Output: table or json.")
    var format: OutputFormat = .table

    func run() throws {
        guard let policy = EvictionPolicy(name: eviction) else {
            throw CLIError("unknown --eviction '\(eviction)' (expected one of \(EvictionPolicy.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard capacity >= 1 else { throw CLIError("--capacity must be at least 1 block, got \(capacity)") }
        guard nodes >= 1 else { throw CLIError("--nodes must be at least 1, got \(nodes)") }
        let loaded = try loadTrace(path: trace, blockSize: blockSize, sort: sort)
        let result = try PoolReplay.run(loaded, capacity: capacity, policy: policy)
        let rows: [(String, String)] = [
            ("requests", "\(result.requests)"),
            ("blockAccesses", "\(result.blockAccesses)"),
            ("blockHitRatio", "\(result.blockHitRatio)"),
            ("accessHitRatio", "\(result.accessHitRatio)"),
            ("prefixHitRatio", "\(result.prefixHitRatio)"),
            ("tokenHitRatio", "\(result.tokenHitRatio)"),
            ("evictions", "\(result.evictions)"),
            ("elapsedSeconds", "\(result.elapsedSeconds)"),
        ]
        switch format {
        case .json:
            let head = "{\"trace\":\(jsonString(loaded.source)),\"nodes\":\(nodes),\"capacity\":\(capacity),\"eviction\":\(jsonString(policy.rawValue)),"
            print(head + rows.map { "\(jsonString($0.0)):\($0.1)" }.joined(separator: ",") + "}")
        default:
            for (k, v) in rows { print(k.padding(toLength: 16, withPad: " ", startingAt: 0) + v) }
        }
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

/// Reads `--trace`, or makes the built-in workload when none is given.
func loadTrace(path: String?, blockSize: Int, sort: Bool) throws -> Trace {
    guard blockSize >= 1 else { throw CLIError("--block-size must be at least 1, got \(blockSize)") }
    guard let path else {
        throw CLIError("give --trace FILE (a Mooncake JSONL trace)")
    }
    return try TraceReader(options: .init(blockSize: blockSize, sort: sort)).read(path: path)
}
