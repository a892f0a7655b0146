import ArgumentParser
import KVCache
import KVCacheCLI
import KVCacheSim

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The cost model and every policy parameter.
struct ModelOptions: ParsableArguments {
    @OptionGroup var policy: SelectorOptions
    @OptionGroup(title: "Lower tiers") var tiers: TierOptions
    @Option(parsing: .unconditional, help: "Decode time per generated token, ms (0: decode occupancy not modelled).")
    var decodeMsPerToken: Double = 0
    @Option(parsing: .unconditional, help: "GPU : storage cost ratio for the net score.")
    var costRatio: Double = 100
    @Option(
        parsing: .unconditional,
        help: "Samples of the hottest blocks' replica counts over the run (default: 10 for hotspot-replicating, else 0).")
    var replicaSamples: Int?

    /// Checks every number against its range, naming the flag and the value.
    func validate() throws {
        try policy.validate()
        try check(decodeMsPerToken, "--decode-ms-per-token", 0...1e5)
        try check(costRatio, "--cost-ratio", 0...1e9)
        if let replicaSamples { try check(replicaSamples, "--replica-samples", 0...1_000_000) }
        try tiers.validate()
    }

    /// Refuses a policy flag given on the command line that none of `selectors` reads.
    static func checkApplies(to selectors: [SelectorPolicy], arguments: [String] = CommandLine.arguments) throws {
        try SelectorOptions.checkApplies(to: selectors, arguments: arguments)
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
                    + "\(fixed(o1 || o2 ? Double.infinity : bytes / 1e9, 1)) GB; this machine has \(fixed(available / 1e9, 1)) GB")
        }
    }

    func configuration(
        nodes: Int, capacity: Int, eviction: EvictionPolicy, selector: SelectorPolicy, seed: UInt64
    ) throws -> ClusterConfiguration {
        try validate()
        try Self.checkMemory(nodes: nodes, capacity: capacity, hostCapacity: tiers.hostCapacity, diskCapacity: tiers.diskCapacity)
        let model = policy.prefillModel
        let s = policy.selectorConfiguration(seed: seed)
        var c = ClusterConfiguration(
            nodes: nodes, capacity: capacity, eviction: eviction, selector: selector, selectorConfiguration: s,
            prefillModel: model, decodeSecondsPerToken: decodeMsPerToken / 1000,
            hostCapacity: tiers.hostCapacity, diskCapacity: tiers.diskCapacity,
            hostOnboardSecondsPerBlock: tiers.hostOnboardMs / 1000, diskOnboardSecondsPerBlock: tiers.diskOnboardMs / 1000,
            // finding the hottest blocks is a pass over every access: done for the policy that
            // replicates them, or when asked
            gpuStorageCostRatio: costRatio, replicaSamples: replicaSamples ?? (selector == .hotspotReplicating ? 10 : 0))
        c.tierWeights = try policy.parsedTierWeights()
        return c
    }
}
