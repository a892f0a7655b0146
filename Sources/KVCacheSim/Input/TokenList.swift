/// Reads token ids written as text: decimal integers separated by commas and/or white space.
public enum TokenList {
    /// What was wrong with a token list.
    public struct ParseError: Error, Equatable, Sendable, CustomStringConvertible {
        /// Where the list came from (a file path or `--tokens`).
        public var source: String
        /// 1-based line of the bad token (0 when the list is empty).
        public var line: Int
        /// 1-based position of the bad token in the list.
        public var position: Int
        /// What was wrong.
        public var reason: String

        public var description: String {
            line == 0 ? "\(source): \(reason)" : "\(source):\(line): token \(position): \(reason)"
        }
    }

    /// Parses `text` into token ids.
    ///
    /// - Parameters:
    ///   - text: Decimal integers in 0...UInt32.max separated by `,` or white space.
    ///   - source: Names the input in error messages.
    /// - Throws: ``ParseError`` naming the line and position of the first bad token, or saying
    ///   the list is empty.
    /// - Complexity: O(`text.utf8.count`)
    public static func parse(_ text: String, source: String) throws(ParseError) -> [UInt32] {
        var tokens: [UInt32] = []
        var line = 1
        var current: UInt64 = 0
        var digits = 0
        var bad: [UInt8] = []
        func flush() throws(ParseError) {
            if !bad.isEmpty {
                let word = String(decoding: bad, as: UTF8.self)
                throw ParseError(
                    source: source, line: line, position: tokens.count + 1,
                    reason: "'\(word)' is not a token id (a whole number in 0...\(UInt32.max))")
            }
            guard digits > 0 else { return }
            tokens.append(UInt32(current))
            current = 0
            digits = 0
        }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9") where bad.isEmpty:
                current = current * 10 + UInt64(byte - UInt8(ascii: "0"))
                digits += 1
                if current > UInt64(UInt32.max) || digits > 10 {
                    bad = Array(String(current).utf8)
                    digits = 0
                }
            case UInt8(ascii: ","), UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"):
                try flush()
            case UInt8(ascii: "\n"):
                try flush()
                line += 1
            default:
                if bad.isEmpty, digits > 0 { bad = Array(String(current).utf8); digits = 0 }
                bad.append(byte)
            }
        }
        try flush()
        if tokens.isEmpty {
            throw ParseError(source: source, line: 0, position: 0, reason: "no tokens found (the list is empty)")
        }
        return tokens
    }
}
