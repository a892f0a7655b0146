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
/// `_deallocateLarge`), with the same huge-page advice as `_largeArray` when large.
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
    let p = UnsafeMutablePointer<T>.allocate(capacity: count)
    let bytes = count * MemoryLayout<T>.stride
    if bytes >= (4 << 20) { kvc_advise_hugepages(UnsafeMutableRawPointer(p), bytes) }
    return p
}

/// Frees what `_allocateLarge` or `_allocateCopy` allocated for `capacity` values of a
/// trivial type (nothing is deinitialised).
@inlinable
internal func _deallocateLarge<T>(_ p: UnsafeMutablePointer<T>, capacity: Int) {
    p.deallocate()
}
