/// A dictionary bounded by entries and by total weight, evicting the least recently used
/// entry first; entries sit in contiguous slots linked by index.
package struct _LRUCache<Key: Hashable, Value> {
    package struct Entry {
        package var key: Key
        package var value: Value?
        package var weight: Int
        var newer = -1, older = -1
    }
    package private(set) var entries: [Entry] = []
    private var slots: [Key: Int] = [:]
    private var free: [Int] = []
    private var newest = -1, oldest = -1
    package let capacity: Int
    package let maximumWeight: Int
    package private(set) var weight = 0
    package private(set) var hits = 0, misses = 0

    package init(capacity: Int, maximumWeight: Int) {
        self.capacity = capacity
        self.maximumWeight = maximumWeight
    }

    package var count: Int { slots.count }

    /// The value for `key`, which becomes the most recently used.
    /// - Complexity: O(1)
    package mutating func value(for key: Key) -> Value? {
        guard let i = slots[key] else {
            misses += 1
            return nil
        }
        hits += 1
        unlink(i)
        pushNewest(i)
        return entries[i].value
    }

    /// The value for `key` when `matches` accepts it, which then becomes the most recently
    /// used; a value it refuses counts as a miss.
    /// - Complexity: O(1) and one call of `matches`
    package mutating func value(for key: Key, where matches: (Value) -> Bool) -> Value? {
        guard let i = slots[key], let v = entries[i].value, matches(v) else {
            misses += 1
            return nil
        }
        hits += 1
        unlink(i)
        pushNewest(i)
        return v
    }

    /// Inserts or replaces `key`, then evicts the oldest entries until both bounds hold. A value
    /// heavier than the whole budget is not kept.
    /// - Complexity: O(1) amortised
    package mutating func insert(_ value: Value, for key: Key, weight w: Int) {
        if let i = slots.removeValue(forKey: key) { drop(i) }
        guard w <= maximumWeight else { return }
        let entry = Entry(key: key, value: value, weight: w)
        let i: Int
        if let f = free.popLast() {
            entries[f] = entry
            i = f
        } else {
            entries.append(entry)
            i = entries.count - 1
        }
        slots[key] = i
        weight += w
        pushNewest(i)
        while slots.count > capacity || weight > maximumWeight, oldest >= 0 {
            let o = oldest
            slots.removeValue(forKey: entries[o].key)
            drop(o)
        }
    }

    private mutating func drop(_ i: Int) {
        unlink(i)
        weight -= entries[i].weight
        entries[i].value = nil
        entries[i].weight = 0
        free.append(i)
    }

    private mutating func unlink(_ i: Int) {
        let (n, o) = (entries[i].newer, entries[i].older)
        if n >= 0 { entries[n].older = o } else { newest = o }
        if o >= 0 { entries[o].newer = n } else { oldest = n }
        entries[i].newer = -1
        entries[i].older = -1
    }

    private mutating func pushNewest(_ i: Int) {
        entries[i].older = newest
        entries[i].newer = -1
        if newest >= 0 { entries[newest].newer = i } else { oldest = i }
        newest = i
    }
}
