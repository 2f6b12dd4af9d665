/* mwnf end to end: `mwnf serve-script` plays a script on an ephemeral port, the client commands run
 * against it as real processes, and their output, exit codes and the requests the server logged
 * are checked. The mwnf binary is the one next to this runner (build/ or build-asan/), or $MWNF_BIN. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mwtest.h"

static int mwnf_path(char *buf, size_t len)
{
    const char *env = getenv("MWNF_BIN");
    if (env) {
        snprintf(buf, len, "%s", env);
        return access(buf, X_OK);
    }
    char exe[PATH_MAX - 16];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return -1;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash)
        return -1;
    *slash = 0;
    snprintf(buf, len, "%s/mwnf", exe);
    return access(buf, X_OK);
}

/* Runs argv, returns the exit code (-1 on a signal/timeout) and stdout+stderr in out. */
static int run(char *const argv[], char *out, size_t outlen, int timeout_ms)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        dup2(p[1], 2);
        execv(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    size_t len = 0;
    for (;;) {
        struct pollfd pf = { .fd = p[0], .events = POLLIN };
        if (poll(&pf, 1, timeout_ms) <= 0) {
            kill(pid, SIGKILL);
            break;
        }
        ssize_t n = read(p[0], out + len, outlen - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == outlen - 1)
            break;
    }
    out[len] = 0;
    close(p[0]);
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *script =
    "wait-clients 1\n"
    "info create 5 local=10.0.0.1:80\n"
    "info bind 5 local=10.0.0.1:80\n"
    "info accept 5 local=10.0.0.1:80 remote=[2001:db8::7]:5555 new=6\n"
    "info recv 6 local=10.0.0.1:80 remote=[2001:db8::7]:5555 in=100\n"
    "repeat 3 send 100 local=10.0.0.1:80 remote=198.51.100.4:999 in=1 out=2\n"
    "status rcvbuf EBADF\n";

MW_TEST(netflow_cli_against_serve_script)
{
    char bin[PATH_MAX], sfile[] = "/tmp/mwnf-test-XXXXXX", out[16384], addr[64];
    MW_ASSERT(mwnf_path(bin, sizeof(bin)) == 0);
    int sfd = mkstemp(sfile);
    MW_ASSERT(sfd >= 0);
    MW_ASSERT(write(sfd, script, strlen(script)) == (ssize_t)strlen(script));
    close(sfd);

    /* the server, stdout to a pipe we read line by line */
    int p[2];
    MW_ASSERT(pipe2(p, O_CLOEXEC) == 0);
    pid_t srv = fork();
    if (srv == 0) {
        dup2(p[1], 1);
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 2);
        execl(bin, bin, "serve-script", sfile, "--port", "0", "--linger", "60", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    FILE *so = fdopen(p[0], "r");
    char line[1024];
    int port = 0;
    if (fgets(line, sizeof(line), so))
        sscanf(line, "listening 127.0.0.1:%d", &port);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    int ok_port = port > 0;

    int rc_watch = -1, rc_sockets = -1, rc_get_bad = -1, rc_set = -1, rc_get = -1, rc_usage = -1,
        rc_names = -1, rc_block = -1;
    int watch_ok = 0, sockets_ok = 0, get_ok = 0, bad_ok = 0, block_ok = 0;
    if (ok_port) {
        char *w[] = { bin, "--connect", addr, "watch", "--count", "7", NULL };
        rc_watch = run(w, out, sizeof(out), 10000);
        watch_ok = strstr(out, "accept  sock=5") && strstr(out, "[2001:db8::7]:5555") &&
                   strstr(out, "new=6") && strstr(out, "sock=102") && strstr(out, "in=201 out=402") &&
                   !strstr(out, "!! gap");
        if (!watch_ok)
            fprintf(stderr, "  watch output:\n%s\n", out);
        char *s[] = { bin, "--connect", addr, "sockets", NULL };
        rc_sockets = run(s, out, sizeof(out), 10000);
        sockets_ok = strstr(out, "5 open sockets") != NULL;
        if (!sockets_ok)
            fprintf(stderr, "  sockets output:\n%s\n", out);
        char *g1[] = { bin, "--connect", addr, "get", "rcvbuf", "--socket", "6", NULL };
        rc_get_bad = run(g1, out, sizeof(out), 10000);
        bad_ok = strstr(out, "EBADF") != NULL;
        char *st[] = { bin, "--connect", addr, "set", "sndtimeo", "5.25", "--socket", "6", NULL };
        rc_set = run(st, out, sizeof(out), 10000);
        char *g2[] = { bin, "--connect", addr, "get", "0x010b", "--socket", "6", NULL };
        rc_get = run(g2, out, sizeof(out), 10000);
        get_ok = strstr(out, "5.250000 s") != NULL;
        char *b[] = { bin, "--connect", addr, "block", "203.0.113.9", "--close-existing", NULL };
        rc_block = run(b, out, sizeof(out), 10000);
        block_ok = strstr(out, "blocked 203.0.113.9") != NULL;
        char *u[] = { bin, "--connect", addr, "get", "rcvbuf", NULL }; /* no --socket */
        rc_usage = run(u, out, sizeof(out), 10000);
        char *n[] = { bin, "names", NULL };
        rc_names = run(n, out, sizeof(out), 10000);
    }
    /* stop the server; its stdout must carry the requests in order, then the summary */
    kill(srv, SIGTERM);
    int reqs = 0, saw_block = 0, saw_set = 0, summary = 0;
    while (fgets(line, sizeof(line), so)) {
        if (strstr(line, "\"request\""))
            reqs++;
        if (strstr(line, "\"sym\":\"block\"") && strstr(line, "\"flags\":1") &&
            strstr(line, "\"val\":\"00000002") && strstr(line, "\"ident\":\"00000004cb007109"))
            saw_block = 1;
        if (strstr(line, "\"sym\":\"sndtimeo\"") && strstr(line, "\"flags\":3") &&
            strstr(line, "\"val\":\"0000000000000005000000000003d090\""))
            saw_set = 1;
        if (strstr(line, "\"summary\"") && strstr(line, "\"emitted\":7"))
            summary = 1;
    }
    fclose(so);
    int st;
    waitpid(srv, &st, 0);
    unlink(sfile);
    MW_ASSERT(ok_port);
    MW_ASSERT(rc_watch == 0 && watch_ok);
    MW_ASSERT(rc_sockets == 0 && sockets_ok);
    MW_ASSERT(rc_get_bad == 1 && bad_ok);
    MW_ASSERT(rc_set == 0 && rc_get == 0 && get_ok);
    MW_ASSERT(rc_block == 0 && block_ok);
    MW_ASSERT(rc_usage == 2 && rc_names == 0);
    MW_ASSERT(reqs == 4 && saw_block && saw_set && summary);
    MW_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

MW_TEST(netflow_cli_errors)
{
    char bin[PATH_MAX], out[4096];
    MW_ASSERT(mwnf_path(bin, sizeof(bin)) == 0);
    char *a[] = { bin, "frobnicate", NULL };
    MW_ASSERT(run(a, out, sizeof(out), 5000) == 2 && strstr(out, "unknown command"));
    char *b[] = { bin, "--connect", "127.0.0.1:1", "sockets", NULL };
    MW_ASSERT(run(b, out, sizeof(out), 5000) == 3 && strstr(out, "connect to 127.0.0.1:1 failed"));
    char *c[] = { bin, "set", "congctl", "vegas", NULL };
    MW_ASSERT(run(c, out, sizeof(out), 5000) == 2 && strstr(out, "bad value"));
    char *d[] = { bin, "--connect", "nohostport", "sockets", NULL };
    MW_ASSERT(run(d, out, sizeof(out), 5000) == 2);
    char *e[] = { bin, "serve-script", "--synthetic", "x", NULL };
    MW_ASSERT(run(e, out, sizeof(out), 5000) == 2);
    char *f[] = { bin, "--help", NULL };
    MW_ASSERT(run(f, out, sizeof(out), 5000) == 0 && strstr(out, "exit codes"));
}
