/// A number of the output with the decimals its text shows in tables (JSON carries it whole;
/// not finite: `null`).
struct Number: Encodable {
    var value: Double
    var digits: Int

    init(_ value: Double, _ digits: Int = 6) {
        self.value = value
        self.digits = digits
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        if value.isFinite { try c.encode(value) } else { try c.encodeNil() }
    }
}

/// A value that is `null` in the output when absent, where a missing key would not do.
struct Nullable<Wrapped: Encodable>: Encodable {
    var value: Wrapped?

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        if let value { try c.encode(value) } else { try c.encodeNil() }
    }
}

extension Value {
    /// Any `Encodable` value as the output's ``Value``: objects keep their keys in the order
    /// they are encoded (a synthesized `Encodable` encodes its properties in declaration
    /// order), absent optionals are left out, and a ``Number`` keeps its decimals.
    init(encoding value: some Encodable) {
        let root = _ValueEncoder._Node()
        _ = try? root.encode(value)
        self = root.value
    }
}

/// Encodes into ``Value``s; see ``Value/init(encoding:)``.
enum _ValueEncoder {
    /// One value being built: a scalar, or an object or array whose members are nodes.
    final class _Node {
        enum Content {
            case scalar(Value)
            case object([(String, _Node)])
            case array([_Node])
        }
        var content = Content.scalar(.null)

        var value: Value {
            switch content {
            case .scalar(let v): return v
            case .object(let members): return .object(members.map { ($0.0, $0.1.value) })
            case .array(let items): return .array(items.map(\.value))
            }
        }

        func encode<T: Encodable>(_ value: T) throws {
            if let n = value as? Number {
                content = .scalar(n.value.isFinite ? .number(n.value, digits: n.digits) : .null)
            } else if let s = value as? String {
                content = .scalar(.string(s))
            } else {
                try value.encode(to: _Encoder(node: self))
            }
        }
    }

    struct _Encoder: Encoder {
        let node: _Node
        var codingPath: [any CodingKey] = []
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        func container<Key: CodingKey>(keyedBy _: Key.Type) -> KeyedEncodingContainer<Key> {
            if case .object = node.content {} else { node.content = .object([]) }
            return KeyedEncodingContainer(_Keyed<Key>(node: node))
        }

        func unkeyedContainer() -> any UnkeyedEncodingContainer {
            if case .array = node.content {} else { node.content = .array([]) }
            return _Unkeyed(node: node)
        }

        func singleValueContainer() -> any SingleValueEncodingContainer { _Single(node: node) }
    }

    struct _Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let node: _Node
        var codingPath: [any CodingKey] = []

        func child(_ key: Key) -> _Node {
            let n = _Node()
            if case .object(var members) = node.content {
                members.append((key.stringValue, n))
                node.content = .object(members)
            }
            return n
        }

        mutating func encodeNil(forKey key: Key) throws { child(key).content = .scalar(.null) }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { try child(key).encode(value) }
        mutating func nestedContainer<NestedKey: CodingKey>(
            keyedBy _: NestedKey.Type, forKey key: Key
        ) -> KeyedEncodingContainer<
            NestedKey
        > {
            let n = child(key)
            n.content = .object([])
            return KeyedEncodingContainer(_Keyed<NestedKey>(node: n))
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            let n = child(key)
            n.content = .array([])
            return _Unkeyed(node: n)
        }
        mutating func superEncoder() -> any Encoder { _Encoder(node: node) }
        mutating func superEncoder(forKey key: Key) -> any Encoder { _Encoder(node: child(key)) }
    }

    struct _Unkeyed: UnkeyedEncodingContainer {
        let node: _Node
        var codingPath: [any CodingKey] = []
        var count: Int {
            if case .array(let items) = node.content { return items.count }
            return 0
        }

        func child() -> _Node {
            let n = _Node()
            if case .array(var items) = node.content {
                items.append(n)
                node.content = .array(items)
            }
            return n
        }

        mutating func encodeNil() throws { child().content = .scalar(.null) }
        mutating func encode<T: Encodable>(_ value: T) throws { try child().encode(value) }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy _: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            let n = child()
            n.content = .object([])
            return KeyedEncodingContainer(_Keyed<NestedKey>(node: n))
        }
        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            let n = child()
            n.content = .array([])
            return _Unkeyed(node: n)
        }
        mutating func superEncoder() -> any Encoder { _Encoder(node: child()) }
    }

    struct _Single: SingleValueEncodingContainer {
        let node: _Node
        var codingPath: [any CodingKey] = []

        mutating func encodeNil() throws { node.content = .scalar(.null) }
        mutating func encode(_ value: Bool) throws { node.content = .scalar(.bool(value)) }
        mutating func encode(_ value: String) throws { node.content = .scalar(.string(value)) }
        mutating func encode(_ value: Double) throws { node.content = .scalar(value.isFinite ? .number(value, digits: 6) : .null) }
        mutating func encode(_ value: Float) throws { try encode(Double(value)) }
        mutating func encode(_ value: Int) throws { node.content = .scalar(.int(value)) }
        mutating func encode(_ value: Int8) throws { try encode(Int(value)) }
        mutating func encode(_ value: Int16) throws { try encode(Int(value)) }
        mutating func encode(_ value: Int32) throws { try encode(Int(value)) }
        mutating func encode(_ value: Int64) throws { try encode(Int(value)) }
        mutating func encode(_ value: UInt) throws { node.content = .scalar(.string(String(value))) }
        mutating func encode(_ value: UInt8) throws { try encode(Int(value)) }
        mutating func encode(_ value: UInt16) throws { try encode(Int(value)) }
        mutating func encode(_ value: UInt32) throws { try encode(Int(value)) }
        mutating func encode(_ value: UInt64) throws { node.content = .scalar(.string(String(value))) }
        mutating func encode<T: Encodable>(_ value: T) throws { try node.encode(value) }
    }
}
