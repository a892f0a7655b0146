import CKVCore

/// Turns token ids into chained block hashes: one ``BlockHash`` per full block of
/// ``blockSize`` tokens, where equal hash ⇔ equal prefix up to and including that block.
///
/// Tokens are hashed as 4-byte little-endian `UInt32` words with XXH3-64 (through CKVCore,
/// which uses libxxhash's runtime-dispatched AVX2/AVX-512 entry point where available).
/// A trailing partial block yields no hash.
///
/// Two chain schemes:
/// - ``Scheme/native`` (the default): `h[0] = XXH3_64(bytes(block 0), seed: seed)` and
///   `h[i] = XXH3_64(bytes(block i), seed: h[i-1])`. One XXH3 call per block over the block
///   itself: the parent enters through the seed, so nothing is copied or hashed twice.
/// - ``Scheme/dynamo``, interoperable with NVIDIA Dynamo's KV router:
///   `local[i] = XXH3_64(bytes(block i), seed: seed)`, `seq[0] = local[0]`,
///   `seq[i] = XXH3_64(le64(seq[i-1]) ‖ le64(local[i]), seed: chainSeed)`, with seed and chain
///   seed 1337 by default. The sequence hashes are the block hashes; the local hashes are
///   available from ``localHashes(_:)-(UnsafeBufferPointer<UInt32>)``.
///
/// Identity beyond tokens:
/// - an **adapter** (LoRA) changes the seed: ``adapted(to:)`` returns the hasher whose seed is
///   `seed &+ XXH3_64(UTF-8 name, seed: 0)` — for the dynamo scheme exactly Dynamo's
///   `compute_block_hash_for_seq(…, lora_name:)` — so blocks of adapter A never match blocks of
///   adapter B or of the base model;
/// - **extra keys** of a block (``BlockExtraKey``: multimodal hashes, a cache salt) are mixed
///   in by appending `le64(BlockExtraKey.digest(keys))` to the block's bytes before hashing
///   (as Dynamo appends multimodal hashes); a block without extra keys hashes as before.
///
/// `PrefixHasher` is a small immutable value; hashing allocates nothing but the result array
/// (or nothing at all with ``appendBlockHashes(of:to:)``).
public struct PrefixHasher: Sendable, Hashable {
    /// How block hashes are chained to their parents.
    public enum Scheme: String, Sendable, Hashable, CaseIterable {
        /// `h[i] = XXH3_64(block i, seed: h[i-1])`, `h[0]` seeded with ``PrefixHasher/seed``.
        case native
        /// NVIDIA Dynamo's chain: local block hashes, combined pairwise with the parent.
        case dynamo
    }

    /// Dynamo's default seed for both local and sequence hashes.
    public static let dynamoDefaultSeed: UInt64 = 1337

    /// Tokens per block (default 512).
    public let blockSize: Int
    /// How blocks are chained.
    public let scheme: Scheme
    /// Seed of the first block (native) or of every local block hash (dynamo).
    public let seed: UInt64
    /// Seed of the sequence-hash combination (dynamo only; unused by the native scheme).
    public let chainSeed: UInt64
    /// The adapter (LoRA) this hasher hashes for, `nil` for the base model
    /// (see ``adapted(to:)``).
    public let adapter: String?

    /// Creates a hasher.
    ///
    /// - Parameters:
    ///   - blockSize: Tokens per block, at least 1. Default 512.
    ///   - scheme: The chain scheme. Default ``Scheme/native``.
    ///   - seed: The seed; `nil` picks the scheme's default (0 for native, 1337 for dynamo).
    ///   - chainSeed: Dynamo's sequence-hash seed; `nil` picks 1337.
    /// - Throws: ``HashingError/invalidBlockSize(_:)`` when `blockSize < 1`.
    public init(
        blockSize: Int = 512, scheme: Scheme = .native, seed: UInt64? = nil, chainSeed: UInt64? = nil
    ) throws(HashingError) {
        guard blockSize >= 1 else { throw .invalidBlockSize(blockSize) }
        self.blockSize = blockSize
        self.scheme = scheme
        switch scheme {
        case .native: self.seed = seed ?? 0
        case .dynamo: self.seed = seed ?? Self.dynamoDefaultSeed
        }
        self.chainSeed = chainSeed ?? Self.dynamoDefaultSeed
        self.adapter = nil
    }

    init(_copying base: PrefixHasher, seed: UInt64, adapter: String?) {
        blockSize = base.blockSize
        scheme = base.scheme
        chainSeed = base.chainSeed
        self.seed = seed
        self.adapter = adapter
    }

    /// The hasher for requests of `adapter` (a LoRA name): the same block size and scheme,
    /// with the seed moved by the adapter's name, so its chains never meet the base model's
    /// or another adapter's.
    ///
    /// `nil` or an empty name is the base model. Adapting an adapted hasher starts again from
    /// the base seed (adapters do not stack).
    /// - Complexity: O(name length)
    public func adapted(to adapter: String?) -> PrefixHasher {
        let base = self.adapter.map { seed &- Self.adapterSalt($0) } ?? seed
        guard let adapter, !adapter.isEmpty else {
            return self.adapter == nil ? self : PrefixHasher(_copying: self, seed: base, adapter: nil)
        }
        if adapter == self.adapter { return self }
        return PrefixHasher(_copying: self, seed: base &+ Self.adapterSalt(adapter), adapter: adapter)
    }

    /// What an adapter's name adds to the seed: XXH3-64 of its UTF-8 bytes, seed 0.
    public static func adapterSalt(_ adapter: String) -> UInt64 {
        var name = adapter
        return name.withUTF8 { kvc_xxh3_64_seeded($0.baseAddress, $0.count, 0) }
    }

    /// The number of full blocks in `tokenCount` tokens.
    ///
    /// - Complexity: O(1)
    @inlinable
    public func blockCount(forTokenCount tokenCount: Int) -> Int { tokenCount / blockSize }

    // MARK: - Chain step

    /// The hash of one block given its parent's hash (`nil` for the first block).
    ///
    /// This is the single definition of the chain that every entry point uses.
    /// - Parameters:
    ///   - block: Exactly ``blockSize`` tokens.
    ///   - parent: The previous block's hash in the same chain, or `nil` for block 0.
    /// - Returns: The block's chained hash and its local (content-only) hash.
    /// - Complexity: O(``blockSize``)
    public func hashBlock(
        _ block: UnsafeBufferPointer<UInt32>, parent: BlockHash?
    ) -> (hash: BlockHash, local: BlockHash) {
        precondition(block.count == blockSize, "a block has exactly blockSize tokens")
        return _withLittleEndianBytes(block) { bytes, count in
            _step(bytes, count, parent: parent?.rawValue)
        }
    }

    @inline(__always)
    internal func _step(_ bytes: UnsafeRawPointer, _ count: Int, parent: UInt64?) -> (hash: BlockHash, local: BlockHash) {
        switch scheme {
        case .native:
            let h = kvc_xxh3_64_seeded(bytes, count, parent ?? seed)
            let local = parent == nil ? h : kvc_xxh3_64_seeded(bytes, count, seed)
            return (BlockHash(h), BlockHash(local))
        case .dynamo:
            let local = kvc_xxh3_64_seeded(bytes, count, seed)
            guard let parent else { return (BlockHash(local), BlockHash(local)) }
            var pair = (parent.littleEndian, local.littleEndian)
            let seq = withUnsafeBytes(of: &pair) { kvc_xxh3_64_seeded($0.baseAddress!, 16, chainSeed) }
            return (BlockHash(seq), BlockHash(local))
        }
    }

    /// The hash of one block with extra keys mixed in (see ``BlockExtraKey/digest(_:)``);
    /// `extra == nil` is ``hashBlock(_:parent:)``.
    ///
    /// - Parameters:
    ///   - block: Exactly ``blockSize`` tokens.
    ///   - parent: The previous block's hash in the same chain, or `nil` for block 0.
    ///   - extra: The digest of the block's extra keys, if it has any.
    /// - Complexity: O(``blockSize``)
    public func hashBlock(
        _ block: UnsafeBufferPointer<UInt32>, parent: BlockHash?, extra: UInt64?
    ) -> (hash: BlockHash, local: BlockHash) {
        guard let extra else { return hashBlock(block, parent: parent) }
        precondition(block.count == blockSize, "a block has exactly blockSize tokens")
        let count = blockSize * 4 + 8
        return withUnsafeTemporaryAllocation(byteCount: count, alignment: 8) { scratch in
            _withLittleEndianBytes(block) { bytes, n in scratch.baseAddress!.copyMemory(from: bytes, byteCount: n) }
            scratch.storeBytes(of: extra.littleEndian, toByteOffset: blockSize * 4, as: UInt64.self)
            return _step(UnsafeRawPointer(scratch.baseAddress!), count, parent: parent?.rawValue)
        }
    }

    /// The chained hashes of every full block of `tokens` with per-block extra keys.
    ///
    /// - Parameters:
    ///   - tokens: Token ids; a trailing partial block yields no hash.
    ///   - parent: The hash of the block before `tokens`, if they continue a chain.
    ///   - extraKeys: The extra keys of block `i` (an empty array: none).
    /// - Complexity: O(`tokens.count` + extra keys)
    public func blockHashes(
        _ tokens: [UInt32], parent: BlockHash? = nil, extraKeys: (Int) -> [BlockExtraKey]
    ) -> [BlockHash] {
        let blocks = tokens.count / blockSize
        var out: [BlockHash] = []
        out.reserveCapacity(blocks)
        var previous = parent
        tokens.withUnsafeBufferPointer { all in
            for i in 0..<blocks {
                let block = UnsafeBufferPointer(rebasing: all[(i * blockSize)..<((i + 1) * blockSize)])
                let h = hashBlock(block, parent: previous, extra: BlockExtraKey.digest(extraKeys(i))).hash
                out.append(h)
                previous = h
            }
        }
        return out
    }

    /// The chained hashes of a prompt that carries a cache salt (vLLM's `cache_salt`): the
    /// salt is an extra key of the first block only, so salted prompts share nothing with
    /// unsalted ones or with other salts. A `nil` salt is ``blockHashes(_:)-([UInt32])``.
    /// - Complexity: O(`tokens.count`)
    public func blockHashes(_ tokens: [UInt32], cacheSalt: String?) -> [BlockHash] {
        guard let cacheSalt else { return blockHashes(tokens) }
        return blockHashes(tokens) { $0 == 0 ? [.string(cacheSalt)] : [] }
    }

    /// The sequence (chained) hash only: the hot path, which skips the native scheme's
    /// separate local hash.
    @inline(__always)
    internal func _chainHash(_ bytes: UnsafeRawPointer, _ count: Int, parent: UInt64?) -> UInt64 {
        switch scheme {
        case .native:
            return kvc_xxh3_64_seeded(bytes, count, parent ?? seed)
        case .dynamo:
            return _step(bytes, count, parent: parent).hash.rawValue
        }
    }

    // MARK: - One-shot hashing

    /// Appends the chained hashes of every full block of `tokens` to `hashes`, continuing the
    /// chain from `parent` (`nil`: `tokens` starts at block 0).
    ///
    /// Allocates nothing when `hashes` has capacity for the new hashes.
    /// - Parameters:
    ///   - tokens: Token ids; a trailing partial block is ignored.
    ///   - hashes: Receives one hash per full block.
    ///   - parent: The hash of the block preceding `tokens`, if `tokens` continues a chain.
    /// - Complexity: O(`tokens.count`)
    public func appendBlockHashes(
        of tokens: UnsafeBufferPointer<UInt32>, to hashes: inout [BlockHash], parent: BlockHash? = nil
    ) {
        let blocks = tokens.count / blockSize
        guard blocks > 0 else { return }
        let blockBytes = blockSize * 4
        var previous = parent?.rawValue
        #if _endian(little)
        let base = UnsafeRawPointer(tokens.baseAddress!)
        for i in 0..<blocks {
            let h = _chainHash(base + i * blockBytes, blockBytes, parent: previous)
            hashes.append(BlockHash(h))
            previous = h
        }
        #else
        for i in 0..<blocks {
            let block = UnsafeBufferPointer(rebasing: tokens[(i * blockSize)..<((i + 1) * blockSize)])
            let h = _withLittleEndianBytes(block) { _chainHash($0, $1, parent: previous) }
            hashes.append(BlockHash(h))
            previous = h
        }
        #endif
    }

    /// The chained hashes of every full block of `tokens`.
    ///
    /// - Parameter tokens: Token ids; a trailing partial block yields no hash.
    /// - Returns: One hash per full block, in order.
    /// - Complexity: O(`tokens.count`)
    public func blockHashes(_ tokens: UnsafeBufferPointer<UInt32>) -> [BlockHash] {
        var out: [BlockHash] = []
        out.reserveCapacity(tokens.count / blockSize)
        appendBlockHashes(of: tokens, to: &out)
        return out
    }

    /// The chained hashes of every full block of `tokens`.
    ///
    /// - Complexity: O(`tokens.count`)
    public func blockHashes(_ tokens: [UInt32]) -> [BlockHash] {
        tokens.withUnsafeBufferPointer { blockHashes($0) }
    }

    /// The chained hashes of every full block of `tokens`, checking that each token fits in
    /// `UInt32`.
    ///
    /// - Throws: ``HashingError/tokenOutOfRange(index:value:)`` naming the first bad token.
    /// - Complexity: O(`tokens.count`)
    public func blockHashes(_ tokens: [Int]) throws(HashingError) -> [BlockHash] {
        try blockHashes(Self.narrow(tokens))
    }

    /// The local (content-only) hash of every full block: `XXH3_64(bytes(block i), seed)`.
    ///
    /// For ``Scheme/dynamo`` these are Dynamo's `LocalBlockHash` values; for the native scheme
    /// they are the same content hash with ``seed``. Dynamo's
    /// `compute_block_hash_for_seq(tokens, block_size, lora_name=…)` is
    /// `adapted(to: lora).localHashes(tokens)` of a dynamo-scheme hasher.
    /// - Complexity: O(`tokens.count`)
    public func localHashes(_ tokens: UnsafeBufferPointer<UInt32>) -> [BlockHash] {
        let blocks = tokens.count / blockSize
        var out: [BlockHash] = []
        out.reserveCapacity(blocks)
        for i in 0..<blocks {
            let block = UnsafeBufferPointer(rebasing: tokens[(i * blockSize)..<((i + 1) * blockSize)])
            out.append(BlockHash(_withLittleEndianBytes(block) { kvc_xxh3_64_seeded($0, $1, seed) }))
        }
        return out
    }

    /// The local (content-only) hash of every full block.
    ///
    /// - Complexity: O(`tokens.count`)
    public func localHashes(_ tokens: [UInt32]) -> [BlockHash] {
        tokens.withUnsafeBufferPointer { localHashes($0) }
    }

    /// Converts `Int` token ids to `UInt32`, naming the first one out of range.
    ///
    /// - Throws: ``HashingError/tokenOutOfRange(index:value:)``.
    /// - Complexity: O(`tokens.count`)
    public static func narrow(_ tokens: [Int]) throws(HashingError) -> [UInt32] {
        var out = [UInt32]()
        out.reserveCapacity(tokens.count)
        for (i, t) in tokens.enumerated() {
            guard let v = UInt32(exactly: t) else { throw .tokenOutOfRange(index: i, value: t) }
            out.append(v)
        }
        return out
    }
}

/// Calls `body` with the little-endian bytes of `tokens` (no copy on little-endian hosts).
@inline(__always)
internal func _withLittleEndianBytes<R>(
    _ tokens: UnsafeBufferPointer<UInt32>, _ body: (UnsafeRawPointer, Int) -> R
) -> R {
    #if _endian(little)
    return body(UnsafeRawPointer(tokens.baseAddress ?? UnsafePointer(bitPattern: 8)!), tokens.count * 4)
    #else
    let swapped = tokens.map { $0.littleEndian }
    return swapped.withUnsafeBytes { body($0.baseAddress!, $0.count) }
    #endif
}

extension PrefixHasher {
    /// Whether CKVCore routes XXH3 through libxxhash's runtime CPU dispatch (AVX2/AVX-512).
    public static var usesRuntimeDispatch: Bool { kvc_xxh3_uses_dispatch() != 0 }
}
