import ArgumentParser

@main
enum KVCacheSimMain {
    /// The flags that belong to `kvcache-sim` itself rather than to a subcommand.
    static let ownFlags: Set<String> = ["-h", "--help", "--version", "--generate-completion-script", "--experimental-dump-help"]

    /// Runs `compare` when no subcommand is named (nothing, or a flag, comes first). Telling
    /// ArgumentParser so, as a default subcommand, would make it reflect `compare`'s many options
    /// on every run of every command.
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        let named = arguments.first.map { !$0.hasPrefix("-") || ownFlags.contains($0) } ?? false
        KVCacheSimCommand.main(named ? arguments : ["compare"] + arguments)
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
