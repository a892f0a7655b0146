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

/// Allocates `count` copies of `value` behind a raw pointer (the caller deallocates), with
/// the same huge-page advice as `_largeArray` when large.
@inlinable
internal func _allocateLarge<T>(repeating value: T, count: Int) -> UnsafeMutablePointer<T> {
    let p = UnsafeMutablePointer<T>.allocate(capacity: max(count, 1))
    if count * MemoryLayout<T>.stride >= (4 << 20) {
        kvc_advise_hugepages(UnsafeMutableRawPointer(p), count * MemoryLayout<T>.stride)
    }
    p.initialize(repeating: value, count: count)
    return p
}

/// Allocates room for `capacity` values and copies the first `count` of `source` into it
/// (the rest stays uninitialised; the caller deallocates).
@inlinable
internal func _allocateCopy<T>(of source: UnsafeMutablePointer<T>, count: Int, capacity: Int) -> UnsafeMutablePointer<T> {
    let p = UnsafeMutablePointer<T>.allocate(capacity: max(capacity, 1))
    p.initialize(from: source, count: count)
    return p
}
