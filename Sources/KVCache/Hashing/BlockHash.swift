/// The 64-bit hash of one KV block, chained so that it also identifies the whole prefix.
///
/// Two block hashes produced by the same ``PrefixHasher`` are equal exactly when the token
/// sequences up to and including their blocks are equal (barring 64-bit collisions). Block
/// hashes are already uniformly distributed, so pools and indexes use their bits directly as
/// table keys instead of hashing them again.
@frozen
public struct BlockHash: RawRepresentable, Hashable, Comparable, Sendable {
    /// The hash value.
    public var rawValue: UInt64

    /// Wraps a raw 64-bit hash value.
    @inlinable
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Wraps a raw 64-bit hash value.
    @inlinable
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }

    @inlinable
    public static func < (lhs: BlockHash, rhs: BlockHash) -> Bool { lhs.rawValue < rhs.rawValue }
}

extension BlockHash: CustomStringConvertible {
    /// The hash as 16 lowercase hexadecimal digits, zero-padded (`00000000000004d2`).
    public var description: String { hexString }

    /// The hash as 16 lowercase hexadecimal digits, zero-padded.
    public var hexString: String {
        let digits = String(rawValue, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}

extension BlockHash: ExpressibleByIntegerLiteral {
    /// Creates a block hash from an integer literal (handy for tests and traces whose block ids
    /// are small integers).
    @inlinable
    public init(integerLiteral value: UInt64) { self.rawValue = value }
}
