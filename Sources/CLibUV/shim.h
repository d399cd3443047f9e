// The C surface of libuv that RingServer uses, plus a few socket headers the listener needs
// to set SO_REUSEPORT before handing the descriptor to libuv (libuv 1.44 has no flag for it).
#include <uv.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <unistd.h>
#include <signal.h>
#include <errno.h>

#include <stdint.h>

// Per-worker counters: one thread writes, the admin thread reads. Relaxed atomic loads and
// stores make that race-free without a locked instruction on the request path (a single
// writer needs no read-modify-write atomicity).
static inline void rp_counter_add(uint64_t *p, uint64_t v) {
    __atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}
static inline void rp_counter_store(uint64_t *p, uint64_t v) {
    __atomic_store_n(p, v, __ATOMIC_RELAXED);
}
/* A read-modify-write shared by threads (the per-pool client count): returns the new value. */
static inline int64_t rp_shared_add(int64_t *p, int64_t v) {
    return __atomic_add_fetch(p, v, __ATOMIC_RELAXED);
}
static inline uint64_t rp_counter_load(const uint64_t *p) {
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

#include <malloc.h>
// Bytes the process's malloc holds for it (INFO's used_memory for the proxy).
static inline uint64_t rp_heap_in_use(void) {
    struct mallinfo2 m = mallinfo2();
    return (uint64_t)m.uordblks + (uint64_t)m.hblkhd;
}
