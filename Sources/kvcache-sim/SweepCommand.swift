import ArgumentParser
import KVCache
import KVCacheCLI
import KVCacheSim

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Hit ratio against capacity for chosen eviction policies, with a one-pass LRU miss-ratio curve.",
        discussion: """
            Each policy is replayed through one pool per capacity ("lookup, then update"); the
            'lru-mrc' column (name it in --eviction) is LRU's at-access hit ratio from one pass
            of stack distances and equals the per-capacity LRU replays. Examples:
              kvcache-sim sweep --trace conversation_trace.jsonl --chart sweep.svg
              kvcache-sim sweep --eviction lru,s3fifo,belady \\
                  --capacity 1000,5000,10000,20000,50000
            """
    )

    enum Metric: String, ExpressibleByArgument, CaseIterable { case access, block, prefix, token }

    @OptionGroup var source: TraceOptions
    @Option(help: "Comma-separated eviction policies, and 'lru-mrc' for LRU's one-pass curve.")
    var eviction: String = "lru,fifo,lfu,sieve,s3fifo,arc,leaf-lru,length-aware,belady,lru-mrc"
    @Option(help: "Comma-separated capacities, blocks (default: 10 log-spaced points up to the unique block count).")
    var capacity: String?
    @Option(help: "Which hit ratio to chart: access, block, prefix or token.")
    var metric: Metric = .access
    @Option(help: "Write an SVG line chart to this file.")
    var chart: String?
    @Option(help: "Output: table, markdown, csv or json.")
    var format: OutputFormat = .table

    func run() throws {
        // the curve is one more pass over every access: made only when asked for
        let names = eviction.split(separator: ",").map { $0.trimmed }
        let wantsCurve = names.contains("lru-mrc")
        let others = names.filter { $0 != "lru-mrc" }.joined(separator: ",")
        let policies = wantsCurve && others.isEmpty ? [] : try parseList(others, option: "--eviction", parseEviction)
        let trace = try source.load()
        let capacities: [Int]
        if let capacity {
            capacities = try parseIntList(capacity, option: "--capacity", minimum: 1)
            for c in capacities { try ModelOptions.checkMemory(nodes: 1, capacity: c, hostCapacity: 0, diskCapacity: 0) }
        } else {
            let unique = Set(trace.blocks).count
            let lo = max(1.0, Double(unique) / 200), hi = Double(max(unique, 2))
            capacities = Array(Set((0..<10).map { Int((lo * pow(hi / lo, Double($0) / 9)).rounded()) })).sorted()
        }
        let mrc = wantsCurve ? StackDistances(trace.blocks).hitRatios(capacities: capacities) : []
        let jobs = capacities.flatMap { c in policies.map { (c, $0) } }
        let results: [PoolReplayResult?] = try parallelMap(jobs.count, label: { "\(jobs[$0].1)@\(jobs[$0].0)" }) {
            try PoolReplay.run(trace, capacity: jobs[$0].0, policy: jobs[$0].1)
        }
        func value(_ r: PoolReplayResult) -> Double {
            switch metric {
            case .access: return r.hits.accessHitRatio
            case .block: return r.hits.blockHitRatio
            case .prefix: return r.hits.prefixHitRatio
            case .token: return r.hits.tokenHitRatio
            }
        }
        var rows: [[String: Value]] = []
        for (ci, c) in capacities.enumerated() {
            var row: [String: Value] = ["capacity": .int(c)]
            if wantsCurve { row["lru-mrc"] = .num(mrc[ci]) }
            for (pi, p) in policies.enumerated() { row[p.rawValue] = .num(value(results[ci * policies.count + pi]!)) }
            rows.append(row)
        }
        let keys = ["capacity"] + policies.map(\.rawValue) + (wantsCurve ? ["lru-mrc"] : [])
        print(Report.render(rows: rows, keys: keys, format: format))
        if let chart {
            var series = policies.enumerated().map { pi, p in
                SVGChart.Series(
                    name: p.rawValue,
                    points: capacities.enumerated().map { ci, c in (Double(c), value(results[ci * policies.count + pi]!)) })
            }
            if metric == .access && wantsCurve {
                series.append(
                    SVGChart.Series(name: "LRU (one-pass MRC)", points: zip(capacities, mrc).map { (Double($0), $1) }, dashed: true))
            }
            try writeFile(
                chart,
                SVGChart.lineChart(
                    title: "\(metric.rawValue) hit ratio vs capacity — \(fileName(trace.source))",
                    xLabel: "capacity (blocks, log scale)", yLabel: "\(metric.rawValue) hit ratio",
                    series: series, logX: true))
        }
    }
}
