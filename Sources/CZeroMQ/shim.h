// CZeroMQ: libzmq (Debian libzmq3-dev) for subscribing to engines' KV-event streams.
#ifndef CZEROMQ_SHIM_H
#define CZEROMQ_SHIM_H
#include <zmq.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

/// Sets an integer socket option.
static inline int kvz_setsockopt_int(void *socket, int option, int value) {
    return zmq_setsockopt(socket, option, &value, sizeof value);
}

/// Names the calling thread (at most 15 bytes show) for ps and profilers: a new thread otherwise
/// carries the name of the thread that made it.
static inline void kvz_name_thread(const char *name) {
#ifdef __linux__
    prctl(PR_SET_NAME, name, 0, 0, 0);
#endif
}
#endif
