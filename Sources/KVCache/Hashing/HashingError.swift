/// What went wrong while configuring a ``PrefixHasher`` or reading its input.
public enum HashingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The block size was below 1.
    case invalidBlockSize(Int)
    /// A token id does not fit in `UInt32` (token ids are hashed as 4-byte little-endian words).
    case tokenOutOfRange(index: Int, value: Int)

    public var description: String {
        switch self {
        case .invalidBlockSize(let size):
            return "block size must be at least 1, got \(size)"
        case .tokenOutOfRange(let index, let value):
            return "token at index \(index) is \(value), outside 0...\(UInt32.max)"
        }
    }
}
