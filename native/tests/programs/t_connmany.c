/* Many simultaneous client connections for the scale tests (tests/system/8x-*.sh). A plain
 * client (not under the shim): it opens N connections to HOST:PORT from the source addresses
 * 127.0.0.FIRST .. 127.0.0.(FIRST+COUNT-1) (65k ports each), checks each with an echo round trip,
 * reports, holds them HOLD seconds while watching for any that break, then checks every one again
 * with a second round trip. Not part of run-programs.sh.
 *
 *   t_connmany HOST PORT N FIRST COUNT HOLD [STATEFILE]
 *
 * STATEFILE gets "established E" when the first round is done and "alive A broken B" at the end.
 * Exit 0 when all N were established and all N are alive at the end, 3 otherwise. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

enum { ST_IDLE, ST_CONNECTING, ST_WAIT1, ST_HELD, ST_WAIT2, ST_OK, ST_DEAD };
struct conn { int fd; int st; int got; };

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void state_file(const char *path, const char *fmt, long a, long b)
{
    char tmp[600];
    FILE *f;
    if (!path)
        return;
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (!(f = fopen(tmp, "w")))
        return;
    fprintf(f, fmt, a, b);
    fclose(f);
    rename(tmp, path);
}

static struct conn *C;
static int ep;
static long n_dead, n_refused, n_eof;

static void kill_conn(long i)
{
    if (C[i].st == ST_DEAD)
        return;
    if (C[i].fd >= 0)
        close(C[i].fd);
    C[i].fd = -1;
    C[i].st = ST_DEAD;
    n_dead++;
}

static void send_token(long i, int round)
{
    uint64_t tok = ((uint64_t)round << 56) | (uint64_t)i;
    C[i].got = 0;
    if (write(C[i].fd, &tok, 8) != 8)
        kill_conn(i);
}

/* returns 1 when the token came back whole */
static int read_echo(long i)
{
    char b[64];
    for (;;) {
        ssize_t r = read(C[i].fd, b, sizeof(b));
        if (r > 0) {
            C[i].got += (int)r;
            continue;
        }
        if (r < 0 && errno == EAGAIN)
            break;
        n_eof++;
        kill_conn(i);   /* EOF or reset */
        return 0;
    }
    return C[i].got >= 8;
}

int main(int argc, char **argv)
{
    struct sockaddr_in dst = { .sin_family = AF_INET };
    struct epoll_event evs[512];
    long n, next = 0, inflight = 0, established = 0, ok2 = 0;
    int first, count, hold;
    const char *sf;
    double t0;

    if (argc < 7) {
        fprintf(stderr, "usage: t_connmany HOST PORT N FIRST COUNT HOLD [STATEFILE]\n");
        return 2;
    }
    if (inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1) {
        fprintf(stderr, "t_connmany: bad address %s\n", argv[1]);
        return 2;
    }
    dst.sin_port = htons((uint16_t)atoi(argv[2]));
    n = atol(argv[3]);
    first = atoi(argv[4]);
    count = atoi(argv[5]);
    hold = atoi(argv[6]);
    sf = argc > 7 ? argv[7] : NULL;
    if (n < 1 || first < 1 || count < 1 || first + count > 255) {
        fprintf(stderr, "t_connmany: bad N/FIRST/COUNT\n");
        return 2;
    }
    C = calloc((size_t)n, sizeof(*C));
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (!C || ep < 0) {
        perror("t_connmany: setup");
        return 1;
    }
    t0 = now_s();
    /* round 1: connect + echo, at most 256 handshakes in flight */
    while ((established + n_dead < n) && now_s() - t0 < 180) {
        while (next < n && inflight < 256) {
            struct sockaddr_in src = { .sin_family = AF_INET };
            int one = 1;
            long i = next++;
            char ip[32];
            snprintf(ip, sizeof(ip), "127.0.0.%d", first + (int)(i % count));
            inet_pton(AF_INET, ip, &src.sin_addr);
            C[i].fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (C[i].fd < 0) {
                fprintf(stderr, "t_connmany: socket: %s (at %ld)\n", strerror(errno), i);
                C[i].st = ST_IDLE;
                kill_conn(i);
                continue;
            }
            setsockopt(C[i].fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
            if (bind(C[i].fd, (struct sockaddr *)&src, sizeof(src)) < 0 ||
                (connect(C[i].fd, (struct sockaddr *)&dst, sizeof(dst)) < 0 && errno != EINPROGRESS)) {
                fprintf(stderr, "t_connmany: bind/connect from %s: %s (at %ld)\n", ip, strerror(errno), i);
                kill_conn(i);
                continue;
            }
            C[i].st = ST_CONNECTING;
            struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN | EPOLLRDHUP, .data.u64 = (uint64_t)i };
            epoll_ctl(ep, EPOLL_CTL_ADD, C[i].fd, &ev);
            inflight++;
        }
        int k = epoll_wait(ep, evs, 512, 1000);
        for (int j = 0; j < k; j++) {
            long i = (long)evs[j].data.u64;
            if (C[i].st == ST_CONNECTING) {
                int err = 0;
                socklen_t l = sizeof(err);
                getsockopt(C[i].fd, SOL_SOCKET, SO_ERROR, &err, &l);
                if (err || (evs[j].events & (EPOLLERR | EPOLLHUP))) {
                    inflight--;
                    n_refused++;
                    kill_conn(i);
                    continue;
                }
                struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.u64 = (uint64_t)i };
                epoll_ctl(ep, EPOLL_CTL_MOD, C[i].fd, &ev);
                C[i].st = ST_WAIT1;
                send_token(i, 1);
                if (C[i].st == ST_DEAD)
                    inflight--;
            } else if (C[i].st == ST_WAIT1) {
                if (read_echo(i)) {
                    C[i].st = ST_HELD;
                    established++;
                    inflight--;
                } else if (C[i].st == ST_DEAD) {
                    inflight--;
                }
            } else if (C[i].st == ST_HELD || C[i].st == ST_WAIT2) {
                read_echo(i);   /* anything now is EOF/reset */
            }
        }
    }
    printf("established %ld of %ld in %.1f s (%ld failed: %ld connect errors, %ld closed by the server)\n",
           established, n, now_s() - t0, n_dead, n_refused, n_eof);
    fflush(stdout);
    state_file(sf, "established %ld %ld\n", established, n_dead);
    /* hold: watch for connections that break */
    t0 = now_s();
    while (now_s() - t0 < hold) {
        int k = epoll_wait(ep, evs, 512, 500);
        for (int j = 0; j < k; j++) {
            long i = (long)evs[j].data.u64;
            if (C[i].st == ST_HELD)
                read_echo(i);
        }
    }
    /* round 2: every held connection answers again */
    for (long i = 0; i < n; i++)
        if (C[i].st == ST_HELD) {
            C[i].st = ST_WAIT2;
            send_token(i, 2);
        }
    t0 = now_s();
    long want = 0;
    for (long i = 0; i < n; i++)
        want += C[i].st == ST_WAIT2;
    while (ok2 < want && now_s() - t0 < 60) {
        int k = epoll_wait(ep, evs, 512, 500);
        for (int j = 0; j < k; j++) {
            long i = (long)evs[j].data.u64;
            if (C[i].st == ST_WAIT2) {
                if (read_echo(i)) {
                    C[i].st = ST_OK;
                    ok2++;
                } else if (C[i].st == ST_DEAD) {
                    want--;
                }
            }
        }
    }
    printf("alive %ld of %ld at the end, %ld broken\n", ok2, n, n - ok2);
    state_file(sf, "alive %ld broken %ld\n", ok2, n - ok2);
    return ok2 == n ? 0 : 3;
}
