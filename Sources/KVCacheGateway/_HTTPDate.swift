import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The `Date` header's value (RFC 9110's IMF-fixdate), made once per second.
enum _HTTPDate {
    private static let cache = Mutex<(second: Int, value: String)>((-1, ""))

    /// Now, as `Sun, 06 Nov 1994 08:49:37 GMT`.
    /// - Complexity: O(1); formats at most once per second.
    static func now() -> String {
        let second = time(nil)
        return cache.withLock { c in
            if c.second != second {
                c = (second, format(second))
            }
            return c.value
        }
    }

    /// `seconds` since the epoch, formatted.
    static func format(_ seconds: Int) -> String {
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        var out = [CChar](repeating: 0, count: 40)
        let n = strftime(&out, out.count, "%a, %d %b %Y %H:%M:%S GMT", &parts)
        return String(decoding: out[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
