import KVCache

/// Reads a vLLM `KVEventBatch` in one pass over its msgpack bytes, straight into the decoded
/// batch: no object tree, no bounds pass ahead of it (every read checks the bytes left).
///
/// It takes the shapes engines send: the batch array, events as tagged maps or positional
/// arrays, hashes as integers or bytes, token ids, a block size, a medium, an adapter name and
/// `extra_keys` that hold nothing. Anything else, well-formed or not (an error to report, an
/// extension, a block's extra keys, a value out of range), makes it answer `nil`, and
/// ``VLLMEventDecoder`` decodes the payload with msgpack-c instead, which accepts the rest and
/// names what is wrong. So for any payload it reads, it answers exactly what that path would.
struct _VLLMBatchReader {
    private let bytes: UnsafeRawPointer
    private let end: Int
    private var at = 0

    private init(_ bytes: UnsafeRawPointer, count: Int) {
        self.bytes = bytes
        self.end = count
    }

    /// The batch in `payload`, or `nil` when it is not in the shapes this reader takes.
    /// - Complexity: O(`payload.count`)
    static func read(_ payload: UnsafeRawBufferPointer) -> VLLMEventBatch? {
        guard let base = payload.baseAddress, !payload.isEmpty else { return nil }
        var reader = _VLLMBatchReader(base, count: payload.count)
        return reader.batch()
    }

    // MARK: The batch and its events

    private mutating func batch() -> VLLMEventBatch? {
        guard let items = arrayHeader(), items == 2 || items == 3, let ts = number(), let count = arrayHeader() else { return nil }
        var events: [VLLMEvent] = []
        events.reserveCapacity(count)
        for _ in 0..<count {
            guard let e = event() else { return nil }
            events.append(e)
        }
        var rank: Int?
        if items == 3 && !takeNil() {
            guard let r = int() else { return nil }
            rank = r
        }
        guard at == end else { return nil }
        return VLLMEventBatch(timestamp: ts, events: events, dataParallelRank: rank)
    }

    /// One event's fields as read so far.
    private struct _Event {
        var tag: VLLMEventDecoder._Tag?
        var blocks: [EngineBlockHash]?
        var parent: EngineBlockHash?
        var tokens: [UInt32] = []
        var blockSize = 0
        var tier = StorageTier.device
        var adapter: String?

        var decoded: VLLMEvent? {
            switch tag {
            case .stored?:
                guard let blocks else { return nil }
                return .stored(
                    EngineStoredBlocks(
                        blocks: blocks, parent: parent, tokens: tokens, blockSize: blockSize, adapter: adapter, tier: tier))
            case .removed?:
                guard let blocks else { return nil }
                return .removed(blocks: blocks, tier: tier)
            case .cleared?:
                return .cleared
            case nil:
                return nil
            }
        }
    }

    private mutating func event() -> VLLMEvent? {
        guard at < end else { return nil }
        var e = _Event()
        let b = byte(at)
        if b & 0xF0 == 0x80 || b == 0xDE || b == 0xDF {
            guard let pairs = mapHeader() else { return nil }
            for _ in 0..<pairs {
                guard let key = string() else { return nil }
                if VLLMEventDecoder.equal(slice(key), "type") {
                    guard let name = string(), let tag = VLLMEventDecoder._Tag(slice(name)) else { return nil }
                    e.tag = tag
                } else if let field = VLLMEventDecoder._Field(slice(key)) {
                    guard read(field, into: &e) else { return nil }
                } else {
                    guard skip(depth: 0) else { return nil }
                }
            }
            return e.decoded
        }
        guard let items = arrayHeader(), items > 0, let name = string(), let tag = VLLMEventDecoder._Tag(slice(name)) else { return nil }
        e.tag = tag
        let fields = tag.positional
        for k in 1..<items {
            if k - 1 < fields.count, let field = fields[k - 1] {
                guard read(field, into: &e) else { return nil }
            } else {
                guard skip(depth: 0) else { return nil }
            }
        }
        return e.decoded
    }

    /// Reads one field's value into `e`.
    /// - Returns: `false` when the value is not one this reader takes.
    private mutating func read(_ field: VLLMEventDecoder._Field, into e: inout _Event) -> Bool {
        switch field {
        case .blockHashes:
            guard let count = arrayHeader() else { return false }
            var hashes: [EngineBlockHash] = []
            hashes.reserveCapacity(count)
            for _ in 0..<count {
                guard let h = hash() else { return false }
                hashes.append(h)
            }
            e.blocks = hashes
        case .parent:
            if takeNil() {
                e.parent = nil
            } else {
                guard let h = hash() else { return false }
                e.parent = h
            }
        case .tokenIDs:
            guard let tokens = tokenIDs() else { return false }
            e.tokens = tokens
        case .blockSize:
            guard let size = int(), size >= 0 else { return false }
            e.blockSize = size
        case .medium:
            if takeNil() {
                e.tier = .device
            } else {
                guard let name = string() else { return false }
                e.tier = VLLMEventDecoder.tier(medium: slice(name))
            }
        case .loraName:
            if takeNil() {
                e.adapter = nil
            } else {
                guard let name = string() else { return false }
                e.adapter = name.isEmpty ? nil : String(decoding: slice(name), as: UTF8.self)
            }
        case .extraKeys:
            // nil, or nil or an empty array per block: no keys at all
            guard !takeNil() else { return true }
            guard let blocks = arrayHeader() else { return false }
            for _ in 0..<blocks {
                guard at < end else { return false }
                let b = byte(at)
                guard b == 0xC0 || b == 0x90 else { return false }
                at += 1
            }
        }
        return true
    }

    /// An array of token ids, each an integer in `0 ... UInt32.max`, read in one loop.
    private mutating func tokenIDs() -> [UInt32]? {
        guard let count = arrayHeader() else { return nil }
        var ok = true
        let bytes = self.bytes, end = self.end
        var at = self.at
        let tokens = [UInt32](unsafeUninitializedCapacity: count) { buffer, initialized in
            for k in 0..<count {
                guard at < end else {
                    ok = false
                    break
                }
                let b = bytes.load(fromByteOffset: at, as: UInt8.self)
                let value: UInt32
                // a vocabulary's ids take one, three or five bytes: those inline, the rest
                // (valid, but not how msgspec writes them) through the general reader
                if b < 0x80 {
                    value = UInt32(b)
                    at += 1
                } else if b == 0xCD && end - at > 2 {
                    value = UInt32(UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: at + 1, as: UInt16.self)))
                    at += 3
                } else if b == 0xCE && end - at > 4 {
                    value = UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: at + 1, as: UInt32.self))
                    at += 5
                } else {
                    var r = _VLLMBatchReader(bytes, count: end)
                    r.at = at
                    guard let (v, negative) = r.integer(), !negative, v <= UInt64(UInt32.max) else {
                        ok = false
                        break
                    }
                    value = UInt32(v)
                    at = r.at
                }
                buffer[k] = value
                initialized = k + 1
            }
        }
        self.at = at
        return ok ? tokens : nil
    }

    // MARK: msgpack values

    @inline(__always)
    private func byte(_ offset: Int) -> UInt8 { bytes.load(fromByteOffset: offset, as: UInt8.self) }

    /// The big-endian unsigned integer of `size` bytes after the byte at `at`, and the reader
    /// moved past them; `nil` when they are not there.
    @inline(__always)
    private mutating func following(_ size: Int) -> UInt64? {
        guard end - at > size else { return nil }
        let p = at + 1
        at += 1 + size
        switch size {
        case 1: return UInt64(byte(p))
        case 2: return UInt64(UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: p, as: UInt16.self)))
        case 4: return UInt64(UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: p, as: UInt32.self)))
        default: return UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: p, as: UInt64.self))
        }
    }

    /// An integer as msgpack-c classes it: a signed encoding of a value ≥ 0 is positive.
    @inline(__always)
    private mutating func integer() -> (UInt64, negative: Bool)? {
        guard at < end else { return nil }
        let b = byte(at)
        switch b {
        case 0x00...0x7F:
            at += 1
            return (UInt64(b), false)
        case 0xE0...0xFF:
            at += 1
            return (UInt64(bitPattern: Int64(Int8(bitPattern: b))), true)
        case 0xCC: return following(1).map { ($0, false) }
        case 0xCD: return following(2).map { ($0, false) }
        case 0xCE: return following(4).map { ($0, false) }
        case 0xCF: return following(8).map { ($0, false) }
        case 0xD0...0xD3:
            let size = 1 << Int(b - 0xD0)
            guard let raw = following(size) else { return nil }
            let shift = UInt64(64 - 8 * size)
            let v = Int64(bitPattern: raw << shift) >> shift
            return (UInt64(bitPattern: v), v < 0)
        default: return nil
        }
    }

    private mutating func int() -> Int? {
        guard let (v, negative) = integer() else { return nil }
        return negative ? Int(Int64(bitPattern: v)) : Int(exactly: v)
    }

    /// A float or an integer, as a `Double`.
    private mutating func number() -> Double? {
        guard at < end else { return nil }
        switch byte(at) {
        case 0xCA: return following(4).map { Double(Float(bitPattern: UInt32(truncatingIfNeeded: $0))) }
        case 0xCB: return following(8).map { Double(bitPattern: $0) }
        default:
            guard let (v, negative) = integer() else { return nil }
            return negative ? Double(Int64(bitPattern: v)) : Double(v)
        }
    }

    /// A block hash by ``VLLMEventDecoder``'s rule.
    private mutating func hash() -> EngineBlockHash? {
        guard at < end else { return nil }
        let b = byte(at)
        if b & 0xE0 == 0xA0 || (b >= 0xC4 && b <= 0xC6) || (b >= 0xD9 && b <= 0xDB) {
            guard let r = raw() else { return nil }
            return EngineBlockHash(bytes: slice(r))
        }
        guard let (v, _) = integer() else { return nil }
        return EngineBlockHash(v)
    }

    /// The payload's bytes in `range`.
    private func slice(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: bytes + range.lowerBound, count: range.count)
    }

    /// Consumes a nil if one is next.
    private mutating func takeNil() -> Bool {
        guard at < end, byte(at) == 0xC0 else { return false }
        at += 1
        return true
    }

    /// The bytes of a string or a binary value, and the reader moved past them.
    private mutating func raw() -> Range<Int>? {
        guard at < end else { return nil }
        let b = byte(at)
        let length: UInt64
        switch b {
        case 0xA0...0xBF:
            at += 1
            length = UInt64(b & 0x1F)
        case 0xC4, 0xD9: guard let n = following(1) else { return nil }; length = n
        case 0xC5, 0xDA: guard let n = following(2) else { return nil }; length = n
        case 0xC6, 0xDB: guard let n = following(4) else { return nil }; length = n
        default: return nil
        }
        guard length <= UInt64(end - at) else { return nil }
        let start = at
        at += Int(length)
        return start..<at
    }

    /// The bytes of a string.
    private mutating func string() -> Range<Int>? {
        guard at < end else { return nil }
        let b = byte(at)
        guard b & 0xE0 == 0xA0 || (b >= 0xD9 && b <= 0xDB) else { return nil }
        return raw()
    }

    /// An array's element count, when its elements can fit in the bytes left.
    private mutating func arrayHeader() -> Int? { header(fixed: 0x90, wide: 0xDC, bytesPerElement: 1) }

    /// A map's pair count, when its pairs can fit in the bytes left.
    private mutating func mapHeader() -> Int? { header(fixed: 0x80, wide: 0xDE, bytesPerElement: 2) }

    /// A container's count: up to 15 in the low bits of `fixed`'s sixteen, else two bytes after
    /// `wide` or four after `wide + 1`; `nil` unless that many elements of at least
    /// `bytesPerElement` bytes each fit in the bytes left.
    @inline(__always)
    private mutating func header(fixed: UInt8, wide: UInt8, bytesPerElement: UInt64) -> Int? {
        guard at < end else { return nil }
        let b = byte(at)
        let count: UInt64
        if b & 0xF0 == fixed {
            at += 1
            count = UInt64(b & 0x0F)
        } else if b == wide || b == wide + 1 {
            guard let n = following(b == wide ? 2 : 4) else { return nil }
            count = n
        } else {
            return nil
        }
        return count * bytesPerElement <= UInt64(end - at) ? Int(count) : nil
    }

    /// Steps over one value of a field this reader does not keep: nil, a boolean, a number, a
    /// string or bytes, or an array or map of those, at most 8 deep.
    private mutating func skip(depth: Int) -> Bool {
        guard at < end, depth <= 8 else { return false }
        let b = byte(at)
        switch b {
        case 0xC0, 0xC2, 0xC3:
            at += 1
            return true
        case 0xCA: return following(4) != nil
        case 0xCB: return following(8) != nil
        case 0xA0...0xBF, 0xC4...0xC6, 0xD9...0xDB: return raw() != nil
        case 0x90...0x9F, 0xDC, 0xDD:
            guard let n = arrayHeader() else { return false }
            for _ in 0..<n where !skip(depth: depth + 1) { return false }
            return true
        case 0x80...0x8F, 0xDE, 0xDF:
            guard let n = mapHeader() else { return false }
            for _ in 0..<(2 * n) where !skip(depth: depth + 1) { return false }
            return true
        default:
            return integer() != nil
        }
    }
}
