// CMsgpack: msgpack-c (Debian libmsgpack-dev) for decoding engines' KV-event payloads.
#ifndef CMSGPACK_SHIM_H
#define CMSGPACK_SHIM_H
#include <msgpack.h>
#endif

#ifndef CMSGPACK_SHIM_PACKER
#define CMSGPACK_SHIM_PACKER
/// Points a packer at a growable buffer (msgpack_sbuffer_write is static inline, so Swift
/// cannot take its address itself).
static inline void kvz_packer_init(msgpack_packer *packer, msgpack_sbuffer *buffer) {
    msgpack_packer_init(packer, buffer, msgpack_sbuffer_write);
}
#endif
