/* Helpers for the test programs that run under the shim (tests/run-programs.sh).
 * The "raw" helpers call the kernel directly (syscall()), bypassing the shim, to play the plain
 * peer on loopback; everything else goes through libc and therefore through the shim. */
#ifndef MW_TP_H
#define MW_TP_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int tp_checks;
#define CHECK(cond) do { tp_checks++; if (!(cond)) { \
    fprintf(stderr, "FAIL %s:%d: %s (errno %d %s)\n", __FILE__, __LINE__, #cond, errno, strerror(errno)); \
    exit(1); } } while (0)
#define CHECK_EQ(a, b) do { long long _a = (long long)(a), _b = (long long)(b); tp_checks++; if (_a != _b) { \
    fprintf(stderr, "FAIL %s:%d: %s == %s (%lld vs %lld; errno %d %s)\n", __FILE__, __LINE__, #a, #b, _a, _b, \
            errno, strerror(errno)); exit(1); } } while (0)
#define TP_DONE(name) do { printf("%s: %d checks passed\n", name, tp_checks); return 0; } while (0)

static inline int raw_socket(int dom) { return (int)syscall(SYS_socket, dom, SOCK_STREAM | SOCK_CLOEXEC, 0); }
static inline int raw_connect(int fd, const void *sa, socklen_t l) { return (int)syscall(SYS_connect, fd, sa, l); }
static inline int raw_accept(int fd) { return (int)syscall(SYS_accept4, fd, NULL, NULL, SOCK_CLOEXEC); }
static inline int raw_getsockname(int fd, void *sa, socklen_t *l) { return (int)syscall(SYS_getsockname, fd, sa, l); }
static inline int raw_getpeername(int fd, void *sa, socklen_t *l) { return (int)syscall(SYS_getpeername, fd, sa, l); }
static inline int raw_setsockopt(int fd, int lv, int n, const void *v, socklen_t l) { return (int)syscall(SYS_setsockopt, fd, lv, n, v, l); }
static inline int raw_getsockopt(int fd, int lv, int n, void *v, socklen_t *l) { return (int)syscall(SYS_getsockopt, fd, lv, n, v, l); }

static inline void tp_addr(int dom, struct sockaddr_storage *ss, socklen_t *len, int port)
{
    memset(ss, 0, sizeof(*ss));
    if (dom == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        *len = sizeof(*a);
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        a->sin6_addr = in6addr_loopback;
        *len = sizeof(*a);
    }
}

static inline int tp_port(const struct sockaddr_storage *ss)
{
    return ss->ss_family == AF_INET ? ntohs(((const struct sockaddr_in *)ss)->sin_port)
                                    : ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

/* A plain (non-shimmed) listener on loopback, ephemeral port. */
static inline int raw_listen(int dom, int backlog, int *port)
{
    struct sockaddr_storage ss;
    socklen_t l;
    int fd = raw_socket(dom), one = 1;
    CHECK(fd >= 0);
    raw_setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    tp_addr(dom, &ss, &l, 0);
    CHECK(syscall(SYS_bind, fd, &ss, l) == 0);
    CHECK(syscall(SYS_listen, fd, backlog) == 0);
    l = sizeof(ss);
    CHECK(raw_getsockname(fd, &ss, &l) == 0);
    *port = tp_port(&ss);
    return fd;
}

/* A plain client connection to loopback:port. */
static inline int raw_dial(int dom, int port)
{
    struct sockaddr_storage ss;
    socklen_t l;
    int fd = raw_socket(dom);
    CHECK(fd >= 0);
    tp_addr(dom, &ss, &l, port);
    CHECK(raw_connect(fd, &ss, l) == 0);
    return fd;
}

/* A shimmed listener on loopback, ephemeral port. */
static inline int tp_listen(int dom, int backlog, int *port)
{
    struct sockaddr_storage ss;
    socklen_t l;
    int fd = socket(dom, SOCK_STREAM, 0), one = 1;
    CHECK(fd >= 0);
    CHECK(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0);
    tp_addr(dom, &ss, &l, 0);
    CHECK(bind(fd, (struct sockaddr *)&ss, l) == 0);
    CHECK(listen(fd, backlog) == 0);
    l = sizeof(ss);
    CHECK(getsockname(fd, (struct sockaddr *)&ss, &l) == 0);
    CHECK_EQ(ss.ss_family, dom);
    *port = tp_port(&ss);
    CHECK(*port > 0);
    return fd;
}

static inline int tp_dial(int dom, int port)
{
    struct sockaddr_storage ss;
    socklen_t l;
    int fd = socket(dom, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    tp_addr(dom, &ss, &l, port);
    CHECK(connect(fd, (struct sockaddr *)&ss, l) == 0);
    return fd;
}

static inline int tp_readable(int fd, int ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    return poll(&p, 1, ms) == 1 && (p.revents & (POLLIN | POLLHUP | POLLERR));
}

static inline ssize_t tp_read_full(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return got ? (ssize_t)got : r;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

static inline void tp_write_full(int fd, const void *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, (const char *)buf + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        CHECK(w > 0);
        done += (size_t)w;
    }
}

static inline double tp_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
