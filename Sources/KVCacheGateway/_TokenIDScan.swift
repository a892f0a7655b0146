import Foundation

/// The list of token ids that is member `member` of a top-level JSON object, or `nil` when the
/// text is not plainly that shape.
///
/// Members before and after it are skipped by their extent (strings, numbers, literals, nested
/// lists and objects) and not checked further: a caller that needs the rest valid decodes it
/// too. Each id must be a run of digits, without a leading zero, that fits a `UInt32`; the
/// member must occur once. What this returns is what `JSONDecoder` reads as `[UInt32]` there.
///
/// - Complexity: O(*n*) in the length of the text, one pass.
func _scanTokenIDs(_ bytes: UnsafeRawBufferPointer, member: StaticString) -> [UInt32]? {
    var i = 0
    let n = bytes.count
    func skipSpace() { while i < n, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 } }
    func expect(_ c: UInt8) -> Bool {
        skipSpace()
        guard i < n, bytes[i] == c else { return false }
        i += 1
        return true
    }
    /// Skips a string whose opening quote is at `i`; the raw bytes between the quotes.
    func string() -> Range<Int>? {
        guard i < n, bytes[i] == UInt8(ascii: "\"") else { return nil }
        let start = i + 1
        i = start
        while i < n {
            switch bytes[i] {
            case UInt8(ascii: "\""):
                i += 1
                return start..<(i - 1)
            case UInt8(ascii: "\\"): i += 2
            default: i += 1
            }
        }
        return nil
    }
    /// Skips one value of any kind (not checked beyond its extent: only `tokens` is read).
    func value() -> Bool {
        skipSpace()
        guard i < n else { return false }
        switch bytes[i] {
        case UInt8(ascii: "\""): return string() != nil
        case UInt8(ascii: "["), UInt8(ascii: "{"):
            var depth = 0
            while i < n {
                switch bytes[i] {
                case UInt8(ascii: "\""):
                    guard string() != nil else { return false }
                    continue
                case UInt8(ascii: "["), UInt8(ascii: "{"): depth += 1
                case UInt8(ascii: "]"), UInt8(ascii: "}"):
                    depth -= 1
                    if depth == 0 {
                        i += 1
                        return true
                    }
                default: break
                }
                i += 1
            }
            return false
        default:  // a number or a literal: up to the next delimiter
            let start = i
            while i < n, !_isDelimiter(bytes[i]) { i += 1 }
            return i > start
        }
    }
    func ids() -> [UInt32]? {
        guard expect(UInt8(ascii: "[")) else { return nil }
        var out: [UInt32] = []
        out.reserveCapacity(max(16, (n - i) / 6))
        if expect(UInt8(ascii: "]")) { return out }
        while true {
            skipSpace()
            var v: UInt64 = 0
            let start = i
            while i < n, bytes[i] &- 0x30 < 10 {
                v = v &* 10 &+ UInt64(bytes[i] &- 0x30)
                i += 1
                if i - start > 10 { return nil }
            }
            // No sign, fraction or exponent; no leading zero but "0" itself.
            guard i > start, v <= UInt32.max, bytes[start] != 0x30 || i - start == 1 else { return nil }
            out.append(UInt32(v))
            if expect(UInt8(ascii: ",")) { continue }
            return expect(UInt8(ascii: "]")) ? out : nil
        }
    }

    guard expect(UInt8(ascii: "{")) else { return nil }
    var found: [UInt32]?
    if expect(UInt8(ascii: "}")) { return nil }
    while true {
        skipSpace()
        guard let key = string(), expect(UInt8(ascii: ":")) else { return nil }
        let isMember =
            key.count == member.utf8CodeUnitCount
            && member.withUTF8Buffer { name in zip(bytes[key], name).allSatisfy { $0 == $1 } }
        if isMember {
            guard found == nil, let list = ids() else { return nil }
            found = list
        } else {
            guard value() else { return nil }
        }
        if expect(UInt8(ascii: ",")) { continue }
        guard expect(UInt8(ascii: "}")) else { return nil }
        skipSpace()
        return i == n ? found : nil
    }
}

/// Whether `c` ends a number or a literal in JSON text.
@inline(__always)
private func _isDelimiter(_ c: UInt8) -> Bool {
    c == UInt8(ascii: ",") || c == UInt8(ascii: "}") || c == UInt8(ascii: "]") || c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09
}
