/* An epoll echo server for the scale tests (tests/system/8x-*.sh), run under the shim as the
 * protected program: one thread, non-blocking, any number of connections (bounded by its fd
 * limit). Not part of run-programs.sh.
 *
 *   t_echosrv ADDR PORT [PORTFILE]   PORT 0 = ephemeral; the bound port is written to PORTFILE
 *
 * Every byte read is written back. A second listener can be opened later: on SIGUSR1 the server
 * opens ADDR:PORT2 where PORT2 is read from "$PORTFILE.2" (0 = ephemeral, the bound port is
 * written back to "$PORTFILE.2.bound"). On SIGUSR2 it sets SO_RCVBUF 100000 on every listener
 * (an option change after listen(), for the replication tests). SIGTERM ends it. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *g_addr, *g_portfile;
static int g_lfd[16], g_nl;

static int open_listener(int ep, const char *addr, int port, const char *outfile)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    socklen_t l = sizeof(sa);
    int one = 1, fd;
    struct epoll_event ev;
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        fprintf(stderr, "t_echosrv: bad IPv4 address %s\n", addr);
        return -1;
    }
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4096) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &l) < 0) {
        perror("t_echosrv: socket/bind/listen");
        return -1;
    }
    ev.events = EPOLLIN;
    ev.data.u64 = (uint64_t)fd | (1ull << 32);   /* bit 32: a listener */
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        perror("t_echosrv: epoll_ctl(listener)");
        return -1;
    }
    if (outfile) {
        char tmp[512];
        snprintf(tmp, sizeof(tmp), "%s.tmp", outfile);
        FILE *f = fopen(tmp, "w");
        if (!f || fprintf(f, "%u\n", ntohs(sa.sin_port)) < 0 || fclose(f) != 0 || rename(tmp, outfile) < 0) {
            perror("t_echosrv: write port file");
            return -1;
        }
    }
    if (g_nl < 16)
        g_lfd[g_nl++] = fd;
    printf("listening on %s:%u\n", addr, ntohs(sa.sin_port));
    fflush(stdout);
    return fd;
}

int main(int argc, char **argv)
{
    static char buf[16384];
    struct epoll_event evs[256], ev;
    sigset_t ss;
    int ep, sfd;
    long conns = 0;

    if (argc < 3) {
        fprintf(stderr, "usage: t_echosrv ADDR PORT [PORTFILE]\n");
        return 2;
    }
    g_addr = argv[1];
    g_portfile = argc > 3 ? argv[3] : NULL;
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&ss);
    sigaddset(&ss, SIGUSR1);
    sigaddset(&ss, SIGUSR2);
    sigaddset(&ss, SIGTERM);
    sigaddset(&ss, SIGINT);
    sigprocmask(SIG_BLOCK, &ss, NULL);
    ep = epoll_create1(EPOLL_CLOEXEC);
    sfd = signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC);
    if (ep < 0 || sfd < 0) {
        perror("t_echosrv: epoll/signalfd");
        return 1;
    }
    ev.events = EPOLLIN;
    ev.data.u64 = (uint64_t)sfd | (2ull << 32);
    epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
    if (open_listener(ep, g_addr, atoi(argv[2]), g_portfile) < 0)
        return 1;
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("t_echosrv: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            int fd = (int)(evs[i].data.u64 & 0xffffffffu);
            unsigned kind = (unsigned)(evs[i].data.u64 >> 32);
            if (kind == 2) {
                struct signalfd_siginfo si;
                while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
                    if (si.ssi_signo == SIGUSR2) {
                        int rb = 100000;
                        for (int k = 0; k < g_nl; k++)
                            if (setsockopt(g_lfd[k], SOL_SOCKET, SO_RCVBUF, &rb, sizeof(rb)) < 0)
                                perror("t_echosrv: setsockopt(SO_RCVBUF)");
                        printf("SO_RCVBUF set on %d listeners\n", g_nl);
                        fflush(stdout);
                        continue;
                    }
                    if (si.ssi_signo != SIGUSR1) {
                        printf("t_echosrv: %ld connections open at exit\n", conns);
                        return 0;
                    }
                    char pf[512], bf[520];
                    int port = 0;
                    snprintf(pf, sizeof(pf), "%s.2", g_portfile ? g_portfile : "/dev/null");
                    snprintf(bf, sizeof(bf), "%s.bound", pf);
                    FILE *f = fopen(pf, "r");
                    if (f) {
                        if (fscanf(f, "%d", &port) != 1)
                            port = 0;
                        fclose(f);
                    }
                    if (open_listener(ep, g_addr, port, g_portfile ? bf : NULL) < 0)
                        return 1;
                }
                continue;
            }
            if (kind == 1) {
                for (;;) {
                    int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (c < 0) {
                        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                            perror("t_echosrv: accept4");
                        break;
                    }
                    ev.events = EPOLLIN | EPOLLRDHUP;
                    ev.data.u64 = (uint64_t)c;
                    if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev) < 0) {
                        perror("t_echosrv: epoll_ctl(conn)");
                        close(c);
                        continue;
                    }
                    conns++;
                }
                continue;
            }
            for (;;) {
                ssize_t r = read(fd, buf, sizeof(buf));
                if (r > 0) {
                    /* echo; the messages are small, a full buffer here means a dead peer */
                    if (write(fd, buf, (size_t)r) != r) {
                        close(fd);
                        conns--;
                        break;
                    }
                    continue;
                }
                if (r < 0 && (errno == EAGAIN || errno == EINTR))
                    break;
                close(fd);   /* EOF or error */
                conns--;
                break;
            }
        }
    }
}
