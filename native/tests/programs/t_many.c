/* Many concurrent connections on one INS (default 5000, MW_MANY_CONNS overrides): a shimmed
 * listener accepts them all from plain clients, every one echoes a token, then all close. */
#include <sys/resource.h>

#include "tp.h"

int main(void)
{
    const char *e = getenv("MW_MANY_CONNS");
    int n = e ? atoi(e) : 5000, port, lfd;
    int *cl = calloc((size_t)n, sizeof(int)), *ac = calloc((size_t)n, sizeof(int));
    struct rlimit rl;
    CHECK(cl && ac);
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    CHECK(rl.rlim_cur > (rlim_t)(2 * n + 64));
    lfd = tp_listen(AF_INET, 4096, &port);
    int nb = fcntl(lfd, F_GETFL);
    fcntl(lfd, F_SETFL, nb | O_NONBLOCK);
    int accepted = 0;
    double t0 = tp_now();
    for (int i = 0; i < n; i++) {
        struct sockaddr_storage ss;
        socklen_t l;
        cl[i] = raw_socket(AF_INET);
        CHECK(cl[i] >= 0);
        tp_addr(AF_INET, &ss, &l, port);
        CHECK(raw_connect(cl[i], &ss, l) == 0);
        /* accept as we go so the listen backlog never overflows */
        for (;;) {
            int a = accept4(lfd, NULL, NULL, 0);
            if (a < 0) {
                CHECK(errno == EAGAIN);
                break;
            }
            ac[accepted++] = a;
        }
    }
    while (accepted < n) {
        struct pollfd p = { .fd = lfd, .events = POLLIN };
        CHECK(poll(&p, 1, 5000) == 1);
        int a = accept4(lfd, NULL, NULL, 0);
        if (a < 0) {
            CHECK(errno == EAGAIN);
            continue;
        }
        ac[accepted++] = a;
    }
    fprintf(stderr, "  %d connections accepted in %.2fs\n", n, tp_now() - t0);
    /* every connection carries its own token both ways (all open at the same time) */
    for (int i = 0; i < n; i++)
        CHECK(write(cl[i], &i, sizeof(i)) == sizeof(i));
    int seen = 0;
    char *hit = calloc((size_t)n, 1);
    for (int i = 0; i < n; i++) {
        int v;
        CHECK_EQ(tp_read_full(ac[i], &v, sizeof(v)), (ssize_t)sizeof(v));
        CHECK(v >= 0 && v < n && !hit[v]);
        hit[v] = 1;
        seen++;
        CHECK(write(ac[i], &v, sizeof(v)) == sizeof(v));
    }
    CHECK_EQ(seen, n);
    for (int i = 0; i < n; i++) {
        int v;
        CHECK_EQ(tp_read_full(cl[i], &v, sizeof(v)), (ssize_t)sizeof(v));
        CHECK_EQ(v, i);
    }
    for (int i = 0; i < n; i++) {
        close(ac[i]);
        close(cl[i]);
    }
    close(lfd);
    free(cl);
    free(ac);
    free(hit);
    fprintf(stderr, "  %d concurrent connections done in %.2fs\n", n, tp_now() - t0);
    TP_DONE("t_many");
}
