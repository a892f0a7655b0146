import KVCache

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads Mooncake's JSONL request traces: one JSON object per line with `timestamp` (ms),
/// `input_length`, `output_length` and `hash_ids` (the request's prefix block ids).
///
/// The reader streams the file in 1 MiB chunks through a hand-written JSON scanner (no
/// Foundation JSON); each byte is scanned once however long its line. Other keys are skipped
/// (nested at most ``maximumNesting`` deep). Every problem is an error naming file, line and
/// field; nothing is dropped silently. Numbers are range-checked: `timestamp` is a finite
/// number of milliseconds in ±``maximumTimestamp``, lengths are whole numbers in
/// `0 ... maximumLength`.
public struct TraceReader: Sendable {
    /// The largest `input_length` or `output_length` accepted (2³² tokens).
    public static let maximumLength = 1 << 32
    /// The largest timestamp magnitude accepted, in milliseconds (about 31,700 years).
    public static let maximumTimestamp = 1e15
    /// The deepest nesting of arrays and objects inside an unknown key.
    public static let maximumNesting = 64

    /// Reading options.
    public struct Options: Sendable, Hashable {
        /// Tokens per block: a request may have at most `ceil(input_length / blockSize)` blocks.
        public var blockSize: Int
        /// Reorder requests by timestamp (stable) instead of rejecting a timestamp that goes back.
        public var sort: Bool

        /// Creates options (block size 512, no sorting).
        public init(blockSize: Int = 512, sort: Bool = false) {
            self.blockSize = blockSize
            self.sort = sort
        }
    }

    /// The options in force.
    public var options: Options

    /// Creates a reader.
    public init(options: Options = Options()) { self.options = options }

    /// Reads the trace at `path`.
    ///
    /// - Throws: ``TraceError`` naming the file, line and field of the first problem.
    public func read(path: String) throws(TraceError) -> Trace {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            let reason = errno
            throw TraceError(
                file: path, line: 0, message: reason == ENOENT ? "no such file" : "cannot open the file (\(_describe(reason)))")
        }
        defer { close(fd) }
        var parser = _Parser(source: path, options: options)
        var status = stat()
        if fstat(fd, &status) == 0, status.st_size > 0 { parser.reserve(bytes: Int(status.st_size)) }
        // `buffer[0..<filled]` is the start of an unfinished line, then each newly read chunk;
        // only the new bytes are searched for the line end, so a long line costs one scan
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var filled = 0
        while true {
            if filled == buffer.count { buffer.append(contentsOf: repeatElement(0, count: buffer.count)) }
            let n = buffer.withUnsafeMutableBytes { _read(fd, $0.baseAddress! + filled, $0.count - filled) }
            if n < 0 {
                let reason = errno
                if reason == EINTR { continue }
                throw TraceError(file: path, line: parser.line, message: "read failed (\(_describe(reason)))")
            }
            if n == 0 { break }
            let scanFrom = filled
            filled += n
            var start = 0
            try buffer.withUnsafeBufferPointer { (buf: UnsafeBufferPointer<UInt8>) throws(TraceError) in
                let base = buf.baseAddress!
                var from = scanFrom
                while from < filled, let found = memchr(base + from, 0x0A, filled - from) {
                    let i = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
                    try parser.parseLine(UnsafeBufferPointer(rebasing: buf[start..<i]))
                    start = i + 1
                    from = i + 1
                }
            }
            if start > 0 {
                buffer.withUnsafeMutableBufferPointer { b in
                    _ = memmove(b.baseAddress!, b.baseAddress! + start, filled - start)
                }
                filled -= start
            }
        }
        if filled > 0 {
            try buffer.withUnsafeBufferPointer { (b: UnsafeBufferPointer<UInt8>) throws(TraceError) in
                try parser.parseLine(UnsafeBufferPointer(rebasing: b[0..<filled]), last: true)
            }
        }
        return try parser.finish()
    }

    /// Reads a trace from text (the same format), naming it `source` in errors.
    ///
    /// - Throws: ``TraceError``.
    public func read(text: String, source: String = "<text>") throws(TraceError) -> Trace {
        var parser = _Parser(source: source, options: options)
        var bytes = Array(text.utf8)
        parser.reserve(bytes: bytes.count)
        let endsWithNewline = bytes.last == UInt8(ascii: "\n")
        if !endsWithNewline && !bytes.isEmpty { bytes.append(UInt8(ascii: "\n")) }
        try bytes.withUnsafeBufferPointer { (buf: UnsafeBufferPointer<UInt8>) throws(TraceError) in
            var start = 0
            for i in 0..<buf.count where buf[i] == UInt8(ascii: "\n") {
                try parser.parseLine(UnsafeBufferPointer(rebasing: buf[start..<i]), last: i == buf.count - 1 && !endsWithNewline)
                start = i + 1
            }
        }
        return try parser.finish()
    }
}

/// The line scanner behind ``TraceReader``.
struct _Parser {
    let source: String
    let options: TraceReader.Options
    var trace: Trace
    var line = 0
    var lastTimestamp = -Double.infinity
    var outOfOrder = false
    var ids: [BlockHash] = []

    init(source: String, options: TraceReader.Options) {
        self.source = source
        self.options = options
        trace = Trace(blockSize: options.blockSize, source: source)
    }

    /// Reserves room for the requests and block ids of a trace file of `bytes` bytes, so that
    /// the arrays are seldom copied as they grow: no request line is shorter than 64 bytes, and
    /// a block id with its separator takes about eight.
    mutating func reserve(bytes: Int) {
        trace.blocks.reserveCapacity(bytes / 8)
        trace.records.reserveCapacity(bytes / 64)
    }

    func fail(_ field: String?, _ message: String) -> TraceError {
        TraceError(file: source, line: line, field: field, message: message)
    }

    mutating func finish() throws(TraceError) -> Trace {
        if trace.records.isEmpty { throw TraceError(file: source, line: 0, message: "the trace has no requests") }
        if outOfOrder {
            let order = trace.records.indices.sorted { (a, b) in
                let ra = trace.records[a], rb = trace.records[b]
                return ra.timestamp != rb.timestamp ? ra.timestamp < rb.timestamp : a < b
            }
            var sorted = Trace(blockSize: trace.blockSize, source: trace.source)
            for i in order {
                sorted.append(
                    timestamp: trace.records[i].timestamp, inputLength: trace.records[i].inputLength,
                    outputLength: trace.records[i].outputLength, chain: trace.chain(i))
            }
            return sorted
        }
        return trace
    }

    mutating func parseLine(_ b: UnsafeBufferPointer<UInt8>, last: Bool = false) throws(TraceError) {
        line += 1
        var i = 0
        let n = b.count
        Self.skipSpace(b, &i)
        if i == n { throw fail(nil, "empty line (every line must be one JSON request object)") }
        let truncated = last ? " (the last line is incomplete: truncated file?)" : ""
        guard b[i] == UInt8(ascii: "{") else { throw fail(nil, "malformed JSON: expected '{' at column \(i + 1)\(truncated)") }
        i += 1
        var timestamp: Double?
        var input: Int?
        var output: Int?
        var haveIDs = false
        ids.removeAll(keepingCapacity: true)
        var first = true
        while true {
            Self.skipSpace(b, &i)
            guard i < n else { throw fail(nil, "malformed JSON: the object is not closed\(truncated)") }
            if b[i] == UInt8(ascii: "}") {
                if !first { throw fail(nil, "malformed JSON: trailing ',' before '}' at column \(i + 1)") }
                i += 1
                break
            }
            let keyStart = i + 1
            let keyEscaped = try skipString(b, &i, truncated)
            let field = keyEscaped ? .other : Field(UnsafeBufferPointer(rebasing: b[keyStart..<(i - 1)]))
            let key = field.name ?? Self.unescape(b, keyStart..<(i - 1), keyEscaped)
            Self.skipSpace(b, &i)
            guard i < n, b[i] == UInt8(ascii: ":") else { throw fail(key, "malformed JSON: expected ':' after the key\(truncated)") }
            i += 1
            Self.skipSpace(b, &i)
            switch field {
            case .timestamp:
                let v = try scanNumber(b, &i, key, truncated)
                guard v.double.isFinite, abs(v.double) <= TraceReader.maximumTimestamp else {
                    throw fail(key, "timestamp \(v.text(b)) is outside ±1e15 ms")
                }
                timestamp = v.double
            case .inputLength, .outputLength:
                let v = try scanNumber(b, &i, key, truncated)
                guard let int = v.integer, int <= TraceReader.maximumLength else {
                    throw fail(key, "expected a whole number in 0...\(TraceReader.maximumLength), got \(v.text(b))")
                }
                guard int >= 0 else { throw fail(key, "length must not be negative, got \(int)") }
                if field == .inputLength { input = int } else { output = int }
            case .hashIDs:
                try scanIDs(b, &i, truncated)
                haveIDs = true
            case .other:
                try skipValue(b, &i, key, truncated, depth: 0)
            }
            Self.skipSpace(b, &i)
            guard i < n else { throw fail(nil, "malformed JSON: the object is not closed\(truncated)") }
            if b[i] == UInt8(ascii: ",") {
                i += 1; first = false; Self.skipSpace(b, &i);
                if i < n && b[i] == UInt8(ascii: "}") { throw fail(nil, "malformed JSON: trailing ',' before '}' at column \(i + 1)") };
                continue
            }
            if b[i] == UInt8(ascii: "}") { i += 1; break }
            throw fail(key, "malformed JSON: expected ',' or '}' at column \(i + 1)")
        }
        Self.skipSpace(b, &i)
        if i != n { throw fail(nil, "malformed JSON: unexpected text after the object at column \(i + 1)") }
        guard let timestamp else { throw fail("timestamp", "missing field") }
        guard let input else { throw fail("input_length", "missing field") }
        guard let output else { throw fail("output_length", "missing field") }
        guard haveIDs else { throw fail("hash_ids", "missing field") }
        guard !ids.isEmpty else { throw fail("hash_ids", "empty: a request needs at least one block") }
        let maxBlocks = input / options.blockSize + (input % options.blockSize == 0 ? 0 : 1)
        guard ids.count <= maxBlocks else {
            throw fail(
                "hash_ids", "\(ids.count) blocks but input_length \(input) fills at most \(maxBlocks) blocks of \(options.blockSize) tokens"
            )
        }
        if timestamp < lastTimestamp {
            guard options.sort else {
                throw fail(
                    "timestamp",
                    "\(Self.format(timestamp)) is earlier than the previous request's \(Self.format(lastTimestamp)) (use --sort to reorder)"
                )
            }
            outOfOrder = true
        }
        lastTimestamp = max(lastTimestamp, timestamp)
        trace.append(timestamp: timestamp, inputLength: input, outputLength: output, chain: ids)
    }

    /// Moves `i` past spaces, tabs and carriage returns.
    @inline(__always)
    static func skipSpace(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int) {
        while i < b.count, b[i] == 0x20 || b[i] == 0x09 || b[i] == 0x0D { i += 1 }
    }

    static func format(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : String(x)
    }

    /// The four keys a request line needs, told apart by their bytes (no string is made).
    enum Field {
        case timestamp, inputLength, outputLength, hashIDs, other

        init(_ key: UnsafeBufferPointer<UInt8>) {
            func equals(_ name: StaticString) -> Bool {
                name.utf8CodeUnitCount == key.count && memcmp(name.utf8Start, key.baseAddress!, key.count) == 0
            }
            switch key.count {
            case 9 where equals("timestamp"): self = .timestamp
            case 12 where equals("input_length"): self = .inputLength
            case 13 where equals("output_length"): self = .outputLength
            case 8 where equals("hash_ids"): self = .hashIDs
            default: self = .other
            }
        }

        /// The key's text, for the four known keys.
        var name: String? {
            switch self {
            case .timestamp: "timestamp"
            case .inputLength: "input_length"
            case .outputLength: "output_length"
            case .hashIDs: "hash_ids"
            case .other: nil
            }
        }
    }

    /// Moves `i` past the quoted string that starts there; whether it held an escape.
    func skipString(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int, _ truncated: String) throws(TraceError) -> Bool {
        guard i < b.count, b[i] == UInt8(ascii: "\"") else {
            throw fail(nil, "malformed JSON: expected a quoted key at column \(i + 1)\(truncated)")
        }
        i += 1
        var escaped = false
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "\\") { escaped = true; i += 2; continue }
            if c == UInt8(ascii: "\"") {
                i += 1
                return escaped
            }
            i += 1
        }
        throw fail(nil, "malformed JSON: unterminated string\(truncated)")
    }

    /// The text of the string whose contents are `range`, escapes' backslashes dropped.
    static func unescape(_ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ escaped: Bool) -> String {
        let s = String(decoding: UnsafeBufferPointer(rebasing: b[range]), as: UTF8.self)
        return escaped ? s.replacing("\\", with: "") : s
    }

    struct Number {
        /// Where the number's text is in its line.
        var range: Range<Int>
        var integer: Int?
        var double: Double
        func text(_ b: UnsafeBufferPointer<UInt8>) -> String { String(decoding: UnsafeBufferPointer(rebasing: b[range]), as: UTF8.self) }
    }

    func scanNumber(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int, _ field: String, _ truncated: String) throws(TraceError) -> Number {
        let start = i
        let n = b.count
        var negative = false
        if i < n, b[i] == UInt8(ascii: "-") { negative = true; i += 1 }
        var value = 0
        var digits = 0
        var overflow = false
        while i < n, b[i] >= 0x30, b[i] <= 0x39 {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int(b[i] - 0x30))
            overflow = overflow || o1 || o2
            value = s
            digits += 1
            i += 1
        }
        var isInteger = true
        if i < n, b[i] == UInt8(ascii: ".") {
            isInteger = false
            i += 1
            while i < n, b[i] >= 0x30, b[i] <= 0x39 { i += 1 }
        }
        if i < n, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
            isInteger = false
            i += 1
            if i < n, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
            while i < n, b[i] >= 0x30, b[i] <= 0x39 { i += 1 }
        }
        guard digits > 0 else {
            let end = min(b.count, start + 12)
            var shown = String(decoding: UnsafeBufferPointer(rebasing: b[start..<end]), as: UTF8.self)
            if let cut = shown.firstIndex(where: { $0 == "," || $0 == "}" }) { shown = String(shown[..<cut]) }
            throw fail(field, "expected a number, got \(shown.isEmpty ? "nothing" : shown)\(truncated)")
        }
        let integer = isInteger && !overflow ? (negative ? -value : value) : nil
        let double =
            integer.map(Double.init) ?? Double(String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)) ?? .nan
        return Number(range: start..<i, integer: integer, double: double)
    }

    mutating func scanIDs(_ b: UnsafeBufferPointer<UInt8>, _ index: inout Int, _ truncated: String) throws(TraceError) {
        // a local cursor, written back on every exit, keeps the hot loop in registers
        var i = index
        defer { index = i }
        let n = b.count
        guard i < n, b[i] == UInt8(ascii: "[") else { throw fail("hash_ids", "expected an array of block ids\(truncated)") }
        i += 1
        while i < n, b[i] == 0x20 { i += 1 }
        if i < n, b[i] == UInt8(ascii: "]") { i += 1; return }
        while true {
            while i < n, b[i] == 0x20 || b[i] == 0x09 { i += 1 }
            var value: UInt64 = 0
            let start = i
            var more = true
            if n - i >= 8 {
                let word = UInt64(littleEndian: UnsafeRawPointer(b.baseAddress! + i).loadUnaligned(as: UInt64.self))
                let (v, count) = Self.leadingDigits(word)
                value = v
                i += count
                more = count == 8
            }
            while more, i < n, b[i] &- 0x30 < 10 {
                value = value &* 10 &+ UInt64(b[i] &- 0x30)
                i += 1
            }
            let digits = i - start
            // 19 digits always fit in 64 bits; only a longer run needs checked arithmetic
            if digits > 19 {
                value = 0
                for d in b[start..<i] {
                    let (m, o1) = value.multipliedReportingOverflow(by: 10)
                    let (s, o2) = m.addingReportingOverflow(UInt64(d &- 0x30))
                    if o1 || o2 { throw fail("hash_ids", "block id at position \(ids.count) does not fit in 64 bits") }
                    value = s
                }
            }
            if digits == 0 || (i < n && (b[i] == UInt8(ascii: ".") || b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E"))) {
                var end = start
                while end < n, b[end] != UInt8(ascii: ","), b[end] != UInt8(ascii: "]") { end += 1 }
                let shown = String(decoding: UnsafeBufferPointer(rebasing: b[start..<end]), as: UTF8.self)
                if end >= n && !truncated.isEmpty { throw fail("hash_ids", "malformed JSON: unterminated array\(truncated)") }
                throw fail(
                    "hash_ids", "block id at position \(ids.count) must be a non-negative integer, got \(shown.isEmpty ? "nothing" : shown)"
                )
            }
            ids.append(BlockHash(value))
            while i < n, b[i] == 0x20 || b[i] == 0x09 { i += 1 }
            guard i < n else { throw fail("hash_ids", "malformed JSON: unterminated array\(truncated)") }
            if b[i] == UInt8(ascii: ",") { i += 1; continue }
            if b[i] == UInt8(ascii: "]") { i += 1; return }
            throw fail("hash_ids", "malformed JSON: expected ',' or ']' at column \(i + 1)")
        }
    }

    /// The leading ASCII digits of the eight bytes in `word` (its first byte lowest): their
    /// value and how many there are, found without a branch per digit.
    @inline(__always)
    static func leadingDigits(_ word: UInt64) -> (value: UInt64, count: Int) {
        let high: UInt64 = 0xF0F0_F0F0_F0F0_F0F0, zeros: UInt64 = 0x3030_3030_3030_3030
        // a byte is a digit when its high nibble is 3 and adding 6 keeps it so
        let notDigit = ((word & high) ^ zeros) | (((word &+ 0x0606_0606_0606_0606) & high) ^ zeros)
        let count = notDigit.trailingZeroBitCount >> 3
        guard count > 0 else { return (0, 0) }
        // the digits' values, moved up so that missing leading digits read as zeros; bytes past
        // them borrow only from higher bytes, which the shift drops
        var x = (word &- zeros) << UInt64(64 - 8 * count)
        x = x &* 10 &+ (x >> 8)
        let pairs: UInt64 = 0x0000_00FF_0000_00FF
        x = ((x & pairs) &* (100 + (1_000_000 << 32)) &+ ((x >> 16) & pairs) &* (1 + (10_000 << 32))) >> 32
        return (x, count)
    }

    func skipValue(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int, _ field: String, _ truncated: String, depth: Int) throws(TraceError) {
        guard depth < TraceReader.maximumNesting else {
            throw fail(field, "nested more than \(TraceReader.maximumNesting) levels deep")
        }
        let n = b.count
        guard i < n else { throw fail(field, "malformed JSON: missing value\(truncated)") }
        switch b[i] {
        case UInt8(ascii: "\""):
            _ = try skipString(b, &i, truncated)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let close = b[i] == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
            let isObject = close == UInt8(ascii: "}")
            i += 1
            while true {
                while i < n, b[i] == 0x20 || b[i] == 0x09 { i += 1 }
                guard i < n else { throw fail(field, "malformed JSON: unterminated value\(truncated)") }
                if b[i] == close { i += 1; return }
                if isObject {
                    _ = try skipString(b, &i, truncated)
                    while i < n, b[i] == 0x20 { i += 1 }
                    guard i < n, b[i] == UInt8(ascii: ":") else { throw fail(field, "malformed JSON: expected ':'\(truncated)") }
                    i += 1
                    while i < n, b[i] == 0x20 { i += 1 }
                }
                try skipValue(b, &i, field, truncated, depth: depth + 1)
                while i < n, b[i] == 0x20 || b[i] == 0x09 { i += 1 }
                if i < n, b[i] == UInt8(ascii: ",") { i += 1 }
            }
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
            for word in ["true", "false", "null"] {
                let w = Array(word.utf8)
                if i + w.count <= n && Array(b[i..<(i + w.count)]) == w { i += w.count; return }
            }
            throw fail(field, "malformed JSON: unexpected value at column \(i + 1)\(truncated)")
        default:
            _ = try scanNumber(b, &i, field, truncated)
        }
    }
}

/// The C library's text for an `errno` value.
private func _describe(_ code: Int32) -> String { String(cString: strerror(code)) }

/// `read(2)`, named apart from ``TraceReader/read(path:)``.
private func _read(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int { read(fd, buffer, count) }
