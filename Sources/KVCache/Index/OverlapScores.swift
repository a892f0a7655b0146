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
    /// - Precondition: Both describe the same number of nodes, or `other` none.
    /// - Complexity: O(nodeCount)
    public mutating func formMaximum(_ other: OverlapScores) {
        guard other.nodeCount > 0 else { return }
        precondition(other.nodeCount == nodeCount, "OverlapScores of \(other.nodeCount) nodes merged into scores of \(nodeCount)")
        chainLength = max(chainLength, other.chainLength)
        depths.withUnsafeMutableBufferPointer { d in
            other.depths.withUnsafeBufferPointer { o in
                for k in 0..<d.count where o[k] > d[k] { d[k] = o[k] }
            }
        }
        tierDepths.withUnsafeMutableBufferPointer { d in
            other.tierDepths.withUnsafeBufferPointer { o in
                for k in 0..<d.count where o[k] > d[k] { d[k] = o[k] }
            }
        }
    }

    @inline(__always)
    internal mutating func _set(_ node: Int, _ depth: Int32) {
        depths.withUnsafeMutableBufferPointer { $0[node] = depth }
    }

    @inline(__always)
    internal mutating func _set(_ node: Int, tier: Int, _ depth: Int32) {
        let i = tier * nodeCount + node
        tierDepths.withUnsafeMutableBufferPointer { $0[i] = depth }
    }
}
