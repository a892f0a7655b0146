// CZeroMQ: libzmq (Debian libzmq3-dev) for subscribing to engines' KV-event streams.
#ifndef CZEROMQ_SHIM_H
#define CZEROMQ_SHIM_H
#include <zmq.h>

/// Sets an integer socket option.
static inline int kvz_setsockopt_int(void *socket, int option, int value) {
    return zmq_setsockopt(socket, option, &value, sizeof value);
}
#endif
