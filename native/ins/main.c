/* ins: one Isolated Network Stack worker. Started by mwcomms with its control channel (an AF_UNIX
 * SOCK_SEQPACKET socket) as a file descriptor; runs until mwcomms closes that channel. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "ins.h"
#include "mw/log.h"

static void usage(void)
{
    fprintf(stderr, "usage: ins [--fd N] [--id N] [-v]\n"
                    "  Started by mwcomms; --fd is the control channel (default 3).\n");
}

int main(int argc, char **argv)
{
    struct ins_ctx c;
    int fd = 3, r;
    uint32_t id = 0;
    char prog[32];

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--fd") && i + 1 < argc) {
            fd = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--id") && i + 1 < argc) {
            id = (uint32_t)strtoul(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "-v")) {
            mw_log_verbose = 1;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage();
            return 0;
        } else {
            fprintf(stderr, "ins: unknown argument '%s'\n", argv[i]);
            usage();
            return 2;
        }
    }
    snprintf(prog, sizeof(prog), "ins%u", id);
    mw_log_prog = prog;
    /* die with mwcomms: the sockets we hold are meaningless without the hub */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1) {
        mw_log("parent already gone, exiting");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    if ((r = ins_init(&c, fd, id)) < 0) {
        mw_log("init: %s", strerror(-r));
        return 1;
    }
    mw_log("running (control fd %d)", fd);
    r = ins_run(&c);
    ins_fini(&c);
    mw_log("exiting: %s", r < 0 ? strerror(-r) : "mwcomms closed the channel");
    return r < 0 ? 1 : 0;
}
