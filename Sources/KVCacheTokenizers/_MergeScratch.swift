/// One piece's symbols while byte-pair merges run, as a linked list over arrays, with a
/// min-heap of candidate merges; reused from piece to piece so merging allocates nothing.
struct _MergeScratch {
    private var ids: [UInt32] = []
    /// The next live symbol, -1 past the last; -2 marks a symbol merged into its left neighbour.
    private var next: [Int32] = []
    private var previous: [Int32] = []
    /// Whether the last symbol added is an unknown that a following one may fuse with.
    private var lastIsUnknown = false
    /// Candidates, each `rank << 32 | position`: the lowest rank first, then the leftmost.
    private var heap: [UInt64] = []
    /// Whether `next` links the symbols (after a merge pass); before one, all are live in order.
    private var linked = false

    mutating func start() {
        ids.removeAll(keepingCapacity: true)
        lastIsUnknown = false
        linked = false
    }

    @inline(__always)
    mutating func add(_ id: UInt32) {
        ids.append(id)
        lastIsUnknown = false
    }

    /// Adds the unknown token (fused with an unknown just before when `fuse`), or nothing
    /// when the vocabulary has none.
    @inline(__always)
    mutating func addUnknown(_ unknown: UInt32?, fuse: Bool) {
        guard let unknown else { return }
        if fuse, lastIsUnknown { return }
        ids.append(unknown)
        lastIsUnknown = true
    }

    /// Applies `merges` until no adjacent pair has one.
    mutating func merge(_ merges: _PairTable) {
        let n = ids.count
        guard n > 1, merges.count > 0 else { return }
        linked = true
        next.removeAll(keepingCapacity: true)
        previous.removeAll(keepingCapacity: true)
        heap.removeAll(keepingCapacity: true)
        for i in 0..<n {
            next.append(i + 1 < n ? Int32(i + 1) : -1)
            previous.append(Int32(i - 1))
            if i + 1 < n, let m = merges.merge(ids[i], ids[i + 1]) { push(UInt64(m.rank) << 32 | UInt64(i)) }
        }
        while let top = pop() {
            let pos = Int(top & 0xFFFF_FFFF)
            let right = next[pos]
            // Stale candidates: the symbol was merged away, or its pair changed since.
            guard right >= 0, let m = merges.merge(ids[pos], ids[Int(right)]), UInt64(m.rank) == top >> 32 else { continue }
            ids[pos] = m.id
            let after = next[Int(right)]
            next[pos] = after
            next[Int(right)] = -2
            if after >= 0 { previous[Int(after)] = Int32(pos) }
            let before = previous[pos]
            if before >= 0, let m = merges.merge(ids[Int(before)], ids[pos]) { push(UInt64(m.rank) << 32 | UInt64(before)) }
            if after >= 0, let m = merges.merge(ids[pos], ids[Int(after)]) { push(UInt64(m.rank) << 32 | UInt64(pos)) }
        }
    }

    /// Appends the ids of the live symbols, in order.
    func appendIDs(to out: inout [UInt32]) {
        guard linked else {
            out.append(contentsOf: ids)
            return
        }
        var i: Int32 = 0
        while i >= 0 {
            out.append(ids[Int(i)])
            i = next[Int(i)]
        }
    }

    private mutating func push(_ key: UInt64) {
        heap.append(key)
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard heap[i] < heap[parent] else { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    private mutating func pop() -> UInt64? {
        guard let last = heap.popLast() else { return nil }
        guard !heap.isEmpty else { return last }
        let top = heap[0]
        heap[0] = last
        var i = 0
        while true {
            let l = 2 * i + 1
            guard l < heap.count else { break }
            let r = l + 1
            let child = r < heap.count && heap[r] < heap[l] ? r : l
            guard heap[child] < heap[i] else { break }
            heap.swapAt(i, child)
            i = child
        }
        return top
    }
}
