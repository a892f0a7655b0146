import CKVCore

extension RouterState {
    /// The header's size in bytes: magic, version, flags, block size, fingerprint, payload
    /// length, checksum.
    static let _headerSize = 48
    static let _magic: [UInt8] = Array("KVCSTATE".utf8)

    /// The state as bytes: a 48-byte header (magic `KVCSTATE`, ``formatVersion``, block size,
    /// ``hasherFingerprint``, payload length, XXH3-64 of the payload), then the payload, all
    /// integers little-endian.
    ///
    /// Payload: the entries (count, hashes, parent indexes), then per node its id, last batch,
    /// source, and engine blocks (engine hashes, entry indexes, one reference byte each, then
    /// the explicit counts of blocks referenced other than once per tier).
    /// - Complexity: O(entries + blocks)
    public func encoded() -> [UInt8] {
        var w = _ByteWriter(capacity: Self._headerSize + _hashes.count * 12 + blockCount * 13 + nodes.count * 64)
        w.bytes.append(contentsOf: Self._magic)
        w.write(Self.formatVersion)
        w.write(UInt32(0))
        w.write(UInt64(blockSize))
        w.write(hasherFingerprint)
        w.write(UInt64(0))  // payload length, patched below
        w.write(UInt64(0))  // checksum, patched below
        w.write(UInt64(_hashes.count))
        w.write(contentsOf: _hashes)
        w.write(contentsOf: _parents)
        w.write(UInt64(nodes.count))
        for n in nodes {
            w.write(Int64(n.id))
            w.write(UInt8(n.lastBatch == nil ? 0 : 1))
            w.write(n.lastBatch ?? 0)
            w.write(n.source)
            w.write(UInt64(n._engine.count))
            w.write(contentsOf: n._engine)
            w.write(contentsOf: n._entry)
            w.write(contentsOf: n._refs)
            w.write(UInt64(n._counts.count))
            w.write(contentsOf: n._counts)
        }
        let payload = w.bytes.count - Self._headerSize
        w.patch(UInt64(payload), at: 32)
        w.patch(Self._checksum(w.bytes, from: Self._headerSize), at: 40)
        return w.bytes
    }

    /// Reads a state ``encoded()`` wrote, checking the header, the checksum and every count
    /// and index; nothing in the bytes can make it trap.
    /// - Throws: ``RouterStateError`` naming what is wrong.
    /// - Complexity: O(bytes)
    public init(decoding bytes: [UInt8]) throws(RouterStateError) {
        guard bytes.count >= 8, Array(bytes[0..<8]) == Self._magic else { throw .notAState }
        var r = _ByteReader(bytes, offset: 8)
        guard bytes.count >= Self._headerSize else { throw .truncated(expected: Self._headerSize, actual: bytes.count) }
        let version = try r.read(UInt32.self)
        guard version == Self.formatVersion else { throw .unsupportedVersion(version) }
        _ = try r.read(UInt32.self)
        let blockSize = try r.read(UInt64.self)
        let fingerprint = try r.read(UInt64.self)
        let payload = try r.read(UInt64.self)
        let checksum = try r.read(UInt64.self)
        guard payload <= UInt64(Int.max - Self._headerSize) else { throw .malformed("a payload of \(payload) bytes") }
        let expected = Self._headerSize + Int(payload)
        guard bytes.count >= expected else { throw .truncated(expected: expected, actual: bytes.count) }
        guard bytes.count == expected else { throw .malformed("\(bytes.count - expected) bytes after the payload") }
        guard Self._checksum(bytes, from: Self._headerSize) == checksum else { throw .checksumMismatch }
        guard blockSize >= 1, blockSize <= 1 << 24 else {
            throw .malformed("block size \(blockSize)")
        }

        let entries = try r.read(UInt64.self)
        guard entries < UInt64(RouterState._none), entries <= UInt64(r.remaining / 12) else {
            throw .malformed("\(entries) entries in \(r.remaining) bytes")
        }
        let hashes = try r.read(UInt64.self, count: Int(entries))
        let parents = try r.read(UInt32.self, count: Int(entries))
        for (i, p) in parents.enumerated() where p != Self._none && (p >= UInt32(entries) || p == UInt32(i)) {
            throw .malformed("entry \(i) has parent \(p) of \(entries)")
        }
        let nodeCount = try r.read(UInt64.self)
        guard nodeCount <= UInt64(r.remaining / 29) else { throw .malformed("\(nodeCount) nodes in \(r.remaining) bytes") }
        var nodes: [Node] = []
        nodes.reserveCapacity(Int(nodeCount))
        for _ in 0..<Int(nodeCount) {
            let id = try r.read(Int64.self)
            guard id >= 0, id < Int64(PrefixIndex.maximumNodeCapacity) else { throw .malformed("node id \(id)") }
            let hasBatch = try r.read(UInt8.self)
            let batch = try r.read(UInt64.self)
            var node = Node(id: NodeID(id), source: try r.readString(), lastBatch: hasBatch == 0 ? nil : batch)
            let blocks = try r.read(UInt64.self)
            guard blocks <= UInt64(r.remaining / 13) else { throw .malformed("node \(id): \(blocks) blocks in \(r.remaining) bytes") }
            node._engine = try r.read(UInt64.self, count: Int(blocks))
            node._entry = try r.read(UInt32.self, count: Int(blocks))
            node._refs = try r.read(UInt8.self, count: Int(blocks))
            let counts = try r.read(UInt64.self)
            guard counts <= UInt64(r.remaining / 2) else { throw .malformed("node \(id): \(counts) counts in \(r.remaining) bytes") }
            node._counts = try r.read(UInt16.self, count: Int(counts))
            var explicit = 0
            for i in 0..<Int(blocks) {
                guard node._entry[i] < UInt32(entries) else { throw .malformed("node \(id): block \(i) names entry \(node._entry[i])") }
                let refs = node._refs[i]
                guard refs != 0, refs & ~(Node._explicit | 0b111) == 0 else {
                    throw .malformed("node \(id): block \(i) has reference byte \(refs)")
                }
                if refs & Node._explicit != 0 { explicit += 1 }
            }
            guard explicit * 3 == node._counts.count else {
                throw .malformed("node \(id): \(explicit) blocks with explicit counts but \(node._counts.count) counts")
            }
            nodes.append(node)
        }
        guard r.remaining == 0 else { throw .malformed("\(r.remaining) bytes after the last node") }
        self.blockSize = Int(blockSize)
        self.hasherFingerprint = fingerprint
        self.nodes = nodes
        _hashes = hashes
        _parents = parents
    }

    static func _checksum(_ bytes: [UInt8], from start: Int) -> UInt64 {
        bytes.withUnsafeBytes { b in kvc_xxh3_64_seeded(b.baseAddress! + start, b.count - start, 0) }
    }
}
