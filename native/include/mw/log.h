/* Logging for the daemons: one line per event on stderr, prefixed with the program and pid.
 * Every failure line names the failed syscall (e.g. "accept4: Too many open files"). */
#ifndef MW_LOG_H
#define MW_LOG_H

#include <stdint.h>
#include <time.h>

extern const char *mw_log_prog;
extern int mw_log_verbose;
void mw_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mw_dbg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static inline uint64_t mw_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
