import NIOCore

/// The top-level members of a JSON object body, as byte ranges: what prefill/decode
/// disaggregation needs to rewrite a request without re-encoding it (every member it leaves
/// alone reaches the engine byte for byte) and to lift one member out of an answer.
struct _JSONMembers {
    struct Member {
        /// The key between its quotes, as written.
        var key: Range<Int>
        /// The whole member, from the key's opening quote to the value's last byte.
        var member: Range<Int>
        /// The value.
        var value: Range<Int>
    }

    let body: ByteBuffer
    let members: [Member]

    /// Reads `body`'s members, checking its syntax.
    /// - Throws: ``RequestError`` when `body` is not one JSON object.
    init(_ body: ByteBuffer) throws(RequestError) {
        self.body = body
        members = try body.withUnsafeReadableBytes { raw in
            Result { () throws(RequestError) -> [Member] in
                var r = _BodyCursor(bytes: raw)
                var out: [Member] = []
                try r.object { (r, _, key) throws(RequestError) in
                    let value = r.i
                    try r.skipValue()
                    out.append(Member(key: key, member: (key.lowerBound - 1)..<r.i, value: value..<r.i))
                }
                return out
            }
        }.get()
    }

    /// Whether `member`'s key is `key` (as written, without escapes).
    func has(_ member: Member, key: String) -> Bool {
        body.withUnsafeReadableBytes { raw in
            key.utf8.elementsEqual(UnsafeRawBufferPointer(rebasing: raw[member.key]))
        }
    }

    /// Whether some member is `key`.
    func contains(_ key: String) -> Bool { members.contains { has($0, key: key) } }

    /// The value of the last member named `key` (JSON's last one wins), as written.
    func value(of key: String) -> ByteBuffer? {
        guard let m = members.last(where: { has($0, key: key) }) else { return nil }
        return body.getSlice(at: body.readerIndex + m.value.lowerBound, length: m.value.count)
    }

    /// The object with the members named in `removing` left out and `adding` (keys and
    /// values as JSON text) appended; every other member as it was written, in its place.
    /// - Complexity: O(*n*) in the body's length.
    func rewritten(removing: Set<String>, adding: [(key: String, json: ByteBuffer)]) -> ByteBuffer {
        var out = ByteBuffer()
        out.reserveCapacity(body.readableBytes + adding.reduce(0) { $0 + $1.key.utf8.count + $1.json.readableBytes + 4 })
        out.writeInteger(UInt8(ascii: "{"))
        var first = true
        for m in members where !removing.contains(where: { has(m, key: $0) }) {
            if !first { out.writeInteger(UInt8(ascii: ",")) }
            first = false
            var slice = body.getSlice(at: body.readerIndex + m.member.lowerBound, length: m.member.count)!
            out.writeBuffer(&slice)
        }
        for (key, json) in adding {
            if !first { out.writeInteger(UInt8(ascii: ",")) }
            first = false
            out.writeInteger(UInt8(ascii: "\""))
            out.writeString(key)
            out.writeString("\":")
            var json = json
            out.writeBuffer(&json)
        }
        out.writeInteger(UInt8(ascii: "}"))
        return out
    }
}
