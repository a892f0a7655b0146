// CMsgpack: msgpack-c (Debian libmsgpack-dev) for decoding engines' KV-event payloads.
#ifndef CMSGPACK_SHIM_H
#define CMSGPACK_SHIM_H
#include <msgpack.h>
#endif
