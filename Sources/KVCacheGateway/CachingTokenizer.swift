import Foundation
import KVCacheTokenizers
import Synchronization

/// A bounded least-recently-used cache in front of another ``Tokenizer``: a prompt seen before
/// (the same text or messages, the same model) is not tokenized again.
///
/// The cache holds at most ``maximumEntries`` prompts and ``maximumTokens`` token ids in all,
/// evicting the least recently used first, so memory stays bounded whatever clients send.
/// Whole prompts are the keys: tokenizers are not prefix-stable (a merge can cross the point
/// where two prompts part), so reusing a shorter prompt's tokens could change identity.
public final class CachingTokenizer<Base: Tokenizer>: Tokenizer {
    /// The tokenizer asked on a miss.
    public let base: Base
    /// The most prompts kept.
    public let maximumEntries: Int
    /// The most token ids kept, over all prompts.
    public let maximumTokens: Int

    let cache: Mutex<_LRUCache<_PromptKey, [UInt32]>>

    /// Hits and misses so far.
    public var statistics: (hits: Int, misses: Int) { cache.withLock { ($0.hits, $0.misses) } }

    /// Creates a cache in front of `base`.
    public init(_ base: Base, maximumEntries: Int = 4_096, maximumTokens: Int = 8 << 20) {
        self.base = base
        self.maximumEntries = max(1, maximumEntries)
        self.maximumTokens = max(1, maximumTokens)
        cache = Mutex(_LRUCache(capacity: self.maximumEntries, maximumWeight: self.maximumTokens))
    }

    public func tokens(for input: PromptInput, model: String?) async throws -> [UInt32] {
        if case .tokens(let ids) = input { return ids }
        let key = _PromptKey(input: input, model: model)
        if let hit = cache.withLock({ $0.value(for: key) }) { return hit }
        let ids = try await base.tokens(for: input, model: model)
        cache.withLock { $0.insert(ids, for: key, weight: ids.count) }
        return ids
    }
}

/// A prompt and its model, hashed once when made: the look-up, the insert and an
/// eviction then cost one hash of the prompt, not three. It is not nested in the generic
/// ``CachingTokenizer``: the cache's type is then one concrete type whose metadata is made
/// once, not looked up by the runtime on every call.
struct _PromptKey: Hashable {
    let input: PromptInput
    let model: String?
    private let digest: Int

    init(input: PromptInput, model: String?) {
        self.input = input
        self.model = model
        var hasher = Hasher()
        if case .text(let text) = input {
            // A text's UTF-8 bytes in one pass. Equality compares bytes too, not Unicode
            // equivalence: two spellings of the same character may tokenize apart.
            var text = text
            text.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        } else {
            hasher.combine(input)
        }
        hasher.combine(model)
        digest = hasher.finalize()
    }

    func hash(into hasher: inout Hasher) { hasher.combine(digest) }

    static func == (a: _PromptKey, b: _PromptKey) -> Bool {
        guard a.digest == b.digest, a.model == b.model else { return false }
        if case .text(let x) = a.input, case .text(let y) = b.input { return sameBytes(x, y) }
        return a.input == b.input
    }

    /// Whether two strings have the same UTF-8 bytes, compared as buffers.
    static func sameBytes(_ a: String, _ b: String) -> Bool {
        guard a.utf8.count == b.utf8.count else { return false }
        var (a, b) = (a, b)
        return a.withUTF8 { x in b.withUTF8 { y in x.isEmpty || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0 } }
    }
}
