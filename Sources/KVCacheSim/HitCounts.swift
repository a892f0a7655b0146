import KVCache

/// The hit counters of the reference definitions, summed over requests, and their ratios.
///
/// With lower tiers (host, disk), a block counts as present when the node holds it in any
/// tier, so every all-tier ratio bounds its device-only one, and `prefix ≤ block` holds
/// in both.
///
/// Every replay counts the same way (see `../shared/reference/README.md`): for each request,
/// `h` blocks of its chain present at lookup, `p` of them leading, `a` present when the update
/// walk reached them. ``PoolReplayResult`` and ``ClusterResult`` keep one each as `hits`; ``TraceStatistics`` uses one for the infinite cache.
public struct HitCounts: Sendable, Hashable {
    /// Σ chain lengths.
    public var blockAccesses = 0
    /// Σ h: blocks present at lookup.
    public var blockHits = 0
    /// Σ a: blocks present when the update walk reached them.
    public var accessHits = 0
    /// Σ p: leading blocks present at lookup.
    public var prefixHits = 0
    /// Σ min(blockSize · p, input length).
    public var tokenHits = 0
    /// Σ input length.
    public var inputTokens = 0
    /// Of ``blockHits``, the blocks found only in a lower tier (host or disk), not on the
    /// device. Zero without lower tiers.
    public var lowerTierBlockHits = 0
    /// Of ``prefixHits``, the leading blocks past those held on the device (the run a lower
    /// tier continues). Zero without lower tiers.
    public var lowerTierPrefixHits = 0

    /// No requests counted yet.
    public init() {}

    /// Counts one request's lookup: a chain of `blocks` blocks whose first `prefix` were
    /// present, for a prompt of `inputTokens` tokens in blocks of `blockSize`. The caller adds
    /// ``blockHits`` and ``accessHits``, which depend on how it looks up and stores.
    /// - Complexity: O(1)
    @inlinable
    public mutating func countLookup(blocks: Int, prefix: Int, inputTokens: Int, blockSize: Int) {
        blockAccesses += blocks
        prefixHits += prefix
        tokenHits += min(blockSize * prefix, inputTokens)
        self.inputTokens += inputTokens
    }

    /// Σh / Σ chain lengths.
    public var blockHitRatio: Double { Double(blockHits) / Double(max(blockAccesses, 1)) }
    /// Σa / Σ chain lengths (libCacheSim's hit ratio on the flattened block stream).
    public var accessHitRatio: Double { Double(accessHits) / Double(max(blockAccesses, 1)) }
    /// Σp / Σ chain lengths.
    public var prefixHitRatio: Double { Double(prefixHits) / Double(max(blockAccesses, 1)) }
    /// Σ min(blockSize·p, input) / Σ input.
    public var tokenHitRatio: Double { Double(tokenHits) / Double(max(inputTokens, 1)) }
    /// Blocks present on the device tier at lookup / Σ chain lengths (≤ ``blockHitRatio``).
    public var deviceBlockHitRatio: Double { Double(blockHits - lowerTierBlockHits) / Double(max(blockAccesses, 1)) }
    /// Leading blocks present on the device tier / Σ chain lengths (≤ ``prefixHitRatio``).
    public var devicePrefixHitRatio: Double { Double(prefixHits - lowerTierPrefixHits) / Double(max(blockAccesses, 1)) }
}
