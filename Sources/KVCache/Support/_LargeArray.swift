import CKVCore

/// Makes an array of `count` copies of `value`, asking the kernel for transparent huge pages
/// first when the array is large (see `kvc_advise_hugepages`). Same array, fewer TLB misses
/// for tables probed at random.
@inlinable
internal func _largeArray<T>(repeating value: T, count: Int) -> [T] {
    guard count * MemoryLayout<T>.stride >= (4 << 20) else { return Array(repeating: value, count: count) }
    return Array(unsafeUninitializedCapacity: count) { buffer, initialized in
        kvc_advise_hugepages(UnsafeMutableRawPointer(buffer.baseAddress!), count * MemoryLayout<T>.stride)
        buffer.initialize(repeating: value)
        initialized = count
    }
}

/// Allocates `count` copies of `value` behind a raw pointer (free it with
/// `_deallocateLarge`), with the same huge-page advice as `_largeArray` when large; a buffer
/// of the same size that a dropped pool left in `_LargeBuffers` is reused first.
@inlinable
internal func _allocateLarge<T>(repeating value: T, count: Int) -> UnsafeMutablePointer<T> {
    let p = _allocateUninitialized(T.self, capacity: count)
    p.initialize(repeating: value, count: count)
    return p
}

/// Allocates room for `capacity` values and copies the first `count` of `source` into it
/// (the rest stays uninitialised; free it with `_deallocateLarge`).
@inlinable
internal func _allocateCopy<T>(of source: UnsafeMutablePointer<T>, count: Int, capacity: Int) -> UnsafeMutablePointer<T> {
    let p = _allocateUninitialized(T.self, capacity: capacity)
    p.initialize(from: source, count: count)
    return p
}

@inlinable
internal func _allocateUninitialized<T>(_: T.Type, capacity: Int) -> UnsafeMutablePointer<T> {
    let count = max(capacity, 1)
    let bytes = count * MemoryLayout<T>.stride
    if _LargeBuffers.keeps(bytes), let raw = _LargeBuffers.take(bytes: bytes) {
        return raw.bindMemory(to: T.self, capacity: count)
    }
    let p = UnsafeMutablePointer<T>.allocate(capacity: count)
    if bytes >= (4 << 20) { kvc_advise_hugepages(UnsafeMutableRawPointer(p), bytes) }
    return p
}

/// Frees what `_allocateLarge` or `_allocateCopy` allocated for `capacity` values of a
/// trivial type (nothing is deinitialised).
@inlinable
internal func _deallocateLarge<T>(_ p: UnsafeMutablePointer<T>, capacity: Int) {
    let bytes = max(capacity, 1) * MemoryLayout<T>.stride
    if _LargeBuffers.keeps(bytes) && _LargeBuffers.give(UnsafeMutableRawPointer(p), bytes: bytes) { return }
    p.deallocate()
}

/// Freed pool buffers of 128 KB to 8 MB, kept (64 MB at most in all) for the next pool that
/// needs the same size.
///
/// A simulator builds and drops pools by the dozen. The C allocator returns buffers of this
/// size to the kernel when they are freed, so a new pool would fault its table in page by page
/// again; a reused buffer costs only its initialisation.
@usableFromInline
internal enum _LargeBuffers {
    @usableFromInline static let _smallest = 128 << 10
    @usableFromInline static let _largest = 8 << 20
    static let _limit = 64 << 20

    struct _Kept {
        var bySize: [Int: [UnsafeMutableRawPointer]] = [:]
        var bytes = 0
    }

    static let _kept = _Locked(_Kept())

    /// Whether buffers of `bytes` go through the cache.
    @inlinable
    static func keeps(_ bytes: Int) -> Bool { bytes >= _smallest && bytes <= _largest }

    /// A kept buffer of exactly `bytes`, or `nil`.
    @usableFromInline
    static func take(bytes: Int) -> UnsafeMutableRawPointer? {
        _kept.withLock { kept in
            guard let p = kept.bySize[bytes]?.popLast() else { return nil }
            kept.bytes -= bytes
            return p
        }
    }

    /// Keeps `p` (of `bytes`) when the cache has room; `false` when the caller must free it.
    @usableFromInline
    static func give(_ p: UnsafeMutableRawPointer, bytes: Int) -> Bool {
        _kept.withLock { kept in
            guard kept.bytes + bytes <= _limit else { return false }
            kept.bySize[bytes, default: []].append(p)
            kept.bytes += bytes
            return true
        }
    }
}
