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

    struct Key: Hashable {
        var input: PromptInput
        var model: String?
    }
    let cache: Mutex<_LRUCache<Key, [UInt32]>>

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
        let key = Key(input: input, model: model)
        if let hit = cache.withLock({ $0.value(for: key) }) { return hit }
        let ids = try await base.tokens(for: input, model: model)
        cache.withLock { $0.insert(ids, for: key, weight: ids.count) }
        return ids
    }
}
