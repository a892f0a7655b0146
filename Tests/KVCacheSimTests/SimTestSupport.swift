import Foundation
import KVCacheSim

/// Paths and shared fixtures of the simulator tests.
enum SimFixtures {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let shared = packageRoot.deletingLastPathComponent().appendingPathComponent("shared")
    static let conversationPath = shared.appendingPathComponent("traces/conversation_trace.jsonl").path
    static let referencePath = shared.appendingPathComponent("reference/conversation.json").path
    static let libCacheSimPath = shared.appendingPathComponent("reference/conversation-libcachesim.json").path

    /// The Mooncake conversation trace, read once.
    static let conversation: Trace = load(conversationPath) { try TraceReader().read(path: conversationPath) }

    /// Loads a fixture from `../shared`; when it is missing or unreadable the test process
    /// stops with one line saying what is wrong (the reference tests cannot run without it).
    static func load<T>(_ path: String, _ body: () throws -> T) -> T {
        do { return try body() } catch {
            FileHandle.standardError.write(
                Data("test fixture \(path): \(error) (the reference tests read ../shared/ beside the package)\n".utf8))
            exit(1)
        }
    }

    struct Reference: Decodable, Sendable {
        struct Stats: Decodable, Sendable {
            var requests, block_accesses, unique_blocks: Int
            var inf_block_hit_ratio, inf_prefix_hit_ratio, inf_token_hit_ratio: Double
            var mean_blocks_per_req, mean_input_length, share_accesses_top12_blocks: Double
            var top12_blocks: [UInt64]
        }
        var global_pool: [String: [String: Double]]
        var cluster: [String: [String: Double]]
        var sensitivity: [String: [String: Double]]
        var stats: Stats
    }

    struct LibCacheSim: Decodable, Sendable {
        var sizes: [Int]
        var hit_ratio_percent: [String: [Double]]
    }

    /// `conversation.json`.
    static let reference: Reference = load(referencePath) {
        try JSONDecoder().decode(Reference.self, from: Data(contentsOf: URL(fileURLWithPath: referencePath)))
    }

    /// `conversation-libcachesim.json`.
    static let libCacheSim: LibCacheSim = load(libCacheSimPath) {
        try JSONDecoder().decode(LibCacheSim.self, from: Data(contentsOf: URL(fileURLWithPath: libCacheSimPath)))
    }
}
