@testable import KVCache

/// A brute-force O(n) model of every eviction rule, written with plain arrays and linear scans,
/// to check the O(1) algorithms' victim choices operation by operation.
struct EvictionModel {
    struct Block {
        var key: UInt64
        var pins = 0
        var touch = 0  // last insert / access / unpin (LRU, LFU, LeafLRU)
        var inserted = 0  // insertion or re-entry time (FIFO)
        var freq = 1
        var positionClass = 0
        var parent: UInt64?  // LeafLRU link
        var nextUse: Int64 = .max
        var visited = false  // SIEVE
        var counter = 0  // S3-FIFO
    }

    let policy: EvictionPolicy
    let capacity: Int
    var blocks: [UInt64: Block] = [:]
    var clock = 0
    // queues, oldest first
    var queue: [UInt64] = []  // SIEVE queue
    var hand: UInt64?  // SIEVE hand
    var small: [UInt64] = [], main: [UInt64] = [], ghost: [UInt64] = []  // S3-FIFO
    var t1: [UInt64] = [], t2: [UInt64] = [], b1: [UInt64] = [], b2: [UInt64] = []  // ARC
    var p = 0.0
    var incomingGhost = false
    var inB1 = false, inB2 = false

    init(policy: EvictionPolicy, capacity: Int) {
        self.policy = policy
        self.capacity = capacity
    }

    var smallCapacity: Int { Int(Double(capacity) * 0.10) }
    var ghostCapacity: Int { Int(Double(capacity) * 0.90) }

    mutating func tick() -> Int { clock += 1; return clock }

    /// get-or-insert; returns (hit, evicted keys) or nil when exhausted.
    mutating func access(_ key: UInt64, position: Int, nextUse: Int64, parent: UInt64?) -> (hit: Bool, evicted: [UInt64])? {
        if var b = blocks[key] {
            if b.pins == 0 { touchBlock(&b, nextUse: nextUse) }
            if policy == .leafLRU, let parent, blocks[parent] != nil, parent != key { b.parent = parent }
            blocks[key] = b
            return (true, [])
        }
        var evicted: [UInt64] = []
        if let v = willInsert(key) { evicted.append(v); forget(v) }
        if blocks.count >= capacity {
            guard let v = evict() else { return nil }
            evicted.append(v)
            forget(v)
        }
        var b = Block(key: key)
        b.positionClass = min(31 - UInt32(position + 1).leadingZeroBitCount, 7)
        b.nextUse = nextUse
        if policy == .leafLRU, let parent, blocks[parent] != nil { b.parent = parent }
        blocks[key] = b
        enter(key)
        return (false, evicted)
    }

    mutating func touchBlock(_ b: inout Block, nextUse: Int64) {
        let now = tick()
        switch policy {
        case .lru, .leafLRU: b.touch = now
        case .fifo: break
        case .lfu, .lengthAware: b.freq += 1; b.touch = now
        case .sieve: b.visited = true
        case .s3fifo: b.counter += 1
        case .arc:
            if let i = t1.firstIndex(of: b.key) { t1.remove(at: i) } else { t2.removeAll { $0 == b.key } }
            t2.append(b.key)
        case .belady: b.nextUse = nextUse
        default: preconditionFailure("the model has no \(policy)")
        }
    }

    /// A block (new or unpinned) enters the policy's structures.
    mutating func enter(_ key: UInt64) {
        let now = tick()
        blocks[key]!.touch = now
        blocks[key]!.inserted = now
        switch policy {
        case .sieve: blocks[key]!.visited = false; queue.append(key)
        case .s3fifo:
            blocks[key]!.counter = 0
            if incomingGhost { incomingGhost = false; main.append(key) } else { small.append(key) }
        case .arc:
            if inB1 || inB2 { t2.append(key) } else { t1.append(key) }
            inB1 = false; inB2 = false
        default: break
        }
    }

    /// The block stops being a candidate (pinned or removed).
    mutating func leave(_ key: UInt64) {
        switch policy {
        case .sieve:
            if hand == key { hand = newer(than: key) }
            queue.removeAll { $0 == key }
        case .s3fifo: small.removeAll { $0 == key }; main.removeAll { $0 == key }
        case .arc: t1.removeAll { $0 == key }; t2.removeAll { $0 == key }
        default: break
        }
    }

    func newer(than key: UInt64) -> UInt64? {
        guard let i = queue.firstIndex(of: key), i + 1 < queue.count else { return nil }
        return queue[i + 1]
    }

    mutating func forget(_ key: UInt64) {
        blocks[key] = nil
        for k in blocks.keys where blocks[k]!.parent == key { blocks[k]!.parent = nil }
    }

    mutating func willInsert(_ key: UInt64) -> UInt64? {
        switch policy {
        case .s3fifo:
            if let i = ghost.firstIndex(of: key) { ghost.remove(at: i); incomingGhost = true } else { incomingGhost = false }
            return nil
        case .arc:
            inB1 = false; inB2 = false
            if let i = b1.firstIndex(of: key) {
                inB1 = true
                p = min(p + max(Double(b2.count) / Double(b1.count), 1), Double(capacity))
                let v = replace(); b1.remove(at: i); return v
            }
            if let i = b2.firstIndex(of: key) {
                inB2 = true
                p = max(p - max(Double(b1.count) / Double(b2.count), 1), 0)
                let v = replace()
                b2.removeAll { $0 == key }
                _ = i
                return v
            }
            return nil
        default: return nil
        }
    }

    mutating func replace() -> UInt64? {
        let n = Double(t1.count)
        if (!t1.isEmpty && (n > p || (n == p && inB2))) || t2.isEmpty {
            if !t1.isEmpty { let v = t1.removeFirst(); b1.append(v); return v }
        }
        if !t2.isEmpty { let v = t2.removeFirst(); b2.append(v); return v }
        return nil
    }

    var candidates: [Block] { blocks.values.filter { $0.pins == 0 } }

    mutating func evict() -> UInt64? {
        switch policy {
        case .lru: return candidates.min { $0.touch < $1.touch }?.key
        case .fifo: return candidates.min { $0.inserted < $1.inserted }?.key
        case .lfu: return candidates.min { ($0.freq, $0.touch) < ($1.freq, $1.touch) }?.key
        case .lengthAware: return candidates.min { ($0.freq, -$0.positionClass, $0.touch) < ($1.freq, -$1.positionClass, $1.touch) }?.key
        case .leafLRU:
            let parents = Set(blocks.values.compactMap(\.parent))
            return candidates.filter { !parents.contains($0.key) }.min { $0.touch < $1.touch }?.key
        case .belady:
            return candidates.max { $0.nextUse < $1.nextUse }?.key
        case .sieve:
            guard !queue.isEmpty else { return nil }
            var i = hand.flatMap { queue.firstIndex(of: $0) } ?? 0
            while blocks[queue[i]]!.visited {
                blocks[queue[i]]!.visited = false
                i = i + 1 < queue.count ? i + 1 : 0
            }
            let v = queue[i]
            hand = i + 1 < queue.count ? queue[i + 1] : nil
            queue.remove(at: i)
            return v
        case .s3fifo:
            while !small.isEmpty || !main.isEmpty {
                if main.count > capacity - smallCapacity || small.isEmpty {
                    while !main.isEmpty {
                        let k = main.removeFirst()
                        let c = blocks[k]!.counter
                        if c >= 1 { blocks[k]!.counter = min(c, 3) - 1; main.append(k) } else { return k }
                    }
                } else {
                    while !small.isEmpty {
                        let k = small.removeFirst()
                        if blocks[k]!.counter >= 2 {
                            blocks[k]!.counter = 0; main.append(k)
                        } else {
                            if ghostCapacity > 0 && !ghost.contains(k) {
                                if ghost.count >= ghostCapacity { ghost.removeFirst() }
                                ghost.append(k)
                            }
                            return k
                        }
                    }
                }
            }
            return nil
        case .arc:
            if t1.count + b1.count + 1 > capacity {
                if t1.count < capacity {
                    if !b1.isEmpty { b1.removeFirst() }
                    return replace()
                }
                return t1.isEmpty ? nil : t1.removeFirst()
            }
            if t1.count + t2.count + b1.count + b2.count >= 2 * capacity, !b2.isEmpty { b2.removeFirst() }
            return replace()
        default: preconditionFailure("the model has no \(policy)")
        }
    }

    mutating func pin(_ key: UInt64) -> Bool {
        guard blocks[key] != nil else { return false }
        if blocks[key]!.pins == 0 { leave(key) }
        blocks[key]!.pins += 1
        return true
    }

    mutating func unpin(_ key: UInt64) -> Bool {
        guard let b = blocks[key], b.pins > 0 else { return false }
        blocks[key]!.pins -= 1
        if blocks[key]!.pins == 0 {
            switch policy {
            case .lfu, .lengthAware:
                blocks[key]!.freq += 1
                blocks[key]!.touch = tick()
            case .belady:
                blocks[key]!.nextUse = .max
            case .s3fifo:
                incomingGhost = false
                enter(key)
            case .arc:
                inB1 = false; inB2 = false
                enter(key)
            default:
                enter(key)
            }
        }
        return true
    }

    mutating func remove(_ key: UInt64) -> Bool {
        guard let b = blocks[key], b.pins == 0 else { return false }
        leave(key)
        forget(key)
        return true
    }
}
