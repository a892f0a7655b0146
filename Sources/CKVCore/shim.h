// CKVCore: the C core of KVCache, a thin shim over Debian's libxxhash.
//
// `kvc_xxh3_64_seeded` is the one entry point the Swift side calls per block. Where the
// runtime-dispatch header of libxxhash is present on x86-64 (Debian ships it), the call goes
// to `XXH3_64bits_withSeed_dispatch`, which picks the widest vector unit of the CPU at run
// time (AVX2 / AVX-512, SSE2 fallback). Elsewhere it is the portable `XXH3_64bits_withSeed`
// of the same library; both compute the same XXH3-64 value, only the speed differs.
#ifndef CKVCORE_SHIM_H
#define CKVCORE_SHIM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <xxhash.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#if (defined(__x86_64__) || defined(_M_X64)) && defined(__has_include)
#  if __has_include(<xxh_x86dispatch.h>)
#    define XXH_DISPATCH_DISABLE_REPLACE 1
#    include <xxh_x86dispatch.h>
#    define KVC_XXH3_DISPATCH 1
#  endif
#endif

/// XXH3-64 of `len` bytes at `input` with `seed`.
static inline uint64_t kvc_xxh3_64_seeded(const void *input, size_t len, uint64_t seed) {
#if defined(KVC_XXH3_DISPATCH)
    return XXH3_64bits_withSeed_dispatch(input, len, seed);
#else
    return XXH3_64bits_withSeed(input, len, seed);
#endif
}

/// 1 when `kvc_xxh3_64_seeded` goes through libxxhash's runtime CPU dispatch, else 0.
static inline int kvc_xxh3_uses_dispatch(void) {
#if defined(KVC_XXH3_DISPATCH)
    return 1;
#else
    return 0;
#endif
}

#if defined(__linux__)
#include <sys/mman.h>
#endif

/// Hints the CPU to start loading the cache line at `address` (no effect on results).
static inline void kvc_prefetch(const void *address) {
#if defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch(address, 0, 3);
#else
    (void)address;
#endif
}

/// Advises the kernel to back `[address, address + bytes)` with transparent huge pages
/// (Linux `MADV_HUGEPAGE`, for the 2 MiB-aligned part of the range); a no-op elsewhere.
/// Call it before the memory is first written. Large random-access tables (a 1M-block pool's
/// key table is 32 MiB) then take far fewer TLB misses.
static inline void kvc_advise_hugepages(void *address, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    const uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t start = ((uintptr_t)address + huge - 1) & ~(huge - 1);
    uintptr_t end = ((uintptr_t)address + bytes) & ~(huge - 1);
    if (end > start) (void)madvise((void *)start, end - start, MADV_HUGEPAGE);
#else
    (void)address; (void)bytes;
#endif
}

/// Sets `bytes` bytes at `address` to all ones (`memset(address, 0xFF, bytes)`): an empty
/// key-table bucket is one whose slot field reads -1, so a fresh table is one fill.
static inline void kvc_fill_ones(void *address, size_t bytes) {
    memset(address, 0xFF, bytes);
}

/// Names the calling thread (at most 15 bytes show) for ps and profilers: a new thread otherwise
/// carries the name of the thread that made it.
static inline void kvc_name_thread(const char *name) {
#ifdef __linux__
    prctl(PR_SET_NAME, name, 0, 0, 0);
#endif
}

#endif
