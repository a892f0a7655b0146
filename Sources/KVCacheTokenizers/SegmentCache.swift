import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The token ids of long text sections between added tokens, kept so that text seen before is
/// not encoded again: a conversation's earlier turns, a system prompt many requests share.
///
/// A tokenizer encodes the text between two added tokens (a chat template's role and turn
/// markers, say) without looking past them, so a section's ids do not depend on what stands
/// around it; only whether it starts the text can matter (a `Metaspace` prefix). The cache is
/// keyed by exactly that: the section's bytes and whether it starts the text. It holds at most
/// ``maximumEntries`` sections and ``maximumTokens`` ids, evicting the least recently used, and
/// is safe to share between threads and tokenizers of the same file.
///
/// ```swift
/// let cache = SegmentCache()
/// let ids = tokenizer.encode(renderedChat, addSpecialTokens: false, cache: cache)
/// ```
public final class SegmentCache: Sendable {
    /// A section: its bytes, and whether it starts the text.
    ///
    /// The bytes are hashed once, as one buffer, when the key is made: a look-up, an insert
    /// and an eviction then cost one hash of the section, not one per byte each.
    public struct Key: Hashable, Sendable {
        /// The section's UTF-8 bytes.
        public let bytes: [UInt8]
        /// Whether the section starts the encoded text.
        public let atStart: Bool
        let digest: Int

        /// Creates a key.
        /// - Complexity: O(*n*) in the section's bytes.
        public init(bytes: [UInt8], atStart: Bool) {
            self.bytes = bytes
            self.atStart = atStart
            digest = bytes.withUnsafeBytes { SegmentCache.digest($0, atStart: atStart) }
        }

        /// A key with a chosen digest (for tests of sections whose digests collide).
        init(bytes: [UInt8], atStart: Bool, digest: Int) {
            self.bytes = bytes
            self.atStart = atStart
            self.digest = digest
        }

        public func hash(into hasher: inout Hasher) { hasher.combine(digest) }

        public static func == (a: Key, b: Key) -> Bool {
            a.digest == b.digest && a.atStart == b.atStart && a.bytes == b.bytes
        }
    }

    /// A kept section: its bytes (to tell it from another section of the same digest) and ids.
    struct _Entry {
        let bytes: [UInt8]
        let atStart: Bool
        let ids: [UInt32]
    }

    /// The most sections kept.
    public let maximumEntries: Int
    /// The most token ids kept, over all sections.
    public let maximumTokens: Int
    /// Sections shorter than this many bytes are encoded every time (cheaper than a look-up).
    public let minimumBytes: Int
    /// Sections by digest. Two sections of one digest share a place: the later one replaces the
    /// other, and a look-up that finds another section's bytes there is a miss.
    private let cache: Mutex<_LRUCache<Int, _Entry>>

    /// Creates an empty cache.
    public init(maximumEntries: Int = 65_536, maximumTokens: Int = 16 << 20, minimumBytes: Int = 64) {
        self.maximumEntries = max(1, maximumEntries)
        self.maximumTokens = max(1, maximumTokens)
        self.minimumBytes = max(1, minimumBytes)
        cache = Mutex(_LRUCache(capacity: self.maximumEntries, maximumWeight: self.maximumTokens))
    }

    /// Hits and misses so far.
    public var statistics: (hits: Int, misses: Int) { cache.withLock { ($0.hits, $0.misses) } }

    /// The ids of `key`'s section, when kept.
    /// - Complexity: O(section bytes), to compare them.
    public func ids(for key: Key) -> [UInt32]? {
        key.bytes.withUnsafeBytes { ids(section: $0, atStart: key.atStart, digest: key.digest) }
    }

    /// Keeps `ids` as the section's.
    public func store(_ ids: [UInt32], for key: Key) {
        store(_Entry(bytes: key.bytes, atStart: key.atStart, ids: ids), digest: key.digest)
    }

    /// The ids of the section `bytes`, when kept; nothing is copied.
    /// - Complexity: O(section bytes), to hash and compare them.
    func ids(section bytes: UnsafeRawBufferPointer, atStart: Bool) -> [UInt32]? {
        ids(section: bytes, atStart: atStart, digest: Self.digest(bytes, atStart: atStart))
    }

    /// Keeps `ids` as the section `bytes`'s (which are copied).
    func store(_ ids: [UInt32], section bytes: UnsafeRawBufferPointer, atStart: Bool) {
        store(_Entry(bytes: Array(bytes), atStart: atStart, ids: ids), digest: Self.digest(bytes, atStart: atStart))
    }

    private func ids(section bytes: UnsafeRawBufferPointer, atStart: Bool, digest: Int) -> [UInt32]? {
        let section = _Section(bytes: bytes)
        return cache.withLock { lru in
            lru.value(for: digest) { entry in entry.atStart == atStart && section.equals(entry.bytes) }?.ids
        }
    }

    /// A section's bytes, read only during the look-up that holds them.
    private struct _Section: @unchecked Sendable {
        let bytes: UnsafeRawBufferPointer

        func equals(_ other: [UInt8]) -> Bool {
            guard other.count == bytes.count else { return false }
            guard let base = bytes.baseAddress else { return true }
            return other.withUnsafeBytes { memcmp($0.baseAddress!, base, bytes.count) == 0 }
        }
    }

    private func store(_ entry: _Entry, digest: Int) {
        cache.withLock { $0.insert(entry, for: digest, weight: max(1, entry.ids.count)) }
    }

    /// A section's digest: its bytes taken eight at a time through a multiply and a rotate, then
    /// mixed. Not a defence against chosen collisions, and it need not be one: sections that
    /// collide take turns in one place, each look-up checks the bytes, and a collision costs
    /// an encode.
    /// - Complexity: O(*n*)
    static func digest(_ bytes: UnsafeRawBufferPointer, atStart: Bool) -> Int {
        let k: UInt64 = 0x9E37_79B9_7F4A_7C15
        var h = UInt64(bytes.count) &* k ^ (atStart ? 0x5851_F42D_4C95_7F2D : 0)
        var i = 0
        while i + 8 <= bytes.count {
            h = ((h ^ bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* k).rotatedLeft(by: 29)
            i += 8
        }
        if i < bytes.count {
            var tail: UInt64 = 0
            for j in i..<bytes.count { tail |= UInt64(bytes[j]) << (8 * UInt64(j - i)) }
            h = ((h ^ tail) &* k).rotatedLeft(by: 29)
        }
        // fmix64 (MurmurHash3's finalizer)
        h ^= h >> 33
        h &*= 0xFF51_AFD7_ED55_8CCD
        h ^= h >> 33
        h &*= 0xC4CE_B9FE_1A85_EC53
        h ^= h >> 33
        return Int(bitPattern: UInt(h))
    }
}

extension UInt64 {
    fileprivate func rotatedLeft(by n: UInt64) -> UInt64 { self << n | self >> (64 - n) }
}
