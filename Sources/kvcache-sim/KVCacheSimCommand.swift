import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

@main
enum KVCacheSimMain {
    /// The flags that belong to `kvcache-sim` itself rather than to a subcommand.
    static let ownFlags: Set<String> = ["-h", "--help", "--version", "--generate-completion-script", "--experimental-dump-help"]

    /// Runs `compare` when no subcommand is named (nothing, or a flag, comes first). Telling
    /// ArgumentParser so, as a default subcommand, would make it reflect `compare`'s many options
    /// on every run of every command.
    static func main() {
        keepFreedBuffers()
        let arguments = Array(CommandLine.arguments.dropFirst())
        let named = arguments.first.map { !$0.hasPrefix("-") || ownFlags.contains($0) } ?? false
        KVCacheSimCommand.main(named ? arguments : ["compare"] + arguments)
    }
}

extension KVCacheSimMain {
    /// A simulation builds and drops pools by the dozen. glibc hands a freed buffer above its
    /// mmap threshold (128 KB at first) back to the kernel, so the next pool of the same size
    /// would fault its tables in again page by page; with the threshold at its 32 MB maximum
    /// and trimming rarer, freed pool tables stay in the heap for the next pool.
    /// (`mallopt` is in `malloc.h`, which the Glibc module leaves out: it is looked up by name,
    /// with glibc's parameter numbers `M_TRIM_THRESHOLD` -1 and `M_MMAP_THRESHOLD` -3.)
    static func keepFreedBuffers() {
        #if canImport(Glibc)
        typealias MallOpt = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
        let mallopt = unsafeBitCast(symbol, to: MallOpt.self)
        _ = mallopt(-3, 32 << 20)
        _ = mallopt(-1, 256 << 20)
        #endif
    }
}

struct KVCacheSimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kvcache-sim",
        abstract: "Hash prompts into KV blocks and replay request traces through KV-cache policies.",
        discussion: """
            Without a subcommand, compare runs. Without --trace, commands run on a
            built-in workload (--workload conversation by default). Quick start (the
            first ranks routing policies on the built-in workload):
              kvcache-sim
              kvcache-sim compare --trace trace.jsonl --nodes 8,16 \\
                  --capacity 1000,5000 --chart out.svg
              kvcache-sim sweep --trace trace.jsonl --chart curve.svg
              kvcache-sim replay --trace trace.jsonl --nodes 16 \\
                  --selector ttft-min --baseline --format json
              kvcache-sim analyze --trace trace.jsonl
            """,
        subcommands: [
            CompareCommand.self, ReplayCommand.self, SweepCommand.self, AnalyzeCommand.self, IndexBenchCommand.self,
            HashCommand.self,
        ]
    )
}
