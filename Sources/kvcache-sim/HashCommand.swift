import ArgumentParser
import KVCache
import KVCacheCLI
import KVCacheSim

struct HashCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hash",
        abstract: "Print the chained block hashes of a token sequence.",
        discussion: """
            One hash per full block, as 16 lowercase hex digits; a trailing partial block has none.
            Examples:
              kvcache-sim hash --block-size 4 --tokens 1,2,3,4,5,6,7,8
              kvcache-sim hash --scheme dynamo --tokens-file prompt.txt --format json
              kvcache-sim hash --block-size 16 --lora my-adapter --tokens-file prompt.txt
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

    @Option(help: "Tokens per block (at least 1).")
    var blockSize: Int = 512

    @Option(help: "Seed (default: 0 for native, 1337 for dynamo).")
    var seed: UInt64?

    @Option(help: "Chain scheme: native or dynamo.")
    var scheme: String = "native"

    @Option(help: "The adapter (LoRA) name: its blocks hash apart from the base model's.")
    var lora: String?

    @Option(help: "A cache salt (vLLM's cache_salt), mixed into the first block.")
    var cacheSalt: String?

    @Option(help: ArgumentHelp("Token ids separated by commas or spaces.", valueName: "ids"))
    var tokens: String?

    @Option(help: ArgumentHelp("A file of token ids separated by white space or commas.", valueName: "file"))
    var tokensFile: String?

    @Option(help: "Output: text (one hash per line) or json.")
    var format: Format = .text

    func run() throws {
        guard let chosen = PrefixHasher.Scheme(rawValue: scheme) else {
            throw CLIError("unknown --scheme '\(scheme)' (expected native or dynamo)")
        }
        let hasher = try PrefixHasher(blockSize: blockSize, scheme: chosen, seed: seed).adapted(to: lora)
        let ids: [UInt32]
        switch (tokens, tokensFile) {
        case (let list?, nil):
            ids = try TokenList.parse(list, source: "--tokens")
        case (nil, let path?):
            ids = try TokenList.parse(try readText(path), source: path)
        case (nil, nil):
            throw CLIError("give the tokens with --tokens 1,2,3 or --tokens-file FILE")
        case (_?, _?):
            throw CLIError("give either --tokens or --tokens-file, not both")
        }
        let hashes = hasher.blockHashes(ids, cacheSalt: cacheSalt)
        guard !hashes.isEmpty else {
            throw CLIError(
                "\(ids.count) tokens make no full block of \(blockSize) (a partial block has no hash): give more tokens or a smaller --block-size"
            )
        }
        switch format {
        case .text:
            for h in hashes { print(h.hexString) }
        case .json:
            var object: [(String, Value)] = [
                ("blockSize", .int(blockSize)), ("scheme", .string(chosen.rawValue)), ("tokens", .int(ids.count)),
                ("lora", lora.map { .string($0) } ?? .null), ("hashes", .array(hashes.map { .string($0.hexString) })),
            ]
            if chosen == .dynamo { object.append(("localHashes", .array(hasher.localHashes(ids).map { .string($0.hexString) }))) }
            print(Value.object(object).json)
        }
    }
}
