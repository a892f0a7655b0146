import KVCache
import Testing

@testable import KVCacheSim

@Suite("Statistics")
struct StatisticsTests {
    @Test("percentiles by selection equal percentiles of the sorted values, duplicates and all")
    func selectionMatchesSort() {
        var rng = SeededGenerator(seed: 7)
        let qs: [Double] = [0, 1, 50, 90, 99, 99.9, 100]
        for n in [1, 2, 3, 10, 100, 1_001, 12_031] {
            for spread in [Int64(1), 5, 1_000_000] {  // all equal, few distinct, mostly distinct
                var values = (0..<n).map { _ in Int64.random(in: 0..<spread, using: &rng) }
                if n > 3 { values[0...n / 3].sort() }  // a sorted run, the classic bad pivot
                let sorted = values.sorted().map { Double($0) / 1e6 }
                let expected = qs.map { Statistics.percentile(sortedValues: sorted, $0) }
                #expect(Statistics._percentiles(selecting: &values, qs, divisor: 1e6) == expected, "n \(n), spread \(spread)")
                #expect(values.sorted().map { Double($0) / 1e6 } == sorted, "selection keeps the values")
            }
        }
        var empty: [Int64] = []
        #expect(Statistics._percentiles(selecting: &empty, [50], divisor: 1) == [0])
    }
}
