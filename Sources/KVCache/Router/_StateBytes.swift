/// Appends little-endian fixed-width integers and arrays of them to a byte array: whole
/// arrays are copied in one move on little-endian machines.
struct _ByteWriter {
    var bytes: [UInt8] = []

    init(capacity: Int) { bytes.reserveCapacity(capacity) }

    mutating func write<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func write<T: FixedWidthInteger>(contentsOf values: [T]) {
        #if _endian(little)
        values.withUnsafeBytes { bytes.append(contentsOf: $0) }
        #else
        for v in values { write(v) }
        #endif
    }

    mutating func write(_ string: String) {
        let utf8 = Array(string.utf8)
        write(UInt32(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    /// Overwrites the integer at `offset` (a field whose value is known only later).
    mutating func patch<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        withUnsafeBytes(of: value.littleEndian) { v in
            for (i, b) in v.enumerated() { bytes[offset + i] = b }
        }
    }
}

/// Reads what ``_ByteWriter`` writes, checking every length against what is left, so that
/// damaged or hostile bytes end in an error, never a trap or a huge allocation.
struct _ByteReader {
    let bytes: [UInt8]
    var offset: Int

    init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    var remaining: Int { bytes.count - offset }

    mutating func read<T: FixedWidthInteger>(_: T.Type = T.self) throws(RouterStateError) -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw .malformed("ends inside a field at byte \(offset)") }
        var value = T.zero
        bytes.withUnsafeBytes { src in
            withUnsafeMutableBytes(of: &value) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[offset..<offset + size])) }
        }
        offset += size
        return T(littleEndian: value)
    }

    /// `count` integers, refused when fewer bytes are left than they need.
    mutating func read<T: FixedWidthInteger>(_: T.Type = T.self, count: Int) throws(RouterStateError) -> [T] {
        let size = MemoryLayout<T>.size
        guard count >= 0, count <= remaining / size else {
            throw .malformed("an array of \(count) values at byte \(offset) runs past the end")
        }
        let start = offset
        let values = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            bytes.withUnsafeBytes { src in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(rebasing: src[start..<start + count * size]))
            }
            initialized = count
        }
        offset += count * size
        #if _endian(little)
        return values
        #else
        return values.map { T(littleEndian: $0) }
        #endif
    }

    mutating func readString() throws(RouterStateError) -> String {
        let n = Int(try read(UInt32.self))
        guard n <= remaining else { throw .malformed("a string of \(n) bytes at byte \(offset) runs past the end") }
        let s = String(decoding: bytes[offset..<offset + n], as: UTF8.self)
        offset += n
        return s
    }
}
