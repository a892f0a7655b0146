import Foundation
import KVCache
import Testing

@_spi(Differential) @testable import KVCacheZMQ

private struct Vectors: Decodable {
    struct Case: Decodable {
        struct Expected: Decodable {
            struct Event: Decodable {
                var type: String
                var blocks: [String]?
                var parent: String?
                var tokens: Int?
                var blockSize: Int?
                var tier: String?
            }
            var ts: Double
            var rank: Int?
            var events: [Event]
        }
        var name, hex: String
        var expected: Expected
    }
    struct Bad: Decodable {
        var name, hex, reason: String
    }
    var cases: [Case]
    var malformed: [Bad]
}

private let vectors: Vectors = {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Vectors/vllm_payloads.json")
    return try! JSONDecoder().decode(Vectors.self, from: Data(contentsOf: url))
}()

private func bytes(_ hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var it = hex.makeIterator()
    while let a = it.next(), let b = it.next() { out.append(UInt8(String([a, b]), radix: 16)!) }
    return out
}

private func key(_ s: String) -> EngineBlockHash {
    s.hasPrefix("bytes:") ? EngineBlockHash(bytes: bytes(String(s.dropFirst(6)))) : EngineBlockHash(UInt64(s)!)
}

@Suite("vLLM event decoding")
struct VLLMEventDecoderTests {
    @Test("payloads encoded by msgspec as vLLM does decode to the expected events", arguments: vectors.cases.map(\.name))
    func decodes(name: String) throws {
        let c = vectors.cases.first { $0.name == name }!
        let batch = try VLLMEventDecoder().decode(bytes(c.hex))
        #expect(batch.timestamp == c.expected.ts)
        #expect(batch.dataParallelRank == c.expected.rank)
        #expect(batch.events.count == c.expected.events.count)
        for (got, want) in zip(batch.events, c.expected.events) {
            switch got {
            case .stored(let run):
                #expect(want.type == "stored")
                #expect(run.blocks == want.blocks!.map(key))
                #expect(run.parent == want.parent.map(key))
                #expect(run.tokens.count == want.tokens && run.blockSize == want.blockSize)
                #expect(run.tier.description == want.tier)
            case .removed(let blocks, let tier):
                #expect(want.type == "removed")
                #expect(blocks == want.blocks!.map(key))
                #expect(tier.description == want.tier)
            case .cleared:
                #expect(want.type == "cleared")
            }
        }
    }

    @Test("tokens, adapter and extra keys of a BlockStored are kept")
    func storedIdentity() throws {
        let batch = try VLLMEventDecoder().decode(bytes(vectors.cases[0].hex))
        guard case .stored(let first) = batch.events[0], case .stored(let second) = batch.events[1] else {
            Issue.record("expected two stores first")
            return
        }
        #expect(first.tokens == (0..<48).map(UInt32.init) && first.adapter == nil)
        #expect(first.extraKeys == [[], [.string("img"), .integer(3)], []])
        #expect(second.adapter == "adapter" && second.extraKeys.isEmpty)
    }

    @Test("malformed payloads are rejected with the reason named", arguments: vectors.malformed.map(\.name))
    func malformed(name: String) {
        let bad = vectors.malformed.first { $0.name == name }!
        do {
            _ = try VLLMEventDecoder().decode(bytes(bad.hex))
            Issue.record("\(name) was accepted")
        } catch {
            #expect(error.reason.contains(bad.reason), "\(name): \(error.reason)")
        }
    }

    @Test(
        "a payload declaring more than it holds is refused before unpacking, naming the byte",
        arguments: [
            ([0xdd, 0xff, 0xff, 0xff, 0xff], "a container at byte 0 declares 4294967295 elements but 0 bytes remain"),
            ([0x92, 0x01, 0xce, 0x00], "a value at byte 2 declares 4 bytes but 1 remain"),
            ([0x91, 0xdb, 0x00, 0x00, 0x01, 0x00, 0x61], "a value at byte 1 declares 256 bytes but 1 remain"),
            ([0xc6, 0x00, 0x00], "truncated length at byte 0"),
            ([0x91, 0xdc, 0x00], "truncated count at byte 1"),
            ([0x92, 0x01], "a container at byte 0 declares 2 elements but 1 bytes remain"),
            ([0x91, 0xc1], "byte 0xc1 at 1 is not a msgpack type"),
            ([], "the payload ends inside a value at byte 0"),
        ] as [([UInt8], String)])
    func declaredBounds(payload: [UInt8], problem: String) {
        #expect(throws: VLLMDecodeError(reason: "not msgpack: \(problem)")) { try VLLMEventDecoder().decode(payload) }
    }

    /// The batch msgpack-c's path gives for `payload`, or nil when it refuses it.
    private func throughMsgpack(_ payload: [UInt8]) -> VLLMEventBatch? {
        payload.withUnsafeBytes { try? VLLMEventDecoder()._decodeWithMsgpack($0) }
    }

    private func onePass(_ payload: [UInt8]) -> VLLMEventBatch? {
        payload.withUnsafeBytes { VLLMEventDecoder._readInOnePass($0) }
    }

    @Test("a NaN timestamp is read as the same bits by both paths")
    func nanTimestamp() throws {
        // [NaN, []]: a NaN is not equal to itself, so the two paths are compared by its bits
        let payload: [UInt8] = [0x92, 0xCB, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x33, 0x90]
        let fast = try #require(onePass(payload))
        let tree = try #require(throughMsgpack(payload))
        #expect(fast.timestamp.isNaN && fast.timestamp.bitPattern == tree.timestamp.bitPattern)
        #expect(fast.events.isEmpty && tree.events.isEmpty && fast.dataParallelRank == nil)
    }

    @Test("the one-pass reader takes engines' usual payloads and gives msgpack-c's batch for each vector")
    func onePassAgrees() throws {
        for c in vectors.cases {
            let payload = bytes(c.hex)
            let reference = try #require(throughMsgpack(payload), "\(c.name)")
            if let batch = onePass(payload) { #expect(batch == reference, "\(c.name)") }
        }
        // extra keys are left to msgpack-c; every other vector is read in one pass
        for name in ["bytes-hashes-no-rank", "legacy-array-events", "engine-step"] {
            #expect(onePass(bytes(vectors.cases.first { $0.name == name }!.hex)) != nil, "\(name)")
        }
        for bad in vectors.malformed { #expect(onePass(bytes(bad.hex)) == nil, "\(bad.name)") }
    }

    /// Every vector damaged many ways (bytes changed, cut short, lengthened): whenever the
    /// one-pass reader takes the result, msgpack-c's path takes it too and gives the same
    /// batch, so the reader never answers differently, only sooner.
    @Test("on damaged payloads the one-pass reader agrees with msgpack-c or leaves them to it")
    func onePassDamaged() {
        var rng = SeededGenerator(seed: 0xD1FF)
        var read = 0
        for c in vectors.cases {
            let original = bytes(c.hex)
            for _ in 0..<1_500 {
                var payload = original
                switch rng.next() % 5 {
                case 4:
                    // an unsigned integer's encoding made the signed one of the same width,
                    // or a small one made negative: the layout holds, the value's sign changes
                    let starts = payload.indices.filter { (0xCC...0xCF).contains(payload[$0]) || payload[$0] < 0x80 }
                    guard !starts.isEmpty else { continue }
                    let i = starts[Int(rng.next() % UInt64(starts.count))]
                    payload[i] = payload[i] < 0x80 ? payload[i] | 0xE0 : payload[i] + 4
                case 0:
                    for _ in 0...(rng.next() % 3) {
                        payload[Int(rng.next() % UInt64(payload.count))] = UInt8(truncatingIfNeeded: rng.next())
                    }
                case 1: payload.removeLast(Int(rng.next() % UInt64(min(payload.count, 40))) + 1)
                case 2: payload.insert(UInt8(truncatingIfNeeded: rng.next()), at: Int(rng.next() % UInt64(payload.count + 1)))
                default:
                    let i = Int(rng.next() % UInt64(payload.count))
                    payload[i] = [0xC0, 0x00, 0x7F, 0xCC, 0xD0, 0xE0, 0xA0, 0x90, 0x80, 0xDC, 0xCB][Int(rng.next() % 11)]
                }
                guard let batch = onePass(payload) else { continue }
                read += 1
                let tree = throughMsgpack(payload)
                // the same bits: a damaged timestamp may be a NaN, which is not equal to itself
                #expect(
                    tree?.timestamp.bitPattern == batch.timestamp.bitPattern && tree?.events == batch.events
                        && tree?.dataParallelRank == batch.dataParallelRank,
                    "\(c.name): \(payload.map { String($0, radix: 16) })")
            }
        }
        #expect(read > 100, "the damage leaves many payloads readable, so the comparison means something")
    }

    @Test("decoded batches become events that keep an engine-keyed prefix index current")
    func intoIndex() throws {
        let batch = try VLLMEventDecoder().decode(bytes(vectors.cases[0].hex))
        var next: UInt64 = 0
        let events = VLLMEventDecoder.engineEvents(batch, node: 2, nextEventID: &next).map(\.keyedByEngineHashes)
        #expect(next == 5 && events.map(\.eventID) == [0, 1, 2, 3, 4])
        var index = PrefixIndex()
        #expect(try index.apply(Array(events.prefix(3))).isEmpty)
        // after the first three events node 2 holds 1 (device), 7 (host); 2 was removed
        #expect(index.contains(1, node: 2, tier: .device) && !index.contains(2, node: 2))
        #expect(index.contains(7, node: 2, tier: .host))
        try index.apply(Array(events.suffix(2)))
        #expect(index.blockCount == 0)
    }
}
