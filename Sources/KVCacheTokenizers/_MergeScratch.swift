/// One piece's symbols while byte-pair merges run, in buffers reused from piece to piece, so
/// that encoding a piece allocates nothing once they are as long as the longest piece so far.
///
/// Two ways to merge, giving the same ids (the lowest-ranked adjacent pair first, the
/// leftmost of equal ranks, as Hugging Face's BPE does):
/// - a piece of at most ``shortPiece`` symbols keeps each adjacent pair's merge in an array
///   beside its symbols, finds the lowest by a scan and closes the gap by a shift: no heap and
///   no links, which is what most pieces (words) need;
/// - a longer piece keeps its symbols in a linked list over arrays with a min-heap of
///   candidate merges, so a long run without spaces costs O(*n* log *n*), not O(*n*²).
struct _MergeScratch {
    /// The longest piece merged by scan and shift.
    static let shortPiece = 32
    private static let noMerge = UInt64.max

    private var ids: [UInt32] = []
    /// Short pieces: each adjacent pair's `rank << 32 | merged id` (`noMerge`: none). Long
    /// pieces: the heap of candidates, each `rank << 32 | position`.
    private var keys: [UInt64] = []
    /// Long pieces: the next live symbol (first half; -1 past the last, -2 merged away) and
    /// the previous one (second half).
    private var links: [Int32] = []

    /// Fills the symbols of one piece with `fill` (it writes at most `bound` ids from the
    /// pointer it is given and returns how many), merges them by `merges` and appends the
    /// resulting ids to `out`. Each buffer grows only when a piece needs it: a vocabulary
    /// without merges never allocates the candidates or the links.
    /// - Complexity: O(*n*²) with a small constant for *n* ≤ ``shortPiece`` symbols, else
    ///   O(*n* log *n*).
    @inline(__always)
    mutating func encode(
        bound: Int, merges: _PairTable, into out: inout [UInt32], fill: (UnsafeMutablePointer<UInt32>) -> Int
    ) {
        if ids.count < bound { ids = Array(repeating: 0, count: max(bound, 2 * ids.count, Self.shortPiece)) }
        ids.withUnsafeMutableBufferPointer { p in
            let symbols = p.baseAddress!
            let n = fill(symbols)
            precondition(n <= bound, "a piece filled more symbols than its bound")
            var kept = n
            if n > 1, merges.count > 0 {
                // the heap holds up to 3 n candidates: n - 1 pairs, then at most two per merge
                if keys.count < 3 * n { keys = Array(repeating: 0, count: 3 * p.count) }
                keys.withUnsafeMutableBufferPointer { k in
                    if n <= Self.shortPiece {
                        kept = Self.mergeShort(symbols, n, merges, k.baseAddress!)
                    } else {
                        if links.count < 2 * n { links = Array(repeating: 0, count: 2 * p.count) }
                        links.withUnsafeMutableBufferPointer { l in
                            kept = Self.mergeLong(symbols, n, merges, heap: k.baseAddress!, links: l.baseAddress!)
                        }
                    }
                }
            }
            out.append(contentsOf: UnsafeBufferPointer(start: symbols, count: kept))
        }
    }

    @inline(__always)
    private static func key(_ merges: _PairTable, _ left: UInt32, _ right: UInt32) -> UInt64 {
        guard let m = merges.merge(left, right) else { return noMerge }
        return UInt64(m.rank) << 32 | UInt64(m.id)
    }

    /// Merges `n` symbols in place by scan and shift.
    /// - Returns: The symbols left.
    static func mergeShort(
        _ ids: UnsafeMutablePointer<UInt32>, _ count: Int, _ merges: _PairTable, _ pairs: UnsafeMutablePointer<UInt64>
    ) -> Int {
        var n = count
        for i in 0..<(n - 1) { pairs[i] = key(merges, ids[i], ids[i + 1]) }
        while n > 1 {
            // The lowest key is the lowest rank: equal ranks are one rule, so one key, and the
            // strict comparison keeps the leftmost.
            var best = 0
            var lowest = pairs[0]
            for i in 1..<(n - 1) where pairs[i] < lowest {
                lowest = pairs[i]
                best = i
            }
            guard lowest != noMerge else { break }
            ids[best] = UInt32(truncatingIfNeeded: lowest)
            let tail = n - best - 2  // symbols after the merged pair
            if tail > 0 {
                (ids + best + 1).update(from: ids + best + 2, count: tail)
                (pairs + best + 1).update(from: pairs + best + 2, count: tail - 1)
            }
            n -= 1
            if best > 0 { pairs[best - 1] = key(merges, ids[best - 1], ids[best]) }
            if best + 1 < n { pairs[best] = key(merges, ids[best], ids[best + 1]) }
        }
        return n
    }

    /// Merges `n` symbols with a heap of candidates over a linked list, then gathers the live
    /// symbols to the front.
    /// - Returns: The symbols left.
    static func mergeLong(
        _ ids: UnsafeMutablePointer<UInt32>, _ n: Int, _ merges: _PairTable, heap: UnsafeMutablePointer<UInt64>,
        links: UnsafeMutablePointer<Int32>
    ) -> Int {
        let next = links, previous = links + n
        var heap = _Heap(base: heap)
        for i in 0..<n {
            next[i] = i + 1 < n ? Int32(i + 1) : -1
            previous[i] = Int32(i - 1)
            if i + 1 < n, let m = merges.merge(ids[i], ids[i + 1]) { heap.push(UInt64(m.rank) << 32 | UInt64(i)) }
        }
        while let top = heap.pop() {
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
            if before >= 0, let m = merges.merge(ids[Int(before)], ids[pos]) { heap.push(UInt64(m.rank) << 32 | UInt64(before)) }
            if after >= 0, let m = merges.merge(ids[pos], ids[Int(after)]) { heap.push(UInt64(m.rank) << 32 | UInt64(pos)) }
        }
        var kept = 0
        var i: Int32 = 0
        while i >= 0 {
            ids[kept] = ids[Int(i)]
            kept += 1
            i = next[Int(i)]
        }
        return kept
    }

    /// A binary min-heap in storage the caller sized.
    private struct _Heap {
        let base: UnsafeMutablePointer<UInt64>
        var count = 0

        mutating func push(_ key: UInt64) {
            var i = count
            count += 1
            while i > 0 {
                let parent = (i - 1) / 2
                guard key < base[parent] else { break }
                base[i] = base[parent]
                i = parent
            }
            base[i] = key
        }

        mutating func pop() -> UInt64? {
            guard count > 0 else { return nil }
            let top = base[0]
            count -= 1
            guard count > 0 else { return top }
            let last = base[count]
            var i = 0
            while true {
                let l = 2 * i + 1
                guard l < count else { break }
                let r = l + 1
                let child = r < count && base[r] < base[l] ? r : l
                guard base[child] < last else { break }
                base[i] = base[child]
                i = child
            }
            base[i] = last
            return top
        }
    }
}
