/// For one request chain: how many leading blocks of it each node holds, in any tier and per
/// tier.
///
/// Reuse one value across queries with ``PrefixIndex/overlaps(_:into:)`` to avoid allocating.
public struct OverlapScores: Sendable, Hashable {
    /// Leading blocks held in any tier, per node (index = node).
    public internal(set) var depths: [Int32] = []
    /// Leading blocks held within one tier, per tier then node (`tier * nodeCount + node`).
    public internal(set) var tierDepths: [Int32] = []
    /// The number of nodes described.
    public internal(set) var nodeCount: Int = 0
    /// The length of the chain asked about.
    public internal(set) var chainLength: Int = 0
    /// What a leading block is worth by its fastest tier, for ``score(of:)``; kept across
    /// queries into the same value.
    public var tierWeights = TierWeights()
    /// Per node, the leading blocks (any tier) whose fastest tier is the host, then those held
    /// only on disk (`(tier − 1) * nodeCount + node`); meaningful while ``_hasLowerTierLeads``.
    @usableFromInline internal var _lowerTierLeads: [Int32] = []
    /// Whether the index that answered holds lower tiers and counted ``_lowerTierLeads``.
    @usableFromInline internal var _hasLowerTierLeads = false

    /// Empty scores.
    public init() {}

    /// Scores for `nodeCount` nodes, all zero.
    public init(nodeCount: Int, chainLength: Int = 0) {
        reset(nodeCount: nodeCount, chainLength: chainLength)
    }

    /// Scores from per-node depths (any tier; the device tier gets the same values).
    public init(depths: [Int], chainLength: Int) {
        reset(nodeCount: depths.count, chainLength: chainLength)
        for (n, d) in depths.enumerated() {
            self.depths[n] = Int32(d)
            tierDepths[n] = Int32(d)
        }
    }

    /// Zeroes the scores for `nodeCount` nodes, keeping storage.
    /// - Complexity: O(nodeCount)
    public mutating func reset(nodeCount: Int, chainLength: Int) {
        self.nodeCount = nodeCount
        self.chainLength = chainLength
        _hasLowerTierLeads = false
        if depths.count != nodeCount {
            depths = Array(repeating: 0, count: nodeCount)
            tierDepths = Array(repeating: 0, count: nodeCount * StorageTier.allCases.count)
        } else {
            depths.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
            tierDepths.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        }
    }

    /// Leading blocks of the chain `node` holds in any tier (0 for unknown nodes).
    /// - Complexity: O(1)
    @inlinable
    public func depth(of node: NodeID) -> Int { node >= 0 && node < nodeCount ? Int(depths[node]) : 0 }

    /// Leading blocks of the chain `node` holds in `tier`.
    /// - Complexity: O(1)
    @inlinable
    public func depth(of node: NodeID, tier: StorageTier) -> Int {
        node >= 0 && node < nodeCount ? Int(tierDepths[tier.rawValue * nodeCount + node]) : 0
    }

    /// Of the leading blocks `node` holds in any tier, those whose fastest tier is `tier`.
    /// - Complexity: O(1)
    @inlinable
    public func leadingBlocks(of node: NodeID, fastestTier tier: StorageTier) -> Int {
        guard node >= 0 && node < nodeCount else { return 0 }
        guard _hasLowerTierLeads else { return tier == .device ? Int(depths[node]) : 0 }
        let host = Int(_lowerTierLeads[node]), disk = Int(_lowerTierLeads[nodeCount + node])
        switch tier {
        case .device: return Int(depths[node]) - host - disk
        case .host: return host
        case .disk: return disk
        }
    }

    /// The overlap a selector scores: `node`'s leading blocks (``depth(of:)``), each weighted
    /// by ``tierWeights`` for the fastest tier it is held in. Without lower tiers it is the
    /// depth itself.
    /// - Complexity: O(1)
    @inlinable
    public func score(of node: NodeID) -> Double {
        guard node >= 0 && node < nodeCount else { return 0 }
        guard _hasLowerTierLeads else { return Double(depths[node]) }
        let host = Double(_lowerTierLeads[node]), disk = Double(_lowerTierLeads[nodeCount + node])
        let device = Double(depths[node]) - host - disk
        return tierWeights.device * device + tierWeights.host * host + tierWeights.disk * disk
    }

    /// Zeroed lower-tier counts for the current nodes, marked as counted.
    @usableFromInline
    internal mutating func _beginLowerTierLeads() {
        if _lowerTierLeads.count != 2 * nodeCount {
            _lowerTierLeads = Array(repeating: 0, count: 2 * nodeCount)
        } else {
            _lowerTierLeads.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        }
        _hasLowerTierLeads = true
    }

    /// The deepest match and the lowest node index holding it (`nil` when no node is known).
    /// - Complexity: O(nodeCount)
    public var best: (node: NodeID, depth: Int)? {
        guard nodeCount > 0 else { return nil }
        var bestNode = 0
        for n in 1..<max(nodeCount, 1) where depths[n] > depths[bestNode] { bestNode = n }
        return (bestNode, Int(depths[bestNode]))
    }

    /// Sets the depth of nodes `0 ..< count`, in any tier and on the device tier, to
    /// `depth(k)`, opening the storage once.
    @usableFromInline
    internal mutating func _setDeviceDepths(count: Int, _ depth: (Int) -> Int) {
        let device = StorageTier.device.rawValue * nodeCount
        depths.withUnsafeMutableBufferPointer { d in
            tierDepths.withUnsafeMutableBufferPointer { t in
                for k in 0..<count {
                    let v = Int32(depth(k))
                    d[k] = v
                    t[device + k] = v
                }
            }
        }
    }

    /// Merges another view of the same chain: each node's depth, in any tier and per tier,
    /// becomes the larger of the two.
    ///
    /// A router that adds route-time entries of its own (in a second ``PrefixIndex`` in
    /// approximate mode) next to the engines' events asks both and merges the answers: both
    /// views hold chains from their first block, so the larger depth is the leading run of
    /// their union.
    /// Scores of fewer nodes than `other` grow to its count, the new nodes' depths taken from
    /// `other`.
    /// - Complexity: O(nodeCount); allocates only when `other` describes more nodes.
    public mutating func formMaximum(_ other: OverlapScores) {
        guard other.nodeCount > 0 else { return }
        if other.nodeCount > nodeCount { _grow(to: other.nodeCount) }
        chainLength = max(chainLength, other.chainLength)
        // a node's lower-tier counts come with the depth that wins
        let leads = _hasLowerTierLeads || other._hasLowerTierLeads
        if leads && !_hasLowerTierLeads { _beginLowerTierLeads() }
        for k in 0..<other.nodeCount where other.depths[k] > depths[k] {
            depths[k] = other.depths[k]
            if leads {
                _lowerTierLeads[k] = Int32(other.leadingBlocks(of: k, fastestTier: .host))
                _lowerTierLeads[nodeCount + k] = Int32(other.leadingBlocks(of: k, fastestTier: .disk))
            }
        }
        for t in StorageTier.allCases {
            for k in 0..<other.nodeCount {
                let o = other.tierDepths[t.rawValue * other.nodeCount + k]
                if o > tierDepths[t.rawValue * nodeCount + k] { tierDepths[t.rawValue * nodeCount + k] = o }
            }
        }
    }

    /// The same scores over `n` nodes (more than now), the new ones zero.
    mutating func _grow(to n: Int) {
        let old = self
        reset(nodeCount: n, chainLength: old.chainLength)
        for k in 0..<old.nodeCount {
            depths[k] = old.depths[k]
            for t in 0..<StorageTier.allCases.count { tierDepths[t * n + k] = old.tierDepths[t * old.nodeCount + k] }
        }
        guard old._hasLowerTierLeads else { return }
        _beginLowerTierLeads()
        for k in 0..<old.nodeCount {
            _lowerTierLeads[k] = old._lowerTierLeads[k]
            _lowerTierLeads[n + k] = old._lowerTierLeads[old.nodeCount + k]
        }
    }

    @inline(__always)
    internal mutating func _set(_ node: Int, _ depth: Int32) {
        depths.withUnsafeMutableBufferPointer { $0[node] = depth }
    }

    /// Counts all of `node`'s leading blocks as held on the device tier (a depth from
    /// device-only entries won).
    @inline(__always)
    internal mutating func _clearLowerTierLeads(of node: Int) {
        _lowerTierLeads[node] = 0
        _lowerTierLeads[nodeCount + node] = 0
    }

    @inline(__always)
    internal mutating func _set(_ node: Int, tier: Int, _ depth: Int32) {
        let i = tier * nodeCount + node
        tierDepths.withUnsafeMutableBufferPointer { $0[i] = depth }
    }
}
