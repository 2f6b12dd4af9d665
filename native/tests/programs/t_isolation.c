/* Run inside the protected namespace (./mw protect --isolation netns) under the shim:
 * a connection that bypasses the shim (raw syscall) reaches nothing, while the same program's
 * shimmed sockets reach the target through the INS.  usage: t_isolation HOST_IP PORT */
#include "tp.h"

static int raw_try(const char *ip, int port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    int fd = raw_socket(AF_INET), r;
    inet_pton(AF_INET, ip, &a.sin_addr);
    struct timeval tv = { 3, 0 };
    raw_setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    r = raw_connect(fd, &a, sizeof(a));
    int e = errno;
    close(fd);
    return r == 0 ? 0 : e;
}

int main(int argc, char **argv)
{
    int port, e;
    CHECK(argc == 3);
    port = atoi(argv[2]);
    /* 1. bypassing the shim: no route to the host's address, nothing on our own loopback */
    e = raw_try(argv[1], port);
    fprintf(stderr, "  raw connect to %s:%d -> %s\n", argv[1], port, e ? strerror(e) : "connected");
    CHECK(e != 0);
    e = raw_try("127.0.0.1", port);
    fprintf(stderr, "  raw connect to 127.0.0.1:%d -> %s\n", port, e ? strerror(e) : "connected");
    CHECK(e != 0);
    /* 2. the same target through the shim works */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    inet_pton(AF_INET, argv[1], &a.sin_addr);
    CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    const char *req = "GET / HTTP/1.0\r\n\r\n";
    tp_write_full(fd, req, strlen(req));
    char buf[64] = { 0 };
    CHECK(tp_read_full(fd, buf, 12) == 12);
    CHECK(memcmp(buf, "HTTP/1.0 200", 12) == 0);
    fprintf(stderr, "  shimmed connect to %s:%d -> %s\n", argv[1], port, "HTTP/1.0 200");
    close(fd);
    TP_DONE("t_isolation");
}
