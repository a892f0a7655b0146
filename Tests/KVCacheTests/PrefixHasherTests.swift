import Foundation
import Testing
@testable import KVCache

private struct VectorFile: Decodable {
    struct Case: Decodable {
        var blockSize: Int
        var tokenCount: Int
        var salt: UInt64
        var seed: UInt64
        var native: [String]
        var dynamoLocal: [String]
        var dynamoSequence: [String]
        var tokens: [UInt32] {
            (0..<tokenCount).map { UInt32(truncatingIfNeeded: UInt64($0) &* 2_654_435_761 &+ salt) }
        }
    }
    var chainSeed: UInt64
    var cases: [Case]
}

private let vectors: VectorFile = {
    let data = try! Data(contentsOf: TestPaths.vectors.appendingPathComponent("hash_vectors.json"))
    return try! JSONDecoder().decode(VectorFile.self, from: data)
}()

@Suite("PrefixHasher")
struct PrefixHasherTests {
    @Test("native scheme matches Python xxhash vectors bit for bit", arguments: vectors.cases)
    fileprivate func nativeVectors(_ c: VectorFile.Case) throws {
        let hasher = try PrefixHasher(blockSize: c.blockSize, scheme: .native, seed: c.seed)
        #expect(hasher.blockHashes(c.tokens).map(\.hexString) == c.native)
    }

    @Test("dynamo scheme matches Python xxhash vectors (sequence and local)", arguments: vectors.cases)
    fileprivate func dynamoVectors(_ c: VectorFile.Case) throws {
        let hasher = try PrefixHasher(blockSize: c.blockSize, scheme: .dynamo, seed: c.seed, chainSeed: vectors.chainSeed)
        #expect(hasher.blockHashes(c.tokens).map(\.hexString) == c.dynamoSequence)
        #expect(hasher.localHashes(c.tokens).map(\.hexString) == c.dynamoLocal)
    }

    @Test("incremental hashing in random pieces equals one-shot", arguments: vectors.cases)
    fileprivate func incremental(_ c: VectorFile.Case) throws {
        for scheme in PrefixHasher.Scheme.allCases {
            let hasher = try PrefixHasher(blockSize: c.blockSize, scheme: scheme, seed: c.seed)
            let tokens = c.tokens
            var rng = TestRNG(seed: c.salt)
            var stream = IncrementalPrefixHasher(hasher)
            var at = 0
            while at < tokens.count {
                let n = Int.random(in: 0...(2 * c.blockSize + 1), using: &rng)
                let end = min(tokens.count, at + n)
                if n == 1 { stream.append(tokens[at]) } else { stream.append(contentsOf: Array(tokens[at..<end])) }
                at = n == 1 ? at + 1 : end
            }
            #expect(stream.hashes == hasher.blockHashes(tokens))
            #expect(stream.localHashes == hasher.localHashes(tokens))
            #expect(stream.pendingTokens.count == tokens.count % c.blockSize)
            #expect(stream.tokenCount == tokens.count)
        }
    }

    @Test("defaults: block size 512, native seed 0, dynamo seeds 1337")
    func defaults() throws {
        let native = try PrefixHasher()
        #expect(native.blockSize == 512 && native.seed == 0 && native.scheme == .native)
        let dynamo = try PrefixHasher(scheme: .dynamo)
        #expect(dynamo.seed == 1337 && dynamo.chainSeed == 1337)
    }

    @Test("a partial block yields no hash; equal hash iff equal prefix")
    func prefixProperty() throws {
        let hasher = try PrefixHasher(blockSize: 4)
        #expect(hasher.blockHashes([1, 2, 3] as [UInt32]).isEmpty)
        let a = hasher.blockHashes([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] as [UInt32])
        let b = hasher.blockHashes([1, 2, 3, 4, 5, 6, 7, 9, 9, 10, 11, 12] as [UInt32])
        #expect(a.count == 3 && b.count == 3)
        #expect(a[0] == b[0] && a[1] != b[1] && a[2] != b[2])
        // the same block content under another parent hashes differently
        let c = hasher.blockHashes([0, 0, 0, 0, 9, 10, 11, 12] as [UInt32])
        #expect(c[1] != a[2])
    }

    @Test("Int tokens: in-range tokens hash like UInt32, an out-of-range one is named")
    func intTokens() throws {
        let hasher = try PrefixHasher(blockSize: 2)
        #expect(try hasher.blockHashes([1, 2, 3, 4] as [Int]) == hasher.blockHashes([1, 2, 3, 4] as [UInt32]))
        #expect(throws: HashingError.tokenOutOfRange(index: 2, value: -1)) {
            try hasher.blockHashes([1, 2, -1, 4] as [Int])
        }
        #expect(throws: HashingError.tokenOutOfRange(index: 0, value: 1 << 32)) {
            try hasher.blockHashes([1 << 32] as [Int])
        }
        var stream = IncrementalPrefixHasher(hasher)
        #expect(throws: HashingError.self) { try stream.append(contentsOf: [5, Int(UInt32.max) + 1] as [Int]) }
        #expect(stream.tokenCount == 0)
    }

    @Test("block size below 1 is a typed error")
    func badBlockSize() {
        #expect(throws: HashingError.invalidBlockSize(0)) { try PrefixHasher(blockSize: 0) }
        #expect(throws: HashingError.invalidBlockSize(-3)) { try PrefixHasher(blockSize: -3) }
    }

    @Test("appendBlockHashes continues a chain from a parent")
    func continueChain() throws {
        let hasher = try PrefixHasher(blockSize: 3, scheme: .dynamo)
        let tokens: [UInt32] = Array(0..<12)
        let whole = hasher.blockHashes(tokens)
        var tail: [BlockHash] = []
        tokens[6...].withUnsafeBufferPointer { hasher.appendBlockHashes(of: $0, to: &tail, parent: whole[1]) }
        #expect(tail == Array(whole[2...]))
        #expect(BlockHash(0x4d2).hexString == "00000000000004d2")
    }
}
