/// Checks, before msgpack-c unpacks a payload, that every container, string and binary it
/// declares fits in the bytes present: msgpack-c allocates a container's declared element
/// count up front, so a 5-byte payload declaring an array of 2³² elements would ask for
/// tens of gigabytes. One pass, no allocation.
///
/// The pass runs on every event batch an engine publishes, ahead of the unpacking itself, so
/// its loop reads through a raw pointer and keeps the messages out of line.
///
/// - Returns: `nil` when the payload is plausible, else the problem and its byte offset.
/// - Complexity: O(*n*) in the payload's bytes.
func _msgpackBoundsProblem(_ bytes: UnsafeRawBufferPointer) -> String? {
    guard let base = bytes.baseAddress else { return _MsgpackBoundsProblem.truncated(at: 0).description }
    return _msgpackBounds(base, bytes.count)?.description
}

/// What ``_msgpackBoundsProblem(_:)`` found wrong, and where.
enum _MsgpackBoundsProblem: Error, CustomStringConvertible {
    case truncated(at: Int)
    case truncatedLength(at: Int)
    case truncatedCount(at: Int)
    case notAType(UInt8, at: Int)
    case longValue(at: Int, declares: Int, remain: Int)
    case manyElements(at: Int, declares: Int, remain: Int)

    var description: String {
        switch self {
        case .truncated(let at): "the payload ends inside a value at byte \(at)"
        case .truncatedLength(let at): "truncated length at byte \(at)"
        case .truncatedCount(let at): "truncated count at byte \(at)"
        case .notAType(let t, let at): "byte 0x\(String(t, radix: 16)) at \(at) is not a msgpack type"
        case .longValue(let at, let declares, let remain): "a value at byte \(at) declares \(declares) bytes but \(remain) remain"
        case .manyElements(let at, let declares, let remain):
            "a container at byte \(at) declares \(declares) elements but \(remain) bytes remain"
        }
    }
}

private func _msgpackBounds(_ p: UnsafeRawPointer, _ n: Int) -> _MsgpackBoundsProblem? {
    var i = 0
    var pending = 1  // elements still to read; each takes at least one byte
    /// The big-endian length of `width` bytes at `at`, or `nil` past the end.
    @inline(__always) func be(_ at: Int, _ width: Int) -> Int? {
        guard at + width <= n else { return nil }
        var v = 0
        for k in 0..<width { v = v << 8 | Int(p.load(fromByteOffset: at + k, as: UInt8.self)) }
        return v
    }
    while pending > 0 {
        guard i < n else { return .truncated(at: i) }
        let start = i
        let t = p.load(fromByteOffset: i, as: UInt8.self)
        i += 1
        pending -= 1
        // Fixed-size scalars, the bulk of a batch (token ids, block hashes), take the short way.
        switch t {
        case 0x00...0x7f, 0xe0...0xff, 0xc0, 0xc2, 0xc3: continue
        case 0xca, 0xce, 0xd2: i += 4
        case 0xcb, 0xcf, 0xd3: i += 8
        case 0xcc, 0xd0: i += 1
        case 0xcd, 0xd1: i += 2
        default:
            var elements = 0  // for containers
            var skip = 0  // payload bytes after the header
            switch t {
            case 0x80...0x8f: elements = Int(t & 0x0f) * 2
            case 0x90...0x9f: elements = Int(t & 0x0f)
            case 0xa0...0xbf: skip = Int(t & 0x1f)
            case 0xc4, 0xd9: guard let l = be(i, 1) else { return .truncatedLength(at: start) }; i += 1; skip = l
            case 0xc5, 0xda: guard let l = be(i, 2) else { return .truncatedLength(at: start) }; i += 2; skip = l
            case 0xc6, 0xdb: guard let l = be(i, 4) else { return .truncatedLength(at: start) }; i += 4; skip = l
            case 0xc7: guard let l = be(i, 1) else { return .truncatedLength(at: start) }; i += 1; skip = l + 1
            case 0xc8: guard let l = be(i, 2) else { return .truncatedLength(at: start) }; i += 2; skip = l + 1
            case 0xc9: guard let l = be(i, 4) else { return .truncatedLength(at: start) }; i += 4; skip = l + 1
            case 0xd4: skip = 2
            case 0xd5: skip = 3
            case 0xd6: skip = 5
            case 0xd7: skip = 9
            case 0xd8: skip = 17
            case 0xdc: guard let c = be(i, 2) else { return .truncatedCount(at: start) }; i += 2; elements = c
            case 0xdd: guard let c = be(i, 4) else { return .truncatedCount(at: start) }; i += 4; elements = c
            case 0xde: guard let c = be(i, 2) else { return .truncatedCount(at: start) }; i += 2; elements = c * 2
            case 0xdf: guard let c = be(i, 4) else { return .truncatedCount(at: start) }; i += 4; elements = c * 2
            default: return .notAType(t, at: start)
            }
            guard skip <= n - i else { return .longValue(at: start, declares: skip, remain: n - i) }
            i += skip
            guard elements <= n - i - pending else { return .manyElements(at: start, declares: elements, remain: n - i) }
            pending += elements
            continue
        }
        // A fixed-size scalar's bytes must be there too.
        guard i <= n else { return .longValue(at: start, declares: i - start - 1, remain: n - start - 1) }
    }
    return nil
}
