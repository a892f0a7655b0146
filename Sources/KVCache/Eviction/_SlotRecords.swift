/// Per-slot records of a policy behind one raw pointer, copy-on-write, with a check that a
/// pool can lift for the length of one of its operations.
///
/// Swift arrays check uniqueness on every mutable access, a runtime call each time. A pool
/// brackets each of its mutating operations with ``EvictionAlgorithm/_beginExclusiveAccess()`` and
/// ``EvictionAlgorithm/_endExclusiveAccess()``: the records are made unique once at the
/// start, and calls in between skip the check (nothing can copy the algorithm while the pool
/// is being mutated). Outside such a bracket every write checks, so algorithm values used on
/// their own keep value semantics.
@frozen
@usableFromInline
internal struct _SlotRecords<Record>: @unchecked Sendable {
    @usableFromInline
    internal final class _Storage {
        @usableFromInline let base: UnsafeMutablePointer<Record>
        @usableFromInline let count: Int

        @inlinable
        init(repeating value: Record, count: Int) {
            self.count = count
            base = _allocateLarge(repeating: value, count: count)
        }

        @inlinable
        init(copying other: _Storage) {
            count = other.count
            base = _allocateCopy(of: other.base, count: count, capacity: count)
        }

        deinit { _deallocateLarge(base, capacity: count) }
    }

    @usableFromInline var _storage: _Storage
    /// Inside a pool's operation: the storage is known to be unique.
    @usableFromInline var _exclusive = false

    /// `count` copies of `value` (a trivial type).
    @inlinable
    init(repeating value: Record, count: Int) { _storage = _Storage(repeating: value, count: count) }

    /// The records for reading.
    @inlinable
    var pointer: UnsafeMutablePointer<Record> { _storage.base }

    /// The records for writing: made unique first, unless a pool's operation already did.
    @inlinable
    var mutablePointer: UnsafeMutablePointer<Record> {
        @inline(__always) mutating get {
            if !_exclusive && !isKnownUniquelyReferenced(&_storage) { _storage = _Storage(copying: _storage) }
            return _storage.base
        }
    }

    /// Record `i`, for reading.
    @inlinable
    subscript(_ i: Int) -> Record { _storage.base[i] }

    /// Calls `body` with the records for writing (made unique first, as ``mutablePointer``).
    @inlinable @inline(__always)
    mutating func withMutableRecords<R>(_ body: (UnsafeMutablePointer<Record>) throws -> R) rethrows -> R {
        try body(mutablePointer)
    }

    /// Calls `body` with the records for reading.
    @inlinable @inline(__always)
    func withRecords<R>(_ body: (UnsafeMutablePointer<Record>) throws -> R) rethrows -> R { try body(pointer) }

    /// Makes the records unique and skips the check until ``endExclusive()``.
    @inlinable
    mutating func beginExclusive() {
        if !isKnownUniquelyReferenced(&_storage) { _storage = _Storage(copying: _storage) }
        _exclusive = true
    }

    /// Every write checks again.
    @inlinable
    mutating func endExclusive() { _exclusive = false }
}
