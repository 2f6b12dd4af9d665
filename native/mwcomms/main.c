/* mwcomms: the MAGICWAND hub daemon. See hub.c and docs/dataplane.md. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hub.h"
#include "mw/log.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: mwcomms [options]\n"
        "  --rendezvous PATH     UNIX socket the shims connect to (default $MW_RENDEZVOUS,\n"
        "                        $MW_STATE/run/mwcomms.sock, or /run/mw/mwcomms.sock)\n"
        "  --ins N               number of INS instances (default 1; also the autoscale minimum)\n"
        "  --ins-max N           most INS instances (NetFlow ins-spawn, autoscale; default 32)\n"
        "  --autoscale-conns N   autoscale: one more INS when connections per INS pass N, one less\n"
        "                        when they fall under N/2 (default 0: off)\n"
        "  --isolation off|netns INS in the host namespace, or each in its own netns (root)\n"
        "  --netflow ADDR:PORT   NetFlow server address (default 127.0.0.1:2055; 'off' disables)\n"
        "  --netflow-token T     require this handshake token from NetFlow clients\n"
        "  --front-addr4 A       isolation netns: host address of IPv4 front ends (127.0.0.1)\n"
        "  --front-addr6 A       isolation netns: host address of IPv6 front ends (::1)\n"
        "  --obs-interval-ms N   coalesce recv/send observations per socket (default 0: every op)\n"
        "  --ins-path PATH       the ins binary (default: next to mwcomms)\n"
        "  --ins-nice N          scheduling priority of the INS processes (default -5, root only)\n"
        "  --ins-busy-poll-us N  after activity an INS polls this long before it sleeps: lower latency\n"
        "                        for idle CPU time (default 200, 0 = never, at most 1000)\n"
        "  --ins-coalesce-us N   lightly loaded, an INS holds a response up to N us for the rest and\n"
        "                        the close, to send them in one segment; learns when it does not pay\n"
        "                        (default 20, 0 = never, at most 1000)\n"
        "  -v                    verbose\n");
}

/* A whole number in [min, max] for option opt, or a message naming the option and the range
 * (unit, if any, after it). 0 or -1. */
static int parse_bounded(const char *opt, const char *v, long min, long max, const char *unit, long *out)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (*end || !*v || n < min || n > max) {
        fprintf(stderr, "mwcomms: %s must be %ld..%ld%s, got '%s'\n", opt, min, max, unit, v);
        return -1;
    }
    *out = n;
    return 0;
}

int main(int argc, char **argv)
{
    struct hub_config cfg;
    static struct hub h;
    char insp[PATH_MAX], self[PATH_MAX], rdv[PATH_MAX];
    int r;

    memset(&cfg, 0, sizeof(cfg));
    cfg.nins = 1;
    cfg.netflow = "127.0.0.1:2055";
    cfg.ins_nice = -5;
    cfg.ins_busy_poll_us = 200;
    cfg.ins_coalesce_us = 20;
    mw_log_prog = "mwcomms";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEEDV() do { if (!v) { fprintf(stderr, "mwcomms: %s needs a value\n", a); return 2; } i++; } while (0)
        if (!strcmp(a, "--rendezvous")) { NEEDV(); cfg.rendezvous = v; }
        else if (!strcmp(a, "--ins")) {
            long n;
            NEEDV();
            if (parse_bounded(a, v, 1, HUB_MAX_INS, "", &n) < 0) return 2;
            cfg.nins = (int)n;
        }
        else if (!strcmp(a, "--ins-max")) {
            long n;
            NEEDV();
            if (parse_bounded(a, v, 1, HUB_MAX_INS, "", &n) < 0) return 2;
            cfg.ins_max = (int)n;
        }
        else if (!strcmp(a, "--autoscale-conns")) {
            long n;
            NEEDV();
            if (parse_bounded(a, v, 0, 1000000, "", &n) < 0) return 2;
            cfg.scale_out_conns = (uint32_t)n;
        }
        else if (!strcmp(a, "--isolation")) {
            NEEDV();
            if (!strcmp(v, "netns")) cfg.isolation_netns = 1;
            else if (!strcmp(v, "off")) cfg.isolation_netns = 0;
            else { fprintf(stderr, "mwcomms: --isolation must be off or netns, got '%s'\n", v); return 2; }
        }
        else if (!strcmp(a, "--netflow")) { NEEDV(); cfg.netflow = v; }
        else if (!strcmp(a, "--netflow-token")) { NEEDV(); cfg.netflow_token = v; }
        else if (!strcmp(a, "--front-addr4")) { NEEDV(); cfg.front_addr4 = v; }
        else if (!strcmp(a, "--front-addr6")) { NEEDV(); cfg.front_addr6 = v; }
        else if (!strcmp(a, "--obs-interval-ms")) { NEEDV(); cfg.obs_interval_ms = (uint32_t)strtoul(v, NULL, 10); }
        else if (!strcmp(a, "--ins-path")) { NEEDV(); cfg.ins_path = v; }
        else if (!strcmp(a, "--ins-nice")) { NEEDV(); cfg.ins_nice = atoi(v); }
        else if (!strcmp(a, "--ins-busy-poll-us") || !strcmp(a, "--ins-coalesce-us")) {
            long n;
            NEEDV();
            if (parse_bounded(a, v, 0, 1000, " (microseconds)", &n) < 0) return 2;
            if (!strcmp(a, "--ins-busy-poll-us")) cfg.ins_busy_poll_us = (uint32_t)n;
            else cfg.ins_coalesce_us = (uint32_t)n;
        }
        else if (!strcmp(a, "-v")) mw_log_verbose = 1;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        else { fprintf(stderr, "mwcomms: unknown option '%s'\n", a); usage(stderr); return 2; }
#undef NEEDV
    }
    if (cfg.isolation_netns && geteuid() != 0) {
        fprintf(stderr, "mwcomms: --isolation netns needs root (network namespaces); use --isolation off\n");
        return 2;
    }
    if (!cfg.rendezvous) {
        const char *e = getenv("MW_RENDEZVOUS"), *st = getenv("MW_STATE");
        if (e && *e) {
            cfg.rendezvous = e;
        } else if (st && *st) {
            snprintf(rdv, sizeof(rdv), "%s/run/mwcomms.sock", st);
            cfg.rendezvous = rdv;
        } else {
            mkdir("/run/mw", 0755);
            cfg.rendezvous = "/run/mw/mwcomms.sock";
        }
    }
    if (!cfg.ins_path) {
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n < 0) {
            perror("mwcomms: readlink(/proc/self/exe)");
            return 1;
        }
        self[n] = 0;
        snprintf(insp, sizeof(insp), "%s/ins", dirname(self));
        cfg.ins_path = insp;
    }
    if (access(cfg.ins_path, X_OK) < 0) {
        fprintf(stderr, "mwcomms: ins binary %s: %s (build it: make -C native)\n", cfg.ins_path, strerror(errno));
        return 1;
    }
    if ((r = hub_init(&h, &cfg)) < 0) {
        mw_log("startup failed: %s", strerror(-r));
        hub_fini(&h);
        return 1;
    }
    r = hub_run(&h);
    hub_fini(&h);
    mw_log("stopped");
    return r < 0 ? 1 : 0;
}
