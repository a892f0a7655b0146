import ArgumentParser

@main
struct KVCacheSimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kvcache-sim",
        abstract: "Hash prompts into KV blocks and replay request traces through KV-cache policies.",
        subcommands: [CompareCommand.self, ReplayCommand.self, SweepCommand.self, AnalyzeCommand.self, IndexBenchCommand.self, HashCommand.self],
        defaultSubcommand: CompareCommand.self
    )
}
