#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// The command-line programs keep to the C library and FoundationEssentials: full Foundation
// (and the ICU data behind it) would add its loading time to every short run.

/// `value` in fixed notation with `places` decimals, exactly as C's `printf("%.*f")` writes it.
public func fixed(_ value: Double, _ places: Int) -> String {
    let places = Int32(clamping: places)
    var buffer = [CChar](repeating: 0, count: 64)
    while true {
        let count = withVaList([places, value]) { vsnprintf(&buffer, buffer.count, "%.*f", $0) }
        guard count >= 0 else { return String(value) }
        if Int(count) < buffer.count {
            return String(decoding: buffer.prefix(Int(count)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        buffer = [CChar](repeating: 0, count: Int(count) + 1)
    }
}

extension StringProtocol {
    /// The text right-aligned in `width` columns (unchanged when it is wider).
    public func rightAligned(_ width: Int) -> String { String(repeating: " ", count: Swift.max(0, width - count)) + self }

    /// The text without leading and trailing white space.
    public var trimmed: String {
        guard let first = firstIndex(where: { !$0.isWhitespace }) else { return "" }
        let last = lastIndex(where: { !$0.isWhitespace })!
        return String(self[first...last])
    }
}
