import Synchronization

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
        private let digest: Int

        /// Creates a key.
        /// - Complexity: O(*n*) in the section's bytes.
        public init(bytes: [UInt8], atStart: Bool) {
            self.bytes = bytes
            self.atStart = atStart
            var hasher = Hasher()
            bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
            hasher.combine(atStart)
            digest = hasher.finalize()
        }

        public func hash(into hasher: inout Hasher) { hasher.combine(digest) }

        public static func == (a: Key, b: Key) -> Bool {
            a.digest == b.digest && a.atStart == b.atStart && a.bytes == b.bytes
        }
    }

    /// The most sections kept.
    public let maximumEntries: Int
    /// The most token ids kept, over all sections.
    public let maximumTokens: Int
    /// Sections shorter than this many bytes are encoded every time (cheaper than a look-up).
    public let minimumBytes: Int
    private let cache: Mutex<_LRUCache<Key, [UInt32]>>

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
    /// - Complexity: O(section bytes), for hashing.
    public func ids(for key: Key) -> [UInt32]? { cache.withLock { $0.value(for: key) } }

    /// Keeps `ids` as the section's.
    public func store(_ ids: [UInt32], for key: Key) {
        cache.withLock { $0.insert(ids, for: key, weight: max(1, ids.count)) }
    }
}
