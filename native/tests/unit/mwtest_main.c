/* Runner for every MW_TEST linked into build/mw_unit_tests (see mwtest.h).
 * Usage: mw_unit_tests [SUBSTRING]   runs the tests whose name contains SUBSTRING. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mwtest.h"

#define MW_TEST_MAX 1024

static struct {
    const char *name;
    mw_test_fn fn;
} tests[MW_TEST_MAX];
static int ntests;
int mw_test_failed_now;

void mw_test_register(const char *name, mw_test_fn fn)
{
    if (ntests == MW_TEST_MAX) {
        fprintf(stderr, "mwtest: more than %d tests, raise MW_TEST_MAX\n", MW_TEST_MAX);
        exit(2);
    }
    tests[ntests].name = name;
    tests[ntests].fn = fn;
    ntests++;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0;
    /* Tests talk to sockets; a peer that went away must give EPIPE, not kill the runner. */
    signal(SIGPIPE, SIG_IGN);
    qsort(tests, (size_t)ntests, sizeof(tests[0]), by_name); /* stable order across link orders */
    for (int i = 0; i < ntests; i++) {
        if (argc > 1 && !strstr(tests[i].name, argv[1]))
            continue;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        mw_test_failed_now = 0;
        tests[i].fn();
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        printf("%s %s (%.0f ms)\n", mw_test_failed_now ? "FAIL" : "ok  ", tests[i].name, ms);
        fflush(stdout);
        if (mw_test_failed_now)
            failed++;
        else
            passed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
