import Foundation

/// Paths the tests read: files beside the tests and `../shared` beside the package root.
enum TestPaths {
    /// The package root (this file is Tests/KVCacheTests/TestSupport.swift).
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let vectors = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Vectors")
    static let shared = packageRoot.deletingLastPathComponent().appendingPathComponent("shared")
    static let conversationTrace = shared.appendingPathComponent("traces/conversation_trace.jsonl")
    static let referenceConversation = shared.appendingPathComponent("reference/conversation.json")
    static let referenceLibCacheSim = shared.appendingPathComponent("reference/conversation-libcachesim.json")
}

/// A small deterministic generator (SplitMix64) for property tests.
struct TestRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
