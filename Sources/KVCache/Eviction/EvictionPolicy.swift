/// The eviction algorithms by name, for choosing one at run time (the CLI, configuration).
///
/// The registry of policies: adding an algorithm adds one case here.
public enum EvictionPolicy: String, CaseIterable, Sendable, Hashable, CustomStringConvertible {
    case lru
    case fifo
    case lfu
    case sieve
    case s3fifo
    case arc
    case lengthAware = "length-aware"
    case leafLRU = "leaf-lru"
    case belady

    /// The command-line name (`lru`, `leaf-lru`, ...).
    public var description: String { rawValue }

    /// Whether the policy needs each access's next-use time (offline: ``Belady``).
    public var needsFuture: Bool { self == .belady }

    /// Parses a name, ignoring case and `-`/`_` differences (`S3-FIFO`, `leaf_lru`).
    public init?(name: String) {
        let folded = name.lowercased().filter { $0 != "-" && $0 != "_" }
        guard let match = Self.allCases.first(where: { $0.rawValue.filter { $0 != "-" } == folded }) else { return nil }
        self = match
    }

    /// A pool of `capacity` blocks with this policy's algorithm (default parameters).
    ///
    /// - Throws: ``PoolError/invalidCapacity(_:)`` when `capacity < 1`.
    public func makePool(capacity: Int) throws(PoolError) -> AnyBlockPool {
        switch self {
        case .lru: return AnyBlockPool(try BlockPool<LRU>(capacity: capacity))
        case .fifo: return AnyBlockPool(try BlockPool<FIFO>(capacity: capacity))
        case .lfu: return AnyBlockPool(try BlockPool<LFU>(capacity: capacity))
        case .sieve: return AnyBlockPool(try BlockPool<SIEVE>(capacity: capacity))
        case .s3fifo: return AnyBlockPool(try BlockPool<S3FIFO>(capacity: capacity))
        case .arc: return AnyBlockPool(try BlockPool<ARC>(capacity: capacity))
        case .lengthAware: return AnyBlockPool(try BlockPool<LengthAware>(capacity: capacity))
        case .leafLRU: return AnyBlockPool(try BlockPool<LeafLRU>(capacity: capacity))
        case .belady: return AnyBlockPool(try BlockPool<Belady>(capacity: capacity))
        }
    }
}
