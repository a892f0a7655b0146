import ArgumentParser
import KVCache
import KVCacheCLI
import KVCacheSim

/// Where the requests come from: a trace file, or a built-in workload.
struct TraceOptions: ParsableArguments {
    @Option(help: "A Mooncake JSONL trace. Without it, a built-in workload runs (see --workload).")
    var trace: String?

    @Option(help: "Built-in workload: \(Workload.Scenario.allCases.map(\.rawValue).joined(separator: ", ")).")
    var workload: String = "conversation"

    @Option(help: "Requests of the built-in workload.")
    var requests: Int = 10_000

    @Option(help: "Seed of the built-in workload.")
    var workloadSeed: UInt64 = 1

    @Option(parsing: .unconditional, help: "Zipf skew of the built-in workload, 0...10 (default: the scenario's).")
    var zipf: Double?

    @Option(help: "Arrival rate of the built-in workload, requests per second.")
    var rate: Double = 4

    @Option(help: "Tokens per block, 1...1048576.")
    var blockSize: Int = 512

    @Flag(help: "Reorder a trace by timestamp instead of rejecting a timestamp that goes back.")
    var sort = false

    func load() throws -> Trace {
        guard (1...(1 << 20)).contains(blockSize) else {
            throw CLIError("--block-size \(blockSize): expected a whole number in 1...1048576")
        }
        if trace == nil {
            try check(requests, "--requests", 1...10_000_000)
            try check(rate, "--rate", 1e-3...1e6)
            if let zipf { try check(zipf, "--zipf", 0...10) }
        }
        if let path = trace {
            return try TraceReader(options: .init(blockSize: blockSize, sort: sort)).read(path: path)
        }
        guard let scenario = Workload.Scenario(rawValue: workload) else {
            throw CLIError(
                "unknown --workload '\(workload)' (expected one of \(Workload.Scenario.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return try Workload(
            scenario: scenario, requests: requests, seed: workloadSeed, zipfSkew: zipf, arrivalRate: rate,
            blockSize: blockSize
        ).generate()
    }
}
