#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds `"cached_tokens": N` and `"prompt_tokens": N` in a response as its bytes stream by,
/// in JSON bodies and SSE `data:` lines alike, with constant memory and no parsing of the rest.
///
/// A key is matched with its quotes, so `"prompt_tokens_details"` is not `"prompt_tokens"`, and
/// text inside JSON strings can never match: its quotes are escaped. The last value seen wins
/// (a stream's usage comes in its final chunk).
struct _UsageScanner: Sendable {
    struct _Key: Sendable {
        let pattern: [UInt8]
        var matched = 0
        var readingNumber = false
        var afterColon = false
        var number = 0
        var digits = 0
        var value: Int?

        /// `pattern` is the key with its quotes, made once (a scanner is made per request).
        init(pattern: [UInt8]) { self.pattern = pattern }

        mutating func feed(_ byte: UInt8) {
            if readingNumber {
                switch byte {
                case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                    if digits > 0 { finish() }
                    return
                case UInt8(ascii: ":") where !afterColon:
                    afterColon = true
                    return
                case UInt8(ascii: "0")...UInt8(ascii: "9") where afterColon && digits < 18:
                    number = number * 10 + Int(byte - UInt8(ascii: "0"))
                    digits += 1
                    return
                default:
                    if digits > 0 { finish() } else { reset() }
                }
            }
            if byte == pattern[matched] {
                matched += 1
                if matched == pattern.count {
                    matched = 0
                    readingNumber = true
                }
            } else {
                matched = byte == pattern[0] ? 1 : 0
            }
        }

        /// Neither partway through the key nor reading its number: only a quote can change
        /// that, so any other byte may be passed over unread.
        var isIdle: Bool { matched == 0 && !readingNumber }

        mutating func finish() {
            value = number
            reset()
        }

        mutating func reset() {
            readingNumber = false
            afterColon = false
            number = 0
            digits = 0
        }
    }

    static let cachedPattern = Array(#""cached_tokens""#.utf8)
    static let promptPattern = Array(#""prompt_tokens""#.utf8)
    var cached = _Key(pattern: cachedPattern)
    var prompt = _Key(pattern: promptPattern)

    /// The engine's reported cached prompt tokens, once seen.
    var cachedTokens: Int? { cached.value }
    /// The engine's reported prompt tokens, once seen.
    var promptTokens: Int? { prompt.value }

    mutating func feed(_ bytes: some Sequence<UInt8>) {
        let contiguous: Void? = bytes.withContiguousStorageIfAvailable { feed(contiguous: $0) }
        guard contiguous == nil else { return }
        for b in bytes {
            cached.feed(b)
            prompt.feed(b)
        }
    }

    /// Feeds contiguous bytes, going from quote to quote with `memchr` while neither key is
    /// under way: an answer's text and its other fields are passed over, not stepped through.
    private mutating func feed(contiguous bytes: UnsafeBufferPointer<UInt8>) {
        guard var p = bytes.baseAddress else { return }
        let end = p + bytes.count
        while p < end {
            if cached.isIdle && prompt.isIdle {
                guard let quote = memchr(p, Int32(UInt8(ascii: "\"")), end - p) else { return }
                p = UnsafePointer(quote.assumingMemoryBound(to: UInt8.self))
            }
            cached.feed(p.pointee)
            prompt.feed(p.pointee)
            p += 1
        }
    }
}
