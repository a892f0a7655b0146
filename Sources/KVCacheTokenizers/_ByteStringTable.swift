import Foundation

/// A map from byte strings to token ids: one open-addressing table over one arena of bytes,
/// so a lookup hashes a slice of the input and allocates nothing.
struct _ByteStringTable: Sendable {
    private struct Slot {
        var start: UInt32
        var length: UInt32
        var id: UInt32
        var hash: UInt32
    }
    private static let empty = UInt32.max
    private var arena: [UInt8] = []
    private var slots: [Slot]
    private var mask: Int
    private(set) var count = 0

    init(minimumCapacity: Int = 16) {
        var size = 16
        while size < minimumCapacity * 2 { size <<= 1 }
        slots = Array(repeating: Slot(start: 0, length: 0, id: Self.empty, hash: 0), count: size)
        mask = size - 1
    }

    @inline(__always)
    private static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        // FNV-1a: token strings are short, and the table's probing tolerates its weak mixing.
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h ^ (h >> 29)
    }

    /// Adds `bytes → id`; an existing entry for the same bytes keeps its id.
    mutating func insert(_ bytes: [UInt8], id: UInt32) {
        if (count + 1) * 2 > slots.count { grow() }
        let found = bytes.withUnsafeBufferPointer { lookup($0) }
        guard found.id == nil else { return }
        let start = UInt32(arena.count)
        arena.append(contentsOf: bytes)
        slots[found.slot] = Slot(start: start, length: UInt32(bytes.count), id: id, hash: found.hash)
        count += 1
    }

    /// The id of `bytes`, if the table has it.
    /// - Complexity: O(`bytes.count`) expected.
    @inline(__always)
    func id(of bytes: UnsafeBufferPointer<UInt8>) -> UInt32? { lookup(bytes).id }

    private func lookup(_ bytes: UnsafeBufferPointer<UInt8>) -> (id: UInt32?, slot: Int, hash: UInt32) {
        let h = Self.hash(bytes)
        let tag = UInt32(truncatingIfNeeded: h >> 32)
        var i = Int(truncatingIfNeeded: h) & mask
        return arena.withUnsafeBufferPointer { arena in
            slots.withUnsafeBufferPointer { slots in
                while true {
                    let s = slots[i]
                    if s.id == Self.empty { return (nil, i, tag) }
                    if s.hash == tag, Int(s.length) == bytes.count,
                        bytes.count == 0
                            || memcmp(arena.baseAddress! + Int(s.start), bytes.baseAddress!, bytes.count) == 0
                    {
                        return (s.id, i, tag)
                    }
                    i = (i + 1) & mask
                }
            }
        }
    }

    private mutating func grow() {
        let old = slots
        slots = Array(repeating: Slot(start: 0, length: 0, id: Self.empty, hash: 0), count: old.count * 2)
        mask = slots.count - 1
        for s in old where s.id != Self.empty {
            let h = arena.withUnsafeBufferPointer {
                Self.hash(UnsafeBufferPointer(rebasing: $0[Int(s.start)..<Int(s.start + s.length)]))
            }
            var i = Int(truncatingIfNeeded: h) & mask
            while slots[i].id != Self.empty { i = (i + 1) & mask }
            slots[i] = s
        }
    }
}
