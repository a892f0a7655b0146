import Foundation
import KVCache

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
        guard let handle = FileHandle(forReadingAtPath: path) else {
            let exists = FileManager.default.fileExists(atPath: path)
            throw TraceError(file: path, line: 0, message: exists ? "cannot open the file" : "no such file")
        }
        defer { try? handle.close() }
        var parser = _Parser(source: path, options: options)
        // bytes not yet parsed (the start of an unfinished line), then each new chunk; only
        // the new bytes are searched for the line end, so a long line costs one scan
        var pending: [UInt8] = []
        while true {
            let chunk: Data
            do { chunk = try handle.read(upToCount: 1 << 20) ?? Data() } catch {
                throw TraceError(file: path, line: parser.line, message: "read failed: \(error)")
            }
            if chunk.isEmpty { break }
            let scanFrom = pending.count
            pending.append(contentsOf: chunk)
            var start = 0
            try pending.withUnsafeBufferPointer { (buf: UnsafeBufferPointer<UInt8>) throws(TraceError) in
                for i in scanFrom..<buf.count where buf[i] == UInt8(ascii: "\n") {
                    try parser.parseLine(UnsafeBufferPointer(rebasing: buf[start..<i]))
                    start = i + 1
                }
            }
            if start > 0 { pending.removeFirst(start) }
        }
        if !pending.isEmpty {
            try pending.withUnsafeBufferPointer { (b: UnsafeBufferPointer<UInt8>) throws(TraceError) in try parser.parseLine(b, last: true)
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
        trace.records.reserveCapacity(16_384)
        trace.blocks.reserveCapacity(1 << 18)
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
        @inline(__always) func skipSpace() { while i < n, b[i] == 0x20 || b[i] == 0x09 || b[i] == 0x0D { i += 1 } }
        skipSpace()
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
            skipSpace()
            guard i < n else { throw fail(nil, "malformed JSON: the object is not closed\(truncated)") }
            if b[i] == UInt8(ascii: "}") {
                if !first { throw fail(nil, "malformed JSON: trailing ',' before '}' at column \(i + 1)") }
                i += 1
                break
            }
            let key = try scanString(b, &i, truncated)
            skipSpace()
            guard i < n, b[i] == UInt8(ascii: ":") else { throw fail(key, "malformed JSON: expected ':' after the key\(truncated)") }
            i += 1
            skipSpace()
            switch key {
            case "timestamp":
                let v = try scanNumber(b, &i, key, truncated)
                guard v.double.isFinite, abs(v.double) <= TraceReader.maximumTimestamp else {
                    throw fail(key, "timestamp \(v.text) is outside ±1e15 ms")
                }
                timestamp = v.double
            case "input_length", "output_length":
                let v = try scanNumber(b, &i, key, truncated)
                guard let int = v.integer, int <= TraceReader.maximumLength else {
                    throw fail(key, "expected a whole number in 0...\(TraceReader.maximumLength), got \(v.text)")
                }
                guard int >= 0 else { throw fail(key, "length must not be negative, got \(int)") }
                if key == "input_length" { input = int } else { output = int }
            case "hash_ids":
                try scanIDs(b, &i, truncated)
                haveIDs = true
            default:
                try skipValue(b, &i, key, truncated, depth: 0)
            }
            skipSpace()
            guard i < n else { throw fail(nil, "malformed JSON: the object is not closed\(truncated)") }
            if b[i] == UInt8(ascii: ",") {
                i += 1; first = false; skipSpace();
                if i < n && b[i] == UInt8(ascii: "}") { throw fail(nil, "malformed JSON: trailing ',' before '}' at column \(i + 1)") };
                continue
            }
            if b[i] == UInt8(ascii: "}") { i += 1; break }
            throw fail(key, "malformed JSON: expected ',' or '}' at column \(i + 1)")
        }
        skipSpace()
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

    static func format(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : String(x)
    }

    func scanString(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int, _ truncated: String) throws(TraceError) -> String {
        guard i < b.count, b[i] == UInt8(ascii: "\"") else {
            throw fail(nil, "malformed JSON: expected a quoted key at column \(i + 1)\(truncated)")
        }
        i += 1
        let start = i
        var escaped = false
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "\\") { escaped = true; i += 2; continue }
            if c == UInt8(ascii: "\"") {
                let s = String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
                i += 1
                return escaped ? s.replacingOccurrences(of: "\\", with: "") : s
            }
            i += 1
        }
        throw fail(nil, "malformed JSON: unterminated string\(truncated)")
    }

    struct Number { var text: String; var integer: Int?; var double: Double }

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
        let text = String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
        guard digits > 0 else {
            let end = min(b.count, start + 12)
            var shown = String(decoding: UnsafeBufferPointer(rebasing: b[start..<end]), as: UTF8.self)
            if let cut = shown.firstIndex(where: { $0 == "," || $0 == "}" }) { shown = String(shown[..<cut]) }
            throw fail(field, "expected a number, got \(shown.isEmpty ? "nothing" : shown)\(truncated)")
        }
        let double = isInteger && !overflow ? Double(negative ? -value : value) : (Double(text) ?? .nan)
        return Number(text: text, integer: isInteger && !overflow ? (negative ? -value : value) : nil, double: double)
    }

    mutating func scanIDs(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int, _ truncated: String) throws(TraceError) {
        let n = b.count
        guard i < n, b[i] == UInt8(ascii: "[") else { throw fail("hash_ids", "expected an array of block ids\(truncated)") }
        i += 1
        while i < n, b[i] == 0x20 { i += 1 }
        if i < n, b[i] == UInt8(ascii: "]") { i += 1; return }
        while true {
            while i < n, b[i] == 0x20 || b[i] == 0x09 { i += 1 }
            var value: UInt64 = 0
            var digits = 0
            let start = i
            while i < n, b[i] >= 0x30, b[i] <= 0x39 {
                let (m, o1) = value.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.addingReportingOverflow(UInt64(b[i] - 0x30))
                if o1 || o2 { throw fail("hash_ids", "block id at position \(ids.count) does not fit in 64 bits") }
                value = s
                digits += 1
                i += 1
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

    func skipValue(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int, _ field: String, _ truncated: String, depth: Int) throws(TraceError) {
        guard depth < TraceReader.maximumNesting else {
            throw fail(field, "nested more than \(TraceReader.maximumNesting) levels deep")
        }
        let n = b.count
        guard i < n else { throw fail(field, "malformed JSON: missing value\(truncated)") }
        switch b[i] {
        case UInt8(ascii: "\""):
            _ = try scanString(b, &i, truncated)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let close = b[i] == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
            let isObject = close == UInt8(ascii: "}")
            i += 1
            while true {
                while i < n, b[i] == 0x20 || b[i] == 0x09 { i += 1 }
                guard i < n else { throw fail(field, "malformed JSON: unterminated value\(truncated)") }
                if b[i] == close { i += 1; return }
                if isObject {
                    _ = try scanString(b, &i, truncated)
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
