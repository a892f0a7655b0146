/// Small statistics helpers with the reference definitions.
public enum Statistics {
    /// The `q`-th percentile of ascending `sortedValues` by linear interpolation between the
    /// closest ranks: rank = q/100 · (n − 1). 0 for an empty input.
    public static func percentile(sortedValues: [Double], _ q: Double) -> Double {
        guard !sortedValues.isEmpty else { return 0 }
        return _interpolated(q, count: sortedValues.count) { sortedValues[$0] }
    }

    /// The closest ranks of the `q`-th percentile of `count` ascending values.
    static func _ranks(_ q: Double, count: Int) -> (rank: Double, lo: Int, hi: Int) {
        let rank = q / 100 * Double(count - 1)
        let lo = Int(rank.rounded(.down))
        return (rank, lo, min(lo + 1, count - 1))
    }

    /// The `q`-th percentile of `count` ascending values, `value(i)` being the `i`-th.
    static func _interpolated(_ q: Double, count: Int, _ value: (Int) -> Double) -> Double {
        let (rank, lo, hi) = _ranks(q, count: count)
        let a = value(lo), b = value(hi)
        return a + (b - a) * (rank - Double(lo))
    }

    /// The `qs`-th percentiles (as ``percentile(sortedValues:_:)``) of `values / divisor`,
    /// found by selection instead of a full sort; `values` is reordered.
    /// - Complexity: O(n · qs.count) expected
    static func _percentiles(selecting values: inout [Int64], _ qs: [Double], divisor: Double) -> [Double] {
        guard !values.isEmpty else { return qs.map { _ in 0 } }
        let n = values.count
        // every rank the interpolations read, ascending; each is selected in the part to the
        // right of the previous one
        var ranks: [Int] = []
        for q in qs {
            let (_, lo, hi) = _ranks(q, count: n)
            ranks += [lo, hi]
        }
        let needed = Set(ranks).sorted()
        values.withUnsafeMutableBufferPointer { v in
            var start = 0
            for k in needed {
                _select(v, k, from: start)
                start = k + 1
            }
        }
        return qs.map { q in _interpolated(q, count: n) { Double(values[$0]) / divisor } }
    }

    /// Puts the `k`-th smallest of `v[from...]` at `k`, smaller-or-equal values before it and
    /// greater-or-equal after (quickselect, median-of-three pivots; sorts the part left when
    /// partitions keep coming out lopsided).
    static func _select(_ v: UnsafeMutableBufferPointer<Int64>, _ k: Int, from: Int) {
        var lo = from, hi = v.count - 1
        var budget = 2 * (Int.bitWidth - v.count.leadingZeroBitCount) + 8
        while hi > lo {
            budget -= 1
            if budget == 0 {
                var part = UnsafeMutableBufferPointer(rebasing: v[lo...hi])
                part.sort()
                return
            }
            let mid = lo + (hi - lo) / 2
            if v[mid] < v[lo] { v.swapAt(mid, lo) }
            if v[hi] < v[lo] { v.swapAt(hi, lo) }
            if v[hi] < v[mid] { v.swapAt(hi, mid) }
            let pivot = v[mid]
            var i = lo, j = hi
            while i <= j {
                while v[i] < pivot { i += 1 }
                while v[j] > pivot { j -= 1 }
                if i <= j {
                    v.swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            // v[lo...j] <= pivot, v[i...hi] >= pivot, anything between equals it
            if k <= j { hi = j } else if k >= i { lo = i } else { return }
        }
    }

    /// Mean of `values` (0 when empty).
    public static func mean(_ values: [Double]) -> Double {
        values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count)
    }

    /// Population coefficient of variation: standard deviation / mean (0 when the mean is 0).
    public static func coefficientOfVariation(_ values: [Double]) -> Double {
        let m = mean(values)
        guard m != 0 else { return 0 }
        let variance = values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(values.count)
        return variance.squareRoot() / m
    }
}
