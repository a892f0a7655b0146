import ArgumentParser
import KVCacheCLI

/// The lower cache tiers of every node: host memory (G2) and disk (G3), and what bringing a
/// block back from each costs.
struct TierOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Host-memory (G2) tier per node, blocks (0: none). Evicted blocks are offloaded there.")
    var hostCapacity: Int = 0
    @Option(parsing: .unconditional, help: "Disk (G3) tier per node, blocks (0: none).")
    var diskCapacity: Int = 0
    @Option(parsing: .unconditional, help: "Onboarding time per block from host, ms.")
    var hostOnboardMs: Double = 2
    @Option(parsing: .unconditional, help: "Onboarding time per block from disk, ms.")
    var diskOnboardMs: Double = 20

    func validate() throws {
        try check(hostOnboardMs, "--host-onboard-ms", 0...3.6e6)
        try check(diskOnboardMs, "--disk-onboard-ms", 0...3.6e6)
        guard hostCapacity >= 0, diskCapacity >= 0 else { throw CLIError("--host-capacity and --disk-capacity must not be negative") }
        guard diskCapacity == 0 || hostCapacity > 0 else {
            throw CLIError("--disk-capacity needs --host-capacity (evictions flow device → host → disk)")
        }
    }
}
