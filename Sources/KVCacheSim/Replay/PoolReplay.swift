import KVCache

/// Replays a trace through one block pool with the "lookup, then update" definitions.
///
/// For each request, in order: *lookup* (read-only, state before the request) counts `h`, the
/// request's blocks present, and `p`, the leading blocks present; *update* walks the chain,
/// touching present blocks and inserting absent ones (evicting when full), and counts `a`, the
/// blocks present when reached. Ratios are sums over all requests divided by sums.
public enum PoolReplay {
    /// Replays `trace` through a fresh pool of `capacity` blocks evicting by `policy`.
    ///
    /// - Throws: ``PoolError/invalidCapacity(_:)`` when `capacity < 1`.
    /// - Complexity: O(total blocks) (O(total blocks · log capacity) for Belady)
    public static func run(_ trace: Trace, capacity: Int, policy: EvictionPolicy) throws(PoolError) -> PoolReplayResult {
        try policy.open(_Run(trace: trace, capacity: capacity, policy: policy))
    }

    /// The replay, generic over the pool's algorithm: the policy opens it once, so every
    /// pool call is specialised for the algorithm.
    struct _Run: EvictionAlgorithmBody {
        let trace: Trace
        let capacity: Int
        let policy: EvictionPolicy

        func run<A: EvictionAlgorithm>(_: A.Type) throws(PoolError) -> PoolReplayResult {
            let clock = ContinuousClock()
            let start = clock.now
            var pool = try BlockPool<A>(capacity: capacity)
            let nextUses = A.needsFuture ? PoolReplay.nextUses(trace.blocks) : []
            var result = PoolReplayResult(policy: policy, capacity: capacity)
            let blockSize = trace.blockSize
            try trace.blocks.withUnsafeBufferPointer { (all: UnsafeBufferPointer<BlockHash>) throws(PoolError) in
                try nextUses.withUnsafeBufferPointer { (future: UnsafeBufferPointer<Int64>) throws(PoolError) in
                    for record in trace.records {
                        let range = record.blockStart..<record.blockStart + record.blockCount
                        let chain = UnsafeBufferPointer(rebasing: all[range])
                        let uses = future.isEmpty ? nil : UnsafeBufferPointer(rebasing: future[range])
                        let r = try pool.lookupAndUpdate(chain, nextUses: uses)
                        result.hits.countLookup(
                            blocks: chain.count, prefix: r.prefix, inputTokens: record.inputLength, blockSize: blockSize)
                        result.hits.blockHits += r.hits
                        result.hits.accessHits += r.accessHits
                    }
                }
            }
            result.requests = trace.count
            result.evictions = pool.statistics.evictions
            result.elapsedSeconds = (clock.now - start).seconds
            return result
        }
    }

    /// For each access in `stream`, the index of the next access to the same block
    /// (`Int64.max` when none): what Belady needs to know.
    /// - Complexity: O(n) expected
    public static func nextUses(_ stream: [BlockHash]) -> [Int64] {
        var next = [Int64](repeating: .max, count: stream.count)
        var seen: [BlockHash: Int64] = [:]
        seen.reserveCapacity(stream.count / 2)
        for i in stream.indices.reversed() {
            if let j = seen.updateValue(Int64(i), forKey: stream[i]) { next[i] = j }
        }
        return next
    }
}

/// The outcome of a ``PoolReplay``: sums and the ratios of the reference definitions.
public struct PoolReplayResult: Sendable, Hashable {
    /// The eviction policy.
    public var policy: EvictionPolicy
    /// Pool capacity in blocks.
    public var capacity: Int
    /// Requests replayed.
    public var requests = 0
    /// The hit counters and ratios; their members read as this result's own.
    public var hits = HitCounts()
    /// Blocks evicted.
    public var evictions = 0
    /// Wall time of the replay.
    public var elapsedSeconds = 0.0
}
