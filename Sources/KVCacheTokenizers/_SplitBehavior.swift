/// What a split does with the text its pattern matches (`behavior` in a `tokenizer.json`).
enum _SplitBehavior: Sendable {
    case removed, isolated, mergedWithPrevious, mergedWithNext, contiguous

    init(_ name: String) throws(_LoadError) {
        switch name {
        case "Removed": self = .removed
        case "Isolated": self = .isolated
        case "MergedWithPrevious": self = .mergedWithPrevious
        case "MergedWithNext": self = .mergedWithNext
        case "Contiguous": self = .contiguous
        default: throw _LoadError("behavior", "\"\(name)\" is not a split behavior")
        }
    }

    /// Appends to `out` the pieces of `piece`, given the pattern's `matches` inside it (sorted,
    /// disjoint); with `invert`, the text between matches is the delimiter instead.
    func split(_ piece: Range<Int>, matches: ArraySlice<Range<Int>>, invert: Bool, into out: inout [Range<Int>]) {
        let first = out.count
        var previousWasMatch = false
        // The piece is a sequence of segments, each either a match or the text between two.
        func add(_ segment: Range<Int>, isMatch: Bool) {
            guard !segment.isEmpty else { return }
            let extend: Bool
            switch self {
            case .removed:
                if isMatch { return }
                extend = false
            case .isolated: extend = false
            case .mergedWithPrevious: extend = isMatch && !previousWasMatch
            case .mergedWithNext: extend = previousWasMatch
            case .contiguous: extend = isMatch == previousWasMatch
            }
            if extend, out.count > first {
                out[out.count - 1] = out[out.count - 1].lowerBound..<segment.upperBound
            } else {
                out.append(segment)
            }
            previousWasMatch = isMatch
        }
        var cursor = piece.lowerBound
        for m in matches {
            add(cursor..<m.lowerBound, isMatch: invert)
            add(m, isMatch: !invert)
            cursor = m.upperBound
        }
        add(cursor..<piece.upperBound, isMatch: invert)
    }
}
