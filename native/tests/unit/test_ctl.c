/* Unit tests of the control-message parser (mw_ctl_check), framing, names and the u64 map. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "mw/ctl.h"
#include "mw/u64map.h"
#include "mwtest.h"

static struct mw_ctl_msg req(unsigned op)
{
    struct mw_ctl_msg m;
    mw_ctl_init(&m, op, 1, 0);
    return m;
}

MW_TEST(ctl_accepts_wellformed_requests)
{
    struct mw_ctl_msg m = req(MW_OP_SOCKET);
    m.u.socket.domain = AF_INET6;
    m.u.socket.type = SOCK_STREAM | SOCK_NONBLOCK;
    MW_ASSERT(mw_ctl_check(&m, m.h.len, 2, MW_FROM_SHIM) == 0);
    m = req(MW_OP_CONNECT);
    m.u.addr.addr.family = AF_INET;
    m.u.addr.addr.port = 80;
    MW_ASSERT(mw_ctl_check(&m, m.h.len, 1, MW_FROM_SHIM) == 0);
    m = req(MW_OP_LISTEN);
    MW_ASSERT(mw_ctl_check(&m, m.h.len, 3, MW_FROM_SHIM) == 0);
    MW_ASSERT(mw_ctl_check(&m, m.h.len, 1, MW_FROM_HUB) == 0);   /* INS side: seqpacket end only */
    m = req(MW_OP_INFO);
    MW_ASSERT(mw_ctl_check(&m, m.h.len, 1, MW_FROM_SHIM) == 0);
    MW_ASSERT(mw_ctl_check(&m, m.h.len, 0, MW_FROM_HUB) == 0);
}

MW_TEST(ctl_rejects_bad_headers)
{
    struct mw_ctl_msg m = req(MW_OP_HELLO);
    m.u.hello.pid = 1;
    MW_ASSERT(mw_ctl_check(&m, 3, 0, MW_FROM_SHIM) == -EPROTO);              /* truncated */
    MW_ASSERT(mw_ctl_check(&m, m.h.len + 1, 0, MW_FROM_SHIM) == -EPROTO);    /* len mismatch */
    m.h.magic ^= 1;
    MW_ASSERT(mw_ctl_check(&m, m.h.len, 0, MW_FROM_SHIM) == -EPROTO);
    m.h.magic ^= 1;
    m.h.version = 2;
    MW_ASSERT(mw_ctl_check(&m, m.h.len, 0, MW_FROM_SHIM) == -EPROTO);
    m.h.version = MW_CTL_VERSION;
    m.h.flags = 0x80;
    MW_ASSERT(mw_ctl_check(&m, m.h.len, 0, MW_FROM_SHIM) == -EINVAL);
    m.h.flags = 0;
    m.h.op = 999;
    MW_ASSERT(mw_ctl_check(&m, m.h.len, 0, MW_FROM_SHIM) == -EPROTO);
    m.h.op = MW_OP_HELLO;
    m.h.status = 5;   /* requests carry no status */
    MW_ASSERT(mw_ctl_check(&m, m.h.len, 0, MW_FROM_SHIM) == -EINVAL);
}

MW_TEST(ctl_enforces_who_may_send_what)
{
    struct mw_ctl_msg m = req(MW_OP_OBS);
    m.u.obs.obs = 1;
    MW_ASSERT(mw_ctl_check(&m, m.h.len, 0, MW_FROM_INS) == 0);
    MW_ASSERT(mw_ctl_check(&m, m.h.len, 0, MW_FROM_SHIM) == -EPROTO);       /* the app may not fake observations */
    m = req(MW_OP_INS_FEATURE);
    MW_ASSERT(mw_ctl_check(&m, m.h.len, 0, MW_FROM_SHIM) == -EPROTO);
    MW_ASSERT(mw_ctl_check(&m, m.h.len, 0, MW_FROM_HUB) == 0);
    /* replies: the shim never sends one */
    m = req(MW_OP_INFO);
    m.h.flags = MW_CTL_F_REPLY;
    m.h.len = (uint32_t)mw_ctl_msg_size(MW_OP_INFO, 1);
    MW_ASSERT(mw_ctl_check(&m, m.h.len, 0, MW_FROM_SHIM) == -EPROTO);
    MW_ASSERT(mw_ctl_check(&m, m.h.len, 0, MW_FROM_HUB) == 0);
    MW_ASSERT(mw_ctl_check(&m, m.h.len, 1, MW_FROM_HUB) == -EBADF);          /* replies carry no fds */
}

MW_TEST(ctl_checks_fd_counts_and_fields)
{
    struct mw_ctl_msg m = req(MW_OP_SOCKET);
    m.u.socket.domain = AF_INET;
    m.u.socket.type = SOCK_STREAM;
    MW_ASSERT(mw_ctl_check(&m, m.h.len, 0, MW_FROM_SHIM) == -EBADF);
    MW_ASSERT(mw_ctl_check(&m, m.h.len, 1, MW_FROM_SHIM) == -EBADF);
    MW_ASSERT(mw_ctl_check(&m, m.h.len, 5, MW_FROM_SHIM) == -EBADF);
    m.u.socket.type = SOCK_DGRAM;
    MW_ASSERT(mw_ctl_check(&m, m.h.len, 2, MW_FROM_SHIM) == -EPROTONOSUPPORT);
    m.u.socket.type = SOCK_STREAM;
    m.u.socket.protocol = IPPROTO_UDP;
    MW_ASSERT(mw_ctl_check(&m, m.h.len, 2, MW_FROM_SHIM) == -EPROTONOSUPPORT);
    m = req(MW_OP_BIND);
    m.u.addr.addr.family = AF_UNIX;
    MW_ASSERT(mw_ctl_check(&m, m.h.len, 1, MW_FROM_SHIM) == -EAFNOSUPPORT);
    m.u.addr.addr.family = AF_INET;
    m.u.addr.addr.addr[5] = 1;     /* IPv4 with a non-zero tail */
    MW_ASSERT(mw_ctl_check(&m, m.h.len, 1, MW_FROM_SHIM) == -EINVAL);
    m = req(MW_OP_CONNECT);
    m.u.addr.addr.family = AF_INET6;
    m.u.addr.addr.port = 0;        /* connect to port 0 */
    MW_ASSERT(mw_ctl_check(&m, m.h.len, 1, MW_FROM_SHIM) == -EINVAL);
    m = req(MW_OP_SETSOCKOPT);
    m.u.sockopt.optlen = MW_CTL_OPT_MAX + 1;
    MW_ASSERT(mw_ctl_check(&m, m.h.len, 1, MW_FROM_SHIM) == -EINVAL);
    m.u.sockopt.optlen = MW_CTL_OPT_MAX;
    MW_ASSERT(mw_ctl_check(&m, m.h.len, 1, MW_FROM_SHIM) == 0);
    m = req(MW_OP_OBS);
    m.u.obs.obs = 8;
    MW_ASSERT(mw_ctl_check(&m, m.h.len, 0, MW_FROM_INS) == -EINVAL);
    m = req(MW_OP_INS_RESTORE);
    m.u.restore.domain = AF_INET;
    m.u.restore.local.family = AF_INET;
    m.u.restore.nopts = 9;
    MW_ASSERT(mw_ctl_check(&m, m.h.len, 1, MW_FROM_HUB) == -EINVAL);
    m = req(MW_OP_TRACE);
    m.u.trace.action = 4;
    MW_ASSERT(mw_ctl_check(&m, m.h.len, 0, MW_FROM_SHIM) == -EINVAL);
}

MW_TEST(ctl_text_replies_are_variable_length)
{
    char buf[200];
    struct mw_ctl_hdr *h = (struct mw_ctl_hdr *)buf;
    memset(buf, 'x', sizeof(buf));
    memset(h, 0, sizeof(*h));
    h->magic = MW_CTL_MAGIC;
    h->version = MW_CTL_VERSION;
    h->op = MW_OP_STATUS;
    h->flags = MW_CTL_F_REPLY;
    h->len = sizeof(buf);
    MW_ASSERT(mw_ctl_check(buf, sizeof(buf), 0, MW_FROM_HUB) == 0);
    h->status = -100000;
    MW_ASSERT(mw_ctl_check(buf, sizeof(buf), 0, MW_FROM_HUB) == -EINVAL);
}

MW_TEST(ctl_send_recv_with_fds)
{
    int sv[2], p[2], fds[4], n;
    struct mw_ctl_msg m = req(MW_OP_HELLO), r;
    MW_ASSERT(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
    MW_ASSERT(pipe(p) == 0);
    m.u.hello.pid = getpid();
    MW_ASSERT(mw_ctl_send(sv[0], &m, m.h.len, p, 2, 0) == 0);
    ssize_t got = mw_ctl_recv(sv[1], &r, sizeof(r), fds, &n, 0);
    MW_ASSERT(got == (ssize_t)m.h.len);
    MW_ASSERT(n == 2);
    MW_ASSERT(write(fds[1], "k", 1) == 1);
    char c;
    MW_ASSERT(read(p[0], &c, 1) == 1 && c == 'k');
    mw_ctl_close_fds(fds, n);
    /* a packet larger than the buffer: reported, its fds closed */
    MW_ASSERT(mw_ctl_send(sv[0], &m, m.h.len, p, 1, 0) == 0);
    got = mw_ctl_recv(sv[1], &r, 10, fds, &n, 0);
    MW_ASSERT(got == -EMSGSIZE && n == 0);
    close(p[0]);
    close(p[1]);
    close(sv[0]);
    close(sv[1]);
}

MW_TEST(ctl_names_roundtrip_and_reject_foreign)
{
    struct sockaddr_un sun;
    uint32_t nonce;
    uint64_t id;
    char kind;
    int len = mw_ctl_name_fill((struct sockaddr *)&sun, 0xabcdef01, 0x123456789aULL, 'L');
    MW_ASSERT(mw_ctl_name_parse((struct sockaddr *)&sun, (socklen_t)len, &nonce, &id, &kind) == 0);
    MW_ASSERT(nonce == 0xabcdef01 && id == 0x123456789aULL && kind == 'L');
    MW_ASSERT(mw_ctl_name_parse((struct sockaddr *)&sun, (socklen_t)len - 1, &nonce, &id, &kind) < 0);
    sun.sun_path[5] = 'Z';
    MW_ASSERT(mw_ctl_name_parse((struct sockaddr *)&sun, (socklen_t)len, &nonce, &id, &kind) < 0);
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    strcpy(sun.sun_path, "/tmp/some.sock");
    MW_ASSERT(mw_ctl_name_parse((struct sockaddr *)&sun, sizeof(sun), &nonce, &id, &kind) < 0);
}

MW_TEST(ctl_addr_conversion)
{
    struct sockaddr_in6 in6;
    struct sockaddr_storage ss;
    struct mw_ctl_addr a;
    memset(&in6, 0, sizeof(in6));
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(8080);
    in6.sin6_addr = in6addr_loopback;
    in6.sin6_scope_id = 3;
    MW_ASSERT(mw_ctl_addr_from_sockaddr(&a, (struct sockaddr *)&in6, sizeof(in6)) == 0);
    MW_ASSERT(a.family == AF_INET6 && a.port == 8080 && a.scope_id == 3);
    MW_ASSERT(mw_ctl_addr_to_sockaddr(&a, &ss) == sizeof(in6));
    MW_ASSERT(memcmp(&ss, &in6, sizeof(in6)) == 0);
    MW_ASSERT(mw_ctl_addr_from_sockaddr(&a, (struct sockaddr *)&in6, 8) == -EINVAL);
    in6.sin6_family = AF_UNIX;
    MW_ASSERT(mw_ctl_addr_from_sockaddr(&a, (struct sockaddr *)&in6, sizeof(in6)) == -EAFNOSUPPORT);
}

MW_TEST(u64map_put_get_delete_many)
{
    struct mw_u64map m;
    enum { N = 20000 };
    MW_ASSERT(mw_u64map_init(&m, 4) == 0);
    for (uint64_t i = 1; i <= N; i++)
        MW_ASSERT(mw_u64map_put(&m, i * 0x9e3779b97f4a7c15ULL | 1, (void *)(uintptr_t)i) == 0);
    MW_ASSERT(m.count == N);
    for (uint64_t i = 1; i <= N; i += 2)
        MW_ASSERT(mw_u64map_del(&m, i * 0x9e3779b97f4a7c15ULL | 1) == (void *)(uintptr_t)i);
    for (uint64_t i = 1; i <= N; i++) {
        void *v = mw_u64map_get(&m, i * 0x9e3779b97f4a7c15ULL | 1);
        MW_ASSERT(i % 2 ? v == NULL : v == (void *)(uintptr_t)i);
    }
    MW_ASSERT(m.count == N / 2);
    MW_ASSERT(mw_u64map_put(&m, 0, NULL) == -EINVAL);
    mw_u64map_free(&m);
}

#include "mw/ring.h"

MW_TEST(ring_put_take_wrap_full_and_doorbell)
{
    struct mw_ring prod, cons;
    uint64_t rec[2], out[2 * 8];
    MW_ASSERT(mw_ring_create(&cons, sizeof(rec), 8) == 0);
    int mfd = dup(cons.memfd), efd = dup(cons.efd);
    MW_ASSERT(mw_ring_attach(&prod, mfd, efd, sizeof(rec)) == 0);
    for (uint64_t round = 0; round < 5; round++) {
        for (uint64_t i = 0; i < 8; i++) {
            rec[0] = round * 100 + i;
            rec[1] = ~rec[0];
            MW_ASSERT(mw_ring_put(&prod, rec) == 0);
        }
        MW_ASSERT(mw_ring_put(&prod, rec) == -ENOSPC);      /* full: the producer never waits */
        MW_ASSERT(mw_ring_count(&cons) == 8);
        /* the consumer starts asleep: the first kick rings */
        mw_ring_kick(&prod);
        uint64_t v = 0;
        MW_ASSERT(read(cons.efd, &v, sizeof(v)) == sizeof(v) && v == 1);
        MW_ASSERT(mw_ring_take(&cons, out, 3) == 3);
        MW_ASSERT(mw_ring_take(&cons, out + 6, 8) == 5);
        for (uint64_t i = 0; i < 8; i++)
            MW_ASSERT(out[2 * i] == round * 100 + i && out[2 * i + 1] == ~out[2 * i]);
        /* awake consumer: no doorbell needed */
        MW_ASSERT(mw_ring_prepare_sleep(&cons) == 0);
    }
    /* records that arrive while the consumer prepares to sleep are seen */
    MW_ASSERT(mw_ring_put(&prod, rec) == 0);
    MW_ASSERT(mw_ring_prepare_sleep(&cons) == 1);
    mw_ring_destroy(&prod);
    mw_ring_destroy(&cons);
}

MW_TEST(ring_attach_rejects_bad_descriptor)
{
    struct mw_ring cons, prod;
    MW_ASSERT(mw_ring_create(&cons, 16, 6) == -EINVAL);     /* capacity not a power of two */
    MW_ASSERT(mw_ring_create(&cons, 16, 4) == 0);
    MW_ASSERT(mw_ring_attach(&prod, dup(cons.memfd), dup(cons.efd), 32) == -EPROTO);
    mw_ring_destroy(&prod);
    mw_ring_destroy(&cons);
}
