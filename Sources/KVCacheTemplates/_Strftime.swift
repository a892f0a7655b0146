import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `strftime_now(format)`: the C library's `strftime` over the local time, as Python's
/// `datetime.now().strftime` calls it.
enum _Strftime {
    static func format(_ format: String, _ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        localtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 1024)
        let n = format.withCString { strftime(&buffer, buffer.count, $0, &parts) }
        return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
