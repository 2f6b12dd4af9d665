/* 1 GiB in each direction at the same time through one shimmed connection, byte-exact: both
 * sides generate the same pseudo-random stream and compare every byte. MW_BULK_MB overrides. */
#include <pthread.h>

#include "tp.h"

static size_t total;

static void fill(uint64_t *state, unsigned char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        *state = *state * 6364136223846793005ull + 1442695040888963407ull;
        buf[i] = (unsigned char)(*state >> 56);
    }
}

struct side { int fd; uint64_t seed; int ok; double secs; };

static void *sender(void *p)
{
    struct side *s = p;
    static __thread unsigned char buf[1 << 16];
    uint64_t st = s->seed;
    size_t done = 0;
    double t0 = tp_now();
    while (done < total) {
        size_t n = total - done < sizeof(buf) ? total - done : sizeof(buf);
        fill(&st, buf, n);
        tp_write_full(s->fd, buf, n);
        done += n;
    }
    shutdown(s->fd, SHUT_WR);
    s->secs = tp_now() - t0;
    s->ok = 1;
    return NULL;
}

static void *receiver(void *p)
{
    struct side *s = p;
    static __thread unsigned char buf[1 << 16], want[1 << 16];
    uint64_t st = s->seed;
    size_t done = 0;
    while (done < total) {
        ssize_t r = read(s->fd, buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            fprintf(stderr, "receiver: read returned %zd after %zu bytes\n", r, done);
            return NULL;
        }
        fill(&st, want, (size_t)r);
        if (memcmp(buf, want, (size_t)r) != 0) {
            fprintf(stderr, "receiver: mismatch near offset %zu\n", done);
            return NULL;
        }
        done += (size_t)r;
    }
    char x;
    if (read(s->fd, &x, 1) != 0) {
        fprintf(stderr, "receiver: no EOF after the stream\n");
        return NULL;
    }
    s->ok = 1;
    return NULL;
}

int main(void)
{
    const char *mb = getenv("MW_BULK_MB");
    int port, lfd, c, a;
    pthread_t t[4];
    total = (size_t)(mb ? atol(mb) : 1024) << 20;
    /* shimmed side connects to a plain listener; the plain side is the peer */
    lfd = raw_listen(AF_INET, 4, &port);
    c = tp_dial(AF_INET, port);
    a = raw_accept(lfd);
    CHECK(a >= 0);
    struct side out_shim = { c, 1, 0, 0 }, in_plain = { a, 1, 0, 0 };
    struct side out_plain = { a, 2, 0, 0 }, in_shim = { c, 2, 0, 0 };
    double t0 = tp_now();
    pthread_create(&t[0], NULL, sender, &out_shim);
    pthread_create(&t[1], NULL, receiver, &in_plain);
    pthread_create(&t[2], NULL, sender, &out_plain);
    pthread_create(&t[3], NULL, receiver, &in_shim);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    double dt = tp_now() - t0;
    CHECK(out_shim.ok && in_plain.ok && out_plain.ok && in_shim.ok);
    fprintf(stderr, "  %zu MiB each way in %.2fs (%.0f MiB/s per direction)\n", total >> 20, dt,
            (double)(total >> 20) / dt);
    close(c);
    close(a);
    close(lfd);
    TP_DONE("t_bulk");
}
