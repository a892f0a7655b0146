// Raw libxxhash entry points for same-run baselines (no KVCache code in between).
#include <xxhash.h>
#if defined(__x86_64__) && __has_include(<xxh_x86dispatch.h>)
#define XXH_DISPATCH_DISABLE_REPLACE 1
#include <xxh_x86dispatch.h>
#define RAW_HAS_DISPATCH 1
static inline XXH64_hash_t raw_xxh3_seeded_fastest(const void *p, size_t n, XXH64_hash_t s) { return XXH3_64bits_withSeed_dispatch(p, n, s); }
#else
static inline XXH64_hash_t raw_xxh3_seeded_fastest(const void *p, size_t n, XXH64_hash_t s) { return XXH3_64bits_withSeed(p, n, s); }
#endif
