import CKVCore

/// The entries of a chain's leading indexed blocks, in order, looked up a window at a time.
///
/// A walk down a chain needs block i's entry before it can use block i's record; looking
/// each up only when it is needed makes every cache miss wait for the one before it. The
/// cursor looks up a window of blocks at once (their lookups do not depend on each other, so
/// their misses overlap), asks for the buckets further ahead and each found entry's record
/// early, and hands the entries out one by one. Windows start small and double, so a walk
/// that stops after a few blocks looks up little it does not use.
@usableFromInline
struct _ChainCursor<Record> {
    @usableFromInline static var largestWindow: Int { 64 }
    @usableFromInline static var lookAhead: Int { 8 }

    @usableFromInline let chain: UnsafeBufferPointer<BlockHash>
    @usableFromInline let table: UnsafePointer<_BlockTable.Entry>
    @usableFromInline let buckets: Int
    @usableFromInline let records: UnsafePointer<Record>
    @usableFromInline let stride: Int
    @usableFromInline let slots: UnsafeMutablePointer<Int32>  // `largestWindow` entries
    @usableFromInline var start = 0, window = 8, found = 0, next = 0
    @usableFromInline var ended = false

    /// A cursor over `chain` in `table` (`buckets` entries), whose entries' records are
    /// `stride` elements apart in `records`; `slots` has room for ``largestWindow`` entries.
    @inlinable
    init(
        _ chain: UnsafeBufferPointer<BlockHash>, table: UnsafePointer<_BlockTable.Entry>, buckets: Int,
        records: UnsafePointer<Record>, stride: Int, slots: UnsafeMutablePointer<Int32>
    ) {
        self.chain = chain
        self.table = table
        self.buckets = buckets
        self.records = records
        self.stride = stride
        self.slots = slots
        for i in 0..<min(Self.lookAhead, chain.count) { kvc_prefetch(table + _BlockTable._home(chain[i].rawValue, buckets)) }
    }

    /// The entry of the next block, or nil once a block is missing or the chain ends.
    @inlinable @inline(__always)
    mutating func nextEntry() -> Int? {
        if next == found {
            guard !ended, start < chain.count else { return nil }
            _fill()
        }
        guard next < found else { return nil }
        defer { next += 1 }
        return Int(slots[next])
    }

    /// The entry `distance` blocks past the one ``nextEntry()`` returned last, when it is
    /// already looked up.
    @inlinable @inline(__always)
    func peek(_ distance: Int) -> Int? {
        let k = next + distance - 1
        return k < found ? Int(slots[k]) : nil
    }

    @inlinable
    mutating func _fill() {
        let end = min(start + window, chain.count)
        found = 0
        next = 0
        for i in start..<end {
            if i + Self.lookAhead < chain.count {
                kvc_prefetch(table + _BlockTable._home(chain[i + Self.lookAhead].rawValue, buckets))
            }
            let b = _BlockTable._find(table, buckets, chain[i].rawValue, liveOnly: false)
            if b < 0 { ended = true; break }
            let slot = table[b].slot
            kvc_prefetch(records + Int(slot) * stride)
            slots[found] = slot
            found += 1
        }
        start = end
        window = min(window * 2, Self.largestWindow)
    }
}

extension PrefixIndex {
    /// Calls `body` with a cursor over the entries of `chain`'s leading indexed blocks, whose
    /// records (`stride` elements per entry) start at `records`.
    @usableFromInline @inline(__always)
    func _withChainCursor<Record, R>(
        _ chain: UnsafeBufferPointer<BlockHash>, records: UnsafePointer<Record>, stride: Int,
        _ body: (inout _ChainCursor<Record>) -> R
    ) -> R {
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: _ChainCursor<Record>.largestWindow) { slots in
            _table.entries.withUnsafeBufferPointer { table in
                var cursor = _ChainCursor(
                    chain, table: table.baseAddress!, buckets: _table.buckets, records: records,
                    stride: stride, slots: slots.baseAddress!)
                return body(&cursor)
            }
        }
    }
}
