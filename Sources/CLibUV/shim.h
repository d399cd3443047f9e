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

// Handing listening sockets to a new process (a binary upgrade): one record with at most one
// descriptor over a unix socket (SCM_RIGHTS). The cmsg macros are not callable from Swift.
#include <sys/un.h>
#include <sys/ioctl.h>
#include <string.h>
#include <fcntl.h>

/* accept4 and pipe2 need _GNU_SOURCE; these set close-on-exec the portable way. */
static inline int rp_accept_cloexec(int sock) {
    int c;
    do { c = accept(sock, NULL, NULL); } while (c < 0 && errno == EINTR);
    if (c >= 0) fcntl(c, F_SETFD, FD_CLOEXEC);
    return c;
}
static inline int rp_pipe_cloexec(int fds[2]) {
    if (pipe(fds) != 0) return -1;
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    return 0;
}

/* Sends `len` bytes and, if fd >= 0, the descriptor fd with them; `flags` adds to MSG_NOSIGNAL
   (MSG_DONTWAIT from a loop thread). Returns sendmsg's result. */
static inline ssize_t rp_send_record(int sock, const void *buf, size_t len, int fd, int flags) {
    struct msghdr msg;
    struct iovec iov;
    union { char bytes[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } control;
    memset(&msg, 0, sizeof msg);
    iov.iov_base = (void *)buf;
    iov.iov_len = len;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (fd >= 0) {
        memset(&control, 0, sizeof control);
        msg.msg_control = control.bytes;
        msg.msg_controllen = sizeof control.bytes;
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    ssize_t n;
    do { n = sendmsg(sock, &msg, MSG_NOSIGNAL | flags); } while (n < 0 && errno == EINTR);
    return n;
}

/* Receives one record into buf. *fd gets the first descriptor that came with it (close-on-exec)
   or -1; any further ones are closed, since a record carries at most one. *truncated is set when
   the record or its descriptors did not fit. Returns recvmsg's result. */
static inline ssize_t rp_recv_record(int sock, void *buf, size_t cap, int *fd, int *truncated) {
    struct msghdr msg;
    struct iovec iov;
    union { char bytes[CMSG_SPACE(4 * sizeof(int))]; struct cmsghdr align; } control;
    memset(&msg, 0, sizeof msg);
    iov.iov_base = buf;
    iov.iov_len = cap;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.bytes;
    msg.msg_controllen = sizeof control.bytes;
    *fd = -1;
    *truncated = 0;
    ssize_t n;
    do { n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC); } while (n < 0 && errno == EINTR);
    if (n < 0) return n;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; i++) {
            int got;
            memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (*fd < 0) *fd = got; else close(got);
        }
    }
    if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) *truncated = 1;
    return n;
}

/* The user id of a unix socket's peer (SO_PEERCRED), or -1. struct ucred needs _GNU_SOURCE,
   so its layout (pid, uid, gid) is spelled out. */
static inline long rp_peer_uid(int sock) {
    struct { int pid; unsigned uid; unsigned gid; } cred;
    socklen_t len = sizeof cred;
    if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred) return -1;
    return (long)cred.uid;
}

/* Bytes received and not yet read on a socket (FIONREAD), or -1. ioctl is variadic. */
static inline int rp_unread_bytes(int fd) {
    int n = 0;
    return ioctl(fd, FIONREAD, &n) == 0 ? n : -1;
}
