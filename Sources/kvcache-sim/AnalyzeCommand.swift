import ArgumentParser
import Foundation
import KVCache
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
        let rows: [(String, String)] = [
            ("trace", trace.source), ("requests", "\(s.requests)"), ("blockAccesses", "\(s.blockAccesses)"),
            ("uniqueBlocks", "\(s.uniqueBlocks)"), ("meanBlocksPerRequest", fmt(s.meanBlocksPerRequest, 4)),
            ("medianBlocksPerRequest", fmt(s.medianBlocksPerRequest, 1)), ("meanInputTokens", fmt(s.meanInputTokens, 2)),
            ("meanOutputTokens", fmt(s.meanOutputTokens, 2)), ("spanSeconds", fmt(s.spanSeconds, 3)),
            ("mostCommonFirstBlock", s.mostCommonFirstBlock.map { "\($0.rawValue)" } ?? ""),
            ("shareOfRequestsWithMostCommonFirstBlock", fmt(s.shareOfRequestsWithMostCommonFirstBlock, 6)),
            ("hottestBlocks", "[" + s.hottestBlocks.map { "{\"block\":\($0.block.rawValue),\"accesses\":\($0.accesses)}" }.joined(separator: ",") + "]"),
            ("hottestShare", fmt(s.hottestShare, 6)),
            ("reuseDistanceP50", fmt(s.reuseDistanceP50, 1)), ("reuseDistanceP90", fmt(s.reuseDistanceP90, 1)),
            ("reuseDistanceP99", fmt(s.reuseDistanceP99, 1)),
            ("infiniteBlockHitRatio", fmt(s.infiniteBlockHitRatio, 9)), ("infinitePrefixHitRatio", fmt(s.infinitePrefixHitRatio, 9)),
            ("infiniteTokenHitRatio", fmt(s.infiniteTokenHitRatio, 9)),
        ]
        if format == .json {
            print("{" + rows.map { "\(jsonString($0.0)):\(Report.jsonValue($0.1))" }.joined(separator: ",") + "}")
        } else {
            print(Report.render(rows: rows.map { ["statistic": $0.0, "value": $0.1] }, keys: ["statistic", "value"], format: format))
        }
    }
}
