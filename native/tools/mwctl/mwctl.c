/* mwctl: talk to a running mwcomms over its rendezvous socket.
 *   mwctl [--rendezvous PATH] status            JSON status (INS list, sockets, NetFlow address)
 *   mwctl [--rendezvous PATH] trace on|off|show|reset
 *   mwctl [--rendezvous PATH] wait SECONDS      wait until mwcomms answers
 * Exit status: 0 ok, 1 mwcomms not reachable or refused, 2 usage. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "mw/ctl.h"

static int usage(void)
{
    fprintf(stderr, "usage: mwctl [--rendezvous PATH] status | trace on|off|show|reset | wait SECONDS\n");
    return 2;
}

static int dial(const char *path)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int fd;
    if (strlen(path) >= sizeof(sun.sun_path))
        return -ENAMETOOLONG;
    strcpy(sun.sun_path, path);
    fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

static int call_text(const char *path, unsigned op, uint32_t action)
{
    struct mw_ctl_msg req;
    char *buf = malloc(MW_CTL_MAX_MSG + 1);
    int fds[MW_CTL_MAX_FDS], nfds, fd, r;
    ssize_t n;
    struct timeval tv = { .tv_sec = 5 };

    if (!buf)
        return 1;
    fd = dial(path);
    if (fd < 0) {
        fprintf(stderr, "mwctl: connect(%s): %s (is mwcomms running? ./mw up)\n", path, strerror(-fd));
        free(buf);
        return 1;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    mw_ctl_init(&req, op, 1, 0);
    if (op == MW_OP_TRACE)
        req.u.trace.action = action;
    r = mw_ctl_send(fd, &req, req.h.len, NULL, 0, 0);
    if (r < 0) {
        fprintf(stderr, "mwctl: sendmsg: %s\n", strerror(-r));
        goto fail;
    }
    n = mw_ctl_recv(fd, buf, MW_CTL_MAX_MSG, fds, &nfds, 0);
    if (n <= 0) {
        fprintf(stderr, "mwctl: recvmsg: %s\n", n == 0 ? "mwcomms closed the connection" : strerror((int)-n));
        goto fail;
    }
    mw_ctl_close_fds(fds, nfds);
    r = mw_ctl_check(buf, (size_t)n, nfds, MW_FROM_HUB);
    if (r < 0) {
        fprintf(stderr, "mwctl: malformed reply: %s\n", strerror(-r));
        goto fail;
    }
    {
        struct mw_ctl_hdr *h = (struct mw_ctl_hdr *)buf;
        if (h->status < 0) {
            fprintf(stderr, "mwctl: mwcomms refused: %s\n", strerror(-h->status));
            goto fail;
        }
        fwrite(buf + sizeof(*h), 1, (size_t)n - sizeof(*h), stdout);
    }
    close(fd);
    free(buf);
    return 0;
fail:
    close(fd);
    free(buf);
    return 1;
}

int main(int argc, char **argv)
{
    const char *path = getenv("MW_RENDEZVOUS");
    char def[512];
    int i = 1;
    if (!path || !*path) {
        const char *st = getenv("MW_STATE");
        if (st && *st) {
            snprintf(def, sizeof(def), "%s/run/mwcomms.sock", st);
            path = def;
        } else {
            path = "/run/mw/mwcomms.sock";
        }
    }
    if (i + 1 < argc && !strcmp(argv[i], "--rendezvous")) {
        path = argv[i + 1];
        i += 2;
    }
    if (i >= argc)
        return usage();
    if (!strcmp(argv[i], "status"))
        return call_text(path, MW_OP_STATUS, 0);
    if (!strcmp(argv[i], "trace") && i + 1 < argc) {
        const char *a = argv[i + 1];
        uint32_t act = !strcmp(a, "off") ? 0 : !strcmp(a, "on") ? 1 : !strcmp(a, "show") ? 2 :
                       !strcmp(a, "reset") ? 3 : 99;
        if (act == 99)
            return usage();
        return call_text(path, MW_OP_TRACE, act);
    }
    if (!strcmp(argv[i], "wait") && i + 1 < argc) {
        double secs = atof(argv[i + 1]);
        struct timespec t0, t;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (;;) {
            int fd = dial(path);
            if (fd >= 0) {
                close(fd);
                return 0;
            }
            clock_gettime(CLOCK_MONOTONIC, &t);
            if ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 > secs) {
                fprintf(stderr, "mwctl: mwcomms did not answer on %s within %gs\n", path, secs);
                return 1;
            }
            usleep(50000);
        }
    }
    return usage();
}
