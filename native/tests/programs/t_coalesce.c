/* Response coalescing (mwcomms --ins-coalesce-us, on by default). A server under the shim writes
 * each response in two pieces a few microseconds apart (headers, then the body, as nginx does
 * with writev + sendfile) and closes; a plain client on loopback (raw syscalls, no shim) must get
 * every byte and the EOF, and, the INS being lightly loaded, mostly as one data segment carrying
 * the FIN, as a corking server's own kernel would send it. Without coalescing the INS, polling,
 * sends the headers at once: two data segments.
 * run-programs.sh runs this first: the INS learns to stop waiting from servers that keep their
 * connections open (the later programs), and would take a while to learn it back.
 * usage: t_coalesce [CONNECTIONS]   (default 40) */
#include "tp.h"
#include <sched.h>
#include <sys/wait.h>

/* struct tcp_info is kernel ABI; glibc's <netinet/tcp.h> stops before this field, and
 * <linux/tcp.h> clashes with it. */
#define TCPI_DATA_SEGS_IN_OFFSET 152

static const char part1[] = "HTTP/1.0 200 OK\r\nServer: t_coalesce\r\nContent-Length: 64\r\n\r\n";
static const char part2[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

static void spin_us(double us)
{
    double until = tp_now() + us / 1e6;
    while (tp_now() < until)
        ;
}

/* The plain client: one connection after another; exit status = connections that arrived as
 * a single data segment (byte-exact, with EOF), or 255 on any error. */
static int client(int port, int n)
{
    int one_segment = 0;
    for (int i = 0; i < n; i++) {
        struct sockaddr_storage ss;
        socklen_t l;
        char buf[512];
        size_t got = 0;
        ssize_t r;
        uint8_t info[256];
        socklen_t il = sizeof(info);
        uint32_t data_segs;
        int fd = raw_socket(AF_INET);
        if (fd < 0)
            return 255;
        tp_addr(AF_INET, &ss, &l, port);
        if (raw_connect(fd, &ss, l) < 0) {
            fprintf(stderr, "t_coalesce client: connect: %s\n", strerror(errno));
            return 255;
        }
        /* to the EOF, which must be clean (tp_read_full would also accept a reset after data) */
        while ((r = read(fd, buf + got, sizeof(buf) - got)) > 0)
            got += (size_t)r;
        if (r < 0 || got != sizeof(part1) - 1 + sizeof(part2) - 1 ||
            memcmp(buf, part1, sizeof(part1) - 1) || memcmp(buf + sizeof(part1) - 1, part2, sizeof(part2) - 1)) {
            fprintf(stderr, "t_coalesce client: connection %d: wrong response (%zu bytes)\n", i, got);
            return 255;
        }
        memset(info, 0, sizeof(info));
        if (raw_getsockopt(fd, IPPROTO_TCP, TCP_INFO, info, &il) < 0 || il < TCPI_DATA_SEGS_IN_OFFSET + 4) {
            fprintf(stderr, "t_coalesce client: getsockopt(TCP_INFO): %s (%u bytes)\n", strerror(errno), il);
            return 255;
        }
        memcpy(&data_segs, info + TCPI_DATA_SEGS_IN_OFFSET, sizeof(data_segs));
        one_segment += data_segs == 1;
        close(fd);
    }
    return one_segment > 254 ? 254 : one_segment;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 40;
    int lfd, port, st;
    pid_t pid;

    CHECK(n > 0 && n <= 254);
    lfd = tp_listen(AF_INET, 16, &port);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0)
        _exit(client(port, n));
    for (int i = 0; i < n; i++) {
        int fd = accept(lfd, NULL, NULL);
        CHECK(fd >= 0);
        tp_write_full(fd, part1, sizeof(part1) - 1);
        sched_yield();   /* an INS on this CPU gets to see the first piece alone */
        spin_us(5);
        tp_write_full(fd, part2, sizeof(part2) - 1);
        CHECK(close(fd) == 0);
    }
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st));
    CHECK(WEXITSTATUS(st) != 255);
    fprintf(stderr, "  %d of %d responses (two writes, then close) reached the client as one data segment\n",
            WEXITSTATUS(st), n);
    /* lightly loaded, coalescing catches nearly all; the majority leaves room for a busy machine */
    CHECK(WEXITSTATUS(st) * 2 >= n);
    close(lfd);
    TP_DONE("t_coalesce");
}
