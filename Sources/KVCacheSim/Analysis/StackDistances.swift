import KVCache

/// LRU stack distances of a block stream, in one pass (Mattson et al., 1970), and the miss
/// ratio curve they give: an access hits an LRU cache of capacity C exactly when its stack
/// distance (distinct blocks touched since its previous access) is below C.
///
/// Computed with a Fenwick tree over access times in O(n log n).
public struct StackDistances: Sendable {
    /// For each access, its stack distance (`Int.max` for a first access).
    public let distances: [Int]
    /// `histogram[d]` = accesses with stack distance `d` (finite ones).
    public let histogram: [Int]
    /// First accesses (compulsory misses).
    public let coldAccesses: Int

    /// Computes the distances of `stream`.
    /// - Complexity: O(n log n)
    public init(_ stream: [BlockHash]) {
        let n = stream.count
        var tree = [Int](repeating: 0, count: n + 1)
        func add(_ i: Int, _ v: Int) { var i = i + 1; while i <= n { tree[i] += v; i += i & -i } }
        func prefix(_ i: Int) -> Int { var i = i + 1, s = 0; while i > 0 { s += tree[i]; i -= i & -i }; return s }
        var last: [BlockHash: Int] = [:]
        last.reserveCapacity(n / 2)
        var distances = [Int](repeating: .max, count: n)
        var histogram: [Int] = []
        var cold = 0
        for (t, b) in stream.enumerated() {
            if let j = last[b] {
                // distinct blocks whose latest access lies in (j, t)
                let d = prefix(t - 1) - prefix(j)
                distances[t] = d
                if d >= histogram.count { histogram.append(contentsOf: repeatElement(0, count: d - histogram.count + 1)) }
                histogram[d] += 1
                add(j, -1)
            } else {
                cold += 1
            }
            add(t, 1)
            last[b] = t
        }
        self.distances = distances
        self.histogram = histogram
        self.coldAccesses = cold
    }

    /// Accesses that hit an LRU cache of `capacity` blocks.
    /// - Complexity: O(capacity)
    public func hits(capacity: Int) -> Int {
        histogram.prefix(max(0, capacity)).reduce(0, +)
    }

    /// The LRU hit ratio at `capacity` (the at-access ratio of a single pool).
    public func hitRatio(capacity: Int) -> Double {
        Double(hits(capacity: capacity)) / Double(max(distances.count, 1))
    }

    /// The hit ratio at each capacity, with one running sum.
    public func hitRatios(capacities: [Int]) -> [Double] {
        let total = Double(max(distances.count, 1))
        var cumulative = [Int](repeating: 0, count: histogram.count + 1)
        for (d, c) in histogram.enumerated() { cumulative[d + 1] = cumulative[d] + c }
        return capacities.map { Double(cumulative[min(max($0, 0), histogram.count)]) / total }
    }
}
