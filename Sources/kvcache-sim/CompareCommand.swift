import ArgumentParser
import KVCache
import KVCacheCLI
import KVCacheSim

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Run a matrix of selectors × evictions × capacities × node counts and rank the configurations.",
        discussion: """
            Each of --selector, --eviction, --capacity and --nodes takes a comma-separated list,
            as do --routers, --router-view, --event-lag-ms and --speculative-ttl.
            Configurations run in parallel on all cores. Examples:
              kvcache-sim compare
              kvcache-sim compare --trace conversation_trace.jsonl --nodes 8,16 \\
                  --capacity 1000,5000 --chart compare.svg \\
                  --selector round-robin,least-loaded,cache-aware,ttft-min
              kvcache-sim compare --workload extreme-hotspot --format json \\
                  --selector cache-aware,hotspot-replicating
              kvcache-sim compare --selector kv-cost --routers 1,2,4,8 \\
                  --router-view events,approximate,shadow --rank-by none
              kvcache-sim compare --selector threshold-balanced --prefill-nodes 2,4 \\
                  --decode-nodes 4,6 --pd-threshold-tokens 0,1024,4096 --rank-by none
            With --prefill-nodes and --decode-nodes (lists, every pair) the nodes split into prefill
            and decode nodes, and --nodes is not used; see ClusterConfiguration.Disaggregation.
            """
    )

    enum RankBy: String, ExpressibleByArgument, CaseIterable {
        case ttftMean = "ttft-mean", ttftP99 = "ttft-p99", tokenHit = "token-hit", efficiency, netScore = "net-score"
        /// The configurations' own order (nodes, capacity, eviction, selector, router model).
        case none
    }

    @OptionGroup var source: TraceOptions
    @OptionGroup var model: ModelOptions
    @OptionGroup(title: "Routers") var routing: RouterOptions

    @Option(help: "Comma-separated routing policies.")
    var selector: String = "round-robin,least-loaded,cache-aware,weighted,threshold-balanced,kv-cost,ttft-min"
    @Option(help: "Comma-separated eviction policies.")
    var eviction: String = "lru"
    @Option(help: "Comma-separated capacities per node, blocks.")
    var capacity: String = "2000"
    @Option(help: "Comma-separated node counts.")
    var nodes: String = "8"
    @Option(help: "Seed of randomised selectors.")
    var seed: UInt64 = 0
    @Option(help: "Rank by: \(RankBy.allCases.map(\.rawValue).joined(separator: ", ")) (none: in the order of the lists).")
    var rankBy: RankBy = .ttftMean
    @Option(help: "Write an SVG bar chart of the ranking to this file.")
    var chart: String?
    @Flag(help: "Also run each configuration without caching and report its TTFT reduction against that.")
    var baseline = false
    @Option(help: "Output: table, markdown, csv or json (one array, an object per configuration).")
    var format: OutputFormat = .table
    @OptionGroup(title: "Prefill/decode disaggregation") var split: DisaggregationOptions

    func run() throws {
        let selectors = try parseList(selector, option: "--selector", parseSelector)
        let evictions = try parseList(eviction, option: "--eviction", parseEviction)
        let capacities = try parseIntList(capacity, option: "--capacity", minimum: 1)
        let nodeCounts = try parseIntList(nodes, option: "--nodes", minimum: 1, maximum: 65_536)
        try ModelOptions.checkApplies(to: selectors)
        if evictions.contains(.belady) { throw CLIError("--eviction belady is offline-only: use 'sweep' or 'replay --nodes 1'") }
        let routerModels = try routing.models()
        // router columns only when a router flag asked for something other than the default
        let showsRouter = routerModels != [RouterModel()]
        let trace = try source.load()
        // With one node every selector sends every request to it, so one run stands for all
        // of them; only an SLO (which lets a selector reject) tells them apart.
        let oneNodeSelectors = model.policy.ttftMin.ttftSlo == nil ? Array(selectors.prefix(1)) : selectors
        if nodeCounts.contains(1) && oneNodeSelectors.count < selectors.count {
            writeStandardError("compare: with 1 node every selector routes alike; ran \(selectors[0].rawValue) for all of them\n")
        }
        let splits = try split.splits()
        if !splits.isEmpty && CommandLine.arguments.contains(where: { $0 == "--nodes" || $0.hasPrefix("--nodes=") }) {
            throw CLIError("--nodes: with --prefill-nodes and --decode-nodes the nodes are the two added")
        }
        var configs: [ClusterConfiguration] = []
        for pd in splits {
            for c in capacities {
                for e in evictions {
                    for s in selectors {
                        for router in routerModels {
                            var config = try model.configuration(
                                nodes: pd.prefillNodes + pd.decodeNodes, capacity: c, eviction: e, selector: s, seed: seed)
                            config.disaggregation = pd
                            config.router = router
                            configs.append(config)
                        }
                    }
                }
            }
        }
        for n in splits.isEmpty ? nodeCounts : [] {
            for c in capacities {
                for e in evictions {
                    for s in n == 1 ? oneNodeSelectors : selectors {
                        for router in routerModels {
                            var config = try model.configuration(nodes: n, capacity: c, eviction: e, selector: s, seed: seed)
                            config.router = router
                            configs.append(config)
                        }
                    }
                }
            }
        }
        let started = ContinuousClock.now
        let results = try Self.runAll(trace, configs, baseline: baseline)
        let wall = (ContinuousClock.now - started) / .seconds(1)
        let ranked =
            rankBy == .none
            ? results
            : results.sorted { a, b in
                let (x, y) = (score(a), score(b))
                return x != y ? x < y : a.configuration.label < b.configuration.label
            }
        if format == .json {
            print(Value.array(ranked.map { Value(encoding: ResultRecord(trace: trace, $0)) }).json)
        } else {
            let (all, rows) = CompareRow.columns(ranked.enumerated().map { CompareRow(rank: $0 + 1, $1) })
            // in a table, a setting every configuration shares goes to the footer, not a column
            let shared = (CompareRow.settings + (showsRouter ? [CompareRow.routerColumns[0]] : [])).filter { k in
                format == .table && Set(rows.map { $0[k]?.text ?? "" }).count == 1 && rows.count > 1
            }
            let disaggregated = !splits.isEmpty
            let keys = all.filter { k in
                !shared.contains(k) && (showsRouter || !CompareRow.routerColumns.contains(k))
                    && (disaggregated || !CompareRow.splitColumns.contains(k)) && (baseline || k != CompareRow.ttftReductionColumn)
            }
            print(Report.render(rows: rows, keys: keys, format: format))
            if format == .table {
                let common = shared.map { "\($0) \(rows[0][$0]?.text ?? "")" }.joined(separator: ", ")
                print("\(configs.count) configurations on \(trace.source) (\(trace.count) requests) in \(fmt(wall, 3)) s")
                print((common.isEmpty ? "" : "all with \(common); ") + "rejected: share of requests refused")
            }
        }
        if let chart {
            let metric = rankBy == .none ? RankBy.ttftMean : rankBy
            let bars = ranked.map { r in (label: r.configuration.label, value: abs(metric.score(r))) }
            try writeFile(
                chart,
                SVGChart.barChart(
                    title:
                        "Configurations \(rankBy == .none ? "by" : "ranked by") \(metric.rawValue) — \(fileName(trace.source))",
                    valueLabel: metric.rawValue + (metric.rawValue.hasPrefix("ttft") ? " (s)" : ""), bars: bars))
        }
    }

    /// Lower is better.
    func score(_ r: ClusterResult) -> Double { rankBy.score(r) }

    /// Runs configurations on all cores, in input order.
    static func runAll(_ trace: Trace, _ configs: [ClusterConfiguration], baseline: Bool) throws -> [ClusterResult] {
        try parallelMap(configs.count, label: { configs[$0].label }) {
            try ClusterSimulator.run(trace, configs[$0], baseline: baseline)
        }
    }
}

extension CompareCommand.RankBy {
    /// Lower is better.
    func score(_ r: ClusterResult) -> Double {
        switch self {
        case .ttftMean: return r.ttft.mean
        case .ttftP99: return r.ttft.p99
        case .tokenHit: return -r.hits.tokenHitRatio
        case .efficiency: return -r.efficiency
        case .netScore: return -r.netScore
        case .none: return 0
        }
    }
}
