/* libmwshim.so: the LD_PRELOAD library that carries an unmodified program's TCP sockets to the INS.
 *
 * Every intercepted socket is a real kernel fd in the application (docs/dataplane.md):
 *   - socket(AF_INET/AF_INET6, SOCK_STREAM): the app end of an AF_UNIX SOCK_STREAM socketpair;
 *     the INS holds the other end and relays bytes to its real TCP socket once connected.
 *   - listen(): a SOCK_SEQPACKET pair is dup3()ed over the same fd number; the INS sends one packet
 *     per accepted connection carrying the connection's fd (SCM_RIGHTS); accept = recvmsg.
 * So read/write/recv/send/readv/writev/sendfile/poll/epoll/fork/dup/exec are not intercepted at
 * all: the kernel does the work. Only calls that need IP-level answers come here.
 *
 * Our sockets are recognised by their abstract AF_UNIX name (bound by mwcomms/INS), so there is
 * no per-process fd bookkeeping to break across fork/dup/exec; mwcomms identifies the socket by
 * the inode of the fd we pass with each request (SCM_RIGHTS), so the app can only act on
 * sockets it holds. Non-IP sockets and files never reach the control channel.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "mw/ctl.h"

#define SHIM_EXPORT __attribute__((visibility("default")))

/* ---- the real functions ---- */
static int (*real_socket)(int, int, int);
static int (*real_bind)(int, const struct sockaddr *, socklen_t);
static int (*real_listen)(int, int);
static int (*real_accept)(int, struct sockaddr *, socklen_t *);
static int (*real_accept4)(int, struct sockaddr *, socklen_t *, int);
static int (*real_connect)(int, const struct sockaddr *, socklen_t);
static int (*real_getsockname)(int, struct sockaddr *, socklen_t *);
static int (*real_getpeername)(int, struct sockaddr *, socklen_t *);
static int (*real_getsockopt)(int, int, int, void *, socklen_t *);
static int (*real_setsockopt)(int, int, int, const void *, socklen_t);
static ssize_t (*real_recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
static ssize_t (*real_recvmsg)(int, struct msghdr *, int);
static ssize_t (*real_sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
static ssize_t (*real_sendmsg)(int, const struct msghdr *, int);
static ssize_t (*real_recvfrom_chk)(int, void *, size_t, size_t, int, struct sockaddr *, socklen_t *);

static pthread_once_t resolve_once = PTHREAD_ONCE_INIT;

static void resolve(void)
{
#define R(name) real_##name = dlsym(RTLD_NEXT, #name)
    R(socket); R(bind); R(listen); R(accept); R(accept4); R(connect); R(getsockname);
    R(getpeername); R(getsockopt); R(setsockopt); R(recvfrom); R(recvmsg); R(sendto); R(sendmsg);
#undef R
    real_recvfrom_chk = dlsym(RTLD_NEXT, "__recvfrom_chk");
}
#define RESOLVE() pthread_once(&resolve_once, resolve)

/* ---- the control channel: one per process, re-made after fork ---- */
static pthread_mutex_t ch_lock = PTHREAD_MUTEX_INITIALIZER;
static int ch_fd = -1;
static uint32_t ch_req;
static int ch_warned;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

/* fork() while another thread holds a lock must not leave the child with a locked mutex */
static void atfork_prepare(void)
{
    pthread_mutex_lock(&ch_lock);
    pthread_mutex_lock(&cache_lock);
}
static void atfork_parent(void)
{
    pthread_mutex_unlock(&cache_lock);
    pthread_mutex_unlock(&ch_lock);
}
static void atfork_child(void)
{
    pthread_mutex_init(&cache_lock, NULL);
    /* The inherited channel belongs to the parent: replies for its requests must never reach
     * us. Drop our copy; the first request in the child connects afresh. */
    if (ch_fd >= 0)
        close(ch_fd);
    ch_fd = -1;
    pthread_mutex_init(&ch_lock, NULL);
}

static int shim_disabled;
static void rendezvous_init(void);

__attribute__((constructor)) static void shim_init(void)
{
    RESOLVE();
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
    const char *d = getenv("MW_SHIM_DISABLE");
    shim_disabled = d && *d == '1';
    rendezvous_init();
}

/* Resolved once, at load time: programs such as nginx replace their environment before they
 * fork workers, and the workers must still find mwcomms. */
static char rdv_path[sizeof(((struct sockaddr_un *)0)->sun_path)];

static void rendezvous_init(void)
{
    const char *p = getenv("MW_RENDEZVOUS");
    if (p && *p) {
        snprintf(rdv_path, sizeof(rdv_path), "%s", p);
        return;
    }
    p = getenv("MW_STATE");
    if (p && *p) {
        snprintf(rdv_path, sizeof(rdv_path), "%s/run/mwcomms.sock", p);
        return;
    }
    snprintf(rdv_path, sizeof(rdv_path), "/run/mw/mwcomms.sock");
}

static const char *rendezvous_path(void)
{
    return rdv_path;
}

static void shim_warn(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > 0) {
        if ((size_t)n >= sizeof(buf))
            n = sizeof(buf) - 1;
        if (write(2, buf, (size_t)n) < 0) { /* nothing to do */ }
    }
}

/* Caller holds ch_lock. */
static int ch_connect(void)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    const char *path = rendezvous_path();
    int fd, e;

    if (strlen(path) >= sizeof(sun.sun_path))
        return -ENAMETOOLONG;
    strcpy(sun.sun_path, path);
    fd = real_socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (real_connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        e = errno;
        close(fd);
        if (!ch_warned++)
            shim_warn("mwshim: connect(%s) failed: %s; is mwcomms running? (./mw up)\n", path,
                      strerror(e));
        return -e;
    }
    ch_fd = fd;
    return 0;
}

/* Send a request on the channel, connecting it first if needed; when mwcomms restarted (the old
 * channel is dead) reconnect once and send again. Caller holds ch_lock. 0 or a negative errno. */
static int ch_send(struct mw_ctl_msg *req, const int *fds, int nfds)
{
    int r;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (ch_fd < 0 && (r = ch_connect()) < 0)
            return r;
        req->h.req_id = ++ch_req;
        r = mw_ctl_send(ch_fd, req, req->h.len, fds, nfds, 0);
        if (r != -EPIPE && r != -ECONNRESET && r != -ENOTCONN)
            return r;
        close(ch_fd);
        ch_fd = -1;
    }
    return -ECONNRESET;   /* dead again after reconnecting */
}

/* One request/response round trip. Returns 0 (rep filled, rep->h.status is the call's result) or
 * a negative errno for transport failures. */
static int shim_call(struct mw_ctl_msg *req, const int *fds, int nfds, struct mw_ctl_msg *rep)
{
    int r, rfds[MW_CTL_MAX_FDS], nr;
    ssize_t n;

    pthread_mutex_lock(&ch_lock);
    if ((r = ch_send(req, fds, nfds)) < 0)
        goto out;
    for (;;) {
        n = mw_ctl_recv(ch_fd, rep, sizeof(*rep), rfds, &nr, 0);
        if (n <= 0) {
            r = n == 0 ? -ECONNRESET : (int)n;
            close(ch_fd);
            ch_fd = -1;
            goto out;
        }
        if (nr)
            mw_ctl_close_fds(rfds, nr);
        if (mw_ctl_check(rep, (size_t)n, nr, MW_FROM_HUB) < 0 || !(rep->h.flags & MW_CTL_F_REPLY)) {
            r = -EPROTO;
            goto out;
        }
        if (rep->h.req_id == req->h.req_id && rep->h.op == req->h.op) {
            r = 0;
            goto out;
        }
        /* a stale reply (should not happen: one request at a time); skip it */
    }
out:
    pthread_mutex_unlock(&ch_lock);
    return r;
}

/* Send a request that gets no reply. */
static int shim_send(struct mw_ctl_msg *req, const int *fds, int nfds)
{
    int r;
    pthread_mutex_lock(&ch_lock);
    r = ch_send(req, fds, nfds);
    pthread_mutex_unlock(&ch_lock);
    return r;
}

static int async_opt(int level, int name)
{
    if (level == IPPROTO_TCP)
        return name == TCP_CORK || name == TCP_NODELAY || name == TCP_QUICKACK || name == TCP_KEEPIDLE ||
               name == TCP_KEEPINTVL || name == TCP_KEEPCNT;
    return level == SOL_SOCKET && name == SO_KEEPALIVE;
}

/* ---- recognising our sockets, and the address cache ---- */
struct shim_ent {
    uint64_t sockid;
    uint32_t nonce;
    int32_t domain;
    uint32_t state;
    struct mw_ctl_addr local, peer;
};
#define CACHE_SIZE 4096
static struct shim_ent cache[CACHE_SIZE];

struct ours { uint64_t sockid; uint32_t nonce; char kind; };

/* One getsockname() tells whether fd is ours. */
static int is_ours(int fd, struct ours *o)
{
    struct sockaddr_un sun;
    socklen_t len = sizeof(sun);
    if (real_getsockname(fd, (struct sockaddr *)&sun, &len) < 0 || sun.sun_family != AF_UNIX)
        return 0;
    return mw_ctl_name_parse((struct sockaddr *)&sun, len, &o->nonce, &o->sockid, &o->kind) == 0;
}

static void cache_put(const struct ours *o, const struct mw_ctl_info *in)
{
    struct shim_ent *e = &cache[(o->sockid ^ (o->sockid >> 32) ^ o->nonce) % CACHE_SIZE];
    pthread_mutex_lock(&cache_lock);
    e->sockid = o->sockid;
    e->nonce = o->nonce;
    e->domain = in->domain;
    e->state = in->state;
    e->local = in->local;
    e->peer = in->peer;
    pthread_mutex_unlock(&cache_lock);
}

static int cache_get(const struct ours *o, struct shim_ent *out)
{
    struct shim_ent *e = &cache[(o->sockid ^ (o->sockid >> 32) ^ o->nonce) % CACHE_SIZE];
    int hit;
    pthread_mutex_lock(&cache_lock);
    hit = e->sockid == o->sockid && e->nonce == o->nonce && e->domain != 0;
    if (hit)
        *out = *e;
    pthread_mutex_unlock(&cache_lock);
    return hit;
}

static int fail(int err)
{
    errno = err;
    return -1;
}

/* Ask mwcomms about a socket; refreshes the cache. */
static int shim_info(int fd, const struct ours *o, struct shim_ent *out)
{
    struct mw_ctl_msg req, rep;
    int r;
    mw_ctl_init(&req, MW_OP_INFO, 0, o->sockid);
    if ((r = shim_call(&req, &fd, 1, &rep)) < 0)
        return r;
    if (rep.h.status < 0)
        return rep.h.status;
    cache_put(o, &rep.u.info);
    cache_get(o, out);
    return 0;
}

static int sock_entry(int fd, const struct ours *o, struct shim_ent *e, int need_connected)
{
    if (cache_get(o, e) && (!need_connected || e->state == MW_SS_CONNECTED ||
                            e->state == MW_SS_LISTENING))
        return 0;
    return shim_info(fd, o, e);
}

/* Copy an address out with getsockname() truncation semantics. */
static void addr_out(const struct mw_ctl_addr *a, int domain, struct sockaddr *sa, socklen_t *len)
{
    struct sockaddr_storage ss;
    struct mw_ctl_addr tmp;
    int n;
    if (!sa || !len)
        return;
    if (a->family == 0) {
        memset(&tmp, 0, sizeof(tmp));
        tmp.family = (uint16_t)domain;
        a = &tmp;
    }
    n = mw_ctl_addr_to_sockaddr(a, &ss);
    if (n < 0)
        n = 0;
    memcpy(sa, &ss, (size_t)n < *len ? (size_t)n : *len);
    *len = (socklen_t)n;
}

/* ---- intercepted calls ---- */

SHIM_EXPORT int socket(int domain, int type, int protocol)
{
    struct mw_ctl_msg req, rep;
    int sv[2], r, fds[2];

    RESOLVE();
    if (shim_disabled || (domain != AF_INET && domain != AF_INET6) || (type & 0xf) != SOCK_STREAM ||
        (protocol != 0 && protocol != IPPROTO_TCP))
        return real_socket(domain, type, protocol);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    /* CLOEXEC is set atomically at creation and only ever cleared, never applied late. */
    if (!(type & SOCK_CLOEXEC) && fcntl(sv[0], F_SETFD, 0) < 0)
        goto err_errno;
    if ((type & SOCK_NONBLOCK) && fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0)
        goto err_errno;
    mw_ctl_init(&req, MW_OP_SOCKET, 0, 0);
    req.u.socket.domain = domain;
    req.u.socket.type = type;
    req.u.socket.protocol = protocol;
    fds[0] = sv[0];
    fds[1] = sv[1];
    r = shim_call(&req, fds, 2, &rep);
    close(sv[1]);
    if (r < 0) {
        close(sv[0]);
        return fail(r == -ENOENT || r == -ECONNREFUSED ? ENETDOWN : -r);
    }
    if (rep.h.status < 0) {
        close(sv[0]);
        return fail(-rep.h.status);
    }
    {
        struct ours o;
        if (is_ours(sv[0], &o))
            cache_put(&o, &rep.u.info);
    }
    return sv[0];
err_errno:
    r = errno;
    close(sv[0]);
    close(sv[1]);
    return fail(r);
}

SHIM_EXPORT int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    struct mw_ctl_msg req, rep;
    struct ours o;
    int r;

    RESOLVE();
    if (!addr || len < sizeof(sa_family_t) || (addr->sa_family != AF_INET && addr->sa_family != AF_INET6) ||
        !is_ours(fd, &o))
        return real_bind(fd, addr, len);
    mw_ctl_init(&req, MW_OP_BIND, 0, o.sockid);
    if ((r = mw_ctl_addr_from_sockaddr(&req.u.addr.addr, addr, len)) < 0)
        return fail(-r);
    if ((r = shim_call(&req, &fd, 1, &rep)) < 0)
        return fail(-r);
    if (rep.h.status < 0)
        return fail(-rep.h.status);
    cache_put(&o, &rep.u.info);
    return 0;
}

SHIM_EXPORT int listen(int fd, int backlog)
{
    struct mw_ctl_msg req, rep;
    struct ours o;
    int lp[2], fds[3], r, fdfl, fl;

    RESOLVE();
    if (!is_ours(fd, &o))
        return real_listen(fd, backlog);
    if (o.kind == 'L')
        return 0;   /* already listening: the kernel would only update the backlog */
    if ((fdfl = fcntl(fd, F_GETFD)) < 0 || (fl = fcntl(fd, F_GETFL)) < 0)
        return -1;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, lp) < 0)
        return -1;
    mw_ctl_init(&req, MW_OP_LISTEN, 0, o.sockid);
    req.u.listen.backlog = backlog;
    fds[0] = fd;
    fds[1] = lp[0];
    fds[2] = lp[1];
    r = shim_call(&req, fds, 3, &rep);
    close(lp[1]);
    if (r < 0 || rep.h.status < 0) {
        close(lp[0]);
        return fail(r < 0 ? -r : -rep.h.status);
    }
    /* Same fd number, same O_NONBLOCK and FD_CLOEXEC, now the listening end. */
    if ((fl & O_NONBLOCK) && fcntl(lp[0], F_SETFL, O_NONBLOCK) < 0)
        goto err;
    if (dup3(lp[0], fd, (fdfl & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0)
        goto err;
    close(lp[0]);
    if (is_ours(fd, &o))
        cache_put(&o, &rep.u.info);
    return 0;
err:
    r = errno;
    close(lp[0]);
    return fail(r);
}

static int shim_readopt(int fd, const struct ours *o)
{
    struct shim_ent e;
    struct sockaddr_storage ss;
    int ns, one = 1, fdfl, fl, sl, r;

    if (!cache_get(o, &e) || !e.local.family || !e.local.port)
        return -1;   /* address unknown here (e.g. after exec): cannot re-create it */
    if ((fdfl = fcntl(fd, F_GETFD)) < 0 || (fl = fcntl(fd, F_GETFL)) < 0)
        return -1;
    ns = socket(e.domain, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (ns < 0)
        return -1;
    setsockopt(ns, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(ns, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    sl = mw_ctl_addr_to_sockaddr(&e.local, &ss);
    r = sl < 0 ? -1 : bind(ns, (struct sockaddr *)&ss, (socklen_t)sl);
    if (r == 0)
        r = listen(ns, 511);
    if (r == 0 && (fl & O_NONBLOCK))
        r = fcntl(ns, F_SETFL, O_NONBLOCK);
    if (r == 0 && dup3(ns, fd, (fdfl & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0)
        r = -1;
    close(ns);
    if (r == 0)
        shim_warn("mwshim: pid %d: listener fd %d re-created with the restarted mwcomms\n", (int)getpid(), fd);
    return r;
}

SHIM_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    struct mw_ctl_msg m;
    struct ours o;
    int fds[MW_CTL_MAX_FDS], nfds = 0;
    ssize_t n;

    RESOLVE();
    if (!is_ours(fd, &o))
        return real_accept4(fd, addr, len, flags);
    if (o.kind != 'L')
        return fail(EINVAL);
    if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC))
        return fail(EINVAL);
    for (;;) {
        struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
        union { char buf[CMSG_SPACE(sizeof(int) * MW_CTL_MAX_FDS)]; struct cmsghdr a; } cm;
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
                             .msg_controllen = sizeof(cm.buf) };
        /* Blocking or not follows the listener's own O_NONBLOCK, as accept would; EINTR and
         * SA_RESTART behave as for accept. */
        n = real_recvmsg(fd, &mh, (flags & SOCK_CLOEXEC) ? MSG_CMSG_CLOEXEC : 0);
        if (n < 0)
            return -1;
        if (n == 0) {
            /* The INS side is gone for good: mwcomms restarted (a dead INS alone never does this,
             * mwcomms keeps the listener alive). Re-create the listener at the same address with
             * the new mwcomms, on the same fd number; every process sharing it does the same
             * (SO_REUSEPORT lets them). Until mwcomms is back, accept fails with ECONNABORTED. */
            if (shim_readopt(fd, &o) < 0)
                return fail(ECONNABORTED);
            if (!is_ours(fd, &o))
                return fail(ECONNABORTED);
            continue;
        }
        nfds = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                continue;
            size_t cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < cnt; i++) {
                int nfd;
                memcpy(&nfd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                if (nfds < MW_CTL_MAX_FDS)
                    fds[nfds++] = nfd;
                else
                    close(nfd);
            }
        }
        if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
            mw_ctl_check(&m, (size_t)n, nfds, MW_FROM_INS) < 0 || m.h.op != MW_OP_ACCEPTED) {
            mw_ctl_close_fds(fds, nfds);
            continue;   /* not a connection: skip it */
        }
        break;
    }
    if ((flags & SOCK_NONBLOCK) && fcntl(fds[0], F_SETFL, O_NONBLOCK) < 0) {
        int e = errno;
        close(fds[0]);
        return fail(e);
    }
    {
        struct ours no = { .sockid = m.h.sockid, .nonce = o.nonce, .kind = 'S' };
        struct mw_ctl_info in;
        memset(&in, 0, sizeof(in));
        in.domain = m.u.accepted.domain;
        in.type = SOCK_STREAM;
        in.state = MW_SS_CONNECTED;
        in.local = m.u.accepted.local;
        in.peer = m.u.accepted.peer;
        cache_put(&no, &in);
        addr_out(&in.peer, in.domain, addr, len);
    }
    return fds[0];
}

SHIM_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
    RESOLVE();
    return accept4(fd, addr, len, 0);
}

static int shim_sockopt_get(int fd, const struct ours *o, int level, int name, void *val,
                            socklen_t *len)
{
    struct mw_ctl_msg req, rep;
    int r;
    mw_ctl_init(&req, MW_OP_GETSOCKOPT, 0, o->sockid);
    req.u.sockopt.level = level;
    req.u.sockopt.optname = name;
    req.u.sockopt.optlen = *len > MW_CTL_OPT_MAX ? MW_CTL_OPT_MAX : *len;
    if ((r = shim_call(&req, &fd, 1, &rep)) < 0)
        return fail(-r);
    if (rep.h.status < 0)
        return fail(-rep.h.status);
    if (rep.u.sockopt.optlen < *len)
        *len = rep.u.sockopt.optlen;
    memcpy(val, rep.u.sockopt.val, *len);
    return 0;
}

SHIM_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    struct mw_ctl_msg req, rep;
    struct ours o;
    int r, fl;

    RESOLVE();
    if (!addr || len < sizeof(sa_family_t) || (addr->sa_family != AF_INET && addr->sa_family != AF_INET6) ||
        !is_ours(fd, &o))
        return real_connect(fd, addr, len);
    if (o.kind != 'S')
        return fail(EISCONN);
    if ((fl = fcntl(fd, F_GETFL)) < 0)
        return -1;
    mw_ctl_init(&req, MW_OP_CONNECT, 0, o.sockid);
    if ((r = mw_ctl_addr_from_sockaddr(&req.u.addr.addr, addr, len)) < 0)
        return fail(-r);
    if (fl & O_NONBLOCK)
        req.h.flags |= MW_CTL_F_NONBLOCK;
    if ((r = shim_call(&req, &fd, 1, &rep)) < 0)
        return fail(-r);
    if (rep.h.status == 0 || rep.h.status == -EINPROGRESS)
        cache_put(&o, &rep.u.info);
    if (rep.h.status == 0)
        return 0;
    if (rep.h.status != -EINPROGRESS || (fl & O_NONBLOCK))
        return fail(-rep.h.status);
    /* A blocking connect is a non-blocking one plus a wait: the INS keeps our end unwritable
     * until the TCP handshake is done, so poll() for POLLOUT, then ask for SO_ERROR. The wait is
     * outside the channel lock, so other threads keep working; a signal gives EINTR with the
     * connection continuing in the background, as the kernel does. */
    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLOUT };
        int pr = poll(&p, 1, -1);
        if (pr < 0)
            return -1;
        if (pr > 0)
            break;
    }
    {
        int err = 0;
        socklen_t el = sizeof(err);
        if (shim_sockopt_get(fd, &o, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
            return -1;
        if (err)
            return fail(err);
    }
    {
        struct shim_ent e;
        shim_info(fd, &o, &e);
    }
    return 0;
}

SHIM_EXPORT int getsockname(int fd, struct sockaddr *addr, socklen_t *len)
{
    struct ours o;
    struct shim_ent e;
    int r;
    RESOLVE();
    if (!is_ours(fd, &o))
        return real_getsockname(fd, addr, len);
    if (!addr || !len)
        return fail(EFAULT);
    if ((r = sock_entry(fd, &o, &e, 0)) < 0)
        return fail(r == -ENOENT ? EBADF : -r);
    addr_out(&e.local, e.domain, addr, len);
    return 0;
}

SHIM_EXPORT int getpeername(int fd, struct sockaddr *addr, socklen_t *len)
{
    struct ours o;
    struct shim_ent e;
    int r;
    RESOLVE();
    if (!is_ours(fd, &o))
        return real_getpeername(fd, addr, len);
    if (!addr || !len)
        return fail(EFAULT);
    if ((r = sock_entry(fd, &o, &e, 1)) < 0)
        return fail(r == -ENOENT ? EBADF : -r);
    if (e.state != MW_SS_CONNECTED || e.peer.family == 0)
        return fail(ENOTCONN);
    addr_out(&e.peer, e.domain, addr, len);
    return 0;
}

static int put_int(void *val, socklen_t *len, int v)
{
    if (!val || !len)
        return fail(EFAULT);
    if (*len < sizeof(int)) {
        /* the kernel copies a truncated int for small buffers; keep it simple and exact */
        return fail(EINVAL);
    }
    memcpy(val, &v, sizeof(int));
    *len = sizeof(int);
    return 0;
}

SHIM_EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
    struct ours o;
    struct shim_ent e;
    RESOLVE();
    if (!is_ours(fd, &o))
        return real_getsockopt(fd, level, name, val, len);
    if (!val || !len)
        return fail(EFAULT);
    if (level == SOL_SOCKET) {
        switch (name) {
        case SO_TYPE: return put_int(val, len, SOCK_STREAM);
        case SO_PROTOCOL: return put_int(val, len, IPPROTO_TCP);
        case SO_ACCEPTCONN: return put_int(val, len, o.kind == 'L');
        case SO_DOMAIN:
            if (sock_entry(fd, &o, &e, 0) < 0)
                return fail(EBADF);
            return put_int(val, len, e.domain);
        case SO_RCVTIMEO: case SO_SNDTIMEO: case SO_RCVLOWAT:
            /* these govern the application's own blocking reads/writes on its end */
            return real_getsockopt(fd, level, name, val, len);
        default:
            break;
        }
    }
    return shim_sockopt_get(fd, &o, level, name, val, len);
}

SHIM_EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
    struct mw_ctl_msg req, rep;
    struct ours o;
    int r;
    RESOLVE();
    if (!is_ours(fd, &o))
        return real_setsockopt(fd, level, name, val, len);
    if (level == SOL_SOCKET && (name == SO_RCVTIMEO || name == SO_SNDTIMEO || name == SO_RCVLOWAT))
        return real_setsockopt(fd, level, name, val, len);
    if (len > MW_CTL_OPT_MAX)
        return fail(EINVAL);
    if (len && !val)
        return fail(EFAULT);
    mw_ctl_init(&req, MW_OP_SETSOCKOPT, 0, o.sockid);
    req.u.sockopt.level = level;
    req.u.sockopt.optname = name;
    req.u.sockopt.optlen = len;
    if (len)
        memcpy(req.u.sockopt.val, val, len);
    if (level == IPPROTO_TCP && (name == TCP_CORK || name == TCP_NODELAY) && o.kind == 'S') {
        /* The INS sends whatever it reads from our end at once (its sockets are TCP_NODELAY), and
         * our writes are already gathered by the AF_UNIX buffer: corking or Nagle on the relayed
         * socket would only add delay. Accepted and ignored, without a round trip. */
        if (len < sizeof(int))
            return fail(EINVAL);
        return 0;
    }
    if (o.kind == 'S' && async_opt(level, name)) {
        /* Options servers set on every connection (nginx corks each response) and that cannot
         * fail once the value is well-formed: answered here, applied by the INS in order with
         * everything else this process asks (same channel), no round trip. */
        if (len < sizeof(int))
            return fail(EINVAL);
        req.h.flags |= MW_CTL_F_NOREPLY;
        if ((r = shim_send(&req, &fd, 1)) < 0)
            return fail(-r);
        return 0;
    }
    if ((r = shim_call(&req, &fd, 1, &rep)) < 0)
        return fail(-r);
    if (rep.h.status < 0)
        return fail(-rep.h.status);
    return 0;
}

/* recvfrom/recvmsg: data comes from the kernel; only a requested source address is filled in. */
static int fill_peer(int fd, struct sockaddr *addr, socklen_t *len)
{
    struct ours o;
    struct shim_ent e;
    if (!addr || !len || !is_ours(fd, &o))
        return 0;
    if (sock_entry(fd, &o, &e, 1) == 0 && e.peer.family) {
        addr_out(&e.peer, e.domain, addr, len);
        return 1;
    }
    return 0;
}

SHIM_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr, socklen_t *len)
{
    ssize_t r;
    socklen_t cap = len ? *len : 0;
    RESOLVE();
    r = real_recvfrom(fd, buf, n, flags, addr, len);
    if (r >= 0 && addr && len && (*len == 0 || addr->sa_family == AF_UNIX)) {
        int e = errno;
        socklen_t kl = *len;
        *len = cap;
        if (!fill_peer(fd, addr, len))
            *len = kl;   /* a real AF_UNIX socket: keep the kernel's answer */
        errno = e;
    }
    return r;
}

SHIM_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
                                   struct sockaddr *addr, socklen_t *len)
{
    RESOLVE();
    if (n > buflen)
        abort();   /* what the fortified libc function does on overflow */
    return recvfrom(fd, buf, n, flags, addr, len);
}

SHIM_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    ssize_t r;
    socklen_t cap = msg ? msg->msg_namelen : 0;
    RESOLVE();
    r = real_recvmsg(fd, msg, flags);
    if (r >= 0 && msg && msg->msg_name &&
        (msg->msg_namelen == 0 || ((struct sockaddr *)msg->msg_name)->sa_family == AF_UNIX)) {
        int e = errno;
        socklen_t l = cap;
        if (fill_peer(fd, msg->msg_name, &l))
            msg->msg_namelen = l;
        errno = e;
    }
    return r;
}

/* sendto/sendmsg on a connected TCP socket ignore the address; a unix stream would refuse it. */
SHIM_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *addr,
                           socklen_t len)
{
    struct ours o;
    RESOLVE();
    if (addr && len >= sizeof(sa_family_t) && (addr->sa_family == AF_INET || addr->sa_family == AF_INET6) &&
        is_ours(fd, &o))
        return real_sendto(fd, buf, n, flags, NULL, 0);
    return real_sendto(fd, buf, n, flags, addr, len);
}

SHIM_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    struct ours o;
    RESOLVE();
    if (msg && msg->msg_name && msg->msg_namelen >= sizeof(sa_family_t)) {
        const struct sockaddr *sa = msg->msg_name;
        if ((sa->sa_family == AF_INET || sa->sa_family == AF_INET6) && is_ours(fd, &o)) {
            struct msghdr m = *msg;
            m.msg_name = NULL;
            m.msg_namelen = 0;
            return real_sendmsg(fd, &m, flags);
        }
    }
    return real_sendmsg(fd, msg, flags);
}
