import Foundation
import Testing

@testable import KVCache

private struct VectorFile: Decodable {
    struct Case: Decodable {
        var blockSize, tokenCount: Int
        var salt, seed: UInt64
        var native, dynamoLocal, dynamoSequence: [String]
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

private struct DynamoVectors: Decodable {
    struct Case: Decodable, CustomTestStringConvertible {
        var blockSize: Int
        var tokens: [UInt32]
        var lora: String?
        var localHashes: [String]
        var testDescription: String { "\(tokens.count) tokens / \(blockSize), lora \(lora.map { "'\($0)'" } ?? "none")" }
    }
    var dynamo: String
    var cases: [Case]
}

private let dynamoVectors: DynamoVectors = {
    let data = try! Data(contentsOf: TestPaths.vectors.appendingPathComponent("dynamo_vectors.json"))
    return try! JSONDecoder().decode(DynamoVectors.self, from: data)
}()

@Suite("PrefixHasher identity: adapters and extra keys")
struct PrefixHasherIdentityTests {
    @Test(
        "dynamo local hashes equal Dynamo's compute_block_hash_for_seq, with and without lora_name",
        arguments: dynamoVectors.cases)
    fileprivate func dynamoFunction(_ c: DynamoVectors.Case) throws {
        let hasher = try PrefixHasher(blockSize: c.blockSize, scheme: .dynamo).adapted(to: c.lora)
        #expect(hasher.localHashes(c.tokens).map { String($0.rawValue) } == c.localHashes)
    }

    @Test("adapting moves the seed by the adapter's name; nil and empty are the base model")
    func adapted() throws {
        let base = try PrefixHasher(blockSize: 4)
        let tokens: [UInt32] = Array(0..<12)
        #expect(base.adapted(to: nil) == base && base.adapted(to: "") == base)
        let a = base.adapted(to: "A"), b = base.adapted(to: "B")
        #expect(a.adapter == "A" && a.seed == base.seed &+ PrefixHasher.adapterSalt("A"))
        #expect(Set([base.blockHashes(tokens), a.blockHashes(tokens), b.blockHashes(tokens)].flatMap { $0 }).count == 9)
        #expect(a.adapted(to: nil) == base && a.adapted(to: "B") == b && a.adapted(to: "A") == a)
    }

    @Test("extra keys change a block and everything after it; none is the plain hash")
    func extraKeys() throws {
        let hasher = try PrefixHasher(blockSize: 4)
        let tokens: [UInt32] = Array(0..<12)
        let plain = hasher.blockHashes(tokens)
        #expect(hasher.blockHashes(tokens) { _ in [] } == plain)
        #expect(hasher.blockHashes(tokens, cacheSalt: nil) == plain)
        let salted = hasher.blockHashes(tokens, cacheSalt: "tenant-1")
        #expect(zip(salted, plain).allSatisfy { $0 != $1 })
        #expect(hasher.blockHashes(tokens, cacheSalt: "tenant-2") != salted)
        let middle = hasher.blockHashes(tokens) { $0 == 1 ? [.string("img"), .integer(3)] : [] }
        #expect(middle[0] == plain[0] && middle[1] != plain[1] && middle[2] != plain[2])
        // the digest tells keys of different types and splits apart
        #expect(BlockExtraKey.digest([.string("ab")]) != BlockExtraKey.digest([.string("a"), .string("b")]))
        #expect(BlockExtraKey.digest([.integer(1)]) != BlockExtraKey.digest([.bytes([1, 0, 0, 0, 0, 0, 0, 0])]))
        #expect(BlockExtraKey.digest([BlockExtraKey]()) == nil)
    }
}
