/* Server-side semantics through the shim: accept4 flags, a listener shared by forked workers,
 * dup/dup2/dup3, exec inheritance, half-close both ways, SO_LINGER 0 reset, readv/writev,
 * sendfile, MSG_PEEK, poll/select/epoll (level and edge), recvfrom source address, IPv4+IPv6. */
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "tp.h"

static const char *self;

/* exec'd child: the inherited fd keeps working and answers IP-level questions */
static int exec_child(int fd)
{
    struct sockaddr_storage ss;
    socklen_t l = sizeof(ss);
    CHECK(getpeername(fd, (struct sockaddr *)&ss, &l) == 0);
    CHECK(ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
    int v = 0;
    socklen_t vl = sizeof(v);
    CHECK(getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &vl) == 0 && v == SOCK_STREAM);
    tp_write_full(fd, "from-exec", 9);
    return 0;
}

static int accept_one(int lfd, int flags)
{
    struct sockaddr_storage ss;
    socklen_t l = sizeof(ss);
    int a = accept4(lfd, (struct sockaddr *)&ss, &l, flags);
    CHECK(a >= 0);
    CHECK(ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
    return a;
}

int main(int argc, char **argv)
{
    int lfd, port, c, a, a2, fl;
    char buf[256];
    struct sockaddr_storage ss;
    socklen_t len;

    self = argv[0];
    signal(SIGPIPE, SIG_IGN);
    if (argc == 3 && !strcmp(argv[1], "exec-child"))
        return exec_child(atoi(argv[2]));

    for (int dom = AF_INET; dom <= AF_INET6; dom += AF_INET6 - AF_INET) {
        lfd = tp_listen(dom, 64, &port);
        int v = 0;
        socklen_t vl = sizeof(v);
        CHECK(getsockopt(lfd, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl) == 0 && v == 1);
        CHECK(getsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &v, &vl) == 0 && v == 1);

        /* accept4 flags */
        c = raw_dial(dom, port);
        a = accept_one(lfd, SOCK_NONBLOCK | SOCK_CLOEXEC);
        CHECK((fcntl(a, F_GETFL) & O_NONBLOCK) != 0);
        CHECK((fcntl(a, F_GETFD) & FD_CLOEXEC) != 0);
        len = sizeof(ss);
        CHECK(getsockname(a, (struct sockaddr *)&ss, &len) == 0 && ss.ss_family == dom && tp_port(&ss) == port);
        {
            struct sockaddr_storage cs, ps;
            socklen_t l1 = sizeof(cs), l2 = sizeof(ps);
            CHECK(raw_getsockname(c, &cs, &l1) == 0);
            CHECK(getpeername(a, (struct sockaddr *)&ps, &l2) == 0);
            CHECK_EQ(tp_port(&cs), tp_port(&ps));
            CHECK_EQ(l1, l2);
        }
        CHECK(read(a, buf, 1) == -1 && errno == EAGAIN);
        close(a);
        close(c);
        c = raw_dial(dom, port);
        a = accept_one(lfd, 0);
        CHECK((fcntl(a, F_GETFL) & O_NONBLOCK) == 0);
        CHECK((fcntl(a, F_GETFD) & FD_CLOEXEC) == 0);

        /* recvfrom fills the IP source; sendto ignores the address on a connected socket */
        CHECK(write(c, "abc", 3) == 3);
        len = sizeof(ss);
        memset(&ss, 0, sizeof(ss));
        CHECK_EQ(recvfrom(a, buf, 3, MSG_WAITALL, (struct sockaddr *)&ss, &len), 3);
        CHECK_EQ(ss.ss_family, dom);
        CHECK_EQ(sendto(a, "de", 2, 0, (struct sockaddr *)&ss, len), 2);
        CHECK_EQ(tp_read_full(c, buf, 2), 2);

        /* MSG_PEEK */
        CHECK(write(c, "peek", 4) == 4);
        CHECK_EQ(recv(a, buf, 4, MSG_PEEK | MSG_WAITALL), 4);
        CHECK_EQ(recv(a, buf + 4, 4, MSG_WAITALL), 4);
        CHECK(memcmp(buf, buf + 4, 4) == 0 && memcmp(buf, "peek", 4) == 0);

        /* readv / writev */
        {
            struct iovec iv[3] = { { "one-", 4 }, { "two-", 4 }, { "three", 5 } };
            CHECK_EQ(writev(a, iv, 3), 13);
            CHECK_EQ(tp_read_full(c, buf, 13), 13);
            CHECK(memcmp(buf, "one-two-three", 13) == 0);
            CHECK(write(c, "0123456789", 10) == 10);
            char x[4], y[6];
            struct iovec rv[2] = { { x, 4 }, { y, 6 } };
            size_t got = 0;
            while (got < 10) {
                ssize_t r = readv(a, rv, 2);
                CHECK(r > 0);
                got += (size_t)r;
                if (got < 10) { /* rare split: finish with plain reads */
                    char tmp[10];
                    CHECK_EQ(tp_read_full(a, tmp, 10 - got), (ssize_t)(10 - got));
                    got = 10;
                    memcpy(buf, x, 4);
                    break;
                }
            }
            CHECK(memcmp(x, "0123", 4) == 0);
        }

        /* sendfile */
        {
            char path[] = "/tmp/mw-sendfile-XXXXXX";
            int tf = mkstemp(path);
            char data[100000];
            for (size_t i = 0; i < sizeof(data); i++) data[i] = (char)(i * 7);
            tp_write_full(tf, data, sizeof(data));
            off_t off = 0;
            size_t sent = 0;
            while (sent < sizeof(data)) {
                ssize_t r = sendfile(a, tf, &off, sizeof(data) - sent);
                CHECK(r > 0);
                sent += (size_t)r;
                /* the peer must drain for large files; read what arrived */
                if (sent < sizeof(data)) break;
            }
            static char got[100000];
            size_t rg = 0;
            while (rg < sent) {
                ssize_t r = read(c, got + rg, sent - rg);
                CHECK(r > 0);
                rg += (size_t)r;
            }
            while (sent < sizeof(data)) {
                ssize_t r = sendfile(a, tf, &off, sizeof(data) - sent);
                CHECK(r > 0);
                CHECK_EQ(tp_read_full(c, got + sent, (size_t)r), r);
                sent += (size_t)r;
            }
            CHECK(memcmp(got, data, sizeof(data)) == 0);
            close(tf);
            unlink(path);
        }

        /* poll / select / epoll level- and edge-triggered */
        {
            struct pollfd p = { .fd = a, .events = POLLIN };
            CHECK_EQ(poll(&p, 1, 50), 0);
            fd_set rs;
            struct timeval tv = { 0, 50000 };
            FD_ZERO(&rs);
            FD_SET(a, &rs);
            CHECK_EQ(select(a + 1, &rs, NULL, NULL, &tv), 0);
            int ep = epoll_create1(0), ep2 = epoll_create1(0);
            struct epoll_event e = { .events = EPOLLIN, .data.fd = a }, out;
            CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, a, &e) == 0);
            e.events = EPOLLIN | EPOLLET;
            CHECK(epoll_ctl(ep2, EPOLL_CTL_ADD, a, &e) == 0);
            CHECK_EQ(epoll_wait(ep, &out, 1, 50), 0);
            CHECK(write(c, "xy", 2) == 2);
            CHECK_EQ(poll(&p, 1, 2000), 1);
            tv.tv_sec = 2;
            FD_SET(a, &rs);
            CHECK_EQ(select(a + 1, &rs, NULL, NULL, &tv), 1);
            CHECK_EQ(epoll_wait(ep, &out, 1, 2000), 1);
            CHECK_EQ(epoll_wait(ep, &out, 1, 0), 1);     /* level: again */
            CHECK_EQ(epoll_wait(ep2, &out, 1, 2000), 1);
            CHECK_EQ(epoll_wait(ep2, &out, 1, 50), 0);   /* edge: not again */
            CHECK_EQ(read(a, buf, 1), 1);
            CHECK_EQ(epoll_wait(ep2, &out, 1, 50), 0);
            CHECK(write(c, "z", 1) == 1);
            CHECK_EQ(epoll_wait(ep2, &out, 1, 2000), 1); /* edge: new data, new event */
            CHECK_EQ(tp_read_full(a, buf, 2), 2);
            /* writability */
            e.events = EPOLLOUT | EPOLLET;
            CHECK(epoll_ctl(ep2, EPOLL_CTL_MOD, a, &e) == 0);
            CHECK_EQ(epoll_wait(ep2, &out, 1, 1000), 1);
            close(ep);
            close(ep2);
        }

        /* dup / dup2 / dup3: the connection lives while any copy does */
        {
            int d1 = dup(a);
            CHECK(d1 >= 0);
            close(a);
            CHECK(write(d1, "dup", 3) == 3);
            CHECK_EQ(tp_read_full(c, buf, 3), 3);
            int target = open("/dev/null", O_RDONLY);
            CHECK(dup2(d1, target) == target);
            int t3 = open("/dev/null", O_RDONLY);
            CHECK(dup3(d1, t3, O_CLOEXEC) == t3);
            CHECK((fcntl(t3, F_GETFD) & FD_CLOEXEC) != 0);
            close(d1);
            close(target);
            CHECK(!tp_readable(c, 100));        /* still open: no EOF at the peer */
            len = sizeof(ss);
            CHECK(getpeername(t3, (struct sockaddr *)&ss, &len) == 0);
            CHECK(write(t3, "3", 1) == 1);
            CHECK_EQ(tp_read_full(c, buf, 1), 1);
            a = t3;
        }

        /* exec inheritance */
        {
            fcntl(a, F_SETFD, 0);
            pid_t pid = fork();
            if (pid == 0) {
                char fdtxt[16];
                snprintf(fdtxt, sizeof(fdtxt), "%d", a);
                execl(self, self, "exec-child", fdtxt, (char *)NULL);
                _exit(127);
            }
            int st;
            CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
            CHECK_EQ(tp_read_full(c, buf, 9), 9);
            CHECK(memcmp(buf, "from-exec", 9) == 0);
        }

        /* half-close: we shut down writing, the peer sees EOF and still talks to us */
        CHECK(shutdown(a, SHUT_WR) == 0);
        CHECK_EQ(read(c, buf, sizeof(buf)), 0);
        CHECK(write(c, "after", 5) == 5);
        CHECK_EQ(tp_read_full(a, buf, 5), 5);
        CHECK(write(a, "x", 1) == -1 && errno == EPIPE);
        close(a);
        close(c);

        /* half-close the other way: the peer shuts down, we read EOF and can still write */
        c = raw_dial(dom, port);
        a = accept_one(lfd, 0);
        CHECK(shutdown(c, SHUT_WR) == 0);
        CHECK_EQ(read(a, buf, sizeof(buf)), 0);
        CHECK(write(a, "still", 5) == 5);
        CHECK_EQ(tp_read_full(c, buf, 5), 5);
        close(a);
        CHECK_EQ(read(c, buf, sizeof(buf)), 0);
        close(c);

        /* SO_LINGER 0: close sends a reset */
        c = raw_dial(dom, port);
        a = accept_one(lfd, 0);
        {
            struct linger lg = { 1, 0 };
            CHECK(setsockopt(a, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) == 0);
            struct linger lg2;
            socklen_t ll = sizeof(lg2);
            CHECK(getsockopt(a, SOL_SOCKET, SO_LINGER, &lg2, &ll) == 0 && lg2.l_onoff == 1);
            close(a);
            CHECK(tp_readable(c, 3000));
            ssize_t r = read(c, buf, sizeof(buf));
            CHECK(r == -1 && errno == ECONNRESET);
        }
        close(c);

        /* nonblocking listener: EAGAIN when nothing is pending */
        fl = fcntl(lfd, F_GETFL);
        CHECK(fcntl(lfd, F_SETFL, fl | O_NONBLOCK) == 0);
        CHECK(accept(lfd, NULL, NULL) == -1 && errno == EAGAIN);
        CHECK(fcntl(lfd, F_SETFL, fl) == 0);

        /* a listener shared by forked workers (prefork) */
        {
            enum { WORKERS = 3, CONNS = 30 };
            pid_t w[WORKERS];
            for (int i = 0; i < WORKERS; i++) {
                w[i] = fork();
                if (w[i] == 0) {
                    for (;;) {
                        int x = accept(lfd, NULL, NULL);
                        if (x < 0) _exit(2);
                        char q;
                        if (read(x, &q, 1) != 1) _exit(3);
                        if (q == 'Q') { close(x); _exit(0); }
                        int pid = getpid();
                        if (write(x, &pid, sizeof(pid)) != sizeof(pid)) _exit(4);
                        close(x);
                    }
                }
            }
            int seen[WORKERS] = { 0 };
            for (int i = 0; i < CONNS; i++) {
                int cc = raw_dial(dom, port);
                int pid;
                CHECK(write(cc, "h", 1) == 1);
                CHECK_EQ(tp_read_full(cc, &pid, sizeof(pid)), (ssize_t)sizeof(pid));
                for (int k = 0; k < WORKERS; k++) if (w[k] == pid) seen[k]++;
                close(cc);
            }
            int total = 0;
            for (int k = 0; k < WORKERS; k++) total += seen[k];
            CHECK_EQ(total, CONNS);
            for (int i = 0; i < WORKERS; i++) {
                int cc = raw_dial(dom, port);
                CHECK(write(cc, "Q", 1) == 1);
                close(cc);
            }
            for (int i = 0; i < WORKERS; i++) {
                int st;
                CHECK(waitpid(w[i], &st, 0) == w[i] && WIFEXITED(st) && WEXITSTATUS(st) == 0);
            }
        }
        /* the parent's listener still works after the workers are gone */
        c = raw_dial(dom, port);
        a = accept_one(lfd, 0);
        close(a);
        close(c);
        close(lfd);
        (void)a2;
    }
    TP_DONE("t_server");
}
