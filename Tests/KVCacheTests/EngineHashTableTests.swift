import Testing

@testable import KVCache

@Suite("engine hash table")
struct EngineHashTableTests {
    /// Keys from a small range, so probe runs are long and removals shift entries across the
    /// table's end; each tier counted apart, checked against a dictionary after every step.
    @Test("stores and releases agree with a dictionary model through growth and churn")
    func agreesWithModel() {
        var rng = SeededGenerator(seed: 0xE17)
        var table = _EngineHashTable()
        var model: [UInt64: (router: UInt64, refs: [Int])] = [:]
        for step in 0..<40_000 {
            let key = UInt64.random(in: 0..<(step < 20_000 ? 3_000 : 300), using: &rng) &* (step % 2 == 0 ? 1 : 1 << 40)
            let tier = Int.random(in: 0..<3, using: &rng)
            if Int.random(in: 0..<100, using: &rng) < 55 {
                let router = UInt64.random(in: 1...UInt64.max, using: &rng)
                let inserted = table.store(key, router: router, tier: tier)
                #expect(inserted == (model[key] == nil))
                var entry = model[key] ?? (router, [0, 0, 0])
                entry.router = router
                entry.refs[tier] += 1
                model[key] = entry
            } else {
                let released = table.release(key, tier: tier)
                if var entry = model[key], entry.refs[tier] > 0 {
                    #expect(released == entry.router)
                    entry.refs[tier] -= 1
                    model[key] = entry.refs == [0, 0, 0] ? nil : entry
                } else {
                    #expect(released == nil)
                }
            }
            if step % 997 == 0 || step == 39_999 {
                #expect(table.count == model.count)
                for (k, v) in model {
                    let found = table.value(for: k)
                    #expect(found?.router == v.router && found.map { [$0[0], $0[1], $0[2]].map(Int.init) } == v.refs)
                }
                for k in UInt64(3_000)..<3_050 { #expect(table.value(for: k) == nil) }
            }
        }
    }

    /// A stored run reserves room first, so the buckets it asked for ahead stay where they were.
    @Test("reserve keeps every entry and makes room for that many without growing again")
    func reserveMakesRoom() {
        var table = _EngineHashTable()
        for k in UInt64(1)...100 { _ = table.store(k, router: k &* 7, tier: 0) }
        table.reserve(5_000)
        let buckets = table._entries.count
        #expect(buckets * 3 >= 5_000 * 4)
        for k in UInt64(1)...100 { #expect(table.value(for: k)?.router == k &* 7) }
        for k in UInt64(101)...5_000 {
            let inserted = table.store(k, router: k &* 7, tier: 1)
            #expect(inserted)
        }
        #expect(table._entries.count == buckets)
        #expect(table.count == 5_000)
        table.reserve(10)
        #expect(table._entries.count == buckets)
        for k in UInt64(1)...5_000 {
            let released = table.release(k, tier: k <= 100 ? 0 : 1)
            #expect(released == k &* 7)
        }
        #expect(table.count == 0)
    }
}
