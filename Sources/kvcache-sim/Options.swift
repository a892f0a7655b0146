import ArgumentParser
import Foundation
import KVCache
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

    @Option(help: "Zipf skew of the built-in workload (default: the scenario's).")
    var zipf: Double?

    @Option(help: "Arrival rate of the built-in workload, requests per second.")
    var rate: Double = 4

    @Option(help: "Tokens per block.")
    var blockSize: Int = 512

    @Flag(help: "Reorder a trace by timestamp instead of rejecting a timestamp that goes back.")
    var sort = false

    func load() throws -> Trace {
        guard blockSize >= 1 else { throw CLIError("--block-size must be at least 1, got \(blockSize)") }
        if let path = trace {
            return try TraceReader(options: .init(blockSize: blockSize, sort: sort)).read(path: path)
        }
        guard let scenario = Workload.Scenario(rawValue: workload) else {
            throw CLIError("unknown --workload '\(workload)' (expected one of \(Workload.Scenario.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return try Workload(scenario: scenario, requests: requests, seed: workloadSeed, zipfSkew: zipf, arrivalRate: rate,
                            blockSize: blockSize).generate()
    }
}

/// The cost model and every policy parameter.
struct ModelOptions: ParsableArguments {
    @Option(help: "Prefill fixed cost per request, ms.")
    var prefillBaseMs: Double = 10
    @Option(help: "Prefill cost per uncached token, µs.")
    var prefillUsPerToken: Double = 50
    @Option(help: "Decode time per generated token, ms (0: decode occupancy not modelled).")
    var decodeMsPerToken: Double = 0
    @Option(help: "Host-memory (G2) tier per node, blocks (0: none). Evicted blocks are offloaded there.")
    var hostCapacity: Int = 0
    @Option(help: "Disk (G3) tier per node, blocks (0: none).")
    var diskCapacity: Int = 0
    @Option(help: "Onboarding time per block from host, ms.")
    var hostOnboardMs: Double = 2
    @Option(help: "Onboarding time per block from disk, ms.")
    var diskOnboardMs: Double = 20
    @Option(help: "KV transfer bandwidth between nodes, GB/s (0: no transfers). Used by ttft-min and hotspot-replicating.")
    var transferGBps: Double = 0
    @Option(help: "KV bytes per block, MB (for transfers).")
    var blockMB: Double = 160
    @Option(help: "Reject requests whose estimated TTFT exceeds this many seconds (ttft-min, hotspot-replicating).")
    var ttftSlo: Double?
    @Option(help: "ttft-min: consider a transfer when the best match is at least this many times the local one.")
    var kvBalancingThreshold: Double = 1
    @Option(help: "weighted: weight of the prefix hit fraction.")
    var alpha: Double = 0.6
    @Option(help: "weighted: weight of the normalised load.")
    var beta: Double = 0.8
    @Option(help: "threshold-balanced: absolute imbalance (running requests) that triggers balancing.")
    var balanceAbs: Int = 32
    @Option(help: "threshold-balanced: relative imbalance that triggers balancing.")
    var balanceRel: Double = 1.1
    @Option(help: "threshold-balanced: match fraction above which the cache wins.")
    var cacheThreshold: Double = 0.5
    @Option(help: "kv-cost: weight of prefill work.")
    var prefillLoadScale: Double = 1
    @Option(help: "kv-cost: prefill blocks credited per cached block.")
    var overlapCredit: Double = 1
    @Option(help: "kv-cost: softmax temperature (0: lowest cost).")
    var temperature: Double = 0
    @Option(help: "hotspot-replicating: sliding window, seconds.")
    var hotWindow: Double = 60
    @Option(help: "hotspot-replicating: blocks that make a prefix.")
    var hotPrefixBlocks: Int = 4
    @Flag(help: "hotspot-replicating: replicate rising prefixes by their trend.")
    var anticipate = false
    @Option(help: "GPU : storage cost ratio for the net score.")
    var costRatio: Double = 100
    @Option(help: "Samples of the hottest blocks' replica counts over the run.")
    var replicaSamples: Int = 10

    func configuration(nodes: Int, capacity: Int, eviction: EvictionPolicy, selector: SelectorPolicy, seed: UInt64) throws -> ClusterConfiguration {
        guard prefillBaseMs >= 0, prefillUsPerToken >= 0, decodeMsPerToken >= 0 else { throw CLIError("cost-model times must not be negative") }
        guard hostCapacity >= 0, diskCapacity >= 0 else { throw CLIError("tier capacities must not be negative") }
        guard diskCapacity == 0 || hostCapacity > 0 else { throw CLIError("--disk-capacity needs --host-capacity (evictions flow device → host → disk)") }
        let model = LinearPrefillModel(base: prefillBaseMs / 1000, perToken: prefillUsPerToken / 1e6)
        var s = SelectorConfiguration()
        s.seed = seed
        s.alpha = alpha
        s.beta = beta
        s.balanceAbsoluteThreshold = balanceAbs
        s.balanceRelativeThreshold = balanceRel
        s.cacheThreshold = cacheThreshold
        s.prefillLoadScale = prefillLoadScale
        s.overlapCredit = overlapCredit
        s.temperature = temperature
        s.ttftMin = TTFTMin(prefillModel: model,
                            transfer: transferGBps > 0 ? KVTransferModel(bytesPerBlock: blockMB * 1e6, bandwidth: transferGBps * 1e9) : nil,
                            kvcacheBalancingThreshold: kvBalancingThreshold, ttftSLO: ttftSlo)
        s.hotWindow = hotWindow
        s.hotPrefixBlocks = hotPrefixBlocks
        s.anticipateRising = anticipate
        return ClusterConfiguration(nodes: nodes, capacity: capacity, eviction: eviction, selector: selector, selectorConfiguration: s,
                                    prefillModel: model, decodeSecondsPerToken: decodeMsPerToken / 1000,
                                    hostCapacity: hostCapacity, diskCapacity: diskCapacity,
                                    hostOnboardSecondsPerBlock: hostOnboardMs / 1000, diskOnboardSecondsPerBlock: diskOnboardMs / 1000,
                                    gpuStorageCostRatio: costRatio, replicaSamples: replicaSamples)
    }
}

func parseEviction(_ name: String) throws -> EvictionPolicy {
    guard let p = EvictionPolicy(name: name) else {
        throw CLIError("unknown --eviction '\(name)' (expected one of \(EvictionPolicy.allCases.map(\.rawValue).joined(separator: ", ")))")
    }
    return p
}

func parseSelector(_ name: String) throws -> SelectorPolicy {
    guard let p = SelectorPolicy(name: name) else {
        throw CLIError("unknown --selector '\(name)' (expected one of \(SelectorPolicy.allCases.map(\.rawValue).joined(separator: ", ")))")
    }
    return p
}

func parseList<T>(_ text: String, option: String, _ parse: (String) throws -> T) throws -> [T] {
    let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    guard !parts.isEmpty else { throw CLIError("\(option) needs at least one value") }
    return try parts.map(parse)
}

/// A progress line on stderr, shown only when stderr is a terminal and the run takes over a second.
struct Progress {
    let total: Int
    let start = Date()
    let enabled = isatty(2) != 0
    func update(_ done: Int, _ label: String) {
        guard enabled, Date().timeIntervalSince(start) > 1 else { return }
        FileHandle.standardError.write("\r\u{1B}[K[\(done)/\(total)] \(label)".data(using: .utf8)!)
    }
    func finish() {
        guard enabled, Date().timeIntervalSince(start) > 1 else { return }
        FileHandle.standardError.write("\r\u{1B}[K".data(using: .utf8)!)
    }
}

func writeFile(_ path: String, _ text: String) throws {
    do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch {
        throw CLIError("\(path): cannot write the file (\(error.localizedDescription))")
    }
}

func fmt(_ v: Double, _ digits: Int = 6) -> String {
    guard v.isFinite else { return "0" }
    return String(format: "%.\(digits)f", v)
}

/// Runs `count` jobs on all cores and returns their results in order (the first error wins).
func parallelMap<T: Sendable>(_ count: Int, label: @Sendable (Int) -> String, _ job: @Sendable (Int) throws -> T) throws -> [T] {
    let box = ParallelResults<T>(count: count)
    let progress = Progress(total: count)
    DispatchQueue.concurrentPerform(iterations: count) { i in
        box.set(i, Result { try job(i) })
        progress.update(box.done, label(i))
    }
    progress.finish()
    return try box.results.map { try $0!.get() }
}

/// Results filled in from several threads under a lock.
final class ParallelResults<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [Result<T, any Error>?]
    private var finished = 0
    init(count: Int) { storage = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ r: Result<T, any Error>) { lock.lock(); storage[i] = r; finished += 1; lock.unlock() }
    var done: Int { lock.lock(); defer { lock.unlock() }; return finished }
    var results: [Result<T, any Error>?] { lock.lock(); defer { lock.unlock() }; return storage }
}
