/* INS worker core: socket operations on the real stack, the relay, observations.
 *
 * One epoll loop, level-triggered, interest recomputed after every change (a syscall only when it
 * differs). Per connection the relay keeps at most one pending chunk per direction and stops
 * reading the source while it is pending: that is the backpressure (the application sees EAGAIN /
 * no POLLOUT when its AF_UNIX send buffer is full, exactly as with a full TCP send buffer), and a
 * write is never reported done before the bytes are handed to the TCP socket's own buffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ins.h"
#include "mw/log.h"
#if __has_include("mw/netflow.h")
#include "mw/netflow.h"
#define INS_HAVE_NF 1
#endif

#define SCRATCH (256 * 1024)
#define OUTQ_MAX 200000          /* queued messages to mwcomms before recv/send obs are dropped */
#define FILLER_CHUNK 4096

static void sock_destroy(struct ins_ctx *c, struct ins_sock *s);
static void listener_interest(struct ins_ctx *c, struct ins_sock *s);

static void now_real(uint64_t *sec, uint64_t *nsec)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    *sec = (uint64_t)ts.tv_sec;
    *nsec = (uint64_t)ts.tv_nsec;
}

/* ---- messages to mwcomms: never block the loop ---- */

static void ctl_interest(struct ins_ctx *c)
{
    uint32_t want = EPOLLIN | (c->q_head ? EPOLLOUT : 0);
    if (want != c->ctl_ev) {
        struct epoll_event ev = { .events = want, .data.ptr = &c->ctltag };
        if (epoll_ctl(c->ep, EPOLL_CTL_MOD, c->ctl, &ev) < 0)
            mw_log("epoll_ctl(ctl): %m");
        c->ctl_ev = want;
    }
}

static void flush_q(struct ins_ctx *c)
{
    while (c->q_head) {
        struct ins_outq *q = c->q_head;
        int r = mw_ctl_send(c->ctl, q->data, q->len, NULL, 0, MSG_DONTWAIT);
        if (r == -EAGAIN)
            break;
        if (r < 0) {
            mw_log("sendmsg(ctl): %s; mwcomms gone", strerror(-r));
            c->quit = 1;
        }
        c->q_head = q->next;
        if (!c->q_head)
            c->q_tail = NULL;
        c->q_len--;
        free(q);
    }
    ctl_interest(c);
}

/* Send a message without fds to mwcomms; queue it when the channel is full (never block the
 * loop). */
static void to_hub_raw(struct ins_ctx *c, const void *m, size_t len)
{
    int r;
    if (!c->q_head) {
        r = mw_ctl_send(c->ctl, m, len, NULL, 0, MSG_DONTWAIT);
        if (r == 0)
            return;
        if (r != -EAGAIN) {
            mw_log("sendmsg(ctl): %s; mwcomms gone", strerror(-r));
            c->quit = 1;
            return;
        }
    }
    struct ins_outq *q = malloc(sizeof(*q) + len);
    if (!q) {
        mw_log("malloc(out queue): out of memory; a message to mwcomms is lost");
        c->obs_dropped++;
        return;
    }
    q->next = NULL;
    q->len = len;
    memcpy(q->data, m, len);
    if (c->q_tail)
        c->q_tail->next = q;
    else
        c->q_head = q;
    c->q_tail = q;
    c->q_len++;
    ctl_interest(c);
}

/* Send the observations batched so far (one packet). Called when the batch is full, at the end
 * of every loop round, and before anything else goes to mwcomms, so order is kept. */
static void flush_batch(struct ins_ctx *c)
{
    if (!c->batch || !c->batch->b.count)
        return;
    c->batch->h.len = (uint32_t)MW_CTL_OBS_BATCH_LEN(c->batch->b.count);
    to_hub_raw(c, c->batch, c->batch->h.len);
    c->batch->b.count = 0;
}

static void to_hub(struct ins_ctx *c, struct mw_ctl_msg *m, int droppable)
{
    (void)droppable;
    flush_batch(c);
    to_hub_raw(c, m, m->h.len);
}

static void reply(struct ins_ctx *c, const struct mw_ctl_msg *req, int status, struct mw_ctl_msg *rep)
{
    struct mw_ctl_msg tmp;
    if (!rep) {
        rep = &tmp;
        memset(rep, 0, sizeof(*rep));
    }
    rep->h.magic = MW_CTL_MAGIC;
    rep->h.version = MW_CTL_VERSION;
    rep->h.op = req->h.op;
    rep->h.req_id = req->h.req_id;
    rep->h.sockid = req->h.sockid;
    rep->h.flags = MW_CTL_F_REPLY;
    rep->h.status = status;
    rep->h.len = (uint32_t)mw_ctl_msg_size(req->h.op, 1);
    to_hub(c, rep, 0);
}

static void fill_info(const struct ins_sock *s, struct mw_ctl_info *in)
{
    memset(in, 0, sizeof(*in));
    in->domain = s->domain;
    in->type = SOCK_STREAM;
    in->state = s->state;
    in->local = s->local;
    in->peer = s->peer;
    in->bytes_in = s->bytes_in;
    in->bytes_out = s->bytes_out;
}

static void reply_info(struct ins_ctx *c, const struct mw_ctl_msg *req, int status, struct ins_sock *s)
{
    struct mw_ctl_msg rep;
    memset(&rep, 0, sizeof(rep));
    if (s)
        fill_info(s, &rep.u.info);
    reply(c, req, status, &rep);
}

static void emit(struct ins_ctx *c, struct ins_sock *s, int obs, int err, uint64_t extra,
                 const struct ins_sock *other)
{
    const struct ins_sock *src = other ? other : s;
    struct mw_ctl_obs_rec *r;
    s->obs_dirty = 0;
    if ((obs == 5 || obs == 6) && c->q_len >= OUTQ_MAX) {
        /* mwcomms is far behind: drop byte-count updates (the next one carries the totals) */
        c->obs_dropped++;
        return;
    }
    struct mw_ctl_obs_rec tmp;
    r = &tmp;
    memset(r, 0, sizeof(*r));
    r->sockid = s->sockid;
    r->obs.obs = (uint16_t)obs;
    r->obs.state = src->state;
    r->obs.domain = src->domain;
    r->obs.err = err;
    r->obs.inode = src->inode;
    r->obs.start_sec = s->start_sec;
    r->obs.start_nsec = s->start_nsec;
    now_real(&r->obs.ts_sec, &r->obs.ts_nsec);
    r->obs.local = src->local;
    r->obs.peer = src->peer;
    r->obs.bytes_in = s->bytes_in;
    r->obs.bytes_out = s->bytes_out;
    r->obs.extra = extra;
    /* The ring is read by mwcomms as soon as it is published, so it knows a new connection
     * before the application has it. Only when the ring is full (or absent) do records go in a
     * packet; mwcomms drains the ring before reading packets, so order is kept. */
    if (c->have_ring && !c->batch->b.count && mw_ring_put(&c->ring, r) == 0)
        return;
    if (c->have_ring)
        c->ring_full++;
    if (c->batch->b.count == MW_CTL_OBS_BATCH)
        flush_batch(c);
    c->batch->b.rec[c->batch->b.count++] = *r;
    if (obs == 3)
        flush_batch(c);   /* mwcomms must know a new connection before the application has it */
}

/* recv (5) / send (6) observations, coalesced per socket when an interval is configured. */
static void emit_io(struct ins_ctx *c, struct ins_sock *s, int obs)
{
    if (c->obs_interval_ms) {
        uint64_t now = mw_now_ns();
        if (now - s->last_obs_ns < (uint64_t)c->obs_interval_ms * 1000000ull) {
            s->obs_dirty = obs;
            return;
        }
        s->last_obs_ns = now;
    }
    emit(c, s, obs, 0, 0, NULL);
}

/* ---- sockets ---- */

static uint64_t new_sockid(struct ins_ctx *c)
{
    return ((uint64_t)c->gen << 40) | ++c->next_seq;
}

static struct ins_sock *sock_new(struct ins_ctx *c, uint64_t id, int kind, int domain)
{
    struct ins_sock *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->sockid = id;
    s->kind = kind;
    s->domain = domain;
    s->tcp = s->ufd = s->filler_fd = s->held_app_fd = -1;
    s->ttag.type = T_TCP;
    s->ttag.s = s;
    s->utag.type = T_UFD;
    s->utag.s = s;
    s->ev_tcp = s->ev_u = UINT32_MAX;
    now_real(&s->start_sec, &s->start_nsec);
    if (mw_u64map_put(&c->socks, id, s) < 0) {
        free(s);
        return NULL;
    }
    return s;
}

/* The per-INS socket limit (ins-max-sockets): like RLIMIT_NOFILE for one stack. */
static int at_limit(struct ins_ctx *c)
{
    if (c->max_sockets && c->socks.count >= c->max_sockets) {
        if (c->refused++ % 1000 == 0)
            mw_log("socket limit %u reached: refusing new sockets/connections (EMFILE), %llu so far",
                   c->max_sockets, (unsigned long long)c->refused);
        return 1;
    }
    return 0;
}

static void set_interest(struct ins_ctx *c, int fd, struct ins_tag *tag, uint32_t *cur, uint32_t want)
{
    struct epoll_event ev = { .events = want, .data.ptr = tag };
    if (fd < 0 || *cur == want)
        return;
    if (*cur == UINT32_MAX) {
        if (epoll_ctl(c->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
            mw_log("epoll_ctl(ADD fd %d): %m", fd);
    } else if (epoll_ctl(c->ep, EPOLL_CTL_MOD, fd, &ev) < 0) {
        mw_log("epoll_ctl(MOD fd %d): %m", fd);
    }
    *cur = want;
}

static void unwatch(struct ins_ctx *c, int fd, uint32_t *cur)
{
    if (fd >= 0 && *cur != UINT32_MAX)
        epoll_ctl(c->ep, EPOLL_CTL_DEL, fd, NULL);
    *cur = UINT32_MAX;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static void sock_destroy(struct ins_ctx *c, struct ins_sock *s)
{
    if (s->dead)
        return;
    if (s->obs_dirty)
        emit(c, s, s->obs_dirty, 0, 0, NULL);
    s->state = MW_SS_CLOSED;
    /* extra of a close: the errno of an abort by the INS (ETIMEDOUT: sndtimeo/rcvtimeo), else 0 */
    emit(c, s, 7, s->close_err, (uint64_t)s->close_err, NULL);
    if (s->rcvtimeo_ns || s->sndtimeo_ns)
        c->ntimed--;
    /* An epoll registration lives as long as the open file, not the descriptor. A connection's
     * files are ours alone, so close() removes them; a listener's seqpacket end is also held by
     * mwcomms (to restore it after an INS restart), so it must be removed explicitly. */
    if (s->kind == K_CONN) {
        s->ev_tcp = s->ev_u = UINT32_MAX;
    } else {
        unwatch(c, s->tcp, &s->ev_tcp);
        unwatch(c, s->ufd, &s->ev_u);
    }
    /* Data held back by MSG_MORE leaves with the FIN on shutdown. A bare close() would instead
     * reset the connection and drop it when the peer sent something nobody read (a request
     * racing the server's close). An abort (close_err) resets on purpose. */
    if (s->corked && !s->close_err && s->tcp >= 0)
        shutdown(s->tcp, SHUT_WR);
    close_fd(&s->tcp);
    close_fd(&s->ufd);
    close_fd(&s->filler_fd);
    close_fd(&s->held_app_fd);
    if (s->held_conn) {
        struct ins_sock *n = s->held_conn;
        s->held_conn = NULL;
        n->held_by = NULL;
        sock_destroy(c, n);
    }
    if (s->held_by) {
        /* a connection closed while its listener still held it (the program's queue was full):
         * drop the message and the app end with it, so the program never gets it, and let the
         * listener go on (it would otherwise deliver, then relay, a freed socket) */
        struct ins_sock *l = s->held_by;
        s->held_by = NULL;
        l->held_conn = NULL;
        close_fd(&l->held_app_fd);
        if (!l->dead)
            listener_interest(c, l);
    }
    while (s->hq_head) {
        struct ins_handq *q = s->hq_head;
        struct mw_ctl_msg hm;
        s->hq_head = q->next;
        close(q->fd);
        free(q);
        mw_ctl_init(&hm, MW_OP_INS_HANDOFF, 0, s->sockid);
        reply(c, &hm, -ECONNABORTED, NULL);   /* mwcomms stops counting it as in flight */
    }
    s->hq_tail = NULL;
    s->hq_len = 0;
    for (int d = 0; d < 2; d++) {
        free(s->pend[d].buf);
        s->pend[d].buf = NULL;
    }
    if (s->kind == K_CONN && c->nconn)
        c->nconn--;
    if (s->kind == K_LISTENER && c->nlisten)
        c->nlisten--;
    mw_u64map_del(&c->socks, s->sockid);
    s->dead = 1;
    /* freed after the current epoll batch: later events in it may still point here */
    s->next_free = c->free_list;
    c->free_list = s;
}

static int addr_of(int fd, int peer, struct mw_ctl_addr *a)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int r = peer ? getpeername(fd, (struct sockaddr *)&ss, &len) : getsockname(fd, (struct sockaddr *)&ss, &len);
    if (r < 0)
        return -errno;
    return mw_ctl_addr_from_sockaddr(a, (struct sockaddr *)&ss, len);
}

static int addr_is_any(const struct mw_ctl_addr *a)
{
    static const uint8_t zero[16];
    return memcmp(a->addr, zero, a->family == AF_INET ? 4 : 16) == 0;
}

static int is_blocked(struct ins_ctx *c, const struct mw_ctl_addr *a)
{
    uint8_t v4m[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    for (int i = 0; i < c->nblocked; i++) {
        if (c->blocked[i].family == a->family &&
            memcmp(c->blocked[i].addr, a->addr, a->family == AF_INET ? 4 : 16) == 0)
            return 1;
        /* an IPv4 block also covers the v4-mapped form seen on dual-stack listeners */
        if (c->blocked[i].family == AF_INET && a->family == AF_INET6 &&
            memcmp(a->addr, v4m, 12) == 0 && memcmp(a->addr + 12, c->blocked[i].addr, 4) == 0)
            return 1;
    }
    return 0;
}

static void tcp_defaults(struct ins_ctx *c, int fd)
{
    int one = 1;
    /* The relay re-chunks the application's writes anyway; Nagle would only add latency. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (c->cc[0])
        setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, c->cc, (socklen_t)strlen(c->cc));
}

/* ---- relay ---- */

static void relay_interest(struct ins_ctx *c, struct ins_sock *s)
{
    uint32_t u = 0, t = 0;
    if (s->kind != K_CONN)
        return;
    if (s->state == MW_SS_CONNECTING) {
        set_interest(c, s->tcp, &s->ttag, &s->ev_tcp, EPOLLOUT);
        set_interest(c, s->ufd, &s->utag, &s->ev_u, 0);
        return;
    }
    if (s->state == MW_SS_FAILED) {
        /* drain (and discard) whatever the app writes until it closes its end */
        if (!s->app_gone)
            set_interest(c, s->ufd, &s->utag, &s->ev_u, EPOLLIN | EPOLLRDHUP);
        return;
    }
    if (!s->eof[0] && !s->pend[0].len)
        u |= EPOLLIN | EPOLLRDHUP;
    if (s->pend[1].len)
        u |= EPOLLOUT;
    if (!s->eof[1] && !s->pend[1].len)
        t |= EPOLLIN | EPOLLRDHUP;
    if (s->pend[0].len)
        t |= EPOLLOUT;
    /* A hung-up source is reported forever (level-triggered, HUP cannot be masked): stop
     * watching it; what is left in it is pumped when the destination drains. */
    if (s->t_hup && !s->pend[0].len)
        unwatch(c, s->tcp, &s->ev_tcp);
    else
        set_interest(c, s->tcp, &s->ttag, &s->ev_tcp, s->t_hup ? EPOLLOUT : t);
    if (s->u_hup && !s->pend[1].len)
        unwatch(c, s->ufd, &s->ev_u);
    else
        set_interest(c, s->ufd, &s->utag, &s->ev_u, s->u_hup ? EPOLLOUT : u);
}

/* Write buf to the destination of direction d; keep the rest pending. 0 ok, -errno fatal. */
static int relay_write(struct ins_sock *s, int d, const char *buf, size_t len)
{
    int dst = d == 0 ? s->tcp : s->ufd;
    /* The application closed its end: this is its last data and close() follows at once.
     * MSG_MORE keeps the tail segment back so the FIN rides on it, one segment where the
     * program's own close would have sent one (a server that corks its response and closes). */
    int more = d == 0 && s->u_hup ? MSG_MORE : 0;
    ssize_t w;
    s->corked |= more != 0;
    do {
        w = send(dst, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT | more);
    } while (w < 0 && errno == EINTR);
    if (w < 0) {
        if (errno != EAGAIN)
            return -errno;
        w = 0;
    }
    if (d == 0 && s->sndtimeo_ns)
        s->last_tx_ns = mw_now_ns();   /* progress, or the start of a wait (nothing was pending) */
    if ((size_t)w < len) {
        size_t rest = len - (size_t)w;
        char *p = malloc(rest);
        if (!p)
            return -ENOMEM;
        memcpy(p, buf + w, rest);
        s->pend[d].buf = p;
        s->pend[d].len = rest;
        s->pend[d].off = 0;
    }
    return 0;
}

static int relay_flush(struct ins_sock *s, int d)
{
    struct ins_pend *p = &s->pend[d];
    int dst = d == 0 ? s->tcp : s->ufd;
    while (p->len) {
        ssize_t w = send(dst, p->buf + p->off, p->len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return 0;
            return -errno;
        }
        p->off += (size_t)w;
        p->len -= (size_t)w;
        if (d == 0 && s->sndtimeo_ns && w > 0)
            s->last_tx_ns = mw_now_ns();
    }
    free(p->buf);
    p->buf = NULL;
    p->off = 0;
    return 0;
}

/* After EOF on a source and an empty pending buffer, pass the EOF on. */
static void relay_propagate(struct ins_ctx *c, struct ins_sock *s)
{
    if (s->eof[0] && !s->pend[0].len && !s->shut[0] && !s->u_hup) {
        /* the app shut down writing (it still holds the socket); when it closed it instead,
         * close() below does what its close() would have done (FIN, or RST with SO_LINGER 0) */
        shutdown(s->tcp, SHUT_WR);
        s->shut[0] = 1;
    }
    if (s->eof[1] && !s->pend[1].len && !s->shut[1]) {
        if (!s->u_hup)
            shutdown(s->ufd, SHUT_WR);
        s->shut[1] = 1;
    }
}

static int relay_done(const struct ins_sock *s)
{
    if (s->u_hup && s->eof[0] && !s->pend[0].len)
        return 1;   /* the application closed it: close the TCP socket as its close() would */
    return s->shut[0] && s->shut[1];
}

/* Move one chunk from the source of direction d. Returns 1 moved, 0 nothing to do / would block,
 * -1 the socket was destroyed. */
static int relay_pump(struct ins_ctx *c, struct ins_sock *s, int d)
{
    int src = d == 0 ? s->ufd : s->tcp;
    ssize_t n;
    int r;

    if (s->pend[d].len || s->eof[d])
        return 0;
    n = recv(src, c->scratch, c->scratch_len, MSG_DONTWAIT);
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return 0;
        if (d == 1) {
            /* reset or error from the network: the app sees EOF (or ECONNRESET when it still had
             * unread data queued towards us) */
            mw_dbg("recv(tcp %llu): %m", (unsigned long long)s->sockid);
            sock_destroy(c, s);
            return -1;
        }
        s->u_hup = 1;
        s->eof[0] = 1;
        return 0;
    }
    if (n == 0) {
        s->eof[d] = 1;
        return 0;
    }
    if (d == 1 && s->u_hup)
        return 1;   /* nobody left to read it; closing will reset the peer like the kernel would */
    s->short_read = (size_t)n < c->scratch_len;
    if (d == 1 && s->rcvtimeo_ns)
        s->last_rx_ns = mw_now_ns();
    r = relay_write(s, d, c->scratch, (size_t)n);
    if (d == 0)
        s->bytes_out += (uint64_t)n;
    else
        s->bytes_in += (uint64_t)n;
    emit_io(c, s, d == 0 ? 6 : 5);
    if (r < 0) {
        if (d == 1 && r == -EPIPE) {
            /* the app shut its reading side: discard from now on */
            s->u_hup = 1;
            return 1;
        }
        mw_dbg("send(relay %llu dir %d): %s", (unsigned long long)s->sockid, d, strerror(-r));
        sock_destroy(c, s);
        return -1;
    }
    /* a short read drained the socket: asking again would only return EAGAIN (a level-triggered
     * event comes back if more arrives) -- unless the source hung up and no event will come */
    if (s->short_read && !(d == 0 ? s->u_hup : s->t_hup))
        return 0;
    return 1;
}

/* Pump a source whose peer is gone (no more events will come for it): until EOF or pending. */
static int relay_pump_all(struct ins_ctx *c, struct ins_sock *s, int d, int max)
{
    for (int i = 0; i < max; i++) {
        int r = relay_pump(c, s, d);
        if (r <= 0)
            return r;
    }
    return 0;
}

static void drop_pend(struct ins_sock *s, int d)
{
    free(s->pend[d].buf);
    s->pend[d].buf = NULL;
    s->pend[d].len = 0;
    s->pend[d].off = 0;
}

/* Response coalescing. A server typically writes a response in pieces (headers, then the body
 * with sendfile) and, without keep-alive, closes right after; with TCP_CORK its kernel sends all
 * of it with the FIN in one segment. The INS, quicker than that sequence, would send each piece
 * at once and the FIN after them: more segments and more wake-ups of the client. So when the
 * INS is lightly loaded, data from the application waits up to coalesce_us for the rest (the
 * level-triggered event comes back on every poll); a close ends the wait, and the data and FIN
 * leave together (MSG_MORE, relay_write). Whether waiting pays is learned: a wait that ends in a
 * close scores +1, one that times out -1; below -8 the INS stops waiting (a server that keeps
 * connections open, or writes everything at once, gets no delay) and tries again only on every
 * 64th response, to notice when the traffic changes. 1 = wait (leave the data), 0 = go on. */
static int coalesce_wait(struct ins_ctx *c, struct ins_sock *s, uint32_t ev)
{
    uint64_t now;
    if (!s->coalesce_until) {
        if (!c->coalesce_ns || !(ev & EPOLLIN) || (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) ||
            c->round_events > 2 || s->pend[0].len || s->eof[0])
            return 0;
        if (c->coal_score < -8 && (++c->coal_probe & 63))
            return 0;
        s->coalesce_until = mw_now_ns() + c->coalesce_ns;
        c->coal_waiting = 1;
        return 1;
    }
    if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        if (c->coal_score < 16)
            c->coal_score++;
        c->coal_hits++;
        s->coalesce_until = 0;
        return 0;
    }
    now = mw_now_ns();
    if (now < s->coalesce_until) {
        c->coal_waiting = 1;
        return 1;
    }
    if (c->coal_score > -16 && --c->coal_score == -9)
        mw_dbg("response coalescing paused: waits stopped paying (%llu ended in a close, %llu timed out)",
               (unsigned long long)c->coal_hits, (unsigned long long)c->coal_misses + 1);
    c->coal_misses++;
    s->coalesce_until = 0;
    return 0;
}

static void conn_event(struct ins_ctx *c, struct ins_sock *s, int which, uint32_t ev)
{
    int r;
    if (s->state == MW_SS_FAILED) {
        if (which == T_UFD) {
            char buf[4096];
            ssize_t n;
            while ((n = recv(s->ufd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
                ;
            if (n == 0 || (ev & (EPOLLHUP | EPOLLERR)) || (n < 0 && errno != EAGAIN))
                sock_destroy(c, s);
        }
        return;
    }
    if (which == T_UFD) {
        if (ev & EPOLLOUT) {
            r = relay_flush(s, 1);
            if (r == -EPIPE) {
                s->u_hup = 1;
            } else if (r < 0) {
                sock_destroy(c, s);
                return;
            }
            if (!s->pend[1].len && s->t_hup && relay_pump_all(c, s, 1, 64) < 0)
                return;
        }
        if (ev & (EPOLLHUP | EPOLLERR))
            s->u_hup = 1;   /* every copy of the app end is closed (or it shut both ways) */
        if ((ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && !coalesce_wait(c, s, ev))
            if (relay_pump_all(c, s, 0, s->u_hup ? 64 : 4) < 0)
                return;
    } else {
        if (ev & EPOLLOUT) {
            r = relay_flush(s, 0);
            if (r < 0) {
                sock_destroy(c, s);
                return;
            }
            if (!s->pend[0].len && s->u_hup && relay_pump_all(c, s, 0, 64) < 0)
                return;
        }
        if (ev & (EPOLLHUP | EPOLLERR))
            s->t_hup = 1;
        if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            if (relay_pump_all(c, s, 1, s->t_hup ? 64 : 2) < 0)
                return;
        if ((ev & EPOLLERR) && !s->pend[1].len) {
            sock_destroy(c, s);
            return;
        }
    }
    if (s->u_hup) {
        drop_pend(s, 1);
        if (s->eof[0])
            s->app_gone = 1;
    }
    relay_propagate(c, s);
    if (relay_done(s)) {
        sock_destroy(c, s);
        return;
    }
    relay_interest(c, s);
}

static void start_relay(struct ins_ctx *c, struct ins_sock *s)
{
    s->kind = K_CONN;
    s->state = MW_SS_CONNECTED;
    if (s->rcvtimeo_ns || s->sndtimeo_ns)
        s->last_rx_ns = s->last_tx_ns = mw_now_ns();   /* timeouts count from here */
    c->nconn++;
    relay_interest(c, s);
}

/* ---- non-blocking connect ---- */

/* Make the app's end unwritable until the TCP connect completes: smallest send buffer, filled. */
static int filler_arm(struct ins_sock *s, int appfd)
{
    static const char zeros[FILLER_CHUNK];
    socklen_t l = sizeof(s->saved_sndbuf);
    int one = 1;
    if (getsockopt(appfd, SOL_SOCKET, SO_SNDBUF, &s->saved_sndbuf, &l) < 0)
        return -errno;
    if (setsockopt(appfd, SOL_SOCKET, SO_SNDBUF, &one, sizeof(one)) < 0)
        return -errno;
    s->filler_bytes = 0;
    for (int i = 0; i < 64; i++) {
        ssize_t w = send(appfd, zeros, sizeof(zeros), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN)
                break;
            return -errno;
        }
        s->filler_bytes += (size_t)w;
    }
    s->filler_fd = appfd;
    return 0;
}

/* Wake the app: consume the filler, restore its send buffer, drop our copy of its end. */
static void filler_release(struct ins_ctx *c, struct ins_sock *s)
{
    size_t left = s->filler_bytes;
    while (left) {
        ssize_t n = recv(s->ufd, c->scratch, left < c->scratch_len ? left : c->scratch_len, MSG_DONTWAIT);
        if (n <= 0)
            break;
        left -= (size_t)n;
    }
    s->filler_bytes = 0;
    if (s->filler_fd >= 0) {
        int v = s->saved_sndbuf / 2;   /* the kernel doubles what it is given */
        if (v > 0)
            setsockopt(s->filler_fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
        close_fd(&s->filler_fd);
    }
}

static void connect_done(struct ins_ctx *c, struct ins_sock *s)
{
    int err = 0;
    socklen_t l = sizeof(err);
    if (getsockopt(s->tcp, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
        err = errno;
    unwatch(c, s->tcp, &s->ev_tcp);
    if (err == 0) {
        addr_of(s->tcp, 0, &s->local);
        addr_of(s->tcp, 1, &s->peer);
        s->state = MW_SS_CONNECTED;
        emit(c, s, 4, 0, 0, NULL);
        filler_release(c, s);
        start_relay(c, s);
    } else {
        s->state = MW_SS_FAILED;
        s->so_error = err;
        emit(c, s, 4, err, 0, NULL);
        /* the answer (SO_ERROR) is set before the app can see POLLOUT */
        filler_release(c, s);
        close_fd(&s->tcp);
        shutdown(s->ufd, SHUT_WR);
        relay_interest(c, s);
    }
}

/* ---- sndtimeo / rcvtimeo ----
 * The program's reads and writes are on its AF_UNIX end, so a timeout set on the real TCP socket
 * (NetFlow sndtimeo/rcvtimeo, e.g. the detector tightening a slow connection) would never fire:
 * the INS, whose TCP sockets are non-blocking, enforces them itself. A connection whose peer sent
 * nothing for rcvtimeo while the INS was waiting for it (the program was not behind), or whose
 * data could not move towards the peer for sndtimeo, is aborted (RST, as a server does when its
 * blocking call times out and it gives up); its close observation carries ETIMEDOUT. Checked
 * every TIMEO_SCAN_MS, only while some socket has a timeout. 0 clears. */
#define TIMEO_SCAN_MS 50

static void timeo_set(struct ins_ctx *c, struct ins_sock *s, int rcv, uint64_t ns)
{
    int had = s->rcvtimeo_ns || s->sndtimeo_ns;
    uint64_t now = mw_now_ns();
    if (rcv) {
        s->rcvtimeo_ns = ns;
        s->last_rx_ns = now;
    } else {
        s->sndtimeo_ns = ns;
        s->last_tx_ns = now;
    }
    int has = s->rcvtimeo_ns || s->sndtimeo_ns;
    c->ntimed += (uint32_t)has - (uint32_t)had;
    if (has && !had && !c->next_timeo_scan)
        c->next_timeo_scan = now + TIMEO_SCAN_MS * 1000000ull;
}

static void timeo_scan(struct ins_ctx *c, uint64_t now)
{
    struct ins_sock *expired[256];
    int n = 0;
    for (size_t i = 0; i < c->socks.cap && n < (int)(sizeof(expired) / sizeof(expired[0])); i++) {
        struct ins_sock *s = c->socks.keys[i] ? c->socks.vals[i] : NULL;
        if (!s || s->dead || s->kind != K_CONN || s->state != MW_SS_CONNECTED)
            continue;
        if (s->held_by) {
            /* not handed to the program yet: the INS is not reading it */
            s->last_rx_ns = s->last_tx_ns = now;
            continue;
        }
        if (s->rcvtimeo_ns) {
            if (s->eof[1] || s->pend[1].len)
                s->last_rx_ns = now;   /* not waiting for the peer */
            else if (now - s->last_rx_ns >= s->rcvtimeo_ns) {
                expired[n++] = s;
                continue;
            }
        }
        if (s->sndtimeo_ns) {
            if (!s->pend[0].len)
                s->last_tx_ns = now;   /* nothing waiting to go */
            else if (now - s->last_tx_ns >= s->sndtimeo_ns)
                expired[n++] = s;
        }
    }
    for (int i = 0; i < n; i++) {
        struct ins_sock *s = expired[i];
        struct linger lg = { 1, 0 };
        if (c->timeouts++ % 1000 == 0)
            mw_log("connection %llx: %s expired, aborting it (%llu so far)", (unsigned long long)s->sockid,
                   s->pend[0].len && s->sndtimeo_ns ? "sndtimeo" : "rcvtimeo", (unsigned long long)c->timeouts);
        if (setsockopt(s->tcp, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0)
            mw_dbg("setsockopt(SO_LINGER, %llx): %m", (unsigned long long)s->sockid);
        s->close_err = ETIMEDOUT;
        sock_destroy(c, s);
    }
    c->next_timeo_scan = c->ntimed ? now + TIMEO_SCAN_MS * 1000000ull : 0;
}

/* ---- listeners ---- */

static void listener_interest(struct ins_ctx *c, struct ins_sock *s)
{
    /* hand-overs still queued (e.g. the held connection was closed by NetFlow): EPOLLOUT on the
     * program's queue is what delivers them, so keep watching it */
    if (s->held_conn || s->hq_head) {
        set_interest(c, s->tcp, &s->ttag, &s->ev_tcp, 0);
        set_interest(c, s->ufd, &s->utag, &s->ev_u, EPOLLOUT);
    } else {
        set_interest(c, s->tcp, &s->ttag, &s->ev_tcp, EPOLLIN);
        set_interest(c, s->ufd, &s->utag, &s->ev_u, EPOLLIN);
    }
}

/* Deliver the held connection to the application's listener. 1 delivered, 0 full, -1 gone. */
static int deliver_held(struct ins_ctx *c, struct ins_sock *l)
{
    int r = mw_ctl_send(l->ufd, &l->held_msg, l->held_msg.h.len, &l->held_app_fd, 1, MSG_DONTWAIT);
    struct ins_sock *n = l->held_conn;
    if (r == -EAGAIN || r == -ENOBUFS)
        return 0;
    close_fd(&l->held_app_fd);
    l->held_conn = NULL;
    n->held_by = NULL;
    if (r < 0) {
        sock_destroy(c, n);
        return -1;
    }
    start_relay(c, n);
    if (n->eof[1])
        relay_propagate(c, n);   /* the client already closed its side */
    return 1;
}

/* ---- ready-made connection pairs ----
 * An accepted connection needs an AF_UNIX stream pair whose application end carries the socket's
 * name (what the shim recognises it by) and whose inode the observations report: socketpair, bind
 * and fstat, three syscalls between the client's SYN and the program's accept. The loop makes
 * them ahead of time, one at a time while it is idle, and accepting takes one. Both ends stay
 * blocking: the application's as accept gives it, ours because every call on it passes
 * MSG_DONTWAIT. */
static int pair_make(struct ins_ctx *c, struct ins_pair *p)
{
    int sp[2], nl, e;
    struct sockaddr_storage nm;
    struct stat st;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
        e = -errno;
        mw_log("socketpair(connection): %m");
        return e;
    }
    p->sockid = new_sockid(c);
    nl = mw_ctl_name_fill((struct sockaddr *)&nm, c->nonce, p->sockid, 'S');
    if (bind(sp[0], (struct sockaddr *)&nm, (socklen_t)nl) < 0) {
        /* unnamed, the shim would take it for a plain AF_UNIX socket: do not hand it out */
        e = -errno;
        mw_log("bind(name of %llx): %m", (unsigned long long)p->sockid);
        close(sp[0]);
        close(sp[1]);
        return e;
    }
    p->inode = fstat(sp[0], &st) == 0 ? (uint64_t)st.st_ino : 0;
    p->app = sp[0];
    p->ours = sp[1];
    return 0;
}

/* Add one pair to the pool. 1 added, 0 nothing to do (full, not ready, or failed). */
static int pool_topup(struct ins_ctx *c)
{
    if (!c->ready || c->npool >= INS_POOL_TARGET)
        return 0;
    if (pair_make(c, &c->pool[c->npool]) < 0)
        return 0;
    c->npool++;
    return 1;
}

static int pair_take(struct ins_ctx *c, struct ins_pair *p)
{
    if (c->npool) {
        *p = c->pool[--c->npool];
        c->pool_hits++;
        return 0;
    }
    c->pool_misses++;
    return pair_make(c, p);
}

static void pool_drain(struct ins_ctx *c)
{
    while (c->npool) {
        struct ins_pair *p = &c->pool[--c->npool];
        close(p->app);
        close(p->ours);
    }
}

/* Accept a TCP connection (or take one handed over) and package it for the application. */
static int conn_package(struct ins_ctx *c, struct ins_sock *l, int tcpfd, const struct mw_ctl_addr *peer,
                        int handed_over)
{
    struct ins_pair pair;
    struct ins_sock *n;

    if (is_blocked(c, peer) || at_limit(c)) {
        close(tcpfd);
        return 0;
    }
    if (pair_take(c, &pair) < 0) {
        close(tcpfd);
        return -1;
    }
    n = sock_new(c, pair.sockid, K_CONN, l->domain);
    if (!n) {
        close(pair.app);
        close(pair.ours);
        close(tcpfd);
        return -1;
    }
    n->inode = pair.inode;
    n->tcp = tcpfd;
    n->ufd = pair.ours;
    if (l->sndtimeo_ns || l->rcvtimeo_ns) {
        /* like the kernel's accept, a connection inherits its listener's timeouts */
        timeo_set(c, n, 0, l->sndtimeo_ns);
        timeo_set(c, n, 1, l->rcvtimeo_ns);
    }
    n->peer = *peer;
    if (l->local.family && !addr_is_any(&l->local))
        n->local = l->local;     /* bound to one address: that is the local address */
    else
        addr_of(tcpfd, 0, &n->local);
    n->state = MW_SS_CONNECTED;
    if (handed_over || c->cc[0])
        tcp_defaults(c, tcpfd);   /* accepted ones inherit TCP_NODELAY from our listener */
    mw_ctl_init(&l->held_msg, MW_OP_ACCEPTED, 0, n->sockid);
    l->held_msg.u.accepted.domain = l->domain;
    l->held_msg.u.accepted.local = n->local;
    l->held_msg.u.accepted.peer = n->peer;
    /* announce it to mwcomms before the application can hold it: its first request about the
     * new socket must find it in the table */
    emit(c, l, 3, 0, n->sockid, n);
    /* Clients usually send right after connecting: move what already arrived into the app's end
     * now, so the application finds the request with the connection (one wake-up less). */
    if (!handed_over && relay_pump(c, n, 1) < 0) {
        close(pair.app);
        return 0;
    }
    l->held_app_fd = pair.app;
    l->held_conn = n;
    n->held_by = l;
    return deliver_held(c, l);
}

static void listener_event(struct ins_ctx *c, struct ins_sock *s, int which, uint32_t ev)
{
    if (which == T_UFD) {
        if (ev & (EPOLLHUP | EPOLLERR)) {
            sock_destroy(c, s);     /* the application closed its listener */
            return;
        }
        if (ev & EPOLLIN) {
            /* nothing is expected from the app side; discard */
            char buf[512];
            while (recv(s->ufd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
                ;
        }
        if ((ev & EPOLLOUT) && s->held_conn && deliver_held(c, s) < 0) {
            sock_destroy(c, s);
            return;
        }
        /* handed-over connections waiting behind the held one, in order */
        while (!s->held_conn && s->hq_head && !s->dead) {
            struct ins_handq *q = s->hq_head;
            if (!(s->hq_head = q->next))
                s->hq_tail = NULL;
            s->hq_len--;
            conn_package(c, s, q->fd, &q->peer, 1);
            free(q);
            /* the hand-over is answered now that its accept observation went out: mwcomms
             * counts a connection as in flight until this reply, so its load figure stays true */
            struct mw_ctl_msg hm;
            mw_ctl_init(&hm, MW_OP_INS_HANDOFF, 0, s->sockid);
            reply(c, &hm, 0, NULL);
        }
    }
    if (which == T_TCP || !s->held_conn) {
        for (int i = 0; i < 64 && !s->held_conn && !s->dead; i++) {
            struct sockaddr_storage ss;
            socklen_t len = sizeof(ss);
            struct mw_ctl_addr peer;
            int fd = accept4(s->tcp, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                    mw_log("accept4(listener %llx): %m", (unsigned long long)s->sockid);
                break;
            }
            mw_ctl_addr_from_sockaddr(&peer, (struct sockaddr *)&ss, len);
            if (conn_package(c, s, fd, &peer, 0) < 0 && !s->held_conn)
                continue;
        }
    }
    if (!s->dead)
        listener_interest(c, s);
}

/* ---- requests from mwcomms ---- */

static int apply_opt_allowed(int level, int name)
{
    /* Options the application may not set on the INS's sockets: they need privileges the INS has
     * and the application must not borrow. */
    if (level == SOL_SOCKET && (name == SO_MARK || name == SO_BINDTODEVICE || name == SO_BINDTOIFINDEX ||
                                name == SO_SNDBUFFORCE || name == SO_RCVBUFFORCE || name == SO_DEBUG))
        return 0;
    if (level == IPPROTO_IP && (name == IP_TRANSPARENT || name == IP_HDRINCL))
        return 0;
    if (level == IPPROTO_IPV6 && name == IPV6_TRANSPARENT)
        return 0;
    return level == SOL_SOCKET || level == IPPROTO_TCP || level == IPPROTO_IP || level == IPPROTO_IPV6;
}

static void op_socket(struct ins_ctx *c, struct mw_ctl_msg *m, int *fds, int nfds)
{
    struct ins_sock *s;
    int fd, fl;
    if (nfds != 1 || mw_u64map_get(&c->socks, m->h.sockid)) {
        reply_info(c, m, -EINVAL, NULL);
        return;
    }
    if (at_limit(c)) {
        reply_info(c, m, -EMFILE, NULL);
        return;
    }
    fd = socket(m->u.socket.domain, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0) {
        reply_info(c, m, -errno, NULL);
        return;
    }
    s = sock_new(c, m->h.sockid, K_PRE, m->u.socket.domain);
    if (!s) {
        close(fd);
        reply_info(c, m, -ENOMEM, NULL);
        return;
    }
    s->tcp = fd;
    s->ufd = fds[0];
    fds[0] = -1;
    fl = fcntl(s->ufd, F_GETFL);
    fcntl(s->ufd, F_SETFL, fl | O_NONBLOCK);
    s->state = MW_SS_NEW;
    tcp_defaults(c, fd);
    /* watch only for the application closing it before use */
    set_interest(c, s->ufd, &s->utag, &s->ev_u, EPOLLRDHUP);
    emit(c, s, 1, 0, 0, NULL);
    reply_info(c, m, 0, s);
}

static void op_bind(struct ins_ctx *c, struct mw_ctl_msg *m, struct ins_sock *s)
{
    struct sockaddr_storage ss;
    int len;
    if (s->kind != K_PRE || s->state != MW_SS_NEW) {
        reply_info(c, m, -EINVAL, s);
        return;
    }
    len = mw_ctl_addr_to_sockaddr(&m->u.addr.addr, &ss);
    if (c->flags & MW_INS_F_REUSEPORT) {
        /* several INS share the host namespace: each holds a replica of the listener on the same
         * address, the kernel spreads new connections over them */
        int one = 1;
        setsockopt(s->tcp, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    }
    if (len < 0 || bind(s->tcp, (struct sockaddr *)&ss, (socklen_t)len) < 0) {
        reply_info(c, m, len < 0 ? -EINVAL : -errno, s);
        return;
    }
    addr_of(s->tcp, 0, &s->local);
    s->state = MW_SS_BOUND;
    emit(c, s, 2, 0, 0, NULL);
    reply_info(c, m, 0, s);
}

static int listener_make(struct ins_ctx *c, struct ins_sock *s, int seqfd)
{
    int fl = fcntl(seqfd, F_GETFL);
    fcntl(seqfd, F_SETFL, fl | O_NONBLOCK);
    unwatch(c, s->ufd, &s->ev_u);
    close_fd(&s->ufd);
    s->ufd = seqfd;
    s->kind = K_LISTENER;
    s->state = MW_SS_LISTENING;
    addr_of(s->tcp, 0, &s->local);
    c->nlisten++;
    listener_interest(c, s);
    return 0;
}

static void op_listen(struct ins_ctx *c, struct mw_ctl_msg *m, struct ins_sock *s, int *fds, int nfds)
{
    int backlog = m->u.listen.backlog;
    if (nfds != 1 || s->kind != K_PRE || (s->state != MW_SS_NEW && s->state != MW_SS_BOUND)) {
        reply_info(c, m, nfds != 1 ? -EBADF : -EINVAL, s);
        return;
    }
    if (backlog < 0 || backlog > 65535)
        backlog = 4096;
    if (listen(s->tcp, backlog) < 0) {
        reply_info(c, m, -errno, s);
        return;
    }
    listener_make(c, s, fds[0]);
    fds[0] = -1;
    reply_info(c, m, 0, s);
}

static void op_connect(struct ins_ctx *c, struct mw_ctl_msg *m, struct ins_sock *s, int *fds, int nfds)
{
    struct sockaddr_storage ss;
    int len, r;

    if (nfds != 1) {
        reply_info(c, m, -EBADF, s);
        return;
    }
    if (s->kind == K_CONN) {
        reply_info(c, m, s->state == MW_SS_CONNECTING ? -EALREADY :
                         s->state == MW_SS_FAILED ? -s->so_error : -EISCONN, s);
        return;
    }
    if (s->kind != K_PRE) {
        reply_info(c, m, -EINVAL, s);
        return;
    }
    if (is_blocked(c, &m->u.addr.addr)) {
        reply_info(c, m, -ECONNREFUSED, s);
        return;
    }
    len = mw_ctl_addr_to_sockaddr(&m->u.addr.addr, &ss);
    if (len < 0) {
        reply_info(c, m, -EINVAL, s);
        return;
    }
    r = connect(s->tcp, (struct sockaddr *)&ss, (socklen_t)len);
    if (r < 0 && errno != EINPROGRESS) {
        reply_info(c, m, -errno, s);
        return;
    }
    s->kind = K_CONN;
    s->peer = m->u.addr.addr;
    addr_of(s->tcp, 0, &s->local);
    /* our end stops being a "closed before use" watch and becomes a relay end */
    unwatch(c, s->ufd, &s->ev_u);
    if (r == 0) {
        addr_of(s->tcp, 1, &s->peer);
        s->state = MW_SS_CONNECTED;
        emit(c, s, 4, 0, 0, NULL);
        c->nconn++;
        s->state = MW_SS_CONNECTED;
        relay_interest(c, s);
        reply_info(c, m, 0, s);
        return;
    }
    r = filler_arm(s, fds[0]);
    if (r < 0) {
        mw_log("filler for %llx: %s", (unsigned long long)s->sockid, strerror(-r));
        close(fds[0]);
    }
    fds[0] = -1;
    s->state = MW_SS_CONNECTING;
    c->nconn++;
    relay_interest(c, s);
    reply_info(c, m, -EINPROGRESS, s);
}

static void op_sockopt(struct ins_ctx *c, struct mw_ctl_msg *m, struct ins_sock *s)
{
    struct mw_ctl_msg rep;
    struct mw_ctl_sockopt *o = &m->u.sockopt;
    memset(&rep, 0, sizeof(rep));
    rep.u.sockopt.level = o->level;
    rep.u.sockopt.optname = o->optname;
    if (m->h.op == MW_OP_GETSOCKOPT) {
        socklen_t len = o->optlen;
        if (o->level == SOL_SOCKET && o->optname == SO_ERROR && (s->state == MW_SS_FAILED || s->tcp < 0)) {
            int e = s->so_error;
            s->so_error = 0;
            len = len < sizeof(e) ? len : sizeof(e);
            memcpy(rep.u.sockopt.val, &e, len);
        } else if (s->tcp < 0) {
            reply(c, m, -EBADF, &rep);
            return;
        } else if (getsockopt(s->tcp, o->level, o->optname, rep.u.sockopt.val, &len) < 0) {
            reply(c, m, -errno, &rep);
            return;
        } else if (o->level == SOL_SOCKET && o->optname == SO_ERROR && s->state == MW_SS_CONNECTING) {
            memset(rep.u.sockopt.val, 0, len);   /* still in progress: no error yet */
        }
        rep.u.sockopt.optlen = len;
        reply(c, m, 0, &rep);
        return;
    }
    if (m->h.flags & MW_CTL_F_NOREPLY) {
        /* fire and forget: the shim already answered (an option that cannot fail once valid) */
        if (apply_opt_allowed(o->level, o->optname) && s->tcp >= 0 &&
            setsockopt(s->tcp, o->level, o->optname, o->val, o->optlen) < 0)
            mw_dbg("setsockopt(%d,%d) on %llx: %m", o->level, o->optname, (unsigned long long)s->sockid);
        return;
    }
    if (!apply_opt_allowed(o->level, o->optname)) {
        reply(c, m, -EPERM, &rep);
        return;
    }
    if (s->tcp < 0) {
        reply(c, m, -EINVAL, &rep);
        return;
    }
    if (setsockopt(s->tcp, o->level, o->optname, o->val, o->optlen) < 0) {
        reply(c, m, -errno, &rep);
        return;
    }
    reply(c, m, 0, &rep);
}

static void op_restore(struct ins_ctx *c, struct mw_ctl_msg *m, int *fds, int nfds)
{
    struct mw_ctl_restore *rs = &m->u.restore;
    struct sockaddr_storage ss;
    struct ins_sock *s;
    int fd, len, one = 1;

    if (nfds != 1 || mw_u64map_get(&c->socks, m->h.sockid)) {
        reply_info(c, m, -EINVAL, NULL);
        return;
    }
    fd = socket(rs->domain, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0) {
        reply_info(c, m, -errno, NULL);
        return;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (c->flags & MW_INS_F_REUSEPORT)
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    for (uint32_t i = 0; i < rs->nopts; i++)
        if (apply_opt_allowed(rs->opts[i].level, rs->opts[i].optname))
            setsockopt(fd, rs->opts[i].level, rs->opts[i].optname, &rs->opts[i].val, sizeof(int));
    len = mw_ctl_addr_to_sockaddr(&rs->local, &ss);
    if (bind(fd, (struct sockaddr *)&ss, (socklen_t)len) < 0 || listen(fd, rs->backlog > 0 ? rs->backlog : 511) < 0) {
        int e = errno;
        mw_log("restore listener %llx: bind/listen: %s", (unsigned long long)m->h.sockid, strerror(e));
        close(fd);
        reply_info(c, m, -e, NULL);
        return;
    }
    s = sock_new(c, m->h.sockid, K_PRE, rs->domain);
    if (!s) {
        close(fd);
        reply_info(c, m, -ENOMEM, NULL);
        return;
    }
    s->tcp = fd;
    listener_make(c, s, fds[0]);
    fds[0] = -1;
    reply_info(c, m, 0, s);
}

/* A connection the front end accepted on the host side for one of our listeners. */
static void op_handoff(struct ins_ctx *c, struct mw_ctl_msg *m, int *fds, int nfds)
{
    struct ins_sock *l = mw_u64map_get(&c->socks, m->h.sockid);
    int fd;
    if (nfds != 1 || !l || l->kind != K_LISTENER) {
        reply(c, m, -EBADF, NULL);
        return;
    }
    fd = fds[0];
    fds[0] = -1;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    if (l->held_conn || l->hq_head) {
        /* the program is not keeping up: queue it like the kernel's accept backlog would; refuse
         * only past that */
        struct ins_handq *q = l->hq_len < INS_HANDQ_MAX ? malloc(sizeof(*q)) : NULL;
        if (!q) {
            close(fd);
            reply(c, m, -EAGAIN, NULL);
            return;
        }
        q->next = NULL;
        q->fd = fd;
        q->peer = m->u.handoff.peer;
        if (l->hq_tail)
            l->hq_tail->next = q;
        else
            l->hq_head = q;
        l->hq_tail = q;
        l->hq_len++;
        listener_interest(c, l);
        return;   /* answered when it is delivered (or refused) */
    }
    conn_package(c, l, fd, &m->u.handoff.peer, 1);
    if (!l->dead)
        listener_interest(c, l);
    reply(c, m, 0, NULL);
}

static uint32_t val_u32(const uint8_t *v)
{
    uint32_t x;
    memcpy(&x, v, 4);
    return x;
}

static void op_feature(struct ins_ctx *c, struct mw_ctl_msg *m)
{
    struct mw_ctl_msg rep;
    struct mw_ctl_feature *f = &m->u.feature;
    struct ins_sock *s = NULL;
    int wr = f->flags & 1, lvl = SOL_SOCKET, opt = -1, st = 0;
    uint32_t v = val_u32(f->val);

    memset(&rep, 0, sizeof(rep));
    rep.u.feature = *f;
    memset(rep.u.feature.val, 0, sizeof(rep.u.feature.val));
    if (f->flags & 2) {
        s = mw_u64map_get(&c->socks, m->h.sockid);
        if (!s) {
            reply(c, m, -EBADF, &rep);
            return;
        }
    }
    switch (f->name) {
    case 0x0101:   /* is-open; write 0 closes */
        if (!s) { st = -EINVAL; break; }
        if (wr) {
            if (v == 0)
                sock_destroy(c, s);
        } else {
            uint32_t one = 1;
            memcpy(rep.u.feature.val, &one, 4);
        }
        break;
    case 0x0004: opt = SO_REUSEADDR; break;
    case 0x0005: opt = SO_REUSEPORT; break;
    case 0x0006: opt = SO_KEEPALIVE; break;
    case 0x0007: lvl = IPPROTO_TCP; opt = TCP_DEFER_ACCEPT; break;
    case 0x0008: lvl = IPPROTO_TCP; opt = TCP_NODELAY; break;
    case 0x0109: opt = SO_SNDBUF; break;
    case 0x010a: opt = SO_RCVBUF; break;
    case 0x010d: opt = SO_SNDLOWAT; break;
    case 0x010e: opt = SO_RCVLOWAT; break;
    case 0x010f: opt = SO_ERROR; if (wr) st = -EPERM; break;
    case 0x010b:   /* sndtimeo / rcvtimeo: struct timeval on the real socket */
    case 0x010c: {
        int o = f->name == 0x010b ? SO_SNDTIMEO : SO_RCVTIMEO;
        struct timeval tv;
        uint64_t sec, usec;
        socklen_t l = sizeof(tv);
        if (!s || s->tcp < 0) { st = -EBADF; break; }
        if (wr) {
            memcpy(&sec, f->val, 8);
            memcpy(&usec, f->val + 8, 8);
            if (usec >= 1000000 || sec > (uint64_t)INT32_MAX) { st = -EINVAL; break; }
            tv.tv_sec = (time_t)sec;
            tv.tv_usec = (suseconds_t)usec;
            if (setsockopt(s->tcp, SOL_SOCKET, o, &tv, sizeof(tv)) < 0) { st = -errno; break; }
            timeo_set(c, s, o == SO_RCVTIMEO, sec * 1000000000ull + usec * 1000ull);
        }
        if (getsockopt(s->tcp, SOL_SOCKET, o, &tv, &l) < 0) { st = -errno; break; }
        sec = (uint64_t)tv.tv_sec;
        usec = (uint64_t)tv.tv_usec;
        memcpy(rep.u.feature.val, &sec, 8);
        memcpy(rep.u.feature.val + 8, &usec, 8);
        break;
    }
    case 0x0110: {  /* tcp-info (extension): rtt, rttvar, cwnd, retransmissions */
        struct tcp_info ti;
        socklen_t l = sizeof(ti);
        uint32_t v4[4];
        if (wr) { st = -EPERM; break; }
        if (!s || s->tcp < 0) { st = -EBADF; break; }
        memset(&ti, 0, sizeof(ti));
        if (getsockopt(s->tcp, IPPROTO_TCP, TCP_INFO, &ti, &l) < 0) { st = -errno; break; }
        v4[0] = ti.tcpi_rtt;
        v4[1] = ti.tcpi_rttvar;
        v4[2] = ti.tcpi_snd_cwnd;
        v4[3] = ti.tcpi_total_retrans;
        memcpy(rep.u.feature.val, v4, 16);
        break;
    }
    case 0x2006:   /* ins-max-sockets: this INS refuses sockets/connections beyond it */
        if (wr)
            c->max_sockets = v;
        memcpy(rep.u.feature.val, &c->max_sockets, 4);
        break;
    case 0x0003: /* nonblock is the app's own fd flag; the INS side is always non-blocking */
        if (wr) st = -EPERM;
        else memcpy(rep.u.feature.val, &(uint32_t){1}, 4);
        break;
    case 0x1101: {  /* congestion control for new sockets (and existing ones) */
        const char *name = v == 0x90 || v == 0x91 ? "reno" : v == 0x92 ? "cubic" : NULL;
        if (!wr) {
            uint32_t cur = strcmp(c->cc, "reno") == 0 ? 0x90 : 0x92;
            memcpy(rep.u.feature.val, &cur, 4);
            break;
        }
        if (!name) { st = -EINVAL; break; }
        snprintf(c->cc, sizeof(c->cc), "%s", name);
        for (size_t i = 0; i < c->socks.cap; i++)
            if (c->socks.keys[i]) {
                struct ins_sock *x = c->socks.vals[i];
                if (x->tcp >= 0)
                    setsockopt(x->tcp, IPPROTO_TCP, TCP_CONGESTION, name, (socklen_t)strlen(name));
            }
        break;
    }
    case 0x1102: {  /* delayed ACK: 0 = quick ACK on every socket */
        if (!wr) { st = -ENOTSUP; break; }
        int q = v ? 0 : 1;
        for (size_t i = 0; i < c->socks.cap; i++)
            if (c->socks.keys[i]) {
                struct ins_sock *x = c->socks.vals[i];
                if (x->tcp >= 0 && x->kind == K_CONN)
                    setsockopt(x->tcp, IPPROTO_TCP, TCP_QUICKACK, &q, sizeof(q));
            }
        break;
    }
    case 0x1103: {  /* address block; ident = {af u32, addr[16]} (host order here) */
        uint32_t af;
        struct mw_ctl_addr a;
        memcpy(&af, f->ident, 4);
        memset(&a, 0, sizeof(a));
        a.family = af == 4 || af == AF_INET ? AF_INET : af == 6 || af == AF_INET6 ? AF_INET6 : 0;
        memcpy(a.addr, f->ident + 4, a.family == AF_INET ? 4 : 16);
        if (!a.family) { st = -EINVAL; break; }
        int idx = -1;
        for (int i = 0; i < c->nblocked; i++)
            if (c->blocked[i].family == a.family && memcmp(c->blocked[i].addr, a.addr, 16) == 0)
                idx = i;
        if (!wr) {
            uint32_t b = idx >= 0;
            memcpy(rep.u.feature.val, &b, 4);
            break;
        }
        if (v && idx < 0) {
            if (c->nblocked >= 64) { st = -ENOSPC; break; }
            c->blocked[c->nblocked].family = a.family;
            memcpy(c->blocked[c->nblocked].addr, a.addr, 16);
            c->nblocked++;
        } else if (!v && idx >= 0) {
            c->blocked[idx] = c->blocked[--c->nblocked];
        }
        if (v == 2) {   /* also close existing connections from it */
            struct ins_sock **v2 = calloc(c->socks.count + 1, sizeof(*v2));
            size_t k = 0;
            for (size_t i = 0; v2 && i < c->socks.cap; i++)
                if (c->socks.keys[i]) {
                    struct ins_sock *x = c->socks.vals[i];
                    if (x->kind == K_CONN && is_blocked(c, &x->peer))
                        v2[k++] = x;
                }
            for (size_t i = 0; i < k; i++)
                sock_destroy(c, v2[i]);
            free(v2);
        }
        break;
    }
    default:
        st = -ENOTSUP;
    }
    if (opt >= 0 && st == 0) {
        if (!s || s->tcp < 0) {
            st = -EBADF;
        } else if (wr) {
            int iv = (int)v;
            if (setsockopt(s->tcp, lvl, opt, &iv, sizeof(iv)) < 0)
                st = -errno;
        } else {
            int iv = 0;
            socklen_t l = sizeof(iv);
            if (getsockopt(s->tcp, lvl, opt, &iv, &l) < 0)
                st = -errno;
            memcpy(rep.u.feature.val, &iv, 4);
        }
    }
    reply(c, m, st, &rep);
}

void ins_handle(struct ins_ctx *c, struct mw_ctl_msg *m, int *fds, int nfds)
{
    struct ins_sock *s = NULL;
    unsigned op = m->h.op;

    if (m->h.flags & MW_CTL_F_REPLY)
        return;   /* mwcomms sends no replies to us */
    switch (op) {
    case MW_OP_INS_HELLO:
        if (nfds == 2 && !c->have_ring) {
            int r = mw_ring_attach(&c->ring, fds[0], fds[1], sizeof(struct mw_ctl_obs_rec));
            if (r < 0) {
                mw_log("observation ring: %s; using the control socket", strerror(-r));
                mw_ring_destroy(&c->ring);
            } else {
                c->have_ring = 1;
            }
            fds[0] = fds[1] = -1;   /* owned by the ring (or closed) now */
        }
        pool_drain(c);   /* made under the previous gen/nonce, if any */
        c->gen = m->u.ins_hello.gen;
        c->nonce = m->u.ins_hello.nonce;
        c->obs_interval_ms = m->u.ins_hello.obs_interval_ms;
        c->id = m->u.ins_hello.ins_id;
        c->flags = m->u.ins_hello.flags;
        c->max_sockets = m->u.ins_hello.max_sockets;
        c->busy_poll_us = m->u.ins_hello.busy_poll_us > 1000 ? 1000 : m->u.ins_hello.busy_poll_us;
        c->coalesce_ns = (uint64_t)(m->u.ins_hello.coalesce_us > 1000 ? 1000 : m->u.ins_hello.coalesce_us) * 1000u;
        c->ready = 1;
        return;
    case MW_OP_SOCKET:
        op_socket(c, m, fds, nfds);
        return;
    case MW_OP_INS_RESTORE:
        op_restore(c, m, fds, nfds);
        return;
    case MW_OP_INS_HANDOFF:
        op_handoff(c, m, fds, nfds);
        return;
    case MW_OP_INS_FEATURE:
        op_feature(c, m);
        return;
    default:
        break;
    }
    s = mw_u64map_get(&c->socks, m->h.sockid);
    if (!s) {
        if (!(m->h.flags & MW_CTL_F_NOREPLY))
            reply_info(c, m, -EBADF, NULL);
        return;
    }
    switch (op) {
    case MW_OP_BIND: op_bind(c, m, s); break;
    case MW_OP_LISTEN: op_listen(c, m, s, fds, nfds); break;
    case MW_OP_CONNECT: op_connect(c, m, s, fds, nfds); break;
    case MW_OP_GETSOCKOPT: case MW_OP_SETSOCKOPT: op_sockopt(c, m, s); break;
    case MW_OP_INFO: reply_info(c, m, 0, s); break;
    case MW_OP_INS_CLOSE: sock_destroy(c, s); reply(c, m, 0, NULL); break;
    default: reply_info(c, m, -EPROTO, NULL); break;
    }
}

static void ctl_readable(struct ins_ctx *c)
{
    struct mw_ctl_msg m;
    int fds[MW_CTL_MAX_FDS], nfds;
    for (int i = 0; i < 64; i++) {
        ssize_t n = mw_ctl_recv(c->ctl, &m, sizeof(m), fds, &nfds, MSG_DONTWAIT);
        if (n == -EAGAIN)
            return;
        if (n <= 0) {
            if (n < 0)
                mw_log("recvmsg(ctl): %s", strerror((int)-n));
            c->quit = 1;
            return;
        }
        int r = mw_ctl_check(&m, (size_t)n, nfds, MW_FROM_HUB);
        if (r < 0) {
            mw_log("malformed message from mwcomms (%s): %s", mw_ctl_op_name(m.h.op), strerror(-r));
            if ((size_t)n >= sizeof(struct mw_ctl_hdr) && !(m.h.flags & MW_CTL_F_REPLY) &&
                m.h.op < MW_OP__MAX) {
                struct mw_ctl_msg rep;
                memset(&rep, 0, sizeof(rep));
                if (mw_ctl_payload_len(m.h.op, 1) >= 0)
                    reply(c, &m, r, &rep);
            }
        } else {
            ins_handle(c, &m, fds, nfds);
        }
        mw_ctl_close_fds(fds, nfds);
    }
}

int ins_init(struct ins_ctx *c, int ctl_fd, uint32_t id)
{
    struct epoll_event ev;
    memset(c, 0, sizeof(*c));
    c->ctl = ctl_fd;
    c->id = id;
    c->gen = 1;
    c->ep = epoll_create1(EPOLL_CLOEXEC);
    if (c->ep < 0)
        return -errno;
    c->scratch_len = SCRATCH;
    c->scratch = malloc(SCRATCH);
    c->batch = calloc(1, sizeof(*c->batch));
    if (!c->scratch || !c->batch || mw_u64map_init(&c->socks, 1024) < 0)
        return -ENOMEM;
    c->batch->h.magic = MW_CTL_MAGIC;
    c->batch->h.version = MW_CTL_VERSION;
    c->batch->h.op = MW_OP_OBS_BATCH;
    fcntl(ctl_fd, F_SETFL, fcntl(ctl_fd, F_GETFL) | O_NONBLOCK);
    c->ctltag.type = T_CTL;
    c->ctl_ev = EPOLLIN;
    ev.events = EPOLLIN;
    ev.data.ptr = &c->ctltag;
    if (epoll_ctl(c->ep, EPOLL_CTL_ADD, ctl_fd, &ev) < 0)
        return -errno;
    return 0;
}

static void reap(struct ins_ctx *c)
{
    while (c->free_list) {
        struct ins_sock *s = c->free_list;
        c->free_list = s->next_free;
        free(s);
    }
}

/* Wait for events. A sleeping INS costs every message that reaches it a wake-up (tens of
 * microseconds on a virtual machine), and a request crosses the INS three times (connection,
 * response, close), so after a busy round it first polls for busy_poll_us (like SO_BUSY_POLL).
 * Between polls it yields: a program that is ready to run on this CPU (often the one the INS is
 * waiting for) runs first, so polling takes only otherwise idle time. (Stopping the polling once
 * a yield has run another task was tried: the client and the INS often share a CPU, and the
 * added median at ab -c1 grew by 20-35 us.) An idle INS sleeps at once.
 * Idle moments also top up the pool of connection pairs, one pair per poll. */
#define INS_MAX_EVENTS 256
static int ins_wait(struct ins_ctx *c, struct epoll_event *evs, int timeout)
{
    uint64_t until = 0;
    int n = epoll_wait(c->ep, evs, INS_MAX_EVENTS, 0);
    if (n != 0 || timeout == 0)
        return n;
    if (c->round_events > 0 && c->busy_poll_us)   /* the previous round was busy */
        until = mw_now_ns() + (uint64_t)c->busy_poll_us * 1000u;
    for (;;) {
        int want_pool = c->ready && c->npool < INS_POOL_TARGET;
        if (!want_pool && (!until || mw_now_ns() >= until))
            break;
        /* first let whoever is ready on this CPU run (often the program we just woke, or the
         * client it answers), then look for events, and only then spend an idle moment on a
         * new pair */
        sched_yield();
        n = epoll_wait(c->ep, evs, INS_MAX_EVENTS, 0);
        if (n != 0)
            return n;
        if (want_pool && pool_topup(c)) {
            n = epoll_wait(c->ep, evs, INS_MAX_EVENTS, 0);
            if (n != 0)
                return n;
        }
    }
    return epoll_wait(c->ep, evs, INS_MAX_EVENTS, timeout);
}

int ins_run(struct ins_ctx *c)
{
    struct epoll_event evs[INS_MAX_EVENTS];
    uint64_t batch_since = 0;
    while (!c->quit) {
        /* Observations wait in the batch for at most ~1 ms (or until it is full, or something
         * else goes to mwcomms): mwcomms is woken about once a millisecond under load instead of
         * once per relay operation. */
        int timeout = -1;
        int pending = (c->have_ring && c->ring.unsignalled) || c->batch->b.count;
        if (pending) {
            uint64_t now = mw_now_ns();
            if (!batch_since)
                batch_since = now;
            if (now - batch_since >= 1000000ull || (c->have_ring && c->ring.unsignalled >= 256)) {
                if (c->have_ring)
                    mw_ring_kick(&c->ring);   /* a syscall only if mwcomms sleeps */
                flush_batch(c);
                batch_since = 0;
            } else {
                timeout = 1;
            }
        } else {
            batch_since = 0;
        }
        if (c->ntimed) {
            uint64_t now = mw_now_ns();
            if (now >= c->next_timeo_scan)
                timeo_scan(c, now);
            if (timeout < 0 || timeout > TIMEO_SCAN_MS)
                timeout = TIMEO_SCAN_MS;
        }
        int n = ins_wait(c, evs, timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            mw_log("epoll_wait: %m");
            return -errno;
        }
        c->round_events = n;
        for (int i = 0; i < n; i++) {
            struct ins_tag *t = evs[i].data.ptr;
            uint32_t ev = evs[i].events;
            if (t->type == T_CTL) {
                if (ev & EPOLLOUT)
                    flush_q(c);
                if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))
                    ctl_readable(c);
                continue;
            }
            struct ins_sock *s = t->s;
            if (s->dead)
                continue;
            switch (s->kind) {
            case K_PRE:
                if (ev & (EPOLLHUP | EPOLLRDHUP | EPOLLERR))
                    sock_destroy(c, s);   /* closed by the application before use */
                break;
            case K_LISTENER:
                listener_event(c, s, t->type, ev);
                break;
            case K_CONN:
                if (s->state == MW_SS_CONNECTING) {
                    if (t->type == T_TCP)
                        connect_done(c, s);
                    break;
                }
                conn_event(c, s, t->type, ev);
                break;
            }
        }
        if (c->batch->b.count >= MW_CTL_OBS_BATCH / 2)
            flush_batch(c);
        reap(c);
        /* A response is waiting for the rest of itself, and the level-triggered event makes the
         * next poll return at once: let the program that is writing it have this CPU first. */
        if (c->coal_waiting) {
            c->coal_waiting = 0;
            sched_yield();
        }
    }
    return 0;
}

void ins_fini(struct ins_ctx *c)
{
    /* sock_destroy deletes from the map (backward shift): re-check the slot after each one */
    for (size_t i = 0; i < c->socks.cap;) {
        if (c->socks.keys[i])
            sock_destroy(c, c->socks.vals[i]);
        else
            i++;
    }
    reap(c);
    pool_drain(c);
    mw_log("connection pairs ready-made %llu, made on the spot %llu; response waits ended in a close "
           "%llu, timed out %llu; connections aborted by sndtimeo/rcvtimeo %llu",
           (unsigned long long)c->pool_hits, (unsigned long long)c->pool_misses,
           (unsigned long long)c->coal_hits, (unsigned long long)c->coal_misses,
           (unsigned long long)c->timeouts);
    flush_batch(c);
    free(c->batch);
    c->batch = NULL;
    if (c->have_ring) {
        mw_ring_kick(&c->ring);
        mw_ring_destroy(&c->ring);
        c->have_ring = 0;
    }
    while (c->q_head) {
        struct ins_outq *q = c->q_head;
        c->q_head = q->next;
        free(q);
    }
    mw_u64map_free(&c->socks);
    free(c->scratch);
    if (c->ep >= 0)
        close(c->ep);
}
