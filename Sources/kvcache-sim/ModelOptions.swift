import ArgumentParser
import Foundation
import KVCache
import KVCacheSim

/// The cost model and every policy parameter.
struct ModelOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Prefill fixed cost per request, ms.")
    var prefillBaseMs: Double = 10
    @Option(parsing: .unconditional, help: "Prefill cost per uncached token, µs.")
    var prefillUsPerToken: Double = 50
    @Option(parsing: .unconditional, help: "Decode time per generated token, ms (0: decode occupancy not modelled).")
    var decodeMsPerToken: Double = 0
    @Option(parsing: .unconditional, help: "Host-memory (G2) tier per node, blocks (0: none). Evicted blocks are offloaded there.")
    var hostCapacity: Int = 0
    @Option(parsing: .unconditional, help: "Disk (G3) tier per node, blocks (0: none).")
    var diskCapacity: Int = 0
    @Option(parsing: .unconditional, help: "Onboarding time per block from host, ms.")
    var hostOnboardMs: Double = 2
    @Option(parsing: .unconditional, help: "Onboarding time per block from disk, ms.")
    var diskOnboardMs: Double = 20
    @Option(
        name: .customLong("transfer-gbps"), parsing: .unconditional,
        help: "KV transfer bandwidth between nodes, GB/s (0: no transfers). Used by ttft-min and hotspot-replicating.")
    var transferGBps: Double = 0
    @Option(parsing: .unconditional, help: "KV bytes per block, MB (for transfers).")
    var blockMB: Double = 160
    @Option(
        parsing: .unconditional, help: "Reject requests whose estimated TTFT exceeds this many seconds (ttft-min, hotspot-replicating).")
    var ttftSlo: Double?
    @Option(parsing: .unconditional, help: "ttft-min: consider a transfer when the best match is at least this many times the local one.")
    var kvBalancingThreshold: Double = 1
    @Option(parsing: .unconditional, help: "weighted: weight of the prefix hit fraction.")
    var alpha: Double = 0.6
    @Option(parsing: .unconditional, help: "weighted: weight of the normalised load.")
    var beta: Double = 0.8
    @Option(parsing: .unconditional, help: "threshold-balanced: absolute imbalance (running requests) that triggers balancing.")
    var balanceAbs: Int = 32
    @Option(parsing: .unconditional, help: "threshold-balanced: relative imbalance that triggers balancing.")
    var balanceRel: Double = 1.1
    @Option(parsing: .unconditional, help: "threshold-balanced: match fraction above which the cache wins.")
    var cacheThreshold: Double = 0.5
    @Option(parsing: .unconditional, help: "kv-cost: weight of prefill work.")
    var prefillLoadScale: Double = 1
    @Option(parsing: .unconditional, help: "kv-cost: prefill blocks credited per cached block.")
    var overlapCredit: Double = 1
    @Option(parsing: .unconditional, help: "kv-cost: softmax temperature (0: lowest cost).")
    var temperature: Double = 0
    @Option(parsing: .unconditional, help: "hotspot-replicating: sliding window, seconds.")
    var hotWindow: Double = 60
    @Option(parsing: .unconditional, help: "hotspot-replicating: blocks that make a prefix.")
    var hotPrefixBlocks: Int = 4
    @Flag(help: "hotspot-replicating: replicate rising prefixes by their trend.")
    var anticipate = false
    @Option(parsing: .unconditional, help: "GPU : storage cost ratio for the net score.")
    var costRatio: Double = 100
    @Option(parsing: .unconditional, help: "Samples of the hottest blocks' replica counts over the run.")
    var replicaSamples: Int = 10

    /// Checks every number against its range, naming the flag and the value.
    func validate() throws {
        try check(prefillBaseMs, "--prefill-base-ms", 0...3.6e6)
        try check(prefillUsPerToken, "--prefill-us-per-token", 0...1e6)
        try check(decodeMsPerToken, "--decode-ms-per-token", 0...1e5)
        try check(hostOnboardMs, "--host-onboard-ms", 0...3.6e6)
        try check(diskOnboardMs, "--disk-onboard-ms", 0...3.6e6)
        try check(transferGBps, "--transfer-gbps", 0...1e6)
        try check(blockMB, "--block-mb", 1e-6...1e6)
        if let ttftSlo { try check(ttftSlo, "--ttft-slo", 1e-6...1e7) }
        try check(kvBalancingThreshold, "--kv-balancing-threshold", 0...1e6)
        try check(alpha, "--alpha", 0...1e6)
        try check(beta, "--beta", 0...1e6)
        try check(balanceAbs, "--balance-abs", 0...1_000_000_000)
        try check(balanceRel, "--balance-rel", 0...1e6)
        try check(cacheThreshold, "--cache-threshold", 0...1)
        try check(prefillLoadScale, "--prefill-load-scale", 0...1e6)
        try check(overlapCredit, "--overlap-credit", 0...1e6)
        try check(temperature, "--temperature", 0...1e6)
        try check(hotWindow, "--hot-window", 1e-6...1e7)
        try check(hotPrefixBlocks, "--hot-prefix-blocks", 1...1_000_000)
        try check(costRatio, "--cost-ratio", 0...1e9)
        try check(replicaSamples, "--replica-samples", 0...1_000_000)
        guard hostCapacity >= 0, diskCapacity >= 0 else { throw CLIError("--host-capacity and --disk-capacity must not be negative") }
    }

    /// Policy flags and the selectors they apply to.
    static let policyFlags: [(flags: [String], selectors: [String])] = [
        (["--alpha", "--beta"], ["weighted"]),
        (["--balance-abs", "--balance-rel", "--cache-threshold"], ["threshold-balanced"]),
        (["--prefill-load-scale", "--overlap-credit", "--temperature"], ["kv-cost"]),
        (["--kv-balancing-threshold"], ["ttft-min"]),
        (["--hot-window", "--hot-prefix-blocks", "--anticipate"], ["hotspot-replicating"]),
        (["--transfer-gbps", "--block-mb", "--ttft-slo"], ["ttft-min", "hotspot-replicating"]),
    ]

    /// Refuses a policy flag given on the command line that none of `selectors` reads.
    static func checkApplies(to selectors: [SelectorPolicy], arguments: [String] = CommandLine.arguments) throws {
        let chosen = Set(selectors.map(\.rawValue))
        for (flags, users) in policyFlags where chosen.isDisjoint(with: users) {
            for flag in flags where arguments.contains(where: { $0 == flag || $0.hasPrefix(flag + "=") }) {
                throw CLIError(
                    "\(flag) applies to \(users.joined(separator: ", ")), not to the chosen selector(s) \(selectors.map(\.rawValue).joined(separator: ", "))"
                )
            }
        }
    }

    /// Refuses a run whose pools would need more memory than the machine has.
    static func checkMemory(nodes: Int, capacity: Int, hostCapacity: Int, diskCapacity: Int) throws {
        let (blocks, o1) = capacity.addingReportingOverflow(hostCapacity)
        let (all, o2) = blocks.addingReportingOverflow(diskCapacity)
        let perNode = Double(all) * 48 + 700_000
        let bytes = Double(nodes) * perNode
        let available = Double(ProcessInfo.processInfo.physicalMemory)
        guard !o1, !o2, bytes <= available * 0.8 else {
            let blocksText = o1 || o2 ? "more than \(Int.max)" : "\(all)"
            throw CLIError(
                "\(nodes) node(s) of \(blocksText) blocks (all tiers) need about "
                    + String(format: "%.1f GB; this machine has %.1f GB", o1 || o2 ? Double.infinity : bytes / 1e9, available / 1e9))
        }
    }

    func configuration(
        nodes: Int, capacity: Int, eviction: EvictionPolicy, selector: SelectorPolicy, seed: UInt64
    ) throws -> ClusterConfiguration {
        try validate()
        try Self.checkMemory(nodes: nodes, capacity: capacity, hostCapacity: hostCapacity, diskCapacity: diskCapacity)
        guard diskCapacity == 0 || hostCapacity > 0 else {
            throw CLIError("--disk-capacity needs --host-capacity (evictions flow device → host → disk)")
        }
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
        s.ttftMin = TTFTMin(
            prefillModel: model,
            transfer: transferGBps > 0 ? KVTransferModel(bytesPerBlock: blockMB * 1e6, bandwidth: transferGBps * 1e9) : nil,
            kvcacheBalancingThreshold: kvBalancingThreshold, ttftSLO: ttftSlo)
        s.hotWindow = hotWindow
        s.hotPrefixBlocks = hotPrefixBlocks
        s.anticipateRising = anticipate
        return ClusterConfiguration(
            nodes: nodes, capacity: capacity, eviction: eviction, selector: selector, selectorConfiguration: s,
            prefillModel: model, decodeSecondsPerToken: decodeMsPerToken / 1000,
            hostCapacity: hostCapacity, diskCapacity: diskCapacity,
            hostOnboardSecondsPerBlock: hostOnboardMs / 1000, diskOnboardSecondsPerBlock: diskOnboardMs / 1000,
            gpuStorageCostRatio: costRatio, replicaSamples: replicaSamples)
    }
}
