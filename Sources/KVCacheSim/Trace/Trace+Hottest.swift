import KVCache

extension Trace {
    /// The `count` most accessed blocks of `accesses` (access counts per block), most accessed
    /// first, ties to the lower id.
    ///
    /// One pass that keeps the best `count` in order, rather than sorting every block.
    /// - Complexity: O(blocks × `count`) in the worst case, O(blocks) in practice
    static func _hottest(_ accesses: [BlockHash: Int], count: Int) -> [(block: BlockHash, accesses: Int)] {
        guard count > 0 else { return [] }
        func before(_ a: (block: BlockHash, accesses: Int), _ b: (block: BlockHash, accesses: Int)) -> Bool {
            a.accesses != b.accesses ? a.accesses > b.accesses : a.block < b.block
        }
        var top: [(block: BlockHash, accesses: Int)] = []
        top.reserveCapacity(count + 1)
        for (block, n) in accesses {
            let entry = (block: block, accesses: n)
            if top.count == count, !before(entry, top[count - 1]) { continue }
            let i = top.firstIndex { before(entry, $0) } ?? top.count
            top.insert(entry, at: i)
            if top.count > count { top.removeLast() }
        }
        return top
    }

    /// The `count` most accessed blocks, most accessed first, ties to the lower id, with their
    /// access counts.
    /// - Complexity: O(total blocks) expected
    public func hottestBlocks(count: Int) -> [(block: BlockHash, accesses: Int)] {
        guard count > 0 else { return [] }
        var accesses: [BlockHash: Int] = [:]
        accesses.reserveCapacity(blocks.count)
        for b in blocks { accesses[b, default: 0] += 1 }
        return Self._hottest(accesses, count: count)
    }
}
