/// A binary min-heap of (key, value) pairs.
struct _MinHeap: Sendable {
    private(set) var items: [(key: Int64, value: Int)] = []

    var isEmpty: Bool { items.isEmpty }
    var count: Int { items.count }
    var min: (key: Int64, value: Int)? { items.first }

    mutating func push(_ key: Int64, _ value: Int) {
        items.append((key, value))
        var i = items.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            guard items[i].key < items[p].key else { break }
            items.swapAt(i, p)
            i = p
        }
    }

    mutating func pop() -> (key: Int64, value: Int)? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < items.count && items[l].key < items[m].key { m = l }
                if r < items.count && items[r].key < items[m].key { m = r }
                guard m != i else { break }
                items.swapAt(i, m)
                i = m
            }
        }
        return top
    }
}
