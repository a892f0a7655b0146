/// The merge table of a byte-pair encoder: a pair of adjacent token ids → the merge's rank and
/// the id of the merged token, in one open-addressing table of integer keys.
struct _PairTable: Sendable {
    struct Merge {
        var rank: UInt32
        var id: UInt32
    }
    private struct Slot {
        var key: UInt64
        var merge: Merge
    }
    private static let empty = UInt64.max
    private var slots: [Slot]
    private var shift: UInt64
    private(set) var count = 0

    init(minimumCapacity: Int) {
        var bits: UInt64 = 4
        while (1 << bits) < minimumCapacity * 2 { bits += 1 }
        slots = Array(repeating: Slot(key: Self.empty, merge: Merge(rank: 0, id: 0)), count: 1 << bits)
        shift = 64 - bits
    }

    @inline(__always)
    private static func key(_ left: UInt32, _ right: UInt32) -> UInt64 { UInt64(left) << 32 | UInt64(right) }

    /// Adds the merge of `left` and `right`; a pair already present keeps its (lower) rank.
    mutating func insert(_ left: UInt32, _ right: UInt32, merge: Merge) {
        precondition(count * 2 < slots.count, "_PairTable sized too small")
        let k = Self.key(left, right)
        var i = Int(truncatingIfNeeded: (k &* 0x9E37_79B9_7F4A_7C15) >> shift)
        while slots[i].key != Self.empty {
            if slots[i].key == k { return }
            i = (i + 1) & (slots.count - 1)
        }
        slots[i] = Slot(key: k, merge: merge)
        count += 1
    }

    /// The merge of `left` followed by `right`, if there is one.
    /// - Complexity: O(1) expected.
    @inline(__always)
    func merge(_ left: UInt32, _ right: UInt32) -> Merge? {
        let k = Self.key(left, right)
        return slots.withUnsafeBufferPointer { slots in
            var i = Int(truncatingIfNeeded: (k &* 0x9E37_79B9_7F4A_7C15) >> shift)
            while true {
                let s = slots[i]
                if s.key == k { return s.merge }
                if s.key == Self.empty { return nil }
                i = (i + 1) & (slots.count - 1)
            }
        }
    }
}
