import ArgumentParser
import KVCache
import KVCacheCLI
import KVCacheSim

struct AnalyzeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyze",
        abstract: "Trace statistics: size, reuse, hottest blocks, reuse distances, infinite-cache hit ratios.",
        discussion: """
            Examples:
              kvcache-sim analyze --trace conversation_trace.jsonl
              kvcache-sim analyze --workload strong-hotspot --format json
            """
    )

    @OptionGroup var source: TraceOptions
    @Option(help: "Hottest blocks to list.")
    var top: Int = 12
    @Option(help: "Output: table, markdown, csv or json.")
    var format: OutputFormat = .table

    func run() throws {
        guard top >= 0 else { throw CLIError("--top must not be negative, got \(top)") }
        let trace = try source.load()
        let s = TraceStatistics(trace, top: top)
        let rows: [(String, Value)] = [
            ("trace", .string(trace.source)), ("requests", .int(s.requests)), ("blockAccesses", .int(s.blockAccesses)),
            ("uniqueBlocks", .int(s.uniqueBlocks)), ("meanBlocksPerRequest", .num(s.meanBlocksPerRequest, 4)),
            ("medianBlocksPerRequest", .num(s.medianBlocksPerRequest, 1)), ("meanInputTokens", .num(s.meanInputTokens, 2)),
            ("meanOutputTokens", .num(s.meanOutputTokens, 2)), ("spanSeconds", .num(s.spanSeconds, 3)),
            ("mostCommonFirstBlock", s.mostCommonFirstBlock.map { .string(String($0.rawValue)) } ?? .null),
            ("shareOfRequestsWithMostCommonFirstBlock", .num(s.shareOfRequestsWithMostCommonFirstBlock, 6)),
            (
                "hottestBlocks",
                .array(s.hottestBlocks.map { .object([("block", .string(String($0.block.rawValue))), ("accesses", .int($0.accesses))]) })
            ),
            ("hottestShare", .num(s.hottestShare, 6)),
            ("reuseDistanceP50", .num(s.reuseDistanceP50, 1)), ("reuseDistanceP90", .num(s.reuseDistanceP90, 1)),
            ("reuseDistanceP99", .num(s.reuseDistanceP99, 1)),
            ("infiniteBlockHitRatio", .num(s.infiniteBlockHitRatio, 9)), ("infinitePrefixHitRatio", .num(s.infinitePrefixHitRatio, 9)),
            ("infiniteTokenHitRatio", .num(s.infiniteTokenHitRatio, 9)),
        ]
        print(Report.renderRecord(rows, format: format, name: "statistic"))
    }
}
