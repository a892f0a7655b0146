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
    var buffer = [CChar](repeating: 0, count: 352)
    let count = withVaList([Int32(clamping: places), value]) { vsnprintf(&buffer, buffer.count, "%.*f", $0) }
    guard count >= 0 else { return String(value) }
    let written = buffer.prefix(min(Int(count), buffer.count - 1)).map { UInt8(bitPattern: $0) }
    return String(decoding: written, as: UTF8.self)
}

extension StringProtocol {
    /// The text without leading and trailing white space.
    public var trimmed: String {
        guard let first = firstIndex(where: { !$0.isWhitespace }) else { return "" }
        let last = lastIndex(where: { !$0.isWhitespace })!
        return String(self[first...last])
    }
}
