/// Python's string operations over Unicode scalars (code points), as `str.strip`, `str.split`,
/// `in` and `==` work: Swift's own compare characters under canonical equivalence, Python's
/// compare code points.
enum _Text {
    static func equal(_ a: String, _ b: String) -> Bool { a.unicodeScalars.elementsEqual(b.unicodeScalars) }

    static func less(_ a: String, _ b: String) -> Bool {
        a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars) { $0.value < $1.value }
    }

    static func hasPrefix(_ s: String, _ prefix: String) -> Bool { s.unicodeScalars.starts(with: prefix.unicodeScalars) }

    static func hasSuffix(_ s: String, _ suffix: String) -> Bool {
        s.unicodeScalars.reversed().starts(with: suffix.unicodeScalars.reversed())
    }

    /// The offset (in code points) of the first `needle` in `hay` at or after `from`.
    static func find(_ hay: [Unicode.Scalar], _ needle: [Unicode.Scalar], from: Int = 0) -> Int? {
        guard needle.count <= hay.count else { return nil }
        if needle.isEmpty { return from <= hay.count ? from : nil }
        var k = max(0, from)
        let first = needle[0]
        while k + needle.count <= hay.count {
            if hay[k] == first, hay[k..<(k + needle.count)].elementsEqual(needle) { return k }
            k += 1
        }
        return nil
    }

    static func contains(_ s: String, _ needle: String) -> Bool {
        find(Array(s.unicodeScalars), Array(needle.unicodeScalars)) != nil
    }

    static func string(_ scalars: some Sequence<Unicode.Scalar>) -> String {
        var out = String.UnicodeScalarView()
        out.append(contentsOf: scalars)
        return String(out)
    }

    /// Python's `str.replace(old, new, count)`.
    static func replace(_ s: String, _ old: String, _ new: String, count: Int = -1) -> String {
        let hay = Array(s.unicodeScalars)
        let needle = Array(old.unicodeScalars)
        var out = String.UnicodeScalarView()
        var k = 0
        var done = 0
        if needle.isEmpty {
            // Python puts `new` between every character, and at both ends.
            for c in hay {
                if count < 0 || done < count {
                    out.append(contentsOf: new.unicodeScalars)
                    done += 1
                }
                out.append(c)
            }
            if count < 0 || done < count { out.append(contentsOf: new.unicodeScalars) }
            return String(out)
        }
        while count < 0 || done < count, let at = find(hay, needle, from: k) {
            out.append(contentsOf: hay[k..<at])
            out.append(contentsOf: new.unicodeScalars)
            k = at + needle.count
            done += 1
        }
        out.append(contentsOf: hay[k...])
        return String(out)
    }
    /// Python's `str.isspace()` for one character.
    static func isWhitespace(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: true
        default: false
        }
    }

    /// Python's `str.isprintable()` for one character: not a control, format, surrogate,
    /// private-use, unassigned or separator character (the ASCII space excepted).
    static func isPrintable(_ c: Unicode.Scalar) -> Bool {
        if c == " " { return true }
        switch c.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator, .spaceSeparator: return false
        default: return true
        }
    }

    static func strip(_ s: String, _ chars: String?, leading: Bool, trailing: Bool) -> String {
        let set = chars.map { Set($0.unicodeScalars) }
        func drop(_ c: Unicode.Scalar) -> Bool { set.map { $0.contains(c) } ?? isWhitespace(c) }
        // Only the scalars at the ends are looked at: a message's text is not copied to be
        // trimmed, nor when nothing is trimmed.
        let scalars = s.unicodeScalars
        var lo = scalars.startIndex
        var hi = scalars.endIndex
        if leading { while lo < hi, drop(scalars[lo]) { scalars.formIndex(after: &lo) } }
        if trailing {
            while hi > lo {
                let last = scalars.index(before: hi)
                guard drop(scalars[last]) else { break }
                hi = last
            }
        }
        if lo == scalars.startIndex && hi == scalars.endIndex { return s }
        return String(scalars[lo..<hi])
    }

    /// Python's `str.split()` without a separator: runs of whitespace split, none kept.
    static func splitWhitespace(_ s: String, limit: Int) -> [String] {
        var out: [String] = []
        var current = String.UnicodeScalarView()
        var inWord = false
        var scalars = s.unicodeScalars[...]
        while let c = scalars.first {
            if isWhitespace(c) {
                if inWord {
                    out.append(String(current))
                    current = String.UnicodeScalarView()
                    inWord = false
                    if limit >= 0 && out.count == limit {
                        let rest = String(String.UnicodeScalarView(scalars))
                        let tail = strip(rest, nil, leading: true, trailing: true)
                        if !tail.isEmpty { out.append(strip(rest, nil, leading: true, trailing: false)) }
                        return out
                    }
                }
            } else {
                current.append(c)
                inWord = true
            }
            scalars = scalars.dropFirst()
        }
        if inWord { out.append(String(current)) }
        return out
    }

    /// Python's `str.split(sep, maxsplit)`.
    static func split(_ s: String, separator: String, limit: Int) -> [String] {
        let hay = Array(s.unicodeScalars)
        let needle = Array(separator.unicodeScalars)
        var out: [String] = []
        var k = 0
        while limit < 0 || out.count < limit, let at = find(hay, needle, from: k) {
            out.append(string(hay[k..<at]))
            k = at + needle.count
        }
        out.append(string(hay[k...]))
        return out
    }

    /// Python's `str.title()`: each run of letters starts upper case, the rest lower.
    static func title(_ s: String) -> String {
        var out = ""
        var previousCased = false
        for c in s {
            let isLetter = c.isLetter
            out += previousCased ? c.lowercased() : c.uppercased()
            previousCased = isLetter
        }
        return out
    }

    /// Python's `str.capitalize()`.
    static func capitalize(_ s: String) -> String {
        guard let first = s.first else { return s }
        return first.uppercased() + s.dropFirst().lowercased()
    }
}
