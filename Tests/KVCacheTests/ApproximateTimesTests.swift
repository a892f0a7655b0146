import Testing

@testable import KVCache

@Suite("approximate-mode record times")
struct ApproximateTimesTests {
    /// Small hashes on a few nodes, so probe runs are long, pairs that share a hash sit in one
    /// run and removals shift entries across the table's end; checked against a dictionary.
    @Test("records, look-ups, removals by record time and a node's forgetting agree with a dictionary model")
    func agreesWithModel() {
        struct Pair: Hashable {
            var hash: UInt64
            var node: Int32
        }
        var rng = SeededGenerator(seed: 0xA77)
        var table = _ApproximateTimes()
        var model: [Pair: Double] = [:]
        for step in 0..<40_000 {
            let pair = Pair(
                hash: UInt64.random(in: 0..<(step < 20_000 ? 2_000 : 200), using: &rng), node: Int32.random(in: 0..<4, using: &rng))
            let time = Double(step)
            switch Int.random(in: 0..<100, using: &rng) {
            case 0..<55:
                let inserted = table.record(pair.hash, node: pair.node, at: time)
                #expect(inserted == (model[pair] == nil))
                model[pair] = time
            case 55..<99:
                // only a record's own time removes it: a newer record of the pair keeps it
                let asked = Bool.random(using: &rng) ? model[pair] ?? time : time - 1
                let removed = table.remove(pair.hash, node: pair.node, ifRecordedAt: asked)
                #expect(removed == (model[pair] == asked))
                if removed { model[pair] = nil }
            default:
                table.forget(node: pair.node)
                model = model.filter { $0.key.node != pair.node }
            }
            if step % 997 == 0 || step == 39_999 {
                #expect(table.count == model.count)
                for (p, t) in model { #expect(table.time(of: p.hash, node: p.node) == t) }
                for h in UInt64(5_000)..<5_020 { #expect(table.time(of: h, node: 0) == nil) }
            }
        }
    }

    /// Sweeps a few buckets at a time between records: a pair that a sweep's pass removes is
    /// exactly one recorded at or before its cutoff, and after a whole pass with no records in
    /// between no stale pair is left, whatever removals shifted.
    @Test("a sweep in steps removes stale pairs only, and a whole pass removes them all")
    func sweep() {
        var rng = SeededGenerator(seed: 0x5EE9)
        var table = _ApproximateTimes()
        var model: [UInt64: Double] = [:]
        var cursor = 0
        for step in 0..<20_000 {
            let hash = UInt64.random(in: 0..<3_000, using: &rng)
            _ = table.record(hash, node: 0, at: Double(step))
            model[hash] = Double(step)
            let cutoff = Double(step - 1_500)
            let before = table.count
            let removed = table.sweep(Int.random(in: 0...12, using: &rng), from: &cursor, recordedAtOrBefore: cutoff)
            #expect(table.count == before - removed)
            if step % 1_999 == 0 {
                for (h, t) in model where t > cutoff { #expect(table.time(of: h, node: 0) == t, "live pair \(h) kept") }
                table.sweep(table.bucketCount, from: &cursor, recordedAtOrBefore: cutoff)
                model = model.filter { $0.value > cutoff }
                #expect(table.count == model.count, "a whole pass leaves no stale pair")
            }
        }
    }
}
