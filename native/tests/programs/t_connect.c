/* Blocking and non-blocking connect through the shim: EINPROGRESS, no POLLOUT before the TCP
 * handshake completes, POLLOUT after, SO_ERROR, refused connections, EINTR, IP-level names. */
#include "tp.h"

static void on_alarm(int sig) { (void)sig; }

/* A listener whose accept queue is full: further SYNs are dropped, so a connect stays in
 * progress until we make room. */
static int stuck_listener(int *port, int *fillers, int nfill)
{
    int l = raw_listen(AF_INET, 0, port);
    for (int i = 0; i < nfill; i++) {
        struct sockaddr_storage ss;
        socklen_t len;
        fillers[i] = raw_socket(AF_INET);
        fcntl(fillers[i], F_SETFL, O_NONBLOCK);
        tp_addr(AF_INET, &ss, &len, *port);
        raw_connect(fillers[i], &ss, len);
    }
    usleep(200000);
    return l;
}

int main(void)
{
    int port, lfd, fd, r, err;
    socklen_t el;
    struct sockaddr_storage ss, peer;
    socklen_t len;

    /* 1. blocking connect, IPv4 and IPv6, names are IP-level */
    for (int dom = AF_INET; dom <= AF_INET6; dom += AF_INET6 - AF_INET) {
        lfd = raw_listen(dom, 16, &port);
        fd = tp_dial(dom, port);
        int a = raw_accept(lfd);
        CHECK(a >= 0);
        len = sizeof(ss);
        CHECK(getpeername(fd, (struct sockaddr *)&ss, &len) == 0);
        CHECK_EQ(ss.ss_family, dom);
        CHECK_EQ(tp_port(&ss), port);
        len = sizeof(ss);
        CHECK(getsockname(fd, (struct sockaddr *)&ss, &len) == 0);
        CHECK_EQ(ss.ss_family, dom);
        len = sizeof(peer);
        CHECK(raw_getpeername(a, &peer, &len) == 0);
        CHECK_EQ(tp_port(&ss), tp_port(&peer));   /* our local port is what the peer sees */
        int v = 0;
        socklen_t vl = sizeof(v);
        CHECK(getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &vl) == 0 && v == SOCK_STREAM);
        CHECK(getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &vl) == 0 && v == dom);
        CHECK(getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &v, &vl) == 0 && v == IPPROTO_TCP);
        CHECK(getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl) == 0 && v == 0);
        v = 1;
        CHECK(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v)) == 0);
        v = 0;
        CHECK(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &vl) == 0 && v == 1);
        struct tcp_info ti;
        socklen_t tl = sizeof(ti);
        CHECK(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0 && ti.tcpi_state == 1 /* ESTABLISHED */);
        CHECK(write(fd, "ping", 4) == 4);
        char b[8];
        CHECK_EQ(tp_read_full(a, b, 4), 4);
        CHECK(memcmp(b, "ping", 4) == 0);
        close(fd);
        CHECK_EQ(read(a, b, 8), 0);   /* our close reaches the peer as FIN */
        close(a);
        close(lfd);
    }

    /* 2. refused: blocking and non-blocking */
    lfd = raw_listen(AF_INET, 1, &port);
    close(lfd);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    tp_addr(AF_INET, &ss, &len, port);
    r = connect(fd, (struct sockaddr *)&ss, len);
    CHECK(r == -1 && errno == ECONNREFUSED);
    close(fd);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    r = connect(fd, (struct sockaddr *)&ss, len);
    CHECK(r == 0 || (r == -1 && (errno == EINPROGRESS || errno == ECONNREFUSED)));
    if (r == -1 && errno == EINPROGRESS) {
        struct pollfd p = { .fd = fd, .events = POLLOUT };
        CHECK(poll(&p, 1, 3000) == 1);
        el = sizeof(err);
        CHECK(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0);
        CHECK_EQ(err, ECONNREFUSED);
        el = sizeof(err);
        CHECK(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0);
        CHECK_EQ(err, 0);   /* read-and-clear */
    }
    close(fd);

    /* 3. non-blocking connect that cannot complete yet: EINPROGRESS and no POLLOUT, then POLLOUT
     *    once the listener makes room, SO_ERROR 0, connect again says EISCONN */
    int fillers[4];
    lfd = stuck_listener(&port, fillers, 2);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    tp_addr(AF_INET, &ss, &len, port);
    r = connect(fd, (struct sockaddr *)&ss, len);
    CHECK(r == -1 && errno == EINPROGRESS);
    {
        struct pollfd p = { .fd = fd, .events = POLLOUT };
        CHECK_EQ(poll(&p, 1, 400), 0);          /* not writable while connecting */
        CHECK(write(fd, "x", 1) == -1 && errno == EAGAIN);
        r = connect(fd, (struct sockaddr *)&ss, len);
        CHECK(r == -1 && errno == EALREADY);
        el = sizeof(err);
        CHECK(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0);
        len = sizeof(peer);
        CHECK(getpeername(fd, (struct sockaddr *)&peer, &len) == -1 && errno == ENOTCONN);
        /* make room: accept the queued ones; the SYN retransmission gets through */
        for (int i = 0; i < 3; i++) {
            int a = raw_accept(lfd);
            if (a >= 0) close(a);
            if (i == 1) break;
        }
        double t0 = tp_now();
        CHECK_EQ(poll(&p, 1, 8000), 1);
        CHECK(p.revents & POLLOUT);
        fprintf(stderr, "  connect completed %.2fs after room was made\n", tp_now() - t0);
        el = sizeof(err);
        CHECK(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0);
        CHECK_EQ(err, 0);
        len = sizeof(peer);
        CHECK(getpeername(fd, (struct sockaddr *)&peer, &len) == 0 && tp_port(&peer) == port);
        r = connect(fd, (struct sockaddr *)&ss, len);
        CHECK(r == -1 && errno == EISCONN);
        /* the restored send buffer takes more than the 4 KiB filler size */
        char big[65536];
        memset(big, 'z', sizeof(big));
        ssize_t w = write(fd, big, sizeof(big));
        CHECK(w > 16384);
    }
    close(fd);
    for (int i = 0; i < 2; i++) close(fillers[i]);
    close(lfd);

    /* 4. EINTR: a blocking connect interrupted by a signal returns EINTR and completes later */
    lfd = stuck_listener(&port, fillers, 2);
    {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_alarm;    /* no SA_RESTART */
        sigaction(SIGALRM, &sa, NULL);
        fd = socket(AF_INET, SOCK_STREAM, 0);
        tp_addr(AF_INET, &ss, &len, port);
        alarm(1);
        r = connect(fd, (struct sockaddr *)&ss, len);
        CHECK(r == -1 && errno == EINTR);
        for (int i = 0; i < 2; i++) {
            int a = raw_accept(lfd);
            if (a >= 0) close(a);
        }
        struct pollfd p = { .fd = fd, .events = POLLOUT };
        CHECK_EQ(poll(&p, 1, 8000), 1);
        el = sizeof(err);
        CHECK(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0);
        r = connect(fd, (struct sockaddr *)&ss, len);
        CHECK(r == -1 && errno == EISCONN);
        close(fd);
    }
    for (int i = 0; i < 2; i++) close(fillers[i]);
    close(lfd);

    /* 5. bind before connect fixes the local address */
    lfd = raw_listen(AF_INET, 4, &port);
    {
        int lp;
        int tmp = raw_listen(AF_INET, 1, &lp);   /* find a free port, then release it */
        close(tmp);
        fd = socket(AF_INET, SOCK_STREAM, 0);
        tp_addr(AF_INET, &ss, &len, lp);
        CHECK(bind(fd, (struct sockaddr *)&ss, len) == 0);
        tp_addr(AF_INET, &ss, &len, port);
        CHECK(connect(fd, (struct sockaddr *)&ss, len) == 0);
        int a = raw_accept(lfd);
        len = sizeof(peer);
        CHECK(raw_getpeername(a, &peer, &len) == 0);
        CHECK_EQ(tp_port(&peer), lp);
        close(a);
        close(fd);
    }
    close(lfd);
    TP_DONE("t_connect");
}
