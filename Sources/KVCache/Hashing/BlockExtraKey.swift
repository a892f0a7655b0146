import CKVCore

/// One extra key of a block's identity beyond its tokens: a multimodal item's hash, a cache
/// salt, a prompt-embedding digest — what vLLM publishes per block in `extra_keys`.
///
/// Blocks with the same tokens but different extra keys are different blocks: their KV
/// differs (an image placeholder stands for different pixels; a salt isolates tenants). A
/// ``PrefixHasher`` mixes a block's extra keys into its hash through ``digest(_:)``.
public enum BlockExtraKey: Sendable, Hashable {
    /// A string (vLLM's multimodal identifiers, cache salts, adapter names).
    case string(String)
    /// An integer. Unsigned values above `Int64.max` keep their bit pattern.
    case integer(Int64)
    /// Raw bytes.
    case bytes([UInt8])

    /// The 64-bit digest a hasher mixes into a block with these extra keys, or `nil` when
    /// there are none (the block is hashed from its tokens alone).
    ///
    /// Definition: XXH3-64 (seed 0) over the keys in order, each written as one tag byte
    /// (`1` string, `2` integer, `3` bytes) and a little-endian 64-bit word — the integer
    /// itself, or the byte length followed by the bytes (UTF-8 for strings).
    /// - Complexity: O(total bytes of the keys)
    public static func digest(_ keys: some Collection<BlockExtraKey>) -> UInt64? {
        guard !keys.isEmpty else { return nil }
        var buffer: [UInt8] = []
        for key in keys {
            switch key {
            case .string(let s):
                buffer.append(1)
                Self._appendWord(UInt64(s.utf8.count), to: &buffer)
                buffer.append(contentsOf: s.utf8)
            case .integer(let v):
                buffer.append(2)
                Self._appendWord(UInt64(bitPattern: v), to: &buffer)
            case .bytes(let b):
                buffer.append(3)
                Self._appendWord(UInt64(b.count), to: &buffer)
                buffer.append(contentsOf: b)
            }
        }
        return buffer.withUnsafeBytes { kvc_xxh3_64_seeded($0.baseAddress, $0.count, 0) }
    }

    static func _appendWord(_ word: UInt64, to buffer: inout [UInt8]) {
        withUnsafeBytes(of: word.littleEndian) { buffer.append(contentsOf: $0) }
    }
}
