/* mwcomms hub: one epoll loop. See hub.h and docs/dataplane.md.
 *
 * Requests from shims are identified by the inode of the fd they carry (SCM_RIGHTS), looked up in
 * the socket table, and forwarded to the INS that owns the socket; the INS's reply is routed back.
 * The data path never passes through here: accepted connections go from the INS straight to the
 * application's listener, bytes go between the application's AF_UNIX end and the INS.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdarg.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hub.h"
#include "mw/log.h"

#if __has_include("netflow_server.h")
#include "netflow_server.h"
#define HUB_HAVE_NF 1
#endif

struct hub_nfreq {
    struct hub_nfreq *next;
    uint64_t client_id;
    uint16_t flags, name;
    uint32_t id;
    uint8_t val[16], ident[20];
};

static void ins_died(struct hub *h, struct hub_ins *in);
static void replicate_listener(struct hub *h, struct hub_sock *s, struct hub_ins *in);
static void ins_readable(struct hub *h, struct hub_ins *in);
static int ins_spawn(struct hub *h, struct hub_ins *in);

/* ---- small helpers ---- */

static void hub_epoll_add(struct hub *h, int fd, uint32_t ev, struct hub_tag *tag)
{
    struct epoll_event e = { .events = ev, .data.ptr = tag };
    if (epoll_ctl(h->ep, EPOLL_CTL_ADD, fd, &e) < 0)
        mw_log("epoll_ctl(ADD %d): %m", fd);
}

static uint64_t fd_inode(int fd, int want_type)
{
    struct stat st;
    int type = 0, dom = 0;
    socklen_t l = sizeof(type);
    if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
        return 0;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) < 0 || type != want_type)
        return 0;
    l = sizeof(dom);
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &l) < 0 || dom != AF_UNIX)
        return 0;
    return st.st_ino;
}

static void now_real(uint64_t *sec, uint64_t *nsec)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    *sec = (uint64_t)ts.tv_sec;
    *nsec = (uint64_t)ts.tv_nsec;
}

/* ---- tracing ---- */

static void trace_record(struct hub *h, unsigned op, uint64_t t0, int status)
{
    uint64_t dt;
    int b = 0;
    if (!h->trace.on || op >= MW_OP__MAX || !t0)
        return;
    dt = mw_now_ns() - t0;
    for (uint64_t us = dt / 1000; us && b < HUB_TRACE_BUCKETS - 1; us >>= 1)
        b++;
    h->trace.count[op]++;
    h->trace.hist[op][b]++;
    h->trace.total_ns[op] += dt;
    if (status < 0 && status != -EINPROGRESS)
        h->trace.errors[op]++;
}

/* ---- replies ---- */

static void reply_to_fd(int fd, const struct mw_ctl_hdr *req, int status, struct mw_ctl_msg *rep,
                        size_t text_len)
{
    struct mw_ctl_msg tmp;
    int r;
    if (!rep) {
        rep = &tmp;
        memset(rep, 0, sizeof(*rep));
    }
    rep->h.magic = MW_CTL_MAGIC;
    rep->h.version = MW_CTL_VERSION;
    rep->h.op = req->op;
    rep->h.req_id = req->req_id;
    rep->h.sockid = req->sockid;
    rep->h.flags = MW_CTL_F_REPLY;
    rep->h.status = status;
    rep->h.len = (uint32_t)(text_len ? sizeof(struct mw_ctl_hdr) + text_len : mw_ctl_msg_size(req->op, 1));
    r = mw_ctl_send(fd, rep, rep->h.len, NULL, 0, MSG_DONTWAIT);
    if (r < 0 && r != -EPIPE && r != -ECONNRESET)
        mw_log("sendmsg(reply %s to fd %d): %s", mw_ctl_op_name(req->op), fd, strerror(-r));
}

static void reply_client(struct hub *h, uint64_t client_id, const struct mw_ctl_hdr *req, int status,
                         struct mw_ctl_msg *rep, uint64_t t0)
{
    struct hub_client *cl = mw_u64map_get(&h->clients, client_id);
    trace_record(h, req->op, t0, status);
    if (!cl)
        return;   /* the process went away meanwhile */
    reply_to_fd(cl->fd, req, status, rep, 0);
}

/* ---- sending to an INS: bounded wait when its channel is full ---- */

static int ins_send(struct hub *h, struct hub_ins *in, struct mw_ctl_msg *m, const int *fds, int nfds)
{
    int r;
    if (!in->alive)
        return -ECONNRESET;
    for (int tries = 0; tries < 20; tries++) {
        r = mw_ctl_send(in->fd, m, m->h.len, fds, nfds, MSG_DONTWAIT);
        if (r != -EAGAIN)
            break;
        struct pollfd p = { .fd = in->fd, .events = POLLOUT };
        poll(&p, 1, 100);
    }
    if (r < 0)
        mw_log("sendmsg(ins%u %s): %s", in->ins_id, mw_ctl_op_name(m->h.op), strerror(-r));
    return r;
}

static struct hub_pending *pending_new(struct hub *h, int kind, unsigned op, uint64_t sockid, int ins)
{
    struct hub_pending *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->hub_req = ++h->next_req ? h->next_req : ++h->next_req;
    p->kind = kind;
    p->op = (uint16_t)op;
    p->sockid = sockid;
    p->ins = ins;
    p->seq_dup = -1;
    if (mw_u64map_put(&h->pending, p->hub_req, p) < 0) {
        free(p);
        return NULL;
    }
    return p;
}

static void pending_free(struct hub *h, struct hub_pending *p)
{
    mw_u64map_del(&h->pending, p->hub_req);
    if (p->seq_dup >= 0)
        close(p->seq_dup);
    free(p);
}

/* Freed after the current epoll batch (events later in it may point here). */
static void bury(struct hub *h, void *p)
{
    if (h->ngrave == h->cap_grave) {
        size_t nc = h->cap_grave ? h->cap_grave * 2 : 64;
        void **ng = realloc(h->grave, nc * sizeof(*ng));
        if (!ng) {
            mw_log("realloc(graveyard): out of memory; leaking one object");
            return;
        }
        h->grave = ng;
        h->cap_grave = nc;
    }
    h->grave[h->ngrave++] = p;
}

/* ---- the socket table ---- */

static struct hub_sock *sock_add(struct hub *h, uint64_t id, uint64_t inode, int ins, int domain)
{
    struct hub_sock *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->sockid = id;
    s->inode = inode;
    s->ins = ins;
    s->domain = domain;
    s->seq_dup = -1;
    s->front_fd = -1;
    now_real(&s->start_sec, &s->start_nsec);
    if (mw_u64map_put(&h->by_id, id, s) < 0 || (inode && mw_u64map_put(&h->by_inode, inode, s) < 0)) {
        mw_u64map_del(&h->by_id, id);
        free(s);
        return NULL;
    }
    h->ins[ins].nsock++;
    return s;
}

static void front_close(struct hub *h, struct hub_sock *s)
{
    if (s->front_fd >= 0) {
        epoll_ctl(h->ep, EPOLL_CTL_DEL, s->front_fd, NULL);
        close(s->front_fd);
        s->front_fd = -1;
    }
}

static void sock_del(struct hub *h, struct hub_sock *s)
{
    mw_u64map_del(&h->by_id, s->sockid);
    if (s->inode && mw_u64map_get(&h->by_inode, s->inode) == s)
        mw_u64map_del(&h->by_inode, s->inode);
    if (s->seq_dup >= 0)
        close(s->seq_dup);
    front_close(h, s);
    if (h->ins[s->ins].nsock)
        h->ins[s->ins].nsock--;
    if (s->state == MW_SS_CONNECTED && h->ins[s->ins].nconn)
        h->ins[s->ins].nconn--;
    if (s->state == MW_SS_LISTENING && h->ins[s->ins].nlisten)
        h->ins[s->ins].nlisten--;
    for (int i = 0; s->replicas && i < HUB_MAX_INS; i++)
        if ((s->replicas & (1u << i)) && h->ins[i].nlisten)
            h->ins[i].nlisten--;
    s->replicas = 0;
    bury(h, s);
}

/* Remember an int-valued option of a listener: restored on a new INS and given to replicas. */
static void sock_record_opt(struct hub_sock *s, const struct hub_opt *o)
{
    int i;
    if (!o->optname)
        return;
    for (i = 0; i < s->nopts; i++)
        if (s->opts[i].level == o->level && s->opts[i].optname == o->optname)
            break;
    if (i == 8)
        return;
    s->opts[i] = *o;
    if (i == s->nopts)
        s->nopts++;
}

static void sock_set_state(struct hub *h, struct hub_sock *s, uint32_t st)
{
    struct hub_ins *in = &h->ins[s->ins];
    if (s->state == st)
        return;
    if (s->state == MW_SS_CONNECTED && in->nconn) in->nconn--;
    if (s->state == MW_SS_LISTENING && in->nlisten) in->nlisten--;
    if (st == MW_SS_CONNECTED) in->nconn++;
    if (st == MW_SS_LISTENING) in->nlisten++;
    s->state = st;
}

/* ---- NetFlow ---- */

static void nf_endpoint(const struct mw_ctl_addr *a, void *out)
{
#ifdef HUB_HAVE_NF
    struct mw_nf_endpoint *e = out;
    memset(e, 0, sizeof(*e));
    if (a->family == AF_INET) {
        e->af = 4;
        memcpy(e->addr, a->addr, 4);
    } else if (a->family == AF_INET6) {
        e->af = 6;
        memcpy(e->addr, a->addr, 16);
    }
    e->port = a->port;
#else
    (void)a; (void)out;
#endif
}

static void nf_emit(struct hub *h, const struct mw_ctl_obs *o, uint64_t sockid, int ins)
{
    h->obs_total++;
#ifdef HUB_HAVE_NF
    if (!h->nf)
        return;
    struct mw_nf_obs n;
    memset(&n, 0, sizeof(n));
    n.obs = o->obs;
    n.start_sec = o->start_sec;
    n.start_nsec = o->start_nsec;
    n.ts_sec = o->ts_sec;
    n.ts_nsec = o->ts_nsec;
    n.sockid = (int64_t)sockid;
    nf_endpoint(&o->local, &n.local);
    nf_endpoint(&o->peer, &n.remote);
    n.bytes_in = o->bytes_in;
    n.bytes_out = o->bytes_out;
    n.extra = o->extra;
    n.ins_id = ins;
    mw_nf_server_emit(h->nf, &n);
#else
    (void)o; (void)sockid; (void)ins;
#endif
}

/* ---- front end (isolation netns): host-side listener that hands connections to the INS ---- */

static void front_open(struct hub *h, struct hub_sock *s)
{
    struct mw_ctl_addr a = s->local;
    struct sockaddr_storage ss;
    int fd, one = 1, len;
    char txt[64];

    if (!h->isolation_netns || s->front_fd >= 0)
        return;
    /* loopback by default: the program asked for its own (empty) namespace's address */
    memset(a.addr, 0, sizeof(a.addr));
    if (a.family == AF_INET)
        inet_pton(AF_INET, h->front_addr4, a.addr);
    else
        inet_pton(AF_INET6, h->front_addr6, a.addr);
    len = mw_ctl_addr_to_sockaddr(&a, &ss);
    fd = socket(a.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        mw_log("front end: socket: %m");
        return;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (a.family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    inet_ntop(a.family, a.addr, txt, sizeof(txt));
    if (bind(fd, (struct sockaddr *)&ss, (socklen_t)len) < 0 || listen(fd, s->backlog > 0 ? s->backlog : 511) < 0) {
        mw_log("front end for socket %llx: bind/listen %s port %u: %m", (unsigned long long)s->sockid,
               txt, a.port);
        close(fd);
        return;
    }
    s->front_fd = fd;
    s->front_tag.type = H_FRONT;
    s->front_tag.p = s;
    hub_epoll_add(h, fd, EPOLLIN, &s->front_tag);
    mw_log("front end: %s port %u -> ins%u socket %llx", txt, a.port, h->ins[s->ins].ins_id,
           (unsigned long long)s->sockid);
}

static int in_rotation(const struct hub_ins *in)
{
    return in->used && in->alive && !in->draining;
}

static int under_limit(const struct hub_ins *in)
{
    return !in->max_sockets || in->nsock + in->inflight < in->max_sockets;
}

/* Least connections among the INS that hold this listener (the primary or a replica), in
 * rotation and below their socket limit. Counts include hand-overs not yet answered, so a burst
 * of accepts spreads instead of piling onto the instance that looked idle. */
static struct hub_ins *front_pick(struct hub *h, const struct hub_sock *s)
{
    struct hub_ins *best = NULL;
    for (int i = 0; i < h->nins_want; i++) {
        struct hub_ins *in = &h->ins[i];
        if ((i != s->ins && !(s->replicas & (1u << i))) || !in_rotation(in) || !under_limit(in))
            continue;
        if (!best || in->nconn + in->inflight < best->nconn + best->inflight)
            best = in;
    }
    return best;
}

static void front_accept(struct hub *h, struct hub_sock *s)
{
    static uint64_t refused;
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        struct mw_ctl_msg m;
        int fd = accept4(s->front_fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != ECONNABORTED && errno != EINTR)
                mw_log("front end: accept4: %m");
            return;
        }
        mw_ctl_init(&m, MW_OP_INS_HANDOFF, 0, s->sockid);
        m.u.handoff.local = s->local;
        mw_ctl_addr_from_sockaddr(&m.u.handoff.peer, (struct sockaddr *)&ss, len);
        if (m.u.handoff.local.family == AF_INET6 && m.u.handoff.peer.family == AF_INET) {
            /* keep the listener's family for the accepted peer (v4-mapped), like the kernel */
            uint8_t a4[4];
            memcpy(a4, m.u.handoff.peer.addr, 4);
            memset(m.u.handoff.peer.addr, 0, 16);
            m.u.handoff.peer.addr[10] = m.u.handoff.peer.addr[11] = 0xff;
            memcpy(m.u.handoff.peer.addr + 12, a4, 4);
            m.u.handoff.peer.family = AF_INET6;
        }
        /* the INS answers; replies to internal requests are dropped by req id 0 */
        struct hub_ins *in = front_pick(h, s);
        if (!in) {
            if (refused++ % 1000 == 0)
                mw_log("front end: no INS in rotation below its socket limit: connection refused (%llu so far)",
                       (unsigned long long)refused);
        } else if (ins_send(h, in, &m, &fd, 1) == 0) {
            in->inflight++;
        }
        close(fd);
    }
}

/* ---- requests from shims ---- */

static struct hub_ins *pick_ins(struct hub *h)
{
    struct hub_ins *best = NULL;
    for (int i = 0; i < h->nins_want; i++) {
        struct hub_ins *in = &h->ins[i];
        if (in_rotation(in) && under_limit(in) && (!best || in->nsock < best->nsock))
            best = in;
    }
    /* every instance full: give it to one anyway, it refuses with EMFILE like a full fd table */
    for (int i = 0; !best && i < h->nins_want; i++)
        if (h->ins[i].used && h->ins[i].alive)
            best = &h->ins[i];
    return best;
}

static int bind_name(struct hub *h, int fd, uint64_t sockid, char kind)
{
    struct sockaddr_storage ss;
    int l = mw_ctl_name_fill((struct sockaddr *)&ss, h->nonce, sockid, kind);
    if (bind(fd, (struct sockaddr *)&ss, (socklen_t)l) < 0)
        return -errno;
    return 0;
}

static void forward(struct hub *h, struct hub_client *cl, struct mw_ctl_msg *m, struct hub_sock *s,
                    const int *fds, int nfds, uint64_t t0, struct hub_pending **out)
{
    struct hub_pending *p = pending_new(h, PK_CLIENT, m->h.op, s->sockid, s->ins);
    struct mw_ctl_msg f = *m;
    int r;
    if (out)
        *out = p;
    if (!p) {
        reply_client(h, cl->id, &m->h, -ENOMEM, NULL, t0);
        return;
    }
    p->client_id = cl->id;
    p->client_req = m->h.req_id;
    p->t0 = t0;
    f.h.req_id = p->hub_req;
    f.h.sockid = s->sockid;
    r = ins_send(h, &h->ins[s->ins], &f, fds, nfds);
    if (r < 0) {
        reply_client(h, cl->id, &m->h, -ECONNRESET, NULL, t0);
        if (out)
            *out = NULL;
        pending_free(h, p);
    }
}

static void req_socket(struct hub *h, struct hub_client *cl, struct mw_ctl_msg *m, int *fds, uint64_t t0)
{
    uint64_t ino = fd_inode(fds[0], SOCK_STREAM);
    struct hub_ins *in;
    struct hub_sock *s;
    int r;

    if (!ino || !fd_inode(fds[1], SOCK_STREAM)) {
        reply_client(h, cl->id, &m->h, -EBADF, NULL, t0);
        return;
    }
    if (mw_u64map_get(&h->by_inode, ino)) {
        reply_client(h, cl->id, &m->h, -EBUSY, NULL, t0);
        return;
    }
    if (!(in = pick_ins(h))) {
        reply_client(h, cl->id, &m->h, -ENETDOWN, NULL, t0);
        return;
    }
    s = sock_add(h, ++h->next_sockid, ino, in->idx, m->u.socket.domain);
    if (!s) {
        reply_client(h, cl->id, &m->h, -ENOMEM, NULL, t0);
        return;
    }
    s->state = MW_SS_NEW;
    s->owner = cl->pid;
    if ((r = bind_name(h, fds[0], s->sockid, 'S')) < 0) {
        mw_log("bind(name of socket %llx): %s", (unsigned long long)s->sockid, strerror(-r));
        sock_del(h, s);
        reply_client(h, cl->id, &m->h, r == -EINVAL ? -EBADF : r, NULL, t0);
        return;
    }
    forward(h, cl, m, s, &fds[1], 1, t0, NULL);
}

static void req_listen(struct hub *h, struct hub_client *cl, struct mw_ctl_msg *m, struct hub_sock *s,
                       int *fds, uint64_t t0)
{
    uint64_t ino_new = fd_inode(fds[1], SOCK_SEQPACKET);
    struct hub_pending *p = NULL;
    int dup_fd, r;

    if (!ino_new || !fd_inode(fds[2], SOCK_SEQPACKET)) {
        reply_client(h, cl->id, &m->h, -EBADF, NULL, t0);
        return;
    }
    if (s->state != MW_SS_NEW && s->state != MW_SS_BOUND) {
        reply_client(h, cl->id, &m->h, -EINVAL, NULL, t0);
        return;
    }
    if ((r = bind_name(h, fds[1], s->sockid, 'L')) < 0) {
        reply_client(h, cl->id, &m->h, r, NULL, t0);
        return;
    }
    /* Keep a copy of the INS end: if the INS dies, the app's listener stays valid and a new INS
     * takes it over (listener restore). */
    dup_fd = fcntl(fds[2], F_DUPFD_CLOEXEC, 3);
    if (dup_fd < 0) {
        reply_client(h, cl->id, &m->h, -errno, NULL, t0);
        return;
    }
    s->backlog = m->u.listen.backlog;
    forward(h, cl, m, s, &fds[2], 1, t0, &p);
    if (p) {
        p->new_inode = ino_new;
        p->seq_dup = dup_fd;
    } else {
        close(dup_fd);
    }
}

static void send_text(struct hub *h, struct hub_client *cl, struct mw_ctl_msg *m, const char *text,
                      size_t len, uint64_t t0)
{
    struct {
        struct mw_ctl_hdr h;
        char text[MW_CTL_MAX_MSG - sizeof(struct mw_ctl_hdr)];
    } *rep = malloc(sizeof(*rep));
    if (!rep)
        return;
    if (len > sizeof(rep->text))
        len = sizeof(rep->text);
    memcpy(rep->text, text, len);
    trace_record(h, m->h.op, t0, 0);
    reply_to_fd(cl->fd, &m->h, (int)len, (struct mw_ctl_msg *)rep, len);
    free(rep);
}

void hub_client_message(struct hub *h, struct hub_client *cl, void *buf, ssize_t n, int *fds, int nfds)
{
    struct mw_ctl_msg *m = buf;
    struct hub_sock *s;
    uint64_t t0 = h->trace.on ? mw_now_ns() : 0;
    int r = mw_ctl_check(buf, (size_t)n, nfds, MW_FROM_SHIM);

    if (r < 0) {
        h->malformed++;
        if (++cl->malformed <= 5)   /* a hostile client must not flood the log */
            mw_log("malformed control message from pid %d (%zd bytes, op %u): %s%s", (int)cl->pid, n,
                   n >= (ssize_t)sizeof(struct mw_ctl_hdr) ? m->h.op : 0, strerror(-r),
                   cl->malformed == 5 ? " (not logging more from this client)" : "");
        /* an error reply when the header is usable, so a confused shim does not hang */
        if (n >= (ssize_t)sizeof(struct mw_ctl_hdr) && m->h.magic == MW_CTL_MAGIC &&
            mw_ctl_payload_len(m->h.op, 1) >= 0 && !(m->h.flags & MW_CTL_F_REPLY))
            reply_to_fd(cl->fd, &m->h, r, NULL, 0);
        return;
    }
    if (m->h.flags & MW_CTL_F_REPLY) {
        reply_to_fd(cl->fd, &m->h, -EPROTO, NULL, 0);
        return;
    }
    switch (m->h.op) {
    case MW_OP_HELLO:
        reply_client(h, cl->id, &m->h, 0, NULL, t0);
        return;
    case MW_OP_SOCKET:
        req_socket(h, cl, m, fds, t0);
        return;
    case MW_OP_STATUS: {
        char *text = malloc(MW_CTL_MAX_TEXT);
        if (text) {
            int len = hub_status_json(h, text, MW_CTL_MAX_TEXT);
            send_text(h, cl, m, text, (size_t)len, t0);
            free(text);
        }
        return;
    }
    case MW_OP_TRACE: {
        char *text;
        if (cl->uid != 0 && cl->uid != geteuid()) {
            reply_to_fd(cl->fd, &m->h, -EPERM, NULL, 0);
            return;
        }
        if (m->u.trace.action == 0) h->trace.on = 0;
        if (m->u.trace.action == 1) h->trace.on = 1;
        if (m->u.trace.action == 3) {
            int on = h->trace.on;
            memset(&h->trace, 0, sizeof(h->trace));
            h->trace.on = on;
        }
        text = malloc(MW_CTL_MAX_TEXT);
        if (text) {
            int len = hub_trace_json(h, text, MW_CTL_MAX_TEXT);
            send_text(h, cl, m, text, (size_t)len, 0);
            free(text);
        }
        return;
    }
    default:
        break;
    }
    /* everything else names an existing socket by the fd it carries */
    s = mw_u64map_get(&h->by_inode, fd_inode(fds[0], m->h.op == MW_OP_GETSOCKOPT || m->h.op == MW_OP_SETSOCKOPT ||
                                                     m->h.op == MW_OP_INFO ? SOCK_STREAM : SOCK_STREAM));
    if (!s) {
        /* listeners are SOCK_SEQPACKET ends */
        s = mw_u64map_get(&h->by_inode, fd_inode(fds[0], SOCK_SEQPACKET));
    }
    if (!s) {
        /* A connection accepted a moment ago: the INS announced it before handing it to the
         * application, but we may not have read that yet. Read the INS channels, then retry. */
        uint64_t ino = fd_inode(fds[0], SOCK_STREAM);
        for (int i = 0; ino && i < h->nins_want; i++)
            if (h->ins[i].alive)
                ins_readable(h, &h->ins[i]);
        if (ino)
            s = mw_u64map_get(&h->by_inode, ino);
    }
    if (!s) {
        reply_client(h, cl->id, &m->h, -EBADF, NULL, t0);
        return;
    }
    if (!h->ins[s->ins].alive) {
        reply_client(h, cl->id, &m->h, -ECONNRESET, NULL, t0);
        return;
    }
    switch (m->h.op) {
    case MW_OP_BIND:
        if (m->u.addr.addr.family != s->domain && !(s->domain == AF_INET6 && m->u.addr.addr.family == AF_INET)) {
            reply_client(h, cl->id, &m->h, -EAFNOSUPPORT, NULL, t0);
            return;
        }
        forward(h, cl, m, s, NULL, 0, t0, NULL);
        return;
    case MW_OP_LISTEN:
        req_listen(h, cl, m, s, fds, t0);
        return;
    case MW_OP_CONNECT:
        if (s->state == MW_SS_LISTENING) {
            reply_client(h, cl->id, &m->h, -EISCONN, NULL, t0);
            return;
        }
        forward(h, cl, m, s, fds, 1, t0, NULL);
        return;
    case MW_OP_SETSOCKOPT: {
        struct hub_pending *p = NULL;
        if (m->h.flags & MW_CTL_F_NOREPLY) {
            struct mw_ctl_msg f = *m;
            f.h.req_id = 0;
            f.h.sockid = s->sockid;
            ins_send(h, &h->ins[s->ins], &f, NULL, 0);
            for (int i = 0; s->replicas && i < h->nins_want; i++)
                if ((s->replicas & (1u << i)) && h->ins[i].alive)
                    ins_send(h, &h->ins[i], &f, NULL, 0);
            trace_record(h, m->h.op, t0, 0);
            return;
        }
        forward(h, cl, m, s, NULL, 0, t0, &p);
        if (p && s->replicas) {
            /* an option on a listener holds on every replica (the primary's answer is the
             * program's; the recorded value also reaches replicas made later) */
            struct mw_ctl_msg f = *m;
            f.h.req_id = 0;
            f.h.sockid = s->sockid;
            f.h.flags |= MW_CTL_F_NOREPLY;
            for (int i = 0; i < h->nins_want; i++)
                if ((s->replicas & (1u << i)) && h->ins[i].alive)
                    ins_send(h, &h->ins[i], &f, NULL, 0);
        }
        if (p && m->u.sockopt.optlen == sizeof(int)) {
            p->opt.level = m->u.sockopt.level;
            p->opt.optname = m->u.sockopt.optname;
            memcpy(&p->opt.val, m->u.sockopt.val, sizeof(int));
        }
        return;
    }
    case MW_OP_GETSOCKOPT:
    case MW_OP_INFO:
        forward(h, cl, m, s, NULL, 0, t0, NULL);
        return;
    default:
        reply_client(h, cl->id, &m->h, -EOPNOTSUPP, NULL, t0);
        return;
    }
}

static void client_close(struct hub *h, struct hub_client *cl)
{
    epoll_ctl(h->ep, EPOLL_CTL_DEL, cl->fd, NULL);
    close(cl->fd);
    cl->fd = -1;
    mw_u64map_del(&h->clients, cl->id);
    bury(h, cl);
}

static void client_readable(struct hub *h, struct hub_client *cl)
{
    union { struct mw_ctl_msg m; char raw[1024]; } buf;
    int fds[MW_CTL_MAX_FDS], nfds;
    for (int i = 0; i < 16; i++) {
        ssize_t n = mw_ctl_recv(cl->fd, &buf, sizeof(buf), fds, &nfds, MSG_DONTWAIT);
        if (n == -EAGAIN)
            return;
        if (n == -EMSGSIZE) {
            h->malformed++;
            mw_log("oversized control message from pid %d: dropped", (int)cl->pid);
            continue;
        }
        if (n <= 0) {
            client_close(h, cl);
            return;
        }
        hub_client_message(h, cl, &buf, n, fds, nfds);
        mw_ctl_close_fds(fds, nfds);
    }
}

static void accept_clients(struct hub *h)
{
    for (int i = 0; i < 64; i++) {
        int fd = accept4(h->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        struct hub_client *cl;
        struct ucred uc;
        socklen_t l = sizeof(uc);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR)
                mw_log("accept4(rendezvous): %m");
            return;
        }
        cl = calloc(1, sizeof(*cl));
        if (!cl) {
            close(fd);
            continue;
        }
        cl->fd = fd;
        cl->id = ++h->next_client;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &l) == 0) {
            cl->pid = uc.pid;
            cl->uid = uc.uid;
        }
        cl->tag.type = H_CLIENT;
        cl->tag.p = cl;
        mw_u64map_put(&h->clients, cl->id, cl);
        hub_epoll_add(h, fd, EPOLLIN, &cl->tag);
    }
}

/* ---- messages from INS instances ---- */

static void ins_obs(struct hub *h, struct hub_ins *in, uint64_t sockid, const struct mw_ctl_obs *o)
{
    struct hub_sock *s = mw_u64map_get(&h->by_id, sockid);

    in->obs_received++;
    if (s && s->ins != in->idx && (s->replicas & (1u << in->idx)) && o->obs == 7) {
        /* a replica of a listener went away (the program closed it: the primary reports that) */
        s->replicas &= ~(1u << in->idx);
        if (in->nlisten)
            in->nlisten--;
        return;
    }
    if (o->obs == 3 && o->extra) {
        /* accept: a new connected socket, owned by this INS */
        struct hub_sock *n = mw_u64map_get(&h->by_id, o->extra);
        if (!n && (n = sock_add(h, o->extra, o->inode, in->idx, o->domain))) {
            n->local = o->local;
            n->peer = o->peer;
            sock_set_state(h, n, MW_SS_CONNECTED);
            if (s)
                n->owner = s->owner;
        }
    }
    if (s && s->ins == in->idx) {
        if (o->obs != 3) {
            if (o->local.family)
                s->local = o->local;
            if (o->peer.family)
                s->peer = o->peer;
        }
        s->bytes_in = o->bytes_in;
        s->bytes_out = o->bytes_out;
        if (o->obs == 4)
            sock_set_state(h, s, o->err ? MW_SS_FAILED : MW_SS_CONNECTED);
    }
    nf_emit(h, o, sockid, (int)in->ins_id);
    if (o->obs == 7 && s && s->ins == in->idx)
        sock_del(h, s);
}

#ifdef HUB_HAVE_NF
static void nf_respond(struct hub *h, uint64_t client, uint32_t req, uint16_t name, int status,
                       const uint8_t *host_val)
{
    uint8_t val[16];
    const struct mw_nf_feature_desc *d = mw_nf_feature(name);
    memset(val, 0, sizeof(val));
    if (host_val && status == 0) {
        if (d && d->kind == MW_NF_VK_TIME) {
            uint64_t sec, usec;
            memcpy(&sec, host_val, 8);
            memcpy(&usec, host_val + 8, 8);
            mw_nf_val_set_time(val, sec, usec);
        } else if (d && d->kind == MW_NF_VK_TCPINFO) {
            uint32_t v4[4];
            struct mw_nf_tcp_info t;
            memcpy(v4, host_val, 16);
            memset(&t, 0, sizeof(t));
            t.rtt_us = v4[0];
            t.rttvar_us = v4[1];
            t.snd_cwnd = v4[2];
            t.total_retrans = v4[3];
            mw_nf_val_set_tcp_info(val, &t);
        } else {
            uint32_t v;
            memcpy(&v, host_val, 4);
            mw_nf_val_set_u32(val, v);
        }
    }
    if (h->nf)
        mw_nf_server_respond(h->nf, client, req, status < 0 ? (uint32_t)-status : (uint32_t)status, val);
}
#endif

static void ins_reply(struct hub *h, struct hub_ins *in, struct mw_ctl_msg *m)
{
    struct hub_pending *p = mw_u64map_get(&h->pending, m->h.req_id);
    struct hub_sock *s;
    struct mw_ctl_hdr orig;

    if (!p)
        return;   /* internal requests (req id 0) and replies for requests already failed */
    if (p->ins != in->idx) {
        mw_log("ins%u answered a request sent to another INS", in->ins_id);
        return;
    }
    if (p->kind == PK_NETFLOW) {
        if (m->h.status == 0 && p->opt.optname && (s = mw_u64map_get(&h->by_id, p->sockid)) &&
            s->state == MW_SS_LISTENING)
            sock_record_opt(s, &p->opt);   /* a NetFlow write on a listener: later replicas too */
#ifdef HUB_HAVE_NF
        if (p->nf_remaining) {
            if (--*p->nf_remaining > 0) {
                pending_free(h, p);
                return;
            }
            free(p->nf_remaining);
        }
        nf_respond(h, p->nf_client, p->nf_req, p->nf_name, m->h.status, m->u.feature.val);
#endif
        pending_free(h, p);
        return;
    }
    s = mw_u64map_get(&h->by_id, p->sockid);
    memset(&orig, 0, sizeof(orig));
    orig.op = p->op;
    orig.req_id = p->client_req;
    orig.sockid = p->sockid;
    if (s) {
        switch (p->op) {
        case MW_OP_SOCKET:
            if (m->h.status < 0) {
                sock_del(h, s);
                s = NULL;
            }
            break;
        case MW_OP_BIND:
            if (m->h.status == 0) {
                s->local = m->u.info.local;
                sock_set_state(h, s, MW_SS_BOUND);
            }
            break;
        case MW_OP_LISTEN:
            if (m->h.status == 0) {
                if (s->inode && mw_u64map_get(&h->by_inode, s->inode) == s)
                    mw_u64map_del(&h->by_inode, s->inode);
                s->inode = p->new_inode;
                mw_u64map_put(&h->by_inode, s->inode, s);
                s->local = m->u.info.local;
                sock_set_state(h, s, MW_SS_LISTENING);
                s->seq_dup = p->seq_dup;
                p->seq_dup = -1;
                front_open(h, s);
                /* replication: the listener, with its options, on every other INS */
                for (int i = 0; i < h->nins_want; i++)
                    if (i != s->ins && h->ins[i].used && h->ins[i].alive)
                        replicate_listener(h, s, &h->ins[i]);
            }
            break;
        case MW_OP_CONNECT:
            if (m->h.status == 0 || m->h.status == -EINPROGRESS) {
                s->local = m->u.info.local;
                s->peer = m->u.info.peer;
                sock_set_state(h, s, m->h.status == 0 ? MW_SS_CONNECTED : MW_SS_CONNECTING);
            }
            break;
        case MW_OP_INS_RESTORE:
            if (m->h.status < 0 && s->ins != in->idx && (s->replicas & (1u << in->idx))) {
                mw_log("ins%u: replica of listener %llx failed: %s", in->ins_id,
                       (unsigned long long)s->sockid, strerror(-m->h.status));
                s->replicas &= ~(1u << in->idx);
                if (in->nlisten)
                    in->nlisten--;
            }
            break;
        case MW_OP_SETSOCKOPT:
            if (m->h.status == 0)
                sock_record_opt(s, &p->opt);
            break;
        default:
            break;
        }
    }
    if (p->kind == PK_CLIENT) {
        struct mw_ctl_msg rep = *m;
        if (s && (p->op == MW_OP_SOCKET || p->op == MW_OP_BIND || p->op == MW_OP_LISTEN ||
                  p->op == MW_OP_CONNECT || p->op == MW_OP_INFO))
            rep.u.info.ins_id = in->ins_id;
        reply_client(h, p->client_id, &orig, m->h.status, &rep, p->t0);
    }
    pending_free(h, p);
}

/* Take every observation published in the INS's ring. */
static void ring_drain(struct hub *h, struct hub_ins *in)
{
    static struct mw_ctl_obs_rec recs[256];
    uint32_t n;
    if (!in->have_ring)
        return;
    do {
        n = mw_ring_take(&in->ring, recs, 256);
        for (uint32_t k = 0; k < n; k++) {
            const struct mw_ctl_obs *o = &recs[k].obs;
            /* shared memory is as untrusted as any message: same field checks */
            if (o->obs < 1 || o->obs > 7 || o->state > MW_SS_CLOSED || mw_ctl_addr_check(&o->local, 1) ||
                mw_ctl_addr_check(&o->peer, 1)) {
                h->malformed++;
                continue;
            }
            ins_obs(h, in, recs[k].sockid, o);
        }
    } while (n == 256);
}

/* Doorbell: drain, then announce sleep; drain again if records raced in. */
static void ring_doorbell(struct hub *h, struct hub_ins *in)
{
    if (!in->have_ring)
        return;
    mw_ring_woken(&in->ring);
    do {
        ring_drain(h, in);
    } while (mw_ring_prepare_sleep(&in->ring));
}

static void ins_readable(struct hub *h, struct hub_ins *in)
{
    /* records in the ring were published before anything now in the socket: take them first */
    ring_drain(h, in);
    static union {
        struct mw_ctl_msg m;
        struct mw_ctl_obs_batch_msg b;
    } buf;
    struct mw_ctl_msg *mp = &buf.m;
    int fds[MW_CTL_MAX_FDS], nfds;
    for (int i = 0; i < 256 && in->alive; i++) {
        ssize_t n = mw_ctl_recv(in->fd, &buf, sizeof(buf), fds, &nfds, MSG_DONTWAIT);
        if (n == -EAGAIN)
            return;
        if (n <= 0) {
            mw_log("ins%u (pid %d): control channel closed: %s", in->ins_id, (int)in->pid,
                   n == 0 ? "EOF" : strerror((int)-n));
            ins_died(h, in);
            return;
        }
        int r = mw_ctl_check(&buf, (size_t)n, nfds, MW_FROM_INS);
        mw_ctl_close_fds(fds, nfds);
        if (r < 0) {
            h->malformed++;
            mw_log("malformed message from ins%u: %s", in->ins_id, strerror(-r));
            continue;
        }
        if (mp->h.flags & MW_CTL_F_REPLY) {
            if (mp->h.op == MW_OP_INS_HANDOFF && in->inflight)
                in->inflight--;   /* its accept observation (ring) came first: now in nconn */
            ins_reply(h, in, mp);
        } else if (mp->h.op == MW_OP_OBS) {
            ins_obs(h, in, mp->h.sockid, &mp->u.obs);
        } else if (mp->h.op == MW_OP_OBS_BATCH) {
            for (uint32_t k = 0; k < buf.b.b.count; k++)
                ins_obs(h, in, buf.b.b.rec[k].sockid, &buf.b.b.rec[k].obs);
        }
    }
}

/* ---- INS supervisor ---- */

static int run_cmd(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run_cmd(const char *fmt, ...)
{
    char cmd[512];
    va_list ap;
    int r;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    r = system(cmd);
    if (r != 0)
        mw_log("command failed (%d): %s", r, cmd);
    return r == 0 ? 0 : -1;
}

static void netns_teardown(struct hub_ins *in)
{
    if (!in->netns[0])
        return;
    run_cmd("ip link del %s >/dev/null 2>&1 || true", in->veth_host);
    run_cmd("ip netns del %s >/dev/null 2>&1 || true", in->netns);
    in->netns[0] = 0;
}

/* The INS's own namespace: lo up, a veth pair to the host, its own address, default route. */
static int netns_setup(struct hub *h, struct hub_ins *in)
{
    unsigned sub = ((unsigned)getpid() * 7 + (unsigned)in->idx) % 250 + 1;
    (void)h;
    /* another stack (another mwcomms) may use the same /30 already: take the next free one */
    for (int tries = 0; tries < 250; tries++, sub = sub % 250 + 1) {
        char cmd[160];
        snprintf(cmd, sizeof(cmd), "ip -o -4 addr show 2>/dev/null | grep -q ' 10\\.213\\.%u\\.[0-9]*/'", sub);
        if (system(cmd) != 0)
            break;   /* grep found nothing: free */
    }
    snprintf(in->netns, sizeof(in->netns), "mwins%d-%d", (int)getpid(), in->idx);
    snprintf(in->veth_host, sizeof(in->veth_host), "mwh%dx%d", (int)getpid() % 1000000, in->idx);
    snprintf(in->veth_ins, sizeof(in->veth_ins), "mwi%dx%d", (int)getpid() % 1000000, in->idx);
    snprintf(in->host_ip, sizeof(in->host_ip), "10.213.%u.1", sub);
    snprintf(in->ins_ip, sizeof(in->ins_ip), "10.213.%u.2", sub);
    run_cmd("ip netns del %s >/dev/null 2>&1; ip link del %s >/dev/null 2>&1; true", in->netns, in->veth_host);
    if (run_cmd("ip netns add %s", in->netns) < 0 ||
        run_cmd("ip link add %s type veth peer name %s", in->veth_host, in->veth_ins) < 0 ||
        run_cmd("ip link set %s netns %s", in->veth_ins, in->netns) < 0 ||
        run_cmd("ip addr add %s/30 dev %s && ip link set %s up", in->host_ip, in->veth_host, in->veth_host) < 0 ||
        run_cmd("ip -n %s addr add %s/30 dev %s && ip -n %s link set %s up && ip -n %s link set lo up && "
                "ip -n %s route add default via %s", in->netns, in->ins_ip, in->veth_ins, in->netns,
                in->veth_ins, in->netns, in->netns, in->host_ip) < 0) {
        netns_teardown(in);
        return -1;
    }
    return 0;
}

static int ins_spawn(struct hub *h, struct hub_ins *in)
{
    int sv[2], big = 4 << 20;
    pid_t pid;
    struct mw_ctl_msg m;

    if (h->isolation_netns && !in->netns[0] && netns_setup(h, in) < 0)
        return -1;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        mw_log("socketpair(ins): %m");
        return -1;
    }
    for (int i = 0; i < 2; i++) {
        if (setsockopt(sv[i], SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)) < 0)
            setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
        if (setsockopt(sv[i], SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) < 0)
            setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    }
    in->gen = h->next_gen++;
    in->ins_id = in->gen;
    pid = fork();
    if (pid < 0) {
        mw_log("fork(ins): %m");
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    if (pid == 0) {
        char idbuf[16];
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        if (in->netns[0]) {
            char p[96];
            snprintf(p, sizeof(p), "/run/netns/%s", in->netns);
            int nfd = open(p, O_RDONLY | O_CLOEXEC);
            if (nfd < 0 || setns(nfd, CLONE_NEWNET) < 0) {
                fprintf(stderr, "ins: setns(%s): %s\n", p, strerror(errno));
                _exit(127);
            }
        }
        if (dup2(sv[1], 3) < 0)
            _exit(127);
        /* The INS is the network stack of every program it carries (one thread for all their
         * connections): ahead of them in the CPU queue, like a kernel stack. Needs privileges;
         * without them it keeps the default priority. */
        if (setpriority(PRIO_PROCESS, 0, h->ins_nice) < 0 && h->ins_nice < 0)
            setpriority(PRIO_PROCESS, 0, 0);
        snprintf(idbuf, sizeof(idbuf), "%u", in->ins_id);
        execl(h->ins_path, "ins", "--fd", "3", "--id", idbuf, (mw_log_verbose ? "-v" : (char *)NULL),
              (char *)NULL);
        fprintf(stderr, "ins: execl(%s): %s\n", h->ins_path, strerror(errno));
        _exit(127);
    }
    close(sv[1]);
    in->pid = pid;
    in->fd = sv[0];
    in->alive = 1;
    in->nsock = in->nconn = in->nlisten = in->inflight = 0;
    in->started_ns = mw_now_ns();
    in->tag.type = H_INS;
    in->tag.p = in;
    fcntl(in->fd, F_SETFL, fcntl(in->fd, F_GETFL) | O_NONBLOCK);
    hub_epoll_add(h, in->fd, EPOLLIN, &in->tag);
    mw_ctl_init(&m, MW_OP_INS_HELLO, 0, 0);
    m.u.ins_hello.ins_id = in->ins_id;
    m.u.ins_hello.gen = in->gen;
    m.u.ins_hello.nonce = h->nonce;
    m.u.ins_hello.obs_interval_ms = h->obs_interval_ms;
    m.u.ins_hello.flags = !h->isolation_netns && h->ins_max > 1 ? MW_INS_F_REUSEPORT : 0;
    m.u.ins_hello.max_sockets = in->max_sockets;
    m.u.ins_hello.busy_poll_us = h->ins_busy_poll_us;
    m.u.ins_hello.coalesce_us = h->ins_coalesce_us;
    {
        int r = mw_ring_create(&in->ring, sizeof(struct mw_ctl_obs_rec), 8192);
        if (r < 0) {
            mw_log("ins%u: observation ring: %s", in->ins_id, strerror(-r));
            return -1;
        }
        in->have_ring = 1;
        in->ring_tag.type = H_RING;
        in->ring_tag.p = in;
        hub_epoll_add(h, in->ring.efd, EPOLLIN, &in->ring_tag);
        int rfds[2] = { in->ring.memfd, in->ring.efd };
        ins_send(h, in, &m, rfds, 2);
    }
    mw_log("ins%u started (pid %d%s%s)", in->ins_id, (int)pid, in->netns[0] ? ", netns " : "",
           in->netns[0] ? in->netns : "");
    return 0;
}

/* Re-create a listener on a (new) INS from the recorded address, options and our copy of the
 * INS end of the app's seqpacket pair: the application's listener fd never noticed. */
static void restore_listener(struct hub *h, struct hub_sock *s, struct hub_ins *in)
{
    struct mw_ctl_msg m;
    mw_ctl_init(&m, MW_OP_INS_RESTORE, 0, s->sockid);
    m.u.restore.domain = s->domain;
    m.u.restore.backlog = s->backlog;
    m.u.restore.local = s->local;
    m.u.restore.nopts = (uint32_t)s->nopts;
    for (int i = 0; i < s->nopts; i++) {
        m.u.restore.opts[i].level = s->opts[i].level;
        m.u.restore.opts[i].optname = s->opts[i].optname;
        m.u.restore.opts[i].val = s->opts[i].val;
    }
    if (s->ins != in->idx) {
        h->ins[s->ins].nsock--;
        if (h->ins[s->ins].nlisten) h->ins[s->ins].nlisten--;
        s->ins = in->idx;
        in->nsock++;
        in->nlisten++;
    } else {
        in->nsock++;
        in->nlisten++;
    }
    struct hub_pending *p = pending_new(h, PK_INTERNAL, MW_OP_INS_RESTORE, s->sockid, in->idx);
    if (p)
        m.h.req_id = p->hub_req;
    if (ins_send(h, in, &m, &s->seq_dup, 1) < 0 && p)
        pending_free(h, p);
}

/* A replica of listener s on INS in: the same address, backlog and recorded options, and a copy
 * of the INS end of the program's seqpacket pair, so connections this INS takes reach the same
 * listener fd in the program. */
static void replicate_listener(struct hub *h, struct hub_sock *s, struct hub_ins *in)
{
    struct mw_ctl_msg m;
    struct hub_pending *p;
    if (s->seq_dup < 0 || in->idx == s->ins || (s->replicas & (1u << in->idx)))
        return;
    mw_ctl_init(&m, MW_OP_INS_RESTORE, 0, s->sockid);
    m.u.restore.domain = s->domain;
    m.u.restore.backlog = s->backlog;
    m.u.restore.local = s->local;
    m.u.restore.flags = MW_RESTORE_F_REPLICA;
    m.u.restore.nopts = (uint32_t)s->nopts;
    for (int i = 0; i < s->nopts; i++) {
        m.u.restore.opts[i].level = s->opts[i].level;
        m.u.restore.opts[i].optname = s->opts[i].optname;
        m.u.restore.opts[i].val = s->opts[i].val;
    }
    p = pending_new(h, PK_INTERNAL, MW_OP_INS_RESTORE, s->sockid, in->idx);
    if (p)
        m.h.req_id = p->hub_req;
    if (ins_send(h, in, &m, &s->seq_dup, 1) < 0) {
        if (p)
            pending_free(h, p);
        return;
    }
    s->replicas |= 1u << in->idx;
    in->nlisten++;
    mw_dbg("listener %llx replicated to ins%u", (unsigned long long)s->sockid, in->ins_id);
}

/* A new or restarted INS takes its share of every listener: the ones it owned come back as the
 * primary, all others get a replica. */
static void ins_join_listeners(struct hub *h, struct hub_ins *in)
{
    size_t n = 0, k = 0;
    struct hub_sock **v = calloc(h->by_id.count + 1, sizeof(*v));
    if (!v)
        return;
    for (size_t i = 0; i < h->by_id.cap; i++)
        if (h->by_id.keys[i]) {
            struct hub_sock *s = h->by_id.vals[i];
            if (s->state == MW_SS_LISTENING && s->seq_dup >= 0)
                v[n++] = s;
        }
    for (k = 0; k < n; k++) {
        if (v[k]->ins == in->idx)
            restore_listener(h, v[k], in);
        else
            replicate_listener(h, v[k], in);
    }
    free(v);
}

/* The primary of a listener left for good (stopped, or its restart failed): a replica holder
 * becomes the primary; without one, the listener is restored on an instance in rotation. */
static void listener_promote(struct hub *h, struct hub_sock *s)
{
    for (int i = 0; i < h->nins_want; i++)
        if ((s->replicas & (1u << i)) && h->ins[i].alive) {
            s->replicas &= ~(1u << i);
            s->ins = i;
            h->ins[i].nsock++;   /* nlisten was counted for the replica */
            return;
        }
    for (int i = 0; i < h->nins_want; i++)
        if (in_rotation(&h->ins[i])) {
            s->ins = i;           /* restore_listener counts it on that instance */
            restore_listener(h, s, &h->ins[i]);
            return;
        }
}

static void ins_died(struct hub *h, struct hub_ins *in)
{
    struct hub_sock **v;
    size_t k = 0;
    if (!in->alive)
        return;
    in->alive = 0;
    ring_drain(h, in);   /* what it published before dying still counts */
    epoll_ctl(h->ep, EPOLL_CTL_DEL, in->fd, NULL);
    close(in->fd);
    in->fd = -1;
    if (in->have_ring) {
        epoll_ctl(h->ep, EPOLL_CTL_DEL, in->ring.efd, NULL);
        mw_ring_destroy(&in->ring);
        in->have_ring = 0;
    }
    mw_log("ins%u (pid %d) is gone; its connections are closed, its listeners are restored",
           in->ins_id, (int)in->pid);
    /* requests in flight to it fail now, not never */
    v = calloc(h->pending.count + 1, sizeof(*v));
    for (size_t i = 0; v && i < h->pending.cap; i++)
        if (h->pending.keys[i]) {
            struct hub_pending *p = h->pending.vals[i];
            if (p->ins == in->idx)
                v[k++] = (struct hub_sock *)p;
        }
    for (size_t i = 0; i < k; i++) {
        struct hub_pending *p = (struct hub_pending *)v[i];
        if (p->kind == PK_CLIENT) {
            struct mw_ctl_hdr orig = { .op = p->op, .req_id = p->client_req, .sockid = p->sockid };
            reply_client(h, p->client_id, &orig, -ECONNRESET, NULL, p->t0);
        }
#ifdef HUB_HAVE_NF
        else if (p->kind == PK_NETFLOW) {
            if (!p->nf_remaining || --*p->nf_remaining == 0) {
                free(p->nf_remaining);
                nf_respond(h, p->nf_client, p->nf_req, p->nf_name, -ECONNRESET, NULL);
            }
        }
#endif
        pending_free(h, (struct hub_pending *)v[i]);
    }
    free(v);
    /* its sockets: connections are gone (the kernel closed the INS ends: the app sees EOF);
     * listeners survive through our copy of the seqpacket end */
    v = calloc(h->by_id.count + 1, sizeof(*v));
    k = 0;
    for (size_t i = 0; v && i < h->by_id.cap; i++)
        if (h->by_id.keys[i]) {
            struct hub_sock *s = h->by_id.vals[i];
            if (s->ins == in->idx)
                v[k++] = s;
        }
    for (size_t i = 0; i < k; i++) {
        struct hub_sock *s = v[i];
        if (s->state == MW_SS_LISTENING && s->seq_dup >= 0)
            continue;
        struct mw_ctl_obs o;
        memset(&o, 0, sizeof(o));
        o.obs = 7;
        o.start_sec = s->start_sec;
        o.start_nsec = s->start_nsec;
        now_real(&o.ts_sec, &o.ts_nsec);
        o.local = s->local;
        o.peer = s->peer;
        o.bytes_in = s->bytes_in;
        o.bytes_out = s->bytes_out;
        nf_emit(h, &o, s->sockid, (int)in->ins_id);
        sock_del(h, s);
        v[i] = NULL;
    }
    in->nsock = in->nconn = in->nlisten = in->inflight = 0;
    /* the replicas it held are gone with it */
    for (size_t i = 0; i < h->by_id.cap; i++)
        if (h->by_id.keys[i]) {
            struct hub_sock *s = h->by_id.vals[i];
            s->replicas &= ~(1u << in->idx);
        }
    if (h->quit) {
        free(v);
        return;
    }
    if (in->used) {
        in->restarts++;
        if (ins_spawn(h, in) == 0) {
            ins_join_listeners(h, in);
            mw_log("ins%u replaces the dead instance and joins the rotation", in->ins_id);
            free(v);
            return;
        }
        mw_log("ins restart failed; its listeners move to other instances");
        in->used = 0;
    }
    /* stopped (or could not restart): its listeners live on through the other instances */
    for (size_t i = 0; i < k; i++)
        if (v[i])
            listener_promote(h, v[i]);
    free(v);
}

static void reap_children(struct hub *h)
{
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        for (int i = 0; i < h->nins_want; i++) {
            struct hub_ins *in = &h->ins[i];
            if (in->pid == pid) {
                if (WIFSIGNALED(st))
                    mw_log("ins%u (pid %d) killed by signal %d", in->ins_id, (int)pid, WTERMSIG(st));
                else
                    mw_log("ins%u (pid %d) exited with status %d", in->ins_id, (int)pid, WEXITSTATUS(st));
                in->pid = 0;
                if (in->alive)
                    ins_died(h, in);
            }
        }
    }
}

/* ---- INS pool: spawn, stop, respawn, autoscale ---- */

static int ins_used_count(struct hub *h)
{
    int n = 0;
    for (int i = 0; i < h->nins_want; i++)
        n += h->ins[i].used;
    return n;
}

static struct hub_ins *ins_by_id(struct hub *h, uint32_t id)
{
    for (int i = 0; i < h->nins_want; i++)
        if (h->ins[i].used && h->ins[i].ins_id == id)
            return &h->ins[i];
    return NULL;
}

/* One more INS in a free slot, with a replica of every listener; NULL at the maximum. */
static struct hub_ins *ins_add(struct hub *h, const char *why)
{
    struct hub_ins *in = NULL;
    if (ins_used_count(h) >= h->ins_max)
        return NULL;
    for (int i = 0; i < HUB_MAX_INS && !in; i++)
        if (!h->ins[i].used && !h->ins[i].alive)
            in = &h->ins[i];
    if (!in)
        return NULL;
    in->idx = (int)(in - h->ins);
    in->fd = -1;
    in->used = 1;
    in->draining = 0;
    in->max_sockets = 0;
    in->restarts = 0;
    in->obs_received = 0;
    if (in->idx >= h->nins_want)
        h->nins_want = in->idx + 1;
    if (ins_spawn(h, in) < 0) {
        in->used = 0;
        return NULL;
    }
    ins_join_listeners(h, in);
    mw_log("ins%u added (%s): %d INS in the pool", in->ins_id, why, ins_used_count(h));
    return in;
}

/* Out of rotation and stopped: its connections end (EOF to the program, FIN/RST to peers), its
 * listeners stay with the other instances. */
static void ins_stop(struct hub *h, struct hub_ins *in, const char *why)
{
    pid_t pid = in->pid;
    mw_log("ins%u (pid %d) stopping (%s): %llu connections end", in->ins_id, (int)pid, why,
           (unsigned long long)in->nconn);
    in->used = 0;
    in->draining = 0;
    if (in->alive)
        ins_died(h, in);
    if (pid > 0)
        kill(pid, SIGKILL);   /* reaped by reap_children */
    netns_teardown(in);
}

/* A draining INS gives up its listeners so that nothing new reaches it (with isolation off the
 * kernel would keep hashing connections to its SO_REUSEPORT replicas): where it is the primary,
 * a replica on an instance in rotation takes over; then its copy is closed (INS_CLOSE). It stays
 * marked as a replica until its close observation arrives, which ends it without a NetFlow
 * record (the program's listener is still open). */
static void ins_release_listeners(struct hub *h, struct hub_ins *in)
{
    for (size_t i = 0; i < h->by_id.cap; i++) {
        if (!h->by_id.keys[i])
            continue;
        struct hub_sock *s = h->by_id.vals[i];
        struct mw_ctl_msg m;
        if (s->state != MW_SS_LISTENING)
            continue;
        if (s->ins == in->idx) {
            int j;
            for (j = 0; j < h->nins_want; j++)
                if ((s->replicas & (1u << j)) && in_rotation(&h->ins[j]))
                    break;
            if (j == h->nins_want)
                continue;   /* no other holder in rotation: keep it */
            s->replicas &= ~(1u << j);
            s->replicas |= 1u << in->idx;
            s->ins = j;
            h->ins[j].nsock++;
            if (in->nsock)
                in->nsock--;
        } else if (!(s->replicas & (1u << in->idx))) {
            continue;
        }
        mw_ctl_init(&m, MW_OP_INS_CLOSE, 0, s->sockid);
        ins_send(h, in, &m, NULL, 0);
    }
}

/* Once a second: scale out when connections per INS pass the threshold, scale in (drain one,
 * then stop it once its connections are gone) when the others could carry the load at half of
 * it. One action at a time, at most one every 3 s. */
static void ins_timer(struct hub *h)
{
    uint64_t exp, now = mw_now_ns();
    uint64_t conns = 0;
    int nrot = 0;
    if (read(h->tfd, &exp, sizeof(exp)) < 0) { /* spurious */ }
    for (int i = 0; i < h->nins_want; i++) {
        struct hub_ins *in = &h->ins[i];
        if (in->used && in->draining && in->alive && in->nconn == 0) {
            ins_stop(h, in, "scale in: drained");
            continue;
        }
        if (in_rotation(in)) {
            nrot++;
            conns += in->nconn;
        }
    }
    if (!h->scale_out_conns || nrot == 0 || now - h->last_scale_ns < 3000000000ull)
        return;
    if (conns > (uint64_t)h->scale_out_conns * (uint64_t)nrot && ins_used_count(h) < h->ins_max) {
        char why[96];
        snprintf(why, sizeof(why), "autoscale out: %llu connections over %d INS > %u per INS",
                 (unsigned long long)conns, nrot, h->scale_out_conns);
        ins_add(h, why);
        h->last_scale_ns = now;
    } else if (nrot > h->ins_min && conns * 2 < (uint64_t)h->scale_out_conns * (uint64_t)(nrot - 1)) {
        struct hub_ins *least = NULL;
        for (int i = 0; i < h->nins_want; i++)
            if (in_rotation(&h->ins[i]) && (!least || h->ins[i].nconn < least->nconn))
                least = &h->ins[i];
        if (least) {
            least->draining = 1;
            ins_release_listeners(h, least);
            mw_log("ins%u draining (autoscale in: %llu connections over %d INS < half of %u per INS): "
                   "no new connections, stopped when its %llu are gone", least->ins_id,
                   (unsigned long long)conns, nrot, h->scale_out_conns, (unsigned long long)least->nconn);
            h->last_scale_ns = now;
        }
    }
}

/* ---- NetFlow feature requests (from the server's thread, via a queue) ---- */

#ifdef HUB_HAVE_NF
static void nf_on_request(void *ctx, struct mw_nf_server *srv, uint64_t client_id,
                          const struct mw_nf_feature_request *req)
{
    struct hub *h = ctx;
    struct hub_nfreq *q = calloc(1, sizeof(*q));
    uint64_t one = 1;
    (void)srv;
    if (!q) {
        uint8_t val[16] = { 0 };
        mw_nf_server_respond(srv, client_id, req->id, ENOMEM, val);
        return;
    }
    q->client_id = client_id;
    q->flags = req->flags;
    q->name = req->name;
    q->id = req->id;
    memcpy(q->val, req->val, 16);
    memcpy(q->ident, req->ident, 20);
    pthread_mutex_lock(&h->nfq_lock);
    if (h->nfq_tail)
        h->nfq_tail->next = q;
    else
        h->nfq_head = q;
    h->nfq_tail = q;
    pthread_mutex_unlock(&h->nfq_lock);
    if (write(h->nfq_efd, &one, sizeof(one)) < 0) { /* counter saturated: already signalled */ }
}

static void nf_request(struct hub *h, struct hub_nfreq *q)
{
    struct mw_ctl_msg m;
    uint8_t val[16];
    int wr = q->flags & MW_NF_FLAG_WRITE;

    memset(val, 0, sizeof(val));
    mw_ctl_init(&m, MW_OP_INS_FEATURE, 0, 0);
    m.u.feature.flags = q->flags;
    m.u.feature.name = q->name;
    {
        const struct mw_nf_feature_desc *d = mw_nf_feature(q->name);
        if (d && d->kind == MW_NF_VK_TIME) {
            uint64_t sec, usec;
            mw_nf_val_time(q->val, &sec, &usec);
            memcpy(m.u.feature.val, &sec, 8);
            memcpy(m.u.feature.val + 8, &usec, 8);
        } else {
            uint32_t v = mw_nf_val_u32(q->val);
            memcpy(m.u.feature.val, &v, 4);
        }
    }
    if (q->name == MW_NF_FEAT_INS_COUNT && !wr) {
        uint32_t n = 0;
        for (int i = 0; i < h->nins_want; i++)
            n += h->ins[i].alive && h->ins[i].used;
        mw_nf_val_set_u32(val, n);
        mw_nf_server_respond(h->nf, q->client_id, q->id, 0, val);
        return;
    }
    if (q->name == MW_NF_FEAT_INS_LIST && !wr) {
        uint32_t idx = mw_nf_val_u32(q->val), k = 0;
        for (int i = 0; i < h->nins_want; i++) {
            if (!h->ins[i].alive || !h->ins[i].used)
                continue;
            if (k++ == idx) {
                struct mw_nf_ins_entry e = { h->ins[i].ins_id, (uint32_t)h->ins[i].pid,
                                             (uint32_t)h->ins[i].nsock, h->ins[i].max_sockets };
                mw_nf_val_set_ins_entry(val, &e);
                mw_nf_server_respond(h->nf, q->client_id, q->id, 0, val);
                return;
            }
        }
        mw_nf_server_respond(h->nf, q->client_id, q->id, ENOENT, val);
        return;
    }
    if (q->name == MW_NF_FEAT_INS_SPAWN) {
        uint32_t want = mw_nf_val_u32(q->val), done = 0;
        if (!wr || want == 0 || want > HUB_MAX_INS) {
            mw_nf_server_respond(h->nf, q->client_id, q->id, EINVAL, val);
            return;
        }
        while (done < want && ins_add(h, "NetFlow ins-spawn"))
            done++;
        mw_nf_val_set_u32(val, done);
        mw_nf_server_respond(h->nf, q->client_id, q->id, done ? 0 : ENOSPC, val);
        return;
    }
    if (q->name == MW_NF_FEAT_INS_STOP || q->name == MW_NF_FEAT_INS_RESPAWN ||
        q->name == MW_NF_FEAT_INS_MAX_SOCKETS) {
        struct hub_ins *in = (q->flags & MW_NF_FLAG_BY_INS) ? ins_by_id(h, mw_nf_ident_ins(q->ident)) : NULL;
        if (!(q->flags & MW_NF_FLAG_BY_INS) || (!wr && q->name != MW_NF_FEAT_INS_MAX_SOCKETS)) {
            mw_nf_server_respond(h->nf, q->client_id, q->id, EINVAL, val);
            return;
        }
        if (!in) {
            mw_nf_server_respond(h->nf, q->client_id, q->id, ENOENT, val);
            return;
        }
        if (q->name == MW_NF_FEAT_INS_STOP) {
            if (ins_used_count(h) <= 1) {   /* the last one: the program would lose its stack */
                mw_nf_server_respond(h->nf, q->client_id, q->id, EBUSY, val);
                return;
            }
            ins_stop(h, in, "NetFlow ins-stop");
        } else if (q->name == MW_NF_FEAT_INS_RESPAWN) {
            pid_t old = in->pid;
            mw_log("ins%u (pid %d) respawn requested over NetFlow", in->ins_id, (int)old);
            if (old > 0)
                kill(old, SIGKILL);
            if (in->alive)
                ins_died(h, in);   /* restarts it in the same slot (new id), listeners rejoin */
            if (!in->alive) {
                mw_nf_server_respond(h->nf, q->client_id, q->id, ECHILD, val);
                return;
            }
            mw_nf_val_set_u32(val, in->ins_id);
        } else {
            if (wr) {
                in->max_sockets = mw_nf_val_u32(q->val);
                mw_log("ins%u: socket limit %u%s", in->ins_id, in->max_sockets,
                       in->max_sockets ? "" : " (unlimited)");
                if (in->alive) {   /* the INS enforces it; the front end also stops choosing it */
                    mw_ctl_init(&m, MW_OP_INS_FEATURE, 0, 0);
                    m.u.feature.flags = (uint16_t)(q->flags & ~MW_NF_FLAG_BY_SOCKET);
                    m.u.feature.name = q->name;
                    memcpy(m.u.feature.val, &in->max_sockets, 4);
                    ins_send(h, in, &m, NULL, 0);
                }
            }
            mw_nf_val_set_u32(val, in->max_sockets);
        }
        mw_nf_server_respond(h->nf, q->client_id, q->id, 0, val);
        return;
    }
    if (q->name == MW_NF_FEAT_OWNER_RUNNING && !wr) {
        struct hub_sock *s = mw_u64map_get(&h->by_id, (uint64_t)mw_nf_ident_sockid(q->ident));
        if (!s) {
            mw_nf_server_respond(h->nf, q->client_id, q->id, EBADF, val);
            return;
        }
        mw_nf_val_set_u32(val, s->owner > 0 && (kill(s->owner, 0) == 0 || errno == EPERM));
        mw_nf_server_respond(h->nf, q->client_id, q->id, 0, val);
        return;
    }
    if (q->flags & MW_NF_FLAG_BY_SOCKET) {
        int64_t id = mw_nf_ident_sockid(q->ident);
        struct hub_sock *s = mw_u64map_get(&h->by_id, (uint64_t)id);
        struct hub_pending *p;
        if (!s || !h->ins[s->ins].alive) {
            mw_nf_server_respond(h->nf, q->client_id, q->id, EBADF, val);
            return;
        }
        m.h.sockid = s->sockid;
        p = pending_new(h, PK_NETFLOW, MW_OP_INS_FEATURE, s->sockid, s->ins);
        if (!p) {
            mw_nf_server_respond(h->nf, q->client_id, q->id, ENOMEM, val);
            return;
        }
        p->nf_client = q->client_id;
        p->nf_req = q->id;
        p->nf_name = q->name;
        if (wr && s->state == MW_SS_LISTENING) {
            static const struct { uint16_t name; int32_t level, optname; } map[] = {
                { MW_NF_FEAT_REUSEADDR, SOL_SOCKET, SO_REUSEADDR }, { MW_NF_FEAT_REUSEPORT, SOL_SOCKET, SO_REUSEPORT },
                { MW_NF_FEAT_KEEPALIVE, SOL_SOCKET, SO_KEEPALIVE }, { MW_NF_FEAT_DEFER_ACCEPT, IPPROTO_TCP, TCP_DEFER_ACCEPT },
                { MW_NF_FEAT_NODELAY, IPPROTO_TCP, TCP_NODELAY }, { MW_NF_FEAT_SNDBUF, SOL_SOCKET, SO_SNDBUF },
                { MW_NF_FEAT_RCVBUF, SOL_SOCKET, SO_RCVBUF }, { MW_NF_FEAT_SNDLOWAT, SOL_SOCKET, SO_SNDLOWAT },
                { MW_NF_FEAT_RCVLOWAT, SOL_SOCKET, SO_RCVLOWAT },
            };
            for (size_t k = 0; k < sizeof(map) / sizeof(map[0]); k++)
                if (map[k].name == q->name) {
                    p->opt.level = map[k].level;
                    p->opt.optname = map[k].optname;
                    p->opt.val = (int32_t)mw_nf_val_u32(q->val);
                }
        }
        m.h.req_id = p->hub_req;
        if (ins_send(h, &h->ins[s->ins], &m, NULL, 0) < 0) {
            pending_free(h, p);
            mw_nf_server_respond(h->nf, q->client_id, q->id, ECONNRESET, val);
            return;
        }
        if (wr && s->replicas) {
            /* an option written on a listener (or is-open := 0) holds on every replica; the
             * primary answers */
            m.h.req_id = 0;
            for (int i = 0; i < h->nins_want; i++)
                if ((s->replicas & (1u << i)) && h->ins[i].alive)
                    ins_send(h, &h->ins[i], &m, NULL, 0);
        }
        return;
    }
    if (q->name == MW_NF_FEAT_CONGCTL || q->name == MW_NF_FEAT_DELACK || q->name == MW_NF_FEAT_ADDR_BLOCK) {
        /* INS-wide: every instance applies it; answer when all have */
        int *remaining = calloc(1, sizeof(int));
        int sent = 0;
        if (q->name == MW_NF_FEAT_ADDR_BLOCK) {
            uint32_t af;
            uint8_t addr[16];
            if (mw_nf_ident_addr(q->ident, &af, addr) < 0) {
                free(remaining);
                mw_nf_server_respond(h->nf, q->client_id, q->id, EINVAL, val);
                return;
            }
            uint32_t haf = af == 4 ? AF_INET : AF_INET6;
            memcpy(m.u.feature.ident, &haf, 4);
            memcpy(m.u.feature.ident + 4, addr, 16);
        }
        uint32_t only = (q->flags & MW_NF_FLAG_BY_INS) ? mw_nf_ident_ins(q->ident) : 0;
        for (int i = 0; remaining && i < h->nins_want; i++) {
            struct hub_ins *in = &h->ins[i];
            struct hub_pending *p;
            if (!in->alive || !in->used || ((q->flags & MW_NF_FLAG_BY_INS) && in->ins_id != only) ||
                !(p = pending_new(h, PK_NETFLOW, MW_OP_INS_FEATURE, 0, i)))
                continue;
            p->nf_client = q->client_id;
            p->nf_req = q->id;
            p->nf_name = q->name;
            p->nf_remaining = remaining;
            m.h.req_id = p->hub_req;
            if (ins_send(h, in, &m, NULL, 0) < 0) {
                p->nf_remaining = NULL;
                pending_free(h, p);
                continue;
            }
            sent++;
        }
        if (!sent) {
            free(remaining);
            mw_nf_server_respond(h->nf, q->client_id, q->id, ENETDOWN, val);
            return;
        }
        *remaining = sent;
        return;
    }
    mw_nf_server_respond(h->nf, q->client_id, q->id, ENOTSUP, val);
}
#endif

static void nfq_drain(struct hub *h)
{
    uint64_t v;
    struct hub_nfreq *q;
    if (read(h->nfq_efd, &v, sizeof(v)) < 0) { /* spurious */ }
    pthread_mutex_lock(&h->nfq_lock);
    q = h->nfq_head;
    h->nfq_head = h->nfq_tail = NULL;
    pthread_mutex_unlock(&h->nfq_lock);
    while (q) {
        struct hub_nfreq *n = q->next;
#ifdef HUB_HAVE_NF
        nf_request(h, q);
#endif
        free(q);
        q = n;
    }
}

/* ---- status and trace text ---- */

static void addr_txt(const struct mw_ctl_addr *a, char *buf, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "";
    if (a->family)
        inet_ntop(a->family, a->addr, ip, sizeof(ip));
    snprintf(buf, cap, a->family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, a->port);
}

int hub_status_json(struct hub *h, char *buf, size_t cap)
{
    size_t n = 0;
#define OUT(...) do { int _w = snprintf(buf + n, n < cap ? cap - n : 0, __VA_ARGS__); \
                      if (_w > 0) n += (size_t)_w; } while (0)
    OUT("{\"name\":\"mwcomms\",\"pid\":%d,\"rendezvous\":\"%s\",\"isolation\":\"%s\",", (int)getpid(),
        h->rendezvous, h->isolation_netns ? "netns" : "off");
    if (h->nf)
        OUT("\"netflow\":\"%s:%u\",", h->nf_addr, h->nf_port);
    else
        OUT("\"netflow\":null,");
    OUT("\"sockets\":%zu,\"clients\":%zu,\"observations\":%llu,\"malformed\":%llu,\"trace\":%s,\"ins\":[",
        h->by_id.count, h->clients.count, (unsigned long long)h->obs_total,
        (unsigned long long)h->malformed, h->trace.on ? "true" : "false");
    int firstins = 1, healthy = 0;
    for (int i = 0; i < h->nins_want; i++) {
        struct hub_ins *in = &h->ins[i];
        if (!in->used)
            continue;   /* stopped instances leave the list */
        healthy |= in->alive;
        OUT("%s{\"id\":%u,\"pid\":%d,\"alive\":%s,\"sockets\":%llu,\"connections\":%llu,\"listeners\":%llu,"
            "\"restarts\":%u,\"draining\":%s,\"max_sockets\":%u,\"netns\":\"%s\",\"address\":\"%s\"}",
            firstins ? "" : ",", in->ins_id, (int)in->pid,
            in->alive ? "true" : "false", (unsigned long long)in->nsock, (unsigned long long)in->nconn,
            (unsigned long long)in->nlisten, in->restarts, in->draining ? "true" : "false", in->max_sockets,
            in->netns, in->ins_ip);
        firstins = 0;
    }
    OUT("],\"ins_max\":%d,\"autoscale_conns_per_ins\":%u,\"ins_busy_poll_us\":%u,\"ins_coalesce_us\":%u",
        h->ins_max, h->scale_out_conns, h->ins_busy_poll_us, h->ins_coalesce_us);
    OUT(",\"listeners\":[");
    int first = 1;
    for (size_t i = 0; i < h->by_id.cap && n < cap - 256; i++) {
        if (!h->by_id.keys[i])
            continue;
        struct hub_sock *s = h->by_id.vals[i];
        if (s->state != MW_SS_LISTENING)
            continue;
        char a[80];
        addr_txt(&s->local, a, sizeof(a));
        OUT("%s{\"socket\":%llu,\"address\":\"%s\",\"ins\":%u,\"replicas\":[", first ? "" : ",",
            (unsigned long long)s->sockid, a, h->ins[s->ins].ins_id);
        for (int r = 0, f2 = 1; r < h->nins_want; r++)
            if (s->replicas & (1u << r)) {
                OUT("%s%u", f2 ? "" : ",", h->ins[r].ins_id);
                f2 = 0;
            }
        OUT("],\"front_end\":%s}", s->front_fd >= 0 ? "true" : "false");
        first = 0;
    }
    OUT("],\"healthy\":%s}\n", healthy ? "true" : "false");
#undef OUT
    return (int)(n < cap ? n : cap - 1);
}

int hub_trace_json(struct hub *h, char *buf, size_t cap)
{
    size_t n = 0;
    int first = 1;
#define OUT(...) do { int _w = snprintf(buf + n, n < cap ? cap - n : 0, __VA_ARGS__); \
                      if (_w > 0) n += (size_t)_w; } while (0)
    OUT("{\"on\":%s,\"ops\":{", h->trace.on ? "true" : "false");
    for (unsigned op = 0; op < MW_OP__MAX; op++) {
        if (!h->trace.count[op])
            continue;
        OUT("%s\"%s\":{\"count\":%llu,\"errors\":%llu,\"mean_us\":%.1f,\"hist_us\":{", first ? "" : ",",
            mw_ctl_op_name(op), (unsigned long long)h->trace.count[op], (unsigned long long)h->trace.errors[op],
            (double)h->trace.total_ns[op] / 1000.0 / (double)h->trace.count[op]);
        first = 0;
        int f2 = 1;
        for (int b = 0; b < HUB_TRACE_BUCKETS; b++) {
            if (!h->trace.hist[op][b])
                continue;
            OUT("%s\"<%llu\":%llu", f2 ? "" : ",", 1ull << b, (unsigned long long)h->trace.hist[op][b]);
            f2 = 0;
        }
        OUT("}}");
    }
    OUT("}}\n");
#undef OUT
    return (int)(n < cap ? n : cap - 1);
}

/* ---- setup and loop ---- */

int hub_init(struct hub *h, const struct hub_config *cfg)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    sigset_t ss;
    int r;

    memset(h, 0, sizeof(*h));
    h->rendezvous = cfg->rendezvous;
    h->ins_path = cfg->ins_path;
    h->nins_want = cfg->nins < 1 ? 1 : cfg->nins > HUB_MAX_INS ? HUB_MAX_INS : cfg->nins;
    h->ins_min = h->nins_want;
    h->ins_max = cfg->ins_max > 0 ? (cfg->ins_max > HUB_MAX_INS ? HUB_MAX_INS : cfg->ins_max) : HUB_MAX_INS;
    if (h->ins_max < h->ins_min)
        h->ins_max = h->ins_min;
    h->scale_out_conns = cfg->scale_out_conns;
    h->isolation_netns = cfg->isolation_netns;
    h->front_addr4 = cfg->front_addr4 ? cfg->front_addr4 : "127.0.0.1";
    h->front_addr6 = cfg->front_addr6 ? cfg->front_addr6 : "::1";
    h->obs_interval_ms = cfg->obs_interval_ms;
    h->ins_nice = cfg->ins_nice;
    h->ins_busy_poll_us = cfg->ins_busy_poll_us;
    h->ins_coalesce_us = cfg->ins_coalesce_us;
    h->next_gen = 1;
    h->lfd = h->sigfd = h->nfq_efd = h->tfd = -1;
    pthread_mutex_init(&h->nfq_lock, NULL);
    {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        h->nonce = (uint32_t)(ts.tv_nsec ^ (ts.tv_sec << 8) ^ ((unsigned)getpid() << 16));
    }
    if (mw_u64map_init(&h->by_id, 1024) < 0 || mw_u64map_init(&h->by_inode, 1024) < 0 ||
        mw_u64map_init(&h->clients, 64) < 0 || mw_u64map_init(&h->pending, 64) < 0)
        return -ENOMEM;
    h->ep = epoll_create1(EPOLL_CLOEXEC);
    if (h->ep < 0)
        return -errno;

    sigemptyset(&ss);
    sigaddset(&ss, SIGCHLD);
    sigaddset(&ss, SIGTERM);
    sigaddset(&ss, SIGINT);
    sigaddset(&ss, SIGHUP);
    sigprocmask(SIG_BLOCK, &ss, NULL);
    signal(SIGPIPE, SIG_IGN);
    h->sigfd = signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC);
    if (h->sigfd < 0)
        return -errno;
    h->sigtag.type = H_SIGNAL;
    hub_epoll_add(h, h->sigfd, EPOLLIN, &h->sigtag);

    h->nfq_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (h->nfq_efd < 0)
        return -errno;
    h->nfqtag.type = H_NFQ;
    hub_epoll_add(h, h->nfq_efd, EPOLLIN, &h->nfqtag);

    h->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (h->tfd < 0)
        return -errno;
    {
        struct itimerspec its = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };
        timerfd_settime(h->tfd, 0, &its, NULL);
    }
    h->ttag.type = H_TIMER;
    hub_epoll_add(h, h->tfd, EPOLLIN, &h->ttag);

    if (strlen(cfg->rendezvous) >= sizeof(sun.sun_path))
        return -ENAMETOOLONG;
    strcpy(sun.sun_path, cfg->rendezvous);
    h->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (h->lfd < 0)
        return -errno;
    {
        /* a stale socket file from a crashed run: remove it only when nobody answers on it */
        int probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (probe >= 0) {
            if (connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
                close(probe);
                mw_log("another mwcomms already listens on %s", cfg->rendezvous);
                return -EADDRINUSE;
            }
            close(probe);
        }
        unlink(cfg->rendezvous);
    }
    if (bind(h->lfd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        r = -errno;
        mw_log("bind(%s): %m", cfg->rendezvous);
        return r;
    }
    /* any local user may connect: each process acts only on sockets it holds (checked by inode) */
    chmod(cfg->rendezvous, 0666);
    if (listen(h->lfd, 1024) < 0)
        return -errno;
    h->ltag.type = H_LISTEN;
    hub_epoll_add(h, h->lfd, EPOLLIN, &h->ltag);

#ifdef HUB_HAVE_NF
    if (cfg->netflow && strcmp(cfg->netflow, "off") != 0) {
        struct mw_nf_server_config nc;
        struct mw_nf_server *srv = NULL;
        char addr[64];
        const char *colon = strrchr(cfg->netflow, ':');
        memset(&nc, 0, sizeof(nc));
        if (!colon || (size_t)(colon - cfg->netflow) >= sizeof(addr)) {
            mw_log("--netflow: expected ADDR:PORT, got '%s'", cfg->netflow);
            return -EINVAL;
        }
        memcpy(addr, cfg->netflow, (size_t)(colon - cfg->netflow));
        addr[colon - cfg->netflow] = 0;
        if (addr[0] == '[') {
            memmove(addr, addr + 1, strlen(addr));
            addr[strlen(addr) - 1] = 0;
        }
        nc.bind_addr = addr;
        nc.port = (uint16_t)atoi(colon + 1);
        nc.token = cfg->netflow_token;
        nc.on_request = nf_on_request;
        nc.ctx = h;
        if ((r = mw_nf_server_start(&nc, &srv)) < 0) {
            mw_log("NetFlow server on %s: %s", cfg->netflow, strerror(-r));
            return r;
        }
        h->nf = srv;
        snprintf(h->nf_addr, sizeof(h->nf_addr), "%s", addr);
        h->nf_port = mw_nf_server_port(srv);
        mw_log("NetFlow server on %s port %u", addr, h->nf_port);
    }
#endif
    for (int i = 0; i < h->nins_want; i++) {
        h->ins[i].idx = i;
        h->ins[i].fd = -1;
        h->ins[i].used = 1;
        if (ins_spawn(h, &h->ins[i]) < 0)
            return -ECHILD;
    }
    mw_log("listening on %s (isolation %s, %d INS, at most %d%s)", cfg->rendezvous,
           h->isolation_netns ? "netns" : "off", h->nins_want, h->ins_max,
           h->scale_out_conns ? ", autoscale on" : "");
    if (h->scale_out_conns)
        mw_log("autoscale: one more INS when connections per INS pass %u (up to %d), one less when they "
               "fall under half of it (down to %d)", h->scale_out_conns, h->ins_max, h->ins_min);
    return 0;
}

static void signals(struct hub *h)
{
    struct signalfd_siginfo si;
    while (read(h->sigfd, &si, sizeof(si)) == sizeof(si)) {
        if (si.ssi_signo == SIGCHLD) {
            reap_children(h);
        } else {
            mw_log("signal %u: shutting down", si.ssi_signo);
            h->quit = 1;
        }
    }
}

int hub_run(struct hub *h)
{
    struct epoll_event evs[128];
    while (!h->quit) {
        int n = epoll_wait(h->ep, evs, 128, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            mw_log("epoll_wait: %m");
            return -errno;
        }
        for (int i = 0; i < n && !h->quit; i++) {
            struct hub_tag *t = evs[i].data.ptr;
            switch (t->type) {
            case H_LISTEN: accept_clients(h); break;
            case H_CLIENT:
                if (((struct hub_client *)t->p)->fd >= 0)
                    client_readable(h, t->p);
                break;
            case H_INS: ins_readable(h, t->p); break;
            case H_RING: ring_doorbell(h, t->p); break;
            case H_SIGNAL: signals(h); break;
            case H_NFQ: nfq_drain(h); break;
            case H_TIMER: ins_timer(h); break;
            case H_FRONT:
                if (((struct hub_sock *)t->p)->front_fd >= 0)
                    front_accept(h, t->p);
                break;
            }
        }
        /* objects freed during the batch: later events in it may have pointed at them */
        for (size_t i = 0; i < h->ngrave; i++)
            free(h->grave[i]);
        h->ngrave = 0;
    }
    return 0;
}

void hub_fini(struct hub *h)
{
    h->quit = 1;
#ifdef HUB_HAVE_NF
    if (h->nf)
        mw_nf_server_stop(h->nf);
    h->nf = NULL;
#endif
    for (int i = 0; i < h->nins_want; i++) {
        struct hub_ins *in = &h->ins[i];
        if (in->fd >= 0) {
            close(in->fd);   /* the INS exits when its channel closes */
            in->fd = -1;
        }
        if (in->pid > 0) {
            int st;
            for (int k = 0; k < 50 && waitpid(in->pid, &st, WNOHANG) == 0; k++)
                usleep(20000);
            if (waitpid(in->pid, &st, WNOHANG) == 0) {
                kill(in->pid, SIGKILL);
                waitpid(in->pid, &st, 0);
            }
            in->pid = 0;
        }
        in->alive = 0;
        if (in->have_ring) {
            mw_ring_destroy(&in->ring);
            in->have_ring = 0;
        }
        netns_teardown(in);
    }
    for (size_t i = 0; i < h->by_id.cap;) {
        if (h->by_id.keys[i])
            sock_del(h, h->by_id.vals[i]);
        else
            i++;
    }
    for (size_t i = 0; i < h->pending.cap;) {
        if (h->pending.keys[i]) {
            struct hub_pending *p = h->pending.vals[i];
            if (p->nf_remaining && --*p->nf_remaining <= 0)
                free(p->nf_remaining);
            pending_free(h, p);
        } else {
            i++;
        }
    }
    for (size_t i = 0; i < h->clients.cap;) {
        if (h->clients.keys[i])
            client_close(h, h->clients.vals[i]);
        else
            i++;
    }
    while (h->nfq_head) {
        struct hub_nfreq *q = h->nfq_head;
        h->nfq_head = q->next;
        free(q);
    }
    if (h->lfd >= 0) {
        close(h->lfd);
        unlink(h->rendezvous);
    }
    if (h->sigfd >= 0) close(h->sigfd);
    if (h->nfq_efd >= 0) close(h->nfq_efd);
    if (h->tfd >= 0) close(h->tfd);
    if (h->ep >= 0) close(h->ep);
    mw_u64map_free(&h->by_id);
    mw_u64map_free(&h->by_inode);
    mw_u64map_free(&h->clients);
    mw_u64map_free(&h->pending);
    for (size_t i = 0; i < h->ngrave; i++)
        free(h->grave[i]);
    free(h->grave);
    h->grave = NULL;
    h->ngrave = h->cap_grave = 0;
}
