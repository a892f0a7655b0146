/// GPT-2's map from bytes to printable characters, in which byte-level vocabularies spell
/// their tokens: the printable bytes stand for themselves, the other 68 for the characters
/// from U+0100 on, in byte order.
enum _ByteLevelAlphabet {
    /// The character of each byte.
    static let characters: [UInt32] = {
        var map = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            if (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b) {
                map[b] = UInt32(b)
            } else {
                map[b] = next
                next += 1
            }
        }
        return map
    }()

    /// The byte each character of the alphabet stands for.
    static let bytes: [UInt32: UInt8] = {
        var inverse: [UInt32: UInt8] = [:]
        for (b, c) in characters.enumerated() { inverse[c] = UInt8(b) }
        return inverse
    }()

    /// The bytes a token spelled in the alphabet stands for, or `nil` when it has a character
    /// outside it (a token only an added-token match can produce).
    static func decode(_ token: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(token.unicodeScalars.count)
        for s in token.unicodeScalars {
            guard let b = bytes[s.value] else { return nil }
            out.append(b)
        }
        return out
    }

}
