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
}
