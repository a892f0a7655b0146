/// The character classes the pre-tokenizer patterns of byte-level BPE tokenizers use, read off
/// UTF-8 bytes: `\p{L}`, `\p{N}`, `\s` (White_Space), and everything else.
enum _ScalarClass: UInt8 {
    case letter, number, space, other

    /// The class of `scalar`.
    @inline(__always)
    static func of(_ scalar: UInt32) -> _ScalarClass {
        // ASCII by arithmetic rather than a table: a global table is checked for its lazy
        // initialisation at every use, and this runs once per byte of a prompt.
        if scalar < 128 {
            let b = UInt8(truncatingIfNeeded: scalar)
            if (b | 0x20) &- UInt8(ascii: "a") < 26 { return .letter }
            if b &- UInt8(ascii: "0") < 10 { return .number }
            if b == 0x20 || b &- 0x09 < 5 { return .space }
            return .other
        }
        guard let s = Unicode.Scalar(scalar) else { return .other }
        if s.properties.isWhitespace { return .space }
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return .other
        }
    }
}

/// The scalars of a valid UTF-8 buffer, decoded one at a time from any scalar boundary.
struct _UTF8Cursor {
    let bytes: UnsafeBufferPointer<UInt8>

    /// The scalar starting at `i` and the index just past it.
    @inline(__always)
    func scalar(at i: Int) -> (value: UInt32, end: Int) {
        let b0 = UInt32(bytes[i])
        if b0 < 0x80 { return (b0, i + 1) }
        if b0 < 0xE0 { return ((b0 & 0x1F) << 6 | UInt32(bytes[i + 1] & 0x3F), i + 2) }
        if b0 < 0xF0 {
            return ((b0 & 0x0F) << 12 | UInt32(bytes[i + 1] & 0x3F) << 6 | UInt32(bytes[i + 2] & 0x3F), i + 3)
        }
        return (
            (b0 & 0x07) << 18 | UInt32(bytes[i + 1] & 0x3F) << 12 | UInt32(bytes[i + 2] & 0x3F) << 6
                | UInt32(bytes[i + 3] & 0x3F), i + 4
        )
    }

    /// The class of the scalar at `i` (`nil` at the end) and the index past it.
    @inline(__always)
    func classAt(_ i: Int) -> (class: _ScalarClass, value: UInt32, end: Int)? {
        guard i < bytes.count else { return nil }
        let (v, e) = scalar(at: i)
        return (.of(v), v, e)
    }

    /// The index past the run of scalars of class `c` that starts at `i`, with at most
    /// `limit` scalars.
    @inline(__always)
    func run(of c: _ScalarClass, from i: Int, limit: Int = .max) -> Int {
        var j = i
        var n = 0
        while n < limit, let (k, _, e) = classAt(j), k == c {
            j = e
            n += 1
        }
        return j
    }
}
