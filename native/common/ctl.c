/* Control protocol helpers: validation, framing with SCM_RIGHTS, address conversion, socket names.
 * Everything here runs on input from other processes (the application above all), so every field
 * is range-checked before use. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "mw/ctl.h"

static const char *const op_names[MW_OP__MAX] = {
    [MW_OP_HELLO] = "hello", [MW_OP_SOCKET] = "socket", [MW_OP_BIND] = "bind",
    [MW_OP_LISTEN] = "listen", [MW_OP_CONNECT] = "connect", [MW_OP_GETSOCKOPT] = "getsockopt",
    [MW_OP_SETSOCKOPT] = "setsockopt", [MW_OP_INFO] = "info", [MW_OP_STATUS] = "status",
    [MW_OP_TRACE] = "trace", [MW_OP_INS_HELLO] = "ins_hello", [MW_OP_INS_RESTORE] = "ins_restore",
    [MW_OP_INS_HANDOFF] = "ins_handoff", [MW_OP_INS_FEATURE] = "ins_feature",
    [MW_OP_INS_CLOSE] = "ins_close", [MW_OP_ACCEPTED] = "accepted", [MW_OP_OBS] = "obs",
    [MW_OP_OBS_BATCH] = "obs_batch",
};

const char *mw_ctl_op_name(unsigned op)
{
    if (op < MW_OP__MAX && op_names[op])
        return op_names[op];
    return "unknown";
}

int mw_ctl_payload_len(unsigned op, int reply)
{
    switch (op) {
    case MW_OP_HELLO: return sizeof(struct mw_ctl_hello);
    case MW_OP_SOCKET: return reply ? (int)sizeof(struct mw_ctl_info) : (int)sizeof(struct mw_ctl_socket);
    case MW_OP_BIND:
    case MW_OP_CONNECT: return reply ? (int)sizeof(struct mw_ctl_info) : (int)sizeof(struct mw_ctl_addrmsg);
    case MW_OP_LISTEN: return reply ? (int)sizeof(struct mw_ctl_info) : (int)sizeof(struct mw_ctl_listen);
    case MW_OP_GETSOCKOPT:
    case MW_OP_SETSOCKOPT: return sizeof(struct mw_ctl_sockopt);
    case MW_OP_INFO: return reply ? (int)sizeof(struct mw_ctl_info) : 0;
    case MW_OP_STATUS: return 0;
    case MW_OP_TRACE: return reply ? 0 : (int)sizeof(struct mw_ctl_trace);
    case MW_OP_INS_HELLO: return reply ? 0 : (int)sizeof(struct mw_ctl_ins_hello);
    case MW_OP_INS_RESTORE: return reply ? (int)sizeof(struct mw_ctl_info) : (int)sizeof(struct mw_ctl_restore);
    case MW_OP_INS_HANDOFF: return reply ? 0 : (int)sizeof(struct mw_ctl_handoff);
    case MW_OP_INS_FEATURE: return sizeof(struct mw_ctl_feature);
    case MW_OP_INS_CLOSE: return 0;
    case MW_OP_ACCEPTED: return sizeof(struct mw_ctl_accepted);
    case MW_OP_OBS: return sizeof(struct mw_ctl_obs);
    case MW_OP_OBS_BATCH: return 0;   /* variable */
    default: return -1;
    }
}

int mw_ctl_req_fds(unsigned op)
{
    switch (op) {
    case MW_OP_SOCKET: return 2;
    case MW_OP_BIND: case MW_OP_CONNECT: case MW_OP_GETSOCKOPT: case MW_OP_SETSOCKOPT:
    case MW_OP_INFO: return 1;
    case MW_OP_LISTEN: return 3;
    case MW_OP_INS_RESTORE: case MW_OP_INS_HANDOFF: case MW_OP_ACCEPTED: return 1;
    default: return 0;
    }
}

size_t mw_ctl_msg_size(unsigned op, int reply)
{
    int p = mw_ctl_payload_len(op, reply);
    return sizeof(struct mw_ctl_hdr) + (p > 0 ? (size_t)p : 0);
}

void mw_ctl_init(struct mw_ctl_msg *m, unsigned op, uint32_t req_id, uint64_t sockid)
{
    memset(m, 0, sizeof(*m));
    m->h.magic = MW_CTL_MAGIC;
    m->h.version = MW_CTL_VERSION;
    m->h.op = (uint16_t)op;
    m->h.len = (uint32_t)mw_ctl_msg_size(op, 0);
    m->h.req_id = req_id;
    m->h.sockid = sockid;
}

int mw_ctl_addr_check(const struct mw_ctl_addr *a, int allow_unset)
{
    if (a->family == 0)
        return allow_unset ? 0 : -EINVAL;
    if (a->family == AF_INET) {
        /* the unused tail must be zero so two encodings of one address compare equal */
        for (int i = 4; i < 16; i++)
            if (a->addr[i])
                return -EINVAL;
        return 0;
    }
    if (a->family == AF_INET6)
        return 0;
    return -EAFNOSUPPORT;
}

static int check_payload(const struct mw_ctl_msg *m, int reply)
{
    const union mw_ctl_payload *u = &m->u;
    int r;

    if (reply) {
        /* Replies carry a status: 0, a small positive count, or a negated errno. */
        if (m->h.status < -4095)
            return -EINVAL;
        switch (m->h.op) {
        case MW_OP_SOCKET: case MW_OP_BIND: case MW_OP_CONNECT: case MW_OP_LISTEN:
        case MW_OP_INFO: case MW_OP_INS_RESTORE:
            if ((r = mw_ctl_addr_check(&u->info.local, 1)) || (r = mw_ctl_addr_check(&u->info.peer, 1)))
                return r;
            if (u->info.state > MW_SS_CLOSED)
                return -EINVAL;
            return 0;
        case MW_OP_GETSOCKOPT: case MW_OP_SETSOCKOPT:
            if (u->sockopt.optlen > MW_CTL_OPT_MAX)
                return -EINVAL;
            return 0;
        default:
            return 0;
        }
    }
    if (m->h.status != 0)
        return -EINVAL;
    switch (m->h.op) {
    case MW_OP_HELLO:
        return u->hello.pid > 0 ? 0 : -EINVAL;
    case MW_OP_SOCKET:
        if (u->socket.domain != AF_INET && u->socket.domain != AF_INET6)
            return -EAFNOSUPPORT;
        if ((u->socket.type & 0xf) != SOCK_STREAM)
            return -EPROTONOSUPPORT;
        if (u->socket.protocol != 0 && u->socket.protocol != IPPROTO_TCP)
            return -EPROTONOSUPPORT;
        return 0;
    case MW_OP_BIND:
        return mw_ctl_addr_check(&u->addr.addr, 0);
    case MW_OP_CONNECT:
        if ((r = mw_ctl_addr_check(&u->addr.addr, 0)))
            return r;
        return u->addr.addr.port ? 0 : -EINVAL;
    case MW_OP_LISTEN:
        return 0;   /* any backlog: clamped like the kernel does */
    case MW_OP_GETSOCKOPT: case MW_OP_SETSOCKOPT:
        if (u->sockopt.optlen > MW_CTL_OPT_MAX)
            return -EINVAL;
        return 0;
    case MW_OP_TRACE:
        return u->trace.action <= 3 ? 0 : -EINVAL;
    case MW_OP_INS_HELLO:
        return u->ins_hello.gen > 0 && u->ins_hello.gen < (1u << 22) ? 0 : -EINVAL;
    case MW_OP_INS_RESTORE:
        if (u->restore.domain != AF_INET && u->restore.domain != AF_INET6)
            return -EAFNOSUPPORT;
        if (u->restore.nopts > 8)
            return -EINVAL;
        return mw_ctl_addr_check(&u->restore.local, 0);
    case MW_OP_INS_HANDOFF:
        if ((r = mw_ctl_addr_check(&u->handoff.local, 0)))
            return r;
        return mw_ctl_addr_check(&u->handoff.peer, 1);
    case MW_OP_ACCEPTED:
        if (u->accepted.domain != AF_INET && u->accepted.domain != AF_INET6)
            return -EINVAL;
        if ((r = mw_ctl_addr_check(&u->accepted.local, 1)))
            return r;
        return mw_ctl_addr_check(&u->accepted.peer, 1);
    case MW_OP_OBS:
        if (u->obs.obs < 1 || u->obs.obs > 7 || u->obs.state > MW_SS_CLOSED)
            return -EINVAL;
        if ((r = mw_ctl_addr_check(&u->obs.local, 1)))
            return r;
        return mw_ctl_addr_check(&u->obs.peer, 1);
    default:
        return 0;
    }
}

/* Descriptors a message must carry, by sender. */
static int want_fds(unsigned op, int reply, int from)
{
    if (reply)
        return 0;
    if (from == MW_FROM_SHIM)
        return mw_ctl_req_fds(op);
    if (from == MW_FROM_HUB) {
        switch (op) {
        case MW_OP_SOCKET: case MW_OP_LISTEN: case MW_OP_CONNECT: case MW_OP_INS_RESTORE:
        case MW_OP_INS_HANDOFF: return 1;
        case MW_OP_INS_HELLO: return 2;   /* observation ring: memfd + eventfd doorbell */
        default: return 0;
        }
    }
    return op == MW_OP_ACCEPTED ? 1 : 0;
}

/* Which requests each sender may make. */
static int op_allowed(unsigned op, int reply, int from)
{
    if (reply)
        return from != MW_FROM_SHIM;
    switch (from) {
    case MW_FROM_SHIM:
        return op >= MW_OP_HELLO && op <= MW_OP_TRACE && mw_ctl_payload_len(op, 0) >= 0;
    case MW_FROM_HUB:
        return (op >= MW_OP_SOCKET && op <= MW_OP_INFO) ||
               (op >= MW_OP_INS_HELLO && op <= MW_OP_INS_CLOSE);
    case MW_FROM_INS:
        return op == MW_OP_OBS || op == MW_OP_OBS_BATCH || op == MW_OP_ACCEPTED;
    default:
        return 0;
    }
}

int mw_ctl_check(const void *buf, size_t n, int nfds, int from)
{
    const struct mw_ctl_msg *m = buf;
    int reply, plen;

    if (n < sizeof(struct mw_ctl_hdr))
        return -EPROTO;
    if (m->h.magic != MW_CTL_MAGIC || m->h.version != MW_CTL_VERSION)
        return -EPROTO;
    if (m->h.len != n || n > MW_CTL_MAX_MSG)
        return -EPROTO;
    if (m->h.flags & ~(MW_CTL_F_REPLY | MW_CTL_F_NONBLOCK | MW_CTL_F_NOREPLY))
        return -EINVAL;
    reply = (m->h.flags & MW_CTL_F_REPLY) != 0;
    if ((m->h.flags & MW_CTL_F_NOREPLY) && (reply || m->h.op != MW_OP_SETSOCKOPT))
        return -EINVAL;
    plen = mw_ctl_payload_len(m->h.op, reply);
    if (plen < 0 || !op_allowed(m->h.op, reply, from))
        return -EPROTO;
    if (reply && (m->h.op == MW_OP_STATUS || m->h.op == MW_OP_TRACE)) {
        /* variable text payload */
    } else if (!reply && m->h.op == MW_OP_OBS_BATCH) {
        const struct mw_ctl_obs_batch *b = &((const struct mw_ctl_obs_batch_msg *)buf)->b;
        if (n < sizeof(struct mw_ctl_hdr) + 8)
            return -EPROTO;
        if (b->count < 1 || b->count > MW_CTL_OBS_BATCH || n != MW_CTL_OBS_BATCH_LEN(b->count))
            return -EPROTO;
        if (nfds != 0 || m->h.status != 0)
            return -EINVAL;
        for (uint32_t i = 0; i < b->count; i++) {
            const struct mw_ctl_obs *o = &b->rec[i].obs;
            int r;
            if (o->obs < 1 || o->obs > 7 || o->state > MW_SS_CLOSED)
                return -EINVAL;
            if ((r = mw_ctl_addr_check(&o->local, 1)) || (r = mw_ctl_addr_check(&o->peer, 1)))
                return r;
        }
        return 0;
    } else if (n != sizeof(struct mw_ctl_hdr) + (size_t)plen) {
        return -EPROTO;
    }
    if (nfds != want_fds(m->h.op, reply, from))
        return -EBADF;
    return check_payload(m, reply);
}

void mw_ctl_close_fds(int *fds, int nfds)
{
    for (int i = 0; i < nfds; i++) {
        if (fds[i] >= 0)
            close(fds[i]);
        fds[i] = -1;
    }
}

int mw_ctl_send(int sock, const void *msg, size_t len, const int *fds, int nfds, int flags)
{
    struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };
    union {
        char buf[CMSG_SPACE(sizeof(int) * MW_CTL_MAX_FDS)];
        struct cmsghdr align;
    } cm;
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
    ssize_t r;

    if (nfds < 0 || nfds > MW_CTL_MAX_FDS)
        return -EINVAL;
    if (nfds > 0) {
        struct cmsghdr *c;
        memset(&cm, 0, sizeof(cm));
        mh.msg_control = cm.buf;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    }
    do {
        r = sendmsg(sock, &mh, MSG_NOSIGNAL | flags);
    } while (r < 0 && errno == EINTR);
    if (r < 0)
        return -errno;
    return (size_t)r == len ? 0 : -EMSGSIZE;
}

ssize_t mw_ctl_recv(int sock, void *buf, size_t cap, int *fds, int *nfds, int flags)
{
    struct iovec iov = { .iov_base = buf, .iov_len = cap };
    union {
        char buf[CMSG_SPACE(sizeof(int) * MW_CTL_MAX_FDS * 2)];
        struct cmsghdr align;
    } cm;
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
                         .msg_controllen = sizeof(cm.buf) };
    ssize_t r;
    int n = 0;

    *nfds = 0;
    do {
        r = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | flags);
    } while (r < 0 && errno == EINTR);
    if (r < 0)
        return -errno;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < cnt; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (n < MW_CTL_MAX_FDS)
                fds[n++] = fd;
            else
                close(fd);   /* more than any message may carry: drop, the check fails below */
        }
    }
    *nfds = n;
    if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
        mw_ctl_close_fds(fds, n);
        *nfds = 0;
        return -EMSGSIZE;
    }
    return r;
}

int mw_ctl_addr_from_sockaddr(struct mw_ctl_addr *out, const struct sockaddr *sa, socklen_t len)
{
    memset(out, 0, sizeof(*out));
    if (!sa || len < (socklen_t)sizeof(sa_family_t))
        return -EINVAL;
    if (sa->sa_family == AF_INET) {
        struct sockaddr_in in;
        if (len < (socklen_t)sizeof(in))
            return -EINVAL;
        memcpy(&in, sa, sizeof(in));
        out->family = AF_INET;
        out->port = ntohs(in.sin_port);
        memcpy(out->addr, &in.sin_addr, 4);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        struct sockaddr_in6 in6;
        if (len < (socklen_t)sizeof(in6))
            return -EINVAL;
        memcpy(&in6, sa, sizeof(in6));
        out->family = AF_INET6;
        out->port = ntohs(in6.sin6_port);
        out->scope_id = in6.sin6_scope_id;
        out->flowinfo = in6.sin6_flowinfo;
        memcpy(out->addr, &in6.sin6_addr, 16);
        return 0;
    }
    return -EAFNOSUPPORT;
}

int mw_ctl_addr_to_sockaddr(const struct mw_ctl_addr *a, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (a->family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        in->sin_family = AF_INET;
        in->sin_port = htons(a->port);
        memcpy(&in->sin_addr, a->addr, 4);
        return sizeof(*in);
    }
    if (a->family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(a->port);
        in6->sin6_scope_id = a->scope_id;
        in6->sin6_flowinfo = a->flowinfo;
        memcpy(&in6->sin6_addr, a->addr, 16);
        return sizeof(*in6);
    }
    return -EINVAL;
}

int mw_ctl_name_fill(struct sockaddr *sa, uint32_t nonce, uint64_t sockid, char kind)
{
    struct sockaddr_un *sun = (struct sockaddr_un *)sa;
    char tmp[64];
    int n;

    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    n = snprintf(tmp, sizeof(tmp), MW_CTL_NAME_PREFIX "%08x:%016llx:%c", nonce,
                 (unsigned long long)sockid, kind);
    sun->sun_path[0] = '\0';
    memcpy(sun->sun_path + 1, tmp, (size_t)n);
    return (int)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

int mw_ctl_name_parse(const struct sockaddr *sa, socklen_t len, uint32_t *nonce, uint64_t *sockid,
                      char *kind)
{
    const struct sockaddr_un *sun = (const struct sockaddr_un *)sa;
    const char *p;
    uint64_t v = 0;
    uint32_t nv = 0;

    if (len != (socklen_t)(offsetof(struct sockaddr_un, sun_path) + MW_CTL_NAME_LEN) ||
        sun->sun_family != AF_UNIX || sun->sun_path[0] != '\0')
        return -1;
    p = sun->sun_path + 1;
    if (memcmp(p, MW_CTL_NAME_PREFIX, 3) != 0)
        return -1;
    p += 3;
    for (int i = 0; i < 8; i++) {
        int h = hexval(p[i]);
        if (h < 0) return -1;
        nv = nv << 4 | (uint32_t)h;
    }
    p += 8;
    if (*p++ != ':')
        return -1;
    for (int i = 0; i < 16; i++) {
        int h = hexval(p[i]);
        if (h < 0) return -1;
        v = v << 4 | (uint64_t)h;
    }
    p += 16;
    if (*p++ != ':' || (*p != 'S' && *p != 'L'))
        return -1;
    if (nonce) *nonce = nv;
    if (sockid) *sockid = v;
    if (kind) *kind = *p;
    return 0;
}
