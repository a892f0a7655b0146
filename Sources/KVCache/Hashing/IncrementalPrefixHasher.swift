/// Chained block hashing for a token stream that arrives in pieces (a prompt streaming in,
/// decode appending tokens).
///
/// Appending tokens in any split yields exactly the hashes ``PrefixHasher`` gives for the
/// whole sequence at once. Tokens short of a full block wait in a buffer of ``PrefixHasher/blockSize``.
///
/// ```swift
/// var stream = IncrementalPrefixHasher(try PrefixHasher(blockSize: 16))
/// stream.append(contentsOf: firstChunk)
/// stream.append(contentsOf: secondChunk)
/// let chain = stream.hashes   // == hasher.blockHashes(firstChunk + secondChunk)
/// ```
public struct IncrementalPrefixHasher: Sendable {
    /// The hasher that defines block size, scheme and seeds.
    public let hasher: PrefixHasher
    /// The chained hashes of every full block appended so far.
    public private(set) var hashes: [BlockHash] = []
    /// The local (content-only) hashes of every full block appended so far.
    public private(set) var localHashes: [BlockHash] = []
    /// Tokens of the current partial block, not yet hashed.
    public private(set) var pendingTokens: [UInt32] = []
    /// Total tokens appended.
    public private(set) var tokenCount: Int = 0

    /// Starts an empty stream.
    public init(_ hasher: PrefixHasher) {
        self.hasher = hasher
        pendingTokens.reserveCapacity(hasher.blockSize)
    }

    /// Appends tokens, hashing every block they complete.
    ///
    /// - Returns: How many new block hashes this call produced.
    /// - Complexity: O(`tokens.count`)
    @discardableResult
    public mutating func append(contentsOf tokens: UnsafeBufferPointer<UInt32>) -> Int {
        let before = hashes.count
        let size = hasher.blockSize
        tokenCount += tokens.count
        var rest = tokens[...]
        if !pendingTokens.isEmpty {
            let take = min(size - pendingTokens.count, rest.count)
            pendingTokens.append(contentsOf: rest.prefix(take))
            rest = rest.dropFirst(take)
            if pendingTokens.count == size {
                pendingTokens.withUnsafeBufferPointer { _hashFull($0) }
                pendingTokens.removeAll(keepingCapacity: true)
            }
        }
        let full = (rest.count / size) * size
        if full > 0 {
            _hashFull(UnsafeBufferPointer(rebasing: rest.prefix(full)))
            rest = rest.dropFirst(full)
        }
        pendingTokens.append(contentsOf: rest)
        return hashes.count - before
    }

    /// Appends tokens, hashing every block they complete.
    ///
    /// - Returns: How many new block hashes this call produced.
    /// - Complexity: O(`tokens.count`)
    @discardableResult
    public mutating func append(contentsOf tokens: [UInt32]) -> Int {
        tokens.withUnsafeBufferPointer { append(contentsOf: $0) }
    }

    /// Appends `Int` token ids, checking each fits in `UInt32`.
    ///
    /// Nothing is appended when a token is out of range.
    /// - Throws: ``HashingError/tokenOutOfRange(index:value:)`` (index within `tokens`).
    /// - Complexity: O(`tokens.count`)
    @discardableResult
    public mutating func append(contentsOf tokens: [Int]) throws(HashingError) -> Int {
        append(contentsOf: try PrefixHasher.narrow(tokens))
    }

    /// Appends one token (decode), hashing the block it completes, if any.
    ///
    /// - Returns: The new block hash when this token completed a block.
    /// - Complexity: amortised O(1); O(``PrefixHasher/blockSize``) when a block completes.
    @discardableResult
    public mutating func append(_ token: UInt32) -> BlockHash? {
        tokenCount += 1
        pendingTokens.append(token)
        guard pendingTokens.count == hasher.blockSize else { return nil }
        pendingTokens.withUnsafeBufferPointer { _hashFull($0) }
        pendingTokens.removeAll(keepingCapacity: true)
        return hashes.last
    }

    /// Hashes whole blocks (`tokens.count` is a multiple of the block size).
    private mutating func _hashFull(_ tokens: UnsafeBufferPointer<UInt32>) {
        let size = hasher.blockSize
        var parent = hashes.last
        for i in 0..<(tokens.count / size) {
            let block = UnsafeBufferPointer(rebasing: tokens[(i * size)..<((i + 1) * size)])
            let step = hasher.hashBlock(block, parent: parent)
            hashes.append(step.hash)
            localHashes.append(step.local)
            parent = step.hash
        }
    }
}
