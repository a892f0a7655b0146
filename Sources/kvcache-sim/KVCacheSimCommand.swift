import ArgumentParser

@main
struct KVCacheSimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kvcache-sim",
        abstract: "Hash prompts into KV blocks and replay request traces through KV-cache policies.",
        discussion: """
            Without --trace, commands run on a built-in workload (--workload
            conversation by default). Quick start (the first ranks routing policies
            on the built-in workload):
              kvcache-sim
              kvcache-sim compare --trace trace.jsonl --nodes 8,16 \\
                  --capacity 1000,5000 --chart out.svg
              kvcache-sim sweep --trace trace.jsonl --chart curve.svg
              kvcache-sim replay --trace trace.jsonl --nodes 16 \\
                  --selector ttft-min --baseline --format json
              kvcache-sim analyze --trace trace.jsonl
            """,
        subcommands: [
            CompareCommand.self, ReplayCommand.self, SweepCommand.self, AnalyzeCommand.self, IndexBenchCommand.self, ListenCommand.self,
            HashCommand.self,
        ],
        defaultSubcommand: CompareCommand.self
    )
}
