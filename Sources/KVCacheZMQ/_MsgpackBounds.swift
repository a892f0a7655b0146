/// Checks, before msgpack-c unpacks a payload, that every container, string and binary it
/// declares fits in the bytes present: msgpack-c allocates a container's declared element
/// count up front, so a 5-byte payload declaring an array of 2³² elements would ask for
/// tens of gigabytes. One pass, no allocation.
///
/// - Returns: `nil` when the payload is plausible, else the problem and its byte offset.
func _msgpackBoundsProblem(_ bytes: UnsafeRawBufferPointer) -> String? {
    let n = bytes.count
    var i = 0
    var pending = 1  // elements still to read; each takes at least one byte
    @inline(__always) func be(_ at: Int, _ width: Int) -> Int? {
        guard at + width <= n else { return nil }
        var v = 0
        for k in 0..<width { v = v << 8 | Int(bytes[at + k]) }
        return v
    }
    while pending > 0 {
        guard i < n else { return "the payload ends inside a value at byte \(i)" }
        let start = i
        let t = bytes[i]
        i += 1
        pending -= 1
        var elements = 0  // for containers
        var skip = 0  // payload bytes after the header
        switch t {
        case 0x00...0x7f, 0xe0...0xff, 0xc0, 0xc2, 0xc3: break
        case 0x80...0x8f: elements = Int(t & 0x0f) * 2
        case 0x90...0x9f: elements = Int(t & 0x0f)
        case 0xa0...0xbf: skip = Int(t & 0x1f)
        case 0xc4, 0xd9: guard let l = be(i, 1) else { return "truncated length at byte \(start)" }; i += 1; skip = l
        case 0xc5, 0xda: guard let l = be(i, 2) else { return "truncated length at byte \(start)" }; i += 2; skip = l
        case 0xc6, 0xdb: guard let l = be(i, 4) else { return "truncated length at byte \(start)" }; i += 4; skip = l
        case 0xc7: guard let l = be(i, 1) else { return "truncated length at byte \(start)" }; i += 1; skip = l + 1
        case 0xc8: guard let l = be(i, 2) else { return "truncated length at byte \(start)" }; i += 2; skip = l + 1
        case 0xc9: guard let l = be(i, 4) else { return "truncated length at byte \(start)" }; i += 4; skip = l + 1
        case 0xca: skip = 4
        case 0xcb: skip = 8
        case 0xcc, 0xd0: skip = 1
        case 0xcd, 0xd1: skip = 2
        case 0xce, 0xd2: skip = 4
        case 0xcf, 0xd3: skip = 8
        case 0xd4: skip = 2
        case 0xd5: skip = 3
        case 0xd6: skip = 5
        case 0xd7: skip = 9
        case 0xd8: skip = 17
        case 0xdc: guard let c = be(i, 2) else { return "truncated count at byte \(start)" }; i += 2; elements = c
        case 0xdd: guard let c = be(i, 4) else { return "truncated count at byte \(start)" }; i += 4; elements = c
        case 0xde: guard let c = be(i, 2) else { return "truncated count at byte \(start)" }; i += 2; elements = c * 2
        case 0xdf: guard let c = be(i, 4) else { return "truncated count at byte \(start)" }; i += 4; elements = c * 2
        default: return "byte 0x\(String(t, radix: 16)) at \(start) is not a msgpack type"
        }
        guard skip <= n - i else { return "a value at byte \(start) declares \(skip) bytes but \(n - i) remain" }
        i += skip
        guard elements <= n - i - pending else {
            return "a container at byte \(start) declares \(elements) elements but \(n - i) bytes remain"
        }
        pending += elements
    }
    return nil
}
