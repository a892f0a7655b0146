/// An eviction algorithm chosen by name at run time (the command line, configuration).
///
/// A policy names one of the algorithms in the registry (`EvictionPolicy+Registry.swift`).
/// Code that runs a pool is written once, generic over ``EvictionAlgorithm``, and a policy
/// opens it with its algorithm (``open(_:)``): the code then runs specialised for that
/// algorithm, as if `BlockPool<LRU>` had been written out. ``makePool(capacity:)`` gives an
/// ``AnyBlockPool`` instead, for code that holds pools of policies it does not know.
///
/// ```swift
/// struct Replay: EvictionAlgorithmBody {
///     let chains: [[BlockHash]]
///     func run<A: EvictionAlgorithm>(_: A.Type) throws(PoolError) -> Int {
///         var pool = try BlockPool<A>(capacity: 1_000)
///         return try chains.reduce(0) { hits, chain throws(PoolError) in hits + (try pool.update(chain)) }
///     }
/// }
/// let hits = try EvictionPolicy(name: "s3fifo")!.open(Replay(chains: chains))
/// ```
public struct EvictionPolicy: RawRepresentable, CaseIterable, Sendable, Hashable, CustomStringConvertible {
    /// The algorithm's ``EvictionAlgorithm/name`` (`lru`, `leaf-lru`, ...).
    public let rawValue: String

    /// The policy of the registered algorithm named exactly `rawValue`, or `nil`.
    public init?(rawValue: String) {
        guard Self.allCases.contains(where: { $0.rawValue == rawValue }) else { return nil }
        self.rawValue = rawValue
    }

    /// The policy of algorithm `A` (registered or not: ``open(_:)`` runs only registered ones).
    @usableFromInline
    init<A: EvictionAlgorithm>(_: A.Type) { rawValue = A.name }

    /// Parses a name, ignoring case and `-`/`_` differences (`S3-FIFO`, `leaf_lru`).
    public init?(name: String) {
        let folded = Self._fold(name)
        guard let match = Self.allCases.first(where: { Self._fold($0.rawValue) == folded }) else { return nil }
        self = match
    }

    static func _fold(_ name: String) -> String { name.lowercased().filter { $0 != "-" && $0 != "_" } }

    /// Every registered policy, in registry order.
    public static let allCases: [EvictionPolicy] = {
        var names = _Names()
        _forEachAlgorithm(&names)
        return names.policies
    }()

    /// The command-line name (`lru`, `leaf-lru`, ...).
    public var description: String { rawValue }

    /// Whether the policy needs each access's next-use time (offline: ``Belady``).
    public var needsFuture: Bool { open(_NeedsFuture()) }

    /// Runs `body` with this policy's algorithm.
    ///
    /// `body.run` is specialised for every registered algorithm where this call is compiled,
    /// so the chosen one runs at full speed; the choice itself is one name comparison per
    /// registered algorithm.
    /// - Throws: What `body` throws.
    @inlinable
    public func open<Body: EvictionAlgorithmBody>(_ body: Body) throws(Body.Failure) -> Body.Result {
        var opener = _Opener(name: rawValue, body: body)
        Self._forEachAlgorithm(&opener)
        guard let result = opener.result else {
            preconditionFailure("eviction policy '\(rawValue)' has no registered algorithm")
        }
        return try result.get()
    }

    /// A pool of `capacity` blocks with this policy's algorithm (default parameters), behind
    /// ``AnyBlockPool``.
    ///
    /// - Throws: ``PoolError/invalidCapacity(_:)`` when `capacity < 1`.
    public func makePool(capacity: Int) throws(PoolError) -> AnyBlockPool {
        try open(_MakePool(capacity: capacity))
    }
}

/// Code generic over the eviction algorithm, run by ``EvictionPolicy/open(_:)`` with the
/// algorithm a policy names.
public protocol EvictionAlgorithmBody {
    /// What the body returns.
    associatedtype Result
    /// What the body throws (`Never` when it cannot fail).
    associatedtype Failure: Error = Never
    /// Runs the body with `algorithm`.
    func run<Algorithm: EvictionAlgorithm>(_ algorithm: Algorithm.Type) throws(Failure) -> Result
}

/// Visits each registered algorithm type.
@usableFromInline
protocol _AlgorithmVisitor {
    mutating func visit<A: EvictionAlgorithm>(_ algorithm: A.Type)
}

/// Runs a body with the registered algorithm of one name.
@usableFromInline
struct _Opener<Body: EvictionAlgorithmBody>: _AlgorithmVisitor {
    @usableFromInline let name: String
    @usableFromInline let body: Body
    @usableFromInline var result: Result<Body.Result, Body.Failure>?

    @inlinable
    init(name: String, body: Body) {
        self.name = name
        self.body = body
    }

    @inlinable
    mutating func visit<A: EvictionAlgorithm>(_ algorithm: A.Type) {
        guard result == nil, A.name == name else { return }
        do throws(Body.Failure) { result = .success(try body.run(algorithm)) } catch { result = .failure(error) }
    }
}

/// Collects the registered algorithms' names.
struct _Names: _AlgorithmVisitor {
    var policies: [EvictionPolicy] = []
    mutating func visit<A: EvictionAlgorithm>(_ algorithm: A.Type) { policies.append(EvictionPolicy(algorithm)) }
}

struct _NeedsFuture: EvictionAlgorithmBody {
    func run<A: EvictionAlgorithm>(_: A.Type) -> Bool { A.needsFuture }
}

struct _MakePool: EvictionAlgorithmBody {
    let capacity: Int
    func run<A: EvictionAlgorithm>(_: A.Type) throws(PoolError) -> AnyBlockPool {
        AnyBlockPool(try BlockPool<A>(capacity: capacity))
    }
}

extension EvictionPolicy {
    /// Least recently used (``LRU``).
    public static var lru: Self { Self(LRU.self) }
    /// First in, first out (``FIFO``).
    public static var fifo: Self { Self(FIFO.self) }
    /// Least frequently used (``LFU``).
    public static var lfu: Self { Self(LFU.self) }
    /// ``SIEVE``.
    public static var sieve: Self { Self(SIEVE.self) }
    /// ``S3FIFO``.
    public static var s3fifo: Self { Self(S3FIFO.self) }
    /// Adaptive replacement (``ARC``).
    public static var arc: Self { Self(ARC.self) }
    /// ``LengthAware``.
    public static var lengthAware: Self { Self(LengthAware.self) }
    /// Leaves first, least recently used (``LeafLRU``).
    public static var leafLRU: Self { Self(LeafLRU.self) }
    /// Belady's offline optimum (``Belady``).
    public static var belady: Self { Self(Belady.self) }
}
