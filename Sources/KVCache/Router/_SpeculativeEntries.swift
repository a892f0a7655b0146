/// Route-time entries for nodes that publish KV events (``KVRouter/Configuration/speculativeTTL``):
/// a chain just routed to a node counts as held there until the node's own events report it,
/// or until the TTL passes if they never do.
///
/// Each (block, node) pair keeps its latest record time in one flat table, and nothing else.
/// A route records only the blocks its node does not already hold on the device tier, and a
/// node's stored event removes the pairs of the blocks it reports, so the table holds the
/// routes still waiting for their events (milliseconds of routes on engines that publish as
/// they compute), not the whole TTL's worth, and stays small enough to live in cache.
///
/// An overlap walks the chain per node in that table from where the node's indexed device
/// blocks end: the entries of a route continue the chain from there, so a node's depth is that
/// run extended by the blocks it has live entries for (recorded less than the TTL ago).
/// Entries past their TTL count for nothing and are removed by a sweep that each record
/// advances over a few buckets per block it records, in table order, so expiry costs no random
/// look-up per block. A prefix tree over the same entries (a ``PrefixIndex`` in approximate
/// mode) answers the same and pays a tree insertion and a removal per block on every route.
struct _SpeculativeEntries: Sendable {
    /// Seconds an entry counts.
    let ttl: Double
    /// The most pairs kept; past it the oldest are removed first.
    let maxBlocks: Int
    private var times = _ApproximateTimes()
    /// Where the sweep goes on from.
    private var cursor = 0
    /// One past the highest node recorded.
    private(set) var nodeLimit = 0
    /// Per node, ``indexedDepth(of:)``.
    private var indexedDepths: [Int32] = []

    /// Buckets the sweep passes per block recorded. When the entries outlive their routes'
    /// events (events that never come, say), the table grows to at least three eighths full,
    /// so a whole pass takes at most a third as many records as the table holds pairs: a stale
    /// pair is swept before that many more are recorded, and at least two thirds of the
    /// table's pairs are live. When events end the entries, the table is sparser and a pass
    /// quicker still.
    static let sweepPerBlock = 8

    /// Entries that count for `ttl` seconds, at most `maxBlocks` pairs.
    init(ttl: Double, maxBlocks: Int = 1 << 20) {
        self.ttl = ttl
        self.maxBlocks = max(1, maxBlocks)
    }

    /// Pairs in the table, stale ones not yet swept included.
    var count: Int { times.count }

    /// Buckets in the table.
    var bucketCount: Int { times.bucketCount }

    /// Buckets below which the table is not shrunk.
    static let minimumBuckets = 4_096

    /// The leading blocks of the last merged chain that `node`'s scores held on the device tier
    /// before ``merge(_:into:now:)`` added the entries: where a record of that chain to the
    /// node starts, since the index answers for the blocks before it.
    /// - Complexity: O(1)
    func indexedDepth(of node: NodeID) -> Int {
        node >= 0 && node < indexedDepths.count ? Int(indexedDepths[node]) : 0
    }

    /// Records that `chain` was routed to `node` at `now` (seconds, monotonic).
    /// - Complexity: O(`chain.count`) amortized.
    mutating func record(_ chain: ArraySlice<BlockHash>, to node: NodeID, at now: Double) {
        guard node >= 0 && node <= Int(Int32.max), !chain.isEmpty else { return }
        times.sweep(Self.sweepPerBlock * chain.count, from: &cursor, recordedAtOrBefore: now - ttl)
        if times.shrinkIfSparse(minimumBuckets: Self.minimumBuckets) { cursor = 0 }
        nodeLimit = max(nodeLimit, node + 1)
        let n = Int32(node)
        let first = chain.startIndex
        for i in 0..<chain.count {
            // each block's bucket is a cache miss in a table of seconds of routes: ask ahead
            _LinearProbing.prefetchAhead(of: i, count: chain.count) { times.prefetch(chain[first + $0].rawValue, node: n) }
            _ = times.record(chain[first + i].rawValue, node: n, at: now)
        }
        if times.count > maxBlocks { prune(now: now) }
    }

    /// Over the cap: removes the pairs older than half the TTL, then a quarter, and so on
    /// until the table holds at most four fifths of the cap.
    /// - Complexity: O(buckets) per halving.
    private mutating func prune(now: Double) {
        var age = ttl
        let target = maxBlocks / 5 * 4
        while times.count > target {
            age /= 2
            var from = 0
            times.sweep(times.bucketCount, from: &from, recordedAtOrBefore: age > 1e-9 ? now - age : .infinity)
        }
    }

    /// Forgets the entries of `blocks` on `node`: its events report them stored, so the index
    /// holds them from now on (and drops them when the node evicts them).
    /// - Complexity: O(`blocks.count`) expected.
    mutating func confirm(_ blocks: [BlockHash], node: NodeID) {
        guard times.count > 0, node >= 0 && node < nodeLimit else { return }
        let n = Int32(node)
        blocks.withUnsafeBufferPointer { b in
            for i in 0..<b.count {
                _LinearProbing.prefetchAhead(of: i, count: b.count) { times.prefetch(b[$0].rawValue, node: n) }
                times.remove(b[i].rawValue, node: n)
            }
        }
    }

    /// Forgets every entry of `node` (its cache was emptied, or it left).
    /// - Complexity: O(table buckets)
    mutating func forget(node: NodeID) {
        guard node >= 0 && node <= Int(Int32.max) else { return }
        times.forget(node: Int32(node))
    }

    /// Raises each node's depth in `scores` to its leading device blocks of `chain` extended
    /// by the blocks after them it has entries for, recorded less than the TTL before `now`
    /// (as held on the device tier), growing `scores` to every node recorded. Keeps where each
    /// node's device blocks ended (``indexedDepth(of:)``).
    /// - Complexity: O(nodes + matched blocks) probes.
    mutating func merge(_ chain: [BlockHash], into scores: inout OverlapScores, now: Double) {
        if nodeLimit > scores.nodeCount { scores._grow(to: nodeLimit) }
        let nodes = scores.nodeCount
        if indexedDepths.count < nodes { indexedDepths.append(contentsOf: repeatElement(0, count: nodes - indexedDepths.count)) }
        for k in 0..<nodes { indexedDepths[k] = Int32(scores.depth(of: k, tier: .device)) }
        guard times.count > 0, !chain.isEmpty else { return }
        let device = StorageTier.device.rawValue
        chain.withUnsafeBufferPointer { c in
            for k in 0..<nodeLimit {
                let n = Int32(k)
                var depth = Int(indexedDepths[k])
                while depth < c.count, let t = times.time(of: c[depth].rawValue, node: n), t + ttl > now { depth += 1 }
                guard depth > scores.depth(of: k) else { continue }
                scores._set(k, Int32(depth))
                scores._set(k, tier: device, Int32(depth))
                if scores._hasLowerTierLeads { scores._clearLowerTierLeads(of: k) }
            }
        }
    }
}
