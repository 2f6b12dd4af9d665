#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "mw/log.h"

const char *mw_log_prog = "mw";
int mw_log_verbose;

static void vlog(const char *fmt, va_list ap)
{
    char buf[1024];
    struct timespec ts;
    struct tm tm;
    int n;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = snprintf(buf, sizeof(buf), "%02d:%02d:%02d.%03ld %s[%d]: ", tm.tm_hour, tm.tm_min, tm.tm_sec,
                 ts.tv_nsec / 1000000, mw_log_prog, (int)getpid());
    if (n < 0)
        return;
    n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
    if (n > (int)sizeof(buf) - 2)
        n = (int)sizeof(buf) - 2;
    buf[n++] = '\n';
    if (write(2, buf, (size_t)n) < 0) { /* stderr gone: nothing to do */ }
}

void mw_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(fmt, ap);
    va_end(ap);
}

void mw_dbg(const char *fmt, ...)
{
    va_list ap;
    if (!mw_log_verbose)
        return;
    va_start(ap, fmt);
    vlog(fmt, ap);
    va_end(ap);
}
