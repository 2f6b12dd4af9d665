/* Hostile control messages straight at mwcomms's rendezvous: truncated, oversized, wrong magic or
 * version, wrong fd counts, bad fields, foreign fds, replies where requests belong. Each must get
 * an error reply (or be dropped) and mwcomms must keep serving. Run WITHOUT the shim. */
#include <sys/stat.h>

#include "mw/ctl.h"
#include "tp.h"

static int dial(const char *path)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    CHECK(connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0);
    struct timeval tv = { 3, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

/* send raw bytes (+fds), expect an error reply with the given status */
static void expect_error(int fd, const void *msg, size_t len, const int *fds, int nfds, int want)
{
    struct mw_ctl_msg rep;
    int rf[MW_CTL_MAX_FDS], nr;
    CHECK(mw_ctl_send(fd, msg, len, fds, nfds, 0) == 0);
    ssize_t n = mw_ctl_recv(fd, &rep, sizeof(rep), rf, &nr, 0);
    CHECK(n >= (ssize_t)sizeof(struct mw_ctl_hdr));
    CHECK_EQ(nr, 0);
    CHECK(rep.h.flags & MW_CTL_F_REPLY);
    if (want)
        CHECK_EQ(rep.h.status, want);
    else
        CHECK(rep.h.status < 0);
}

static void expect_silence(int fd, const void *msg, size_t len)
{
    char b[512];
    CHECK(mw_ctl_send(fd, msg, len, NULL, 0, 0) == 0);
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int r = poll(&p, 1, 200);
    if (r == 1) {
        ssize_t n = recv(fd, b, sizeof(b), MSG_DONTWAIT);
        /* a reply is fine only if it is an error */
        if (n >= (ssize_t)sizeof(struct mw_ctl_hdr))
            CHECK(((struct mw_ctl_hdr *)b)->status < 0);
    }
}

static void still_alive(const char *path)
{
    int fd = dial(path);
    struct mw_ctl_msg m;
    mw_ctl_init(&m, MW_OP_HELLO, 7, 0);
    m.u.hello.pid = getpid();
    struct mw_ctl_msg rep;
    int rf[4], nr;
    CHECK(mw_ctl_send(fd, &m, m.h.len, NULL, 0, 0) == 0);
    CHECK(mw_ctl_recv(fd, &rep, sizeof(rep), rf, &nr, 0) > 0);
    CHECK_EQ(rep.h.status, 0);
    CHECK_EQ(rep.h.req_id, 7);
    close(fd);
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : getenv("MW_RENDEZVOUS");
    struct mw_ctl_msg m;
    int fd, sv[2], sv2[2];
    CHECK(path != NULL);
    fd = dial(path);

    /* truncated header */
    mw_ctl_init(&m, MW_OP_HELLO, 1, 0);
    m.u.hello.pid = getpid();
    expect_silence(fd, &m, 10);
    /* wrong magic, wrong version */
    m.h.magic = 0xdeadbeef;
    expect_silence(fd, &m, m.h.len);
    mw_ctl_init(&m, MW_OP_HELLO, 2, 0);
    m.u.hello.pid = getpid();
    m.h.version = 99;
    expect_silence(fd, &m, m.h.len);
    /* length field disagrees with the packet */
    mw_ctl_init(&m, MW_OP_HELLO, 3, 0);
    m.u.hello.pid = getpid();
    m.h.len = 9999;
    expect_error(fd, &m, mw_ctl_msg_size(MW_OP_HELLO, 0), NULL, 0, -EPROTO);
    /* unknown op */
    mw_ctl_init(&m, 999, 4, 0);
    expect_silence(fd, &m, sizeof(struct mw_ctl_hdr));
    /* an op the shim may not send (INS-only) */
    mw_ctl_init(&m, MW_OP_OBS, 5, 0);
    expect_error(fd, &m, mw_ctl_msg_size(MW_OP_OBS, 0), NULL, 0, -EPROTO);
    /* SOCKET with no fds, with one fd, with bad domain */
    mw_ctl_init(&m, MW_OP_SOCKET, 6, 0);
    m.u.socket.domain = AF_INET;
    m.u.socket.type = SOCK_STREAM;
    expect_error(fd, &m, m.h.len, NULL, 0, -EBADF);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    expect_error(fd, &m, m.h.len, sv, 1, -EBADF);
    m.u.socket.domain = AF_PACKET;
    expect_error(fd, &m, m.h.len, sv, 2, -EAFNOSUPPORT);
    /* SOCKET with fds that are not a unix stream pair (a regular file) */
    int files[2] = { open("/dev/null", O_RDONLY), open("/dev/null", O_RDONLY) };
    m.u.socket.domain = AF_INET;
    expect_error(fd, &m, m.h.len, files, 2, -EBADF);
    /* BIND on a socket mwcomms does not know: EBADF */
    mw_ctl_init(&m, MW_OP_BIND, 8, 0);
    m.u.addr.addr.family = AF_INET;
    m.u.addr.addr.port = 1;
    expect_error(fd, &m, m.h.len, sv, 1, -EBADF);
    /* bad address family / non-zero IPv4 tail */
    m.u.addr.addr.family = 77;
    expect_error(fd, &m, m.h.len, sv, 1, -EAFNOSUPPORT);
    m.u.addr.addr.family = AF_INET;
    m.u.addr.addr.addr[9] = 1;
    expect_error(fd, &m, m.h.len, sv, 1, -EINVAL);
    /* sockopt with an oversized length */
    mw_ctl_init(&m, MW_OP_SETSOCKOPT, 9, 0);
    m.u.sockopt.optlen = 100000;
    expect_error(fd, &m, m.h.len, sv, 1, -EINVAL);
    /* LISTEN with the wrong kinds of fds */
    mw_ctl_init(&m, MW_OP_LISTEN, 10, 0);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv2) == 0);
    int three[3] = { sv[0], sv2[0], sv2[1] };
    expect_error(fd, &m, m.h.len, three, 3, 0);
    /* a reply where a request belongs */
    mw_ctl_init(&m, MW_OP_HELLO, 11, 0);
    m.u.hello.pid = getpid();
    m.h.flags = MW_CTL_F_REPLY;
    m.h.len = (uint32_t)mw_ctl_msg_size(MW_OP_HELLO, 1);
    expect_silence(fd, &m, m.h.len);
    /* oversized packet */
    {
        static char big[MW_CTL_MAX_MSG + 100];
        memset(big, 0x41, sizeof(big));
        ssize_t r = send(fd, big, 4000, 0);
        CHECK(r == 4000);
        usleep(100000);
    }
    /* random garbage, many times */
    srand(42);
    for (int i = 0; i < 2000; i++) {
        unsigned char g[400];
        size_t n = (size_t)(rand() % (int)sizeof(g));
        for (size_t k = 0; k < n; k++) g[k] = (unsigned char)rand();
        if (n >= sizeof(struct mw_ctl_hdr) && (i & 1)) {
            struct mw_ctl_hdr *h = (struct mw_ctl_hdr *)g;
            h->magic = MW_CTL_MAGIC;
            h->version = MW_CTL_VERSION;
            h->len = (uint32_t)n;
            h->op = (uint16_t)(rand() % 80);
            h->flags &= 3;
        }
        if (n == 0) n = 1;
        CHECK(send(fd, g, n, MSG_NOSIGNAL) == (ssize_t)n || errno == EPIPE || errno == ECONNRESET);
        if (i % 100 == 0) {
            /* drain replies so our receive queue does not fill */
            char b[1024];
            while (recv(fd, b, sizeof(b), MSG_DONTWAIT) > 0)
                ;
        }
    }
    close(fd);
    still_alive(path);
    TP_DONE("t_malformed");
}
