import CMsgpack
import KVCache

/// One event of vLLM's KV-event stream, decoded.
public enum VLLMEvent: Sendable, Hashable {
    /// `BlockStored`: a run of blocks, with their tokens, adapter and extra keys.
    case stored(EngineStoredBlocks)
    /// `BlockRemoved`.
    case removed(blocks: [EngineBlockHash], tier: StorageTier)
    /// `AllBlocksCleared`.
    case cleared
}

/// A decoded `KVEventBatch`: `[ts, events, data_parallel_rank]`.
public struct VLLMEventBatch: Sendable, Hashable {
    /// The engine's timestamp (seconds).
    public var timestamp: Double
    /// The events, in order.
    public var events: [VLLMEvent]
    /// The data-parallel rank that published the batch, when given.
    public var dataParallelRank: Int?
}

/// Why a payload was rejected.
public struct VLLMDecodeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What is wrong, naming the event index and field where it applies.
    public var reason: String
    public var description: String { reason }
}

/// Decodes vLLM's KV-event payloads (msgpack, as msgspec encodes `KVEventBatch`), and turns
/// them into ``KVCache/KVEvent``s.
///
/// The payloads engines send are read in one pass, straight into the batch; any other payload
/// (an extension type, a block's extra keys, an error to report) goes through msgpack-c's
/// object tree, which gives the same batch for what both read.
///
/// Accepted shapes (vLLM v0.33 and older): the payload is an array `[ts, events, rank]`
/// (rank may be nil, or missing: msgspec's `omit_defaults` drops a trailing default); each event is a map tagged `"type"` (`BlockStored`,
/// `BlockRemoved`, `AllBlocksCleared`; unknown keys are ignored) or, as older releases sent
/// it, an array with the tag first and the fields in declaration order.
///
/// Block hashes become ``KVCache/EngineBlockHash`` values by one documented rule: an unsigned
/// integer is the hash itself (vLLM's 64-bit hashes, often ≥ 2⁶³); a negative integer keeps
/// its bit pattern; bytes (vLLM's 32-byte sha256 hashes) or a string are folded to 64 bits
/// with XXH3-64 (seed 0) of the bytes. `medium` maps to a tier: `GPU` or none → device, `CPU`
/// → host, anything else (`DISK`, …) → disk. A `BlockStored` keeps its `token_ids` (each must
/// fit in 32 bits), `block_size`, `lora_name` and per-block `extra_keys` (strings, integers
/// and bytes; nested tuples are flattened), from which a router computes its own block
/// identity (``KVCache/EngineBlockIdentity``).
public struct VLLMEventDecoder: Sendable {
    /// Creates a decoder.
    public init() {}

    /// Decodes one payload.
    ///
    /// Sizes the payload declares (element counts, string and binary lengths) are checked
    /// against the bytes present before anything is unpacked, so a short hostile payload
    /// cannot make the decoder allocate more than a small multiple of its own size.
    /// - Throws: ``VLLMDecodeError`` naming what is wrong (not msgpack, wrong shape, unknown
    ///   tag, wrong field type).
    public func decode(_ payload: UnsafeRawBufferPointer) throws(VLLMDecodeError) -> VLLMEventBatch {
        if let batch = _VLLMBatchReader.read(payload) { return batch }
        return try _decodeWithMsgpack(payload)
    }

    /// The one-pass reader alone: the batch, or `nil` for a payload it leaves to msgpack-c.
    /// For differential tests (the fuzz harness checks that both paths agree).
    @_spi(Differential)
    public static func _readInOnePass(_ payload: UnsafeRawBufferPointer) -> VLLMEventBatch? {
        _VLLMBatchReader.read(payload)
    }

    /// ``decode(_:)-(UnsafeRawBufferPointer)`` through msgpack-c's object tree, for every
    /// payload the one-pass reader does not take: the shapes it leaves out, and every error.
    /// Public for differential tests only.
    @_spi(Differential)
    public func _decodeWithMsgpack(_ payload: UnsafeRawBufferPointer) throws(VLLMDecodeError) -> VLLMEventBatch {
        if let problem = _msgpackBoundsProblem(payload) { throw VLLMDecodeError(reason: "not msgpack: \(problem)") }
        var result = msgpack_unpacked()
        msgpack_unpacked_init(&result)
        defer { msgpack_unpacked_destroy(&result) }
        var offset = 0
        let status = payload.withMemoryRebound(to: CChar.self) { chars in
            msgpack_unpack_next(&result, chars.baseAddress, chars.count, &offset)
        }
        guard status == MSGPACK_UNPACK_SUCCESS else {
            throw VLLMDecodeError(
                reason: status == MSGPACK_UNPACK_EXTRA_BYTES
                    ? "not msgpack: trailing bytes after the batch"
                    : "not msgpack (parse status \(status.rawValue))")
        }
        let root = result.data
        guard root.type == MSGPACK_OBJECT_ARRAY else {
            throw VLLMDecodeError(reason: "batch: expected an array [ts, events, rank], got \(Self.kind(root))")
        }
        let items = Self.elements(root)
        guard items.count == 3 || items.count == 2 else {
            throw VLLMDecodeError(reason: "batch: expected 3 elements [ts, events, rank], got \(items.count)")
        }
        guard let ts = Self.double(items[0]) else {
            throw VLLMDecodeError(reason: "batch: ts must be a number, got \(Self.kind(items[0]))")
        }
        guard items[1].type == MSGPACK_OBJECT_ARRAY else {
            throw VLLMDecodeError(reason: "batch: events must be an array, got \(Self.kind(items[1]))")
        }
        var rank: Int?
        if items.count == 3 && items[2].type != MSGPACK_OBJECT_NIL {
            guard let r = Self.int(items[2]) else {
                throw VLLMDecodeError(reason: "batch: data_parallel_rank must be an integer, got \(Self.kind(items[2]))")
            }
            rank = r
        }
        var events: [VLLMEvent] = []
        events.reserveCapacity(Int(items[1].via.array.size))
        for (i, e) in Self.elements(items[1]).enumerated() {
            events.append(try decodeEvent(e, index: i))
        }
        return VLLMEventBatch(timestamp: ts, events: events, dataParallelRank: rank)
    }

    /// Decodes one payload given as bytes.
    public func decode(_ payload: [UInt8]) throws(VLLMDecodeError) -> VLLMEventBatch {
        var out: Result<VLLMEventBatch, VLLMDecodeError> = .failure(VLLMDecodeError(reason: ""))
        payload.withUnsafeBytes { raw in
            do throws(VLLMDecodeError) { out = .success(try decode(raw)) } catch { out = .failure(error) }
        }
        return try out.get()
    }

    /// The events a batch means for `node`, numbered from `nextEventID`.
    public static func engineEvents(_ batch: VLLMEventBatch, node: NodeID, nextEventID: inout UInt64) -> [EngineEvent] {
        batch.events.map { e in
            defer { nextEventID += 1 }
            switch e {
            case .stored(let run):
                return EngineEvent(node: node, eventID: nextEventID, kind: .stored(run))
            case .removed(let blocks, let tier):
                return EngineEvent(node: node, eventID: nextEventID, kind: .removed(blocks: blocks, tier: tier))
            case .cleared:
                return EngineEvent(node: node, eventID: nextEventID, kind: .cleared)
            }
        }
    }

    // MARK: Events

    /// The event types this decoder knows.
    enum _Tag {
        case stored, removed, cleared

        /// The tag spelled by `name`'s bytes, if the decoder knows it.
        init?(_ name: UnsafeRawBufferPointer) {
            if VLLMEventDecoder.equal(name, "BlockStored") {
                self = .stored
            } else if VLLMEventDecoder.equal(name, "BlockRemoved") {
                self = .removed
            } else if VLLMEventDecoder.equal(name, "AllBlocksCleared") {
                self = .cleared
            } else {
                return nil
            }
        }

        /// The fields a positional (array-shaped) event carries after its tag, in
        /// declaration order; `nil` for those the decoder does not read.
        var positional: [_Field?] {
            switch self {
            case .stored: Self.storedFields
            case .removed: Self.removedFields
            case .cleared: []
            }
        }

        // block_hashes, parent_block_hash, token_ids, block_size, lora_id, medium, lora_name,
        // extra_keys (group_idx, kv_cache_spec_kind and kv_cache_spec_sliding_window follow)
        static let storedFields: [_Field?] = [
            .blockHashes, .parent, .tokenIDs, .blockSize, nil, .medium, .loraName, .extraKeys,
        ]
        // block_hashes, medium (group_idx and remaining_copy_counts follow)
        static let removedFields: [_Field?] = [.blockHashes, .medium]
    }

    /// The event fields this decoder reads; any other key is ignored.
    enum _Field: CaseIterable {
        case blockHashes, parent, tokenIDs, blockSize, medium, loraName, extraKeys

        var name: StaticString {
            switch self {
            case .blockHashes: "block_hashes"
            case .parent: "parent_block_hash"
            case .tokenIDs: "token_ids"
            case .blockSize: "block_size"
            case .medium: "medium"
            case .loraName: "lora_name"
            case .extraKeys: "extra_keys"
            }
        }

        /// The field named by `key`'s bytes, if the decoder reads it.
        init?(_ key: UnsafeRawBufferPointer) {
            guard let f = Self.allCases.first(where: { VLLMEventDecoder.equal(key, $0.name) }) else { return nil }
            self = f
        }
    }

    /// The fields of one event, from either shape, as msgpack-c objects that point into the
    /// unpacked payload (nothing is copied until a field is read).
    struct _Fields {
        var tag: _Tag
        var blockHashes, parent, tokenIDs, blockSize, medium, loraName, extraKeys: msgpack_object?

        init(tag: _Tag) { self.tag = tag }

        subscript(field: _Field) -> msgpack_object? {
            get {
                switch field {
                case .blockHashes: blockHashes
                case .parent: parent
                case .tokenIDs: tokenIDs
                case .blockSize: blockSize
                case .medium: medium
                case .loraName: loraName
                case .extraKeys: extraKeys
                }
            }
            set {
                switch field {
                case .blockHashes: blockHashes = newValue
                case .parent: parent = newValue
                case .tokenIDs: tokenIDs = newValue
                case .blockSize: blockSize = newValue
                case .medium: medium = newValue
                case .loraName: loraName = newValue
                case .extraKeys: extraKeys = newValue
                }
            }
        }
    }

    func fields(_ o: msgpack_object, index: Int) throws(VLLMDecodeError) -> _Fields {
        if o.type == MSGPACK_OBJECT_MAP {
            var tagName: msgpack_object_str?
            for pair in Self.pairs(o) {
                guard pair.key.type == MSGPACK_OBJECT_STR else {
                    throw VLLMDecodeError(reason: "event \(index): a map key is not a string")
                }
                guard Self.equal(Self.bytes(pair.key.via.str), "type") else { continue }
                guard pair.val.type == MSGPACK_OBJECT_STR else {
                    throw VLLMDecodeError(reason: "event \(index): field 'type' must be a string, got \(Self.kind(pair.val))")
                }
                tagName = pair.val.via.str
            }
            guard let tagName else { throw VLLMDecodeError(reason: "event \(index): no 'type' tag") }
            guard let tag = _Tag(Self.bytes(tagName)) else {
                throw VLLMDecodeError(reason: "event \(index): unknown event type '\(Self.string(tagName))'")
            }
            var f = _Fields(tag: tag)
            for pair in Self.pairs(o) {
                if let field = _Field(Self.bytes(pair.key.via.str)) { f[field] = pair.val }
            }
            return f
        }
        if o.type == MSGPACK_OBJECT_ARRAY {
            let items = Self.elements(o)
            guard let first = items.first, first.type == MSGPACK_OBJECT_STR else {
                throw VLLMDecodeError(reason: "event \(index): a positional event must start with its tag")
            }
            guard let tag = _Tag(Self.bytes(first.via.str)) else {
                throw VLLMDecodeError(reason: "event \(index): unknown event type '\(Self.string(first.via.str))'")
            }
            var f = _Fields(tag: tag)
            for (field, value) in zip(tag.positional, items.dropFirst()) {
                if let field { f[field] = value }
            }
            return f
        }
        throw VLLMDecodeError(reason: "event \(index): expected a map or an array, got \(Self.kind(o))")
    }

    func decodeEvent(_ o: msgpack_object, index: Int) throws(VLLMDecodeError) -> VLLMEvent {
        let f = try fields(o, index: index)
        switch f.tag {
        case .stored:
            let blocks = try hashes(f.blockHashes, "block_hashes", index: index)
            var parent: EngineBlockHash?
            if let p = f.parent, p.type != MSGPACK_OBJECT_NIL {
                guard let h = Self.hash(p) else {
                    throw VLLMDecodeError(
                        reason: "event \(index): field 'parent_block_hash' must be an integer or bytes, got \(Self.kind(p))")
                }
                parent = h
            }
            var tokens: [UInt32] = []
            if let t = f.tokenIDs {
                guard t.type == MSGPACK_OBJECT_ARRAY else {
                    throw VLLMDecodeError(reason: "event \(index): field 'token_ids' must be an array, got \(Self.kind(t))")
                }
                tokens.reserveCapacity(Int(t.via.array.size))
                for (i, item) in Self.elements(t).enumerated() {
                    guard item.type == MSGPACK_OBJECT_POSITIVE_INTEGER, item.via.u64 <= UInt64(UInt32.max) else {
                        throw VLLMDecodeError(
                            reason:
                                "event \(index): field 'token_ids'[\(i)] must be an integer in 0...\(UInt32.max), got \(Self.describe(item))"
                        )
                    }
                    tokens.append(UInt32(item.via.u64))
                }
            }
            var blockSize = 0
            if let b = f.blockSize {
                guard let v = Self.int(b), v >= 0 else {
                    throw VLLMDecodeError(reason: "event \(index): field 'block_size' must be an integer ≥ 0, got \(Self.describe(b))")
                }
                blockSize = v
            }
            var adapter: String?
            if let l = f.loraName, l.type != MSGPACK_OBJECT_NIL {
                guard let name = Self.string(l) else {
                    throw VLLMDecodeError(reason: "event \(index): field 'lora_name' must be a string, got \(Self.kind(l))")
                }
                adapter = name.isEmpty ? nil : name
            }
            var extraKeys: [[BlockExtraKey]] = []
            if let x = f.extraKeys, x.type != MSGPACK_OBJECT_NIL {
                guard x.type == MSGPACK_OBJECT_ARRAY else {
                    throw VLLMDecodeError(reason: "event \(index): field 'extra_keys' must be an array, got \(Self.kind(x))")
                }
                for (i, perBlock) in Self.elements(x).enumerated() {
                    var keys: [BlockExtraKey] = []
                    if perBlock.type != MSGPACK_OBJECT_NIL {
                        try Self.extraKeys(perBlock, into: &keys, depth: 0, field: "event \(index): field 'extra_keys'[\(i)]")
                    }
                    extraKeys.append(keys)
                }
                if extraKeys.allSatisfy(\.isEmpty) { extraKeys = [] }
            }
            return .stored(
                EngineStoredBlocks(
                    blocks: blocks, parent: parent, tokens: tokens, blockSize: blockSize, adapter: adapter,
                    extraKeys: extraKeys, tier: try tier(f.medium, index: index)))
        case .removed:
            return .removed(
                blocks: try hashes(f.blockHashes, "block_hashes", index: index), tier: try tier(f.medium, index: index))
        case .cleared:
            return .cleared
        }
    }

    /// Appends the scalar keys of one block's `extra_keys` entry, flattening nested arrays
    /// (at most 8 deep).
    static func extraKeys(_ o: msgpack_object, into keys: inout [BlockExtraKey], depth: Int, field: String) throws(VLLMDecodeError) {
        switch o.type {
        case MSGPACK_OBJECT_NIL: return
        case MSGPACK_OBJECT_STR: keys.append(.string(string(o) ?? ""))
        case MSGPACK_OBJECT_POSITIVE_INTEGER: keys.append(.integer(Int64(bitPattern: o.via.u64)))
        case MSGPACK_OBJECT_NEGATIVE_INTEGER: keys.append(.integer(o.via.i64))
        case MSGPACK_OBJECT_BOOLEAN: keys.append(.integer(o.via.boolean ? 1 : 0))
        case MSGPACK_OBJECT_FLOAT32, MSGPACK_OBJECT_FLOAT64: keys.append(.string("\(o.via.f64)"))
        case MSGPACK_OBJECT_BIN:
            let b = o.via.bin
            keys.append(.bytes(b.size > 0 && b.ptr != nil ? Array(UnsafeRawBufferPointer(start: b.ptr, count: Int(b.size))) : []))
        case MSGPACK_OBJECT_ARRAY:
            guard depth < 8 else { throw VLLMDecodeError(reason: "\(field) nests deeper than 8 levels") }
            for item in elements(o) { try extraKeys(item, into: &keys, depth: depth + 1, field: field) }
        default:
            throw VLLMDecodeError(reason: "\(field) holds \(kind(o)); expected strings, integers or bytes")
        }
    }

    func hashes(_ field: msgpack_object?, _ name: StaticString, index: Int) throws(VLLMDecodeError) -> [EngineBlockHash] {
        guard let list = field else { throw VLLMDecodeError(reason: "event \(index): missing field '\(name)'") }
        guard list.type == MSGPACK_OBJECT_ARRAY else {
            throw VLLMDecodeError(reason: "event \(index): field '\(name)' must be an array, got \(Self.kind(list))")
        }
        var out: [EngineBlockHash] = []
        out.reserveCapacity(Int(list.via.array.size))
        for (i, item) in Self.elements(list).enumerated() {
            guard let h = Self.hash(item) else {
                throw VLLMDecodeError(reason: "event \(index): field '\(name)'[\(i)] must be an integer or bytes, got \(Self.kind(item))")
            }
            out.append(h)
        }
        return out
    }

    func tier(_ field: msgpack_object?, index: Int) throws(VLLMDecodeError) -> StorageTier {
        guard let m = field, m.type != MSGPACK_OBJECT_NIL else { return .device }
        guard m.type == MSGPACK_OBJECT_STR else {
            throw VLLMDecodeError(reason: "event \(index): field 'medium' must be a string, got \(Self.kind(m))")
        }
        return Self.tier(medium: Self.bytes(m.via.str))
    }

    /// The tier a `medium` names: `GPU` the device, `CPU` the host (either case), anything
    /// else disk.
    static func tier(medium: UnsafeRawBufferPointer) -> StorageTier {
        if equal(medium, "GPU", ignoringCase: true) { return .device }
        if equal(medium, "CPU", ignoringCase: true) { return .host }
        return .disk
    }

    // MARK: msgpack-c objects

    // The views below point into the unpacked payload and live as long as it does, which is
    // for the whole of one `decode` call.

    static func elements(_ o: msgpack_object) -> UnsafeBufferPointer<msgpack_object> {
        let a = o.via.array
        return UnsafeBufferPointer(start: a.ptr, count: a.ptr == nil ? 0 : Int(a.size))
    }

    static func pairs(_ o: msgpack_object) -> UnsafeBufferPointer<msgpack_object_kv> {
        let m = o.via.map
        return UnsafeBufferPointer(start: m.ptr, count: m.ptr == nil ? 0 : Int(m.size))
    }

    static func bytes(_ s: msgpack_object_str) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: s.ptr, count: s.ptr == nil ? 0 : Int(s.size))
    }

    static func string(_ s: msgpack_object_str) -> String { String(decoding: bytes(s), as: UTF8.self) }

    static func string(_ o: msgpack_object) -> String? {
        o.type == MSGPACK_OBJECT_STR ? string(o.via.str) : nil
    }

    /// Whether `b` spells `literal` (ASCII letters compared without case when asked), with
    /// no `String` made.
    static func equal(_ b: UnsafeRawBufferPointer, _ literal: StaticString, ignoringCase: Bool = false) -> Bool {
        guard b.count == literal.utf8CodeUnitCount else { return false }
        let l = UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
        for i in 0..<b.count {
            var c = b[i]
            if ignoringCase, c >= 0x61, c <= 0x7A { c -= 0x20 }
            if c != l[i] { return false }
        }
        return true
    }

    static func int(_ o: msgpack_object) -> Int? {
        switch o.type {
        case MSGPACK_OBJECT_POSITIVE_INTEGER: return Int(exactly: o.via.u64)
        case MSGPACK_OBJECT_NEGATIVE_INTEGER: return Int(o.via.i64)
        default: return nil
        }
    }

    static func double(_ o: msgpack_object) -> Double? {
        switch o.type {
        case MSGPACK_OBJECT_FLOAT64, MSGPACK_OBJECT_FLOAT32: return o.via.f64
        case MSGPACK_OBJECT_POSITIVE_INTEGER: return Double(o.via.u64)
        case MSGPACK_OBJECT_NEGATIVE_INTEGER: return Double(o.via.i64)
        default: return nil
        }
    }

    /// A vLLM block hash (see the type's documentation for the rule).
    static func hash(_ o: msgpack_object) -> EngineBlockHash? {
        switch o.type {
        case MSGPACK_OBJECT_POSITIVE_INTEGER: return EngineBlockHash(o.via.u64)
        case MSGPACK_OBJECT_NEGATIVE_INTEGER: return EngineBlockHash(UInt64(bitPattern: o.via.i64))
        case MSGPACK_OBJECT_BIN:
            let b = o.via.bin
            return EngineBlockHash(bytes: UnsafeRawBufferPointer(start: b.ptr, count: Int(b.size)))
        case MSGPACK_OBJECT_STR:
            let s = o.via.str
            return EngineBlockHash(bytes: UnsafeRawBufferPointer(start: s.ptr, count: Int(s.size)))
        default: return nil
        }
    }

    /// The kind of `o` and, for a number, its value (for error messages).
    static func describe(_ o: msgpack_object) -> String {
        switch o.type {
        case MSGPACK_OBJECT_POSITIVE_INTEGER: return "\(o.via.u64)"
        case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "\(o.via.i64)"
        default: return kind(o)
        }
    }

    static func kind(_ o: msgpack_object) -> String {
        switch o.type {
        case MSGPACK_OBJECT_NIL: return "nil"
        case MSGPACK_OBJECT_BOOLEAN: return "a boolean"
        case MSGPACK_OBJECT_POSITIVE_INTEGER, MSGPACK_OBJECT_NEGATIVE_INTEGER: return "an integer"
        case MSGPACK_OBJECT_FLOAT32, MSGPACK_OBJECT_FLOAT64: return "a float"
        case MSGPACK_OBJECT_STR: return "a string"
        case MSGPACK_OBJECT_ARRAY: return "an array"
        case MSGPACK_OBJECT_MAP: return "a map"
        case MSGPACK_OBJECT_BIN: return "bytes"
        default: return "an extension"
        }
    }
}
