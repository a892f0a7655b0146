/// A pool slot: the small integer a ``BlockPool`` stores a block in (0 ..< capacity).
public typealias BlockSlot = Int32

/// What an eviction algorithm may know about a block when it is inserted or accessed.
@frozen
public struct BlockInfo: Sendable, Hashable {
    /// The block's hash (its key in the pool).
    public var hash: BlockHash
    /// The block's index in the request's chain (0 for the first block).
    public var position: Int32
    /// The logical time of this block's next access, for offline policies (``Belady``);
    /// `Int64.max` when unknown or never.
    public var nextUse: Int64

    /// Describes a block.
    @inlinable
    public init(hash: BlockHash, position: Int32 = 0, nextUse: Int64 = .max) {
        self.hash = hash
        self.position = position
        self.nextUse = nextUse
    }
}

/// A cache replacement policy over pool slots.
///
/// A ``BlockPool`` owns the key→slot table and tells its algorithm what happens to slots;
/// the algorithm keeps its own per-slot metadata in contiguous arrays indexed by slot and
/// chooses victims. Every call is O(1) (amortised where the algorithm needs it) and works on
/// slots, never on keys, so no call hashes.
///
/// The pool only tracks *evictable* blocks through the algorithm: a pinned block is taken out
/// with ``didPin(_:)`` and put back with ``didUnpin(_:_:)``, so ``evict(for:)`` never sees it.
///
/// Adding a policy means one new file with a type conforming to this protocol and one line in
/// the registry (`EvictionPolicy+Registry.swift`); ``EvictionPolicy`` then finds it by
/// ``name``.
public protocol EvictionAlgorithm {
    /// The policy's name on the command line and in configuration (`lru`, `leaf-lru`, ...).
    static var name: String { get }

    /// Whether the pool must pass each access's next-use time (``BlockInfo/nextUse``): true for
    /// an offline policy (``Belady``). Default `false`.
    static var needsFuture: Bool { get }

    /// Creates the algorithm for a pool of `capacity` slots (`capacity ≥ 1`).
    init(capacity: Int)

    /// Whether the pool must report parent/child links (``didGainFirstChild(_:)`` and
    /// ``didLoseLastChild(_:)``). Default `false`; prefix-aware policies return `true`.
    static var tracksChildren: Bool { get }

    /// A new block now occupies `slot` and is evictable.
    mutating func didInsert(_ slot: BlockSlot, _ block: BlockInfo)

    /// The evictable block in `slot` was accessed (a hit).
    mutating func didAccess(_ slot: BlockSlot, _ block: BlockInfo)

    /// The block in `slot` was removed by the pool's owner (not evicted); forget it.
    mutating func didRemove(_ slot: BlockSlot)

    /// Chooses the block to evict so that `incoming` can be inserted, detaches it from the
    /// algorithm's structures and returns its slot; `nil` when no block is evictable.
    ///
    /// Called only when the pool is full.
    mutating func evict(for incoming: BlockInfo) -> BlockSlot?

    /// Called before every insertion, full pool or not. An algorithm whose admission itself
    /// displaces a block (ARC on a ghost hit) returns that block's slot, detached; the default
    /// returns `nil`.
    ///
    /// - Parameters:
    ///   - incoming: The block about to be inserted.
    ///   - list: When `incoming` is one of this algorithm's ``ghosts``, the list it was in; the
    ///     pool has already taken it out of that list (so ``GhostKeys/count(in:)`` no longer
    ///     counts it). `nil` for a block never seen or long forgotten.
    mutating func willInsert(_ incoming: BlockInfo, ghostOf list: Int?) -> BlockSlot?

    /// Whether the algorithm remembers evicted keys in ``ghosts``. Default `false`.
    static var keepsGhosts: Bool { get }

    /// The evicted keys this algorithm remembers (see ``GhostKeys``); the pool sizes its key
    /// table for ``GhostKeys/capacity`` more keys. Default: none.
    var ghosts: GhostKeys { get set }

    /// The block in `slot` was pinned (in use): it must not be chosen until unpinned.
    /// The default forgets it (``didRemove(_:)``).
    mutating func didPin(_ slot: BlockSlot)

    /// The block in `slot` was unpinned and is evictable again. The default treats it as a
    /// fresh insertion (``didInsert(_:_:)``), as vLLM returns freed blocks to its free queue.
    mutating func didUnpin(_ slot: BlockSlot, _ block: BlockInfo)

    /// The slot the next ``evict(for:)`` will most likely choose, or -1 when unknown. The pool
    /// prefetches that block's key so an eviction does not wait for it. Default -1.
    var victimHint: BlockSlot { get }

    /// The block in `slot` now has a cached child (it had none). Default: nothing.
    mutating func didGainFirstChild(_ slot: BlockSlot)

    /// The block in `slot` lost its last cached child. Default: nothing.
    mutating func didLoseLastChild(_ slot: BlockSlot)

    /// Called by ``BlockPool`` at the start of each of its mutating operations, before the
    /// calls above; ``_endExclusiveAccess()`` follows at its end. Nothing else can copy the
    /// algorithm in between, so one with copy-on-write storage may make it unique here and
    /// skip its per-call checks until then. Default: nothing.
    mutating func _beginExclusiveAccess()

    /// Ends what ``_beginExclusiveAccess()`` began. Default: nothing.
    mutating func _endExclusiveAccess()
}

extension EvictionAlgorithm {
    @inlinable public static var needsFuture: Bool { false }
    @inlinable public static var tracksChildren: Bool { false }
    @inlinable public mutating func willInsert(_ incoming: BlockInfo, ghostOf list: Int?) -> BlockSlot? { nil }
    @inlinable public static var keepsGhosts: Bool { false }
    @inlinable public var ghosts: GhostKeys {
        get { .none }
        set {}
    }
    @inlinable public mutating func didPin(_ slot: BlockSlot) { didRemove(slot) }
    @inlinable public mutating func didUnpin(_ slot: BlockSlot, _ block: BlockInfo) { didInsert(slot, block) }
    @inlinable public var victimHint: BlockSlot { -1 }
    @inlinable public mutating func didGainFirstChild(_ slot: BlockSlot) {}
    @inlinable public mutating func didLoseLastChild(_ slot: BlockSlot) {}
    @inlinable public mutating func _beginExclusiveAccess() {}
    @inlinable public mutating func _endExclusiveAccess() {}
}
