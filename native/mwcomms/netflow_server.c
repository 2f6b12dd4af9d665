/* NetFlow TCP server (see netflow_server.h and docs/protocol.md).
 *
 * Data path: mw_nf_server_emit() encodes the record once, then, holding the client list's read
 * lock, copies it into each subscribed client's ring under that client's mutex (a 116-byte memcpy:
 * the only work done while holding it). When the ring is full the oldest record is overwritten and
 * counted as dropped; the per-client sequence number written into the base id at enqueue time makes
 * the gap visible to the client. The server thread is woken through an eventfd only when a client it
 * had nothing left to send for ("armed") gets data, and only once per wake (wake_pending), so a busy
 * stream costs the emitter no syscall.
 *
 * Server thread: one epoll loop for the listener, the eventfd and every client. Each client has an
 * output buffer filled from its control queue (responses, snapshots: never dropped) first and from
 * its record ring second, so a response is never interleaved into a record. A client whose socket
 * buffer is full simply stops being written to (EPOLLOUT) while its ring keeps absorbing and dropping;
 * other clients are unaffected. Requests are framed per client with mw_nf_reader (partial reads).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mw/log.h"
#include "netflow_server.h"

#define NF_DEFAULT_QUEUE   65536
#define NF_OUTBUF          (64 * 1024)
#define NF_CTL_PAUSE       (256 * 1024) /* stop reading requests while this much output waits */
#define NF_MAX_PENDING     256          /* requests handed to the data plane, not yet answered */
#define NF_AUTH_TIMEOUT_MS 10000        /* token mode: time to authenticate */
#define NF_CLOSE_LINGER_MS 5000         /* time to flush the last error before a forced close */
#define NF_FLUSH_BUDGET    8            /* output buffers per client per loop turn (fairness) */
#define NF_TABLE_MAX       (1u << 20)   /* open sockets remembered for SOCKET_LIST */
#define NF_MAX_CLIENTS     1024         /* keeps NetFlow clients from eating mwcomms' fd budget
                                         * (hard limit 20,000 per process on these machines) */

struct nf_client {
    uint64_t id;
    int fd;
    char peer[64];

    pthread_mutex_t lock;   /* guards everything down to 'lock end' */
    uint8_t *ring;          /* cap encoded records */
    size_t head, count;
    uint32_t next_seq;
    uint64_t dropped, queued;
    int armed;              /* server thread has nothing to send: wake it on new data */
    int monitor;            /* receives info records */
    int subscribed;         /* authenticated, or no token configured */
    uint8_t *ctl;           /* responses and snapshots, never dropped */
    size_t ctl_len, ctl_cap;
    unsigned pending;       /* requests given to on_request, not answered yet */
    /* lock end */

    /* server thread only */
    uint8_t out[NF_OUTBUF];
    size_t out_len, out_off, out_records;
    uint64_t sent;
    struct mw_nf_reader rd;
    uint8_t in[4096];       /* bytes read but not yet parsed (parsing pauses at the limits) */
    size_t in_len, in_off;
    uint32_t ev_mask;       /* currently registered epoll events */
    int want_out;           /* waiting for EPOLLOUT */
    int eof;                /* peer shut down its write side: no more requests */
    int closing;            /* flush what is queued, then close */
    const char *close_why;  /* for the log line when it closes */
    int dead;
    uint64_t deadline_ms;   /* auth or close deadline, 0 = none */
    struct nf_client *next_dead; /* closed, freed at the end of the loop turn */
};

struct nf_entry {           /* open socket table: latest record per socket id */
    int64_t key;
    int used;
    uint8_t rec[MW_NF_INFO_LEN];
};

struct mw_nf_server {
    struct mw_nf_server_config cfg;
    char bind_addr[128];
    char token[MW_NF_TOKEN_MAX + 1];
    size_t token_len;
    size_t qcap;
    int lfd, efd, epfd, reserve_fd;
    uint16_t port;
    pthread_t thread;
    int stop;

    pthread_rwlock_t clients_lock; /* readers: emit/respond; writer: the server thread */
    struct nf_client **clients;
    size_t nclients, clients_cap;
    uint64_t next_client_id;
    int wake_pending;
    struct nf_client *grave; /* closed clients, freed when no epoll event can refer to them */

    pthread_mutex_t tab_lock;
    struct nf_entry *tab;
    size_t tab_cap, tab_used;

    struct mw_nf_server_stats st; /* counters updated with __atomic builtins */
};

static char listen_tag, event_tag;

/* Every line says which syscall failed and what happens next; mw_log adds program and pid. */
static void nf_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void nf_log(const char *fmt, ...)
{
#ifdef MW_NF_QUIET /* the fuzzer includes this file and would drown in expected complaints */
    if (fmt)
        return;
#endif
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    mw_log("netflow: %s", line);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#define STAT_ADD(srv, field, n) __atomic_add_fetch(&(srv)->st.field, (n), __ATOMIC_RELAXED)

static void wake(struct mw_nf_server *srv)
{
    if (__atomic_exchange_n(&srv->wake_pending, 1, __ATOMIC_ACQ_REL) == 0) {
        uint64_t one = 1;
        if (write(srv->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
            nf_log("write(eventfd) failed: %s", strerror(errno));
    }
}

/* ---- open socket table (linear probing, backward-shift delete) ---------------------------- */
static size_t tab_slot(int64_t key, size_t cap)
{
    uint64_t h = (uint64_t)key * 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 17) & (cap - 1);
}

static struct nf_entry *tab_find(struct mw_nf_server *srv, int64_t key, int insert)
{
    if (insert && (srv->tab_used + 1) * 2 > srv->tab_cap) {
        if (srv->tab_cap >= NF_TABLE_MAX * 2)
            goto lookup; /* full: remember no new sockets, existing ones still update */
        size_t ncap = srv->tab_cap ? srv->tab_cap * 2 : 1024;
        struct nf_entry *nt = calloc(ncap, sizeof(*nt));
        if (!nt)
            goto lookup;
        for (size_t i = 0; i < srv->tab_cap; i++) {
            if (!srv->tab[i].used)
                continue;
            size_t j = tab_slot(srv->tab[i].key, ncap);
            while (nt[j].used)
                j = (j + 1) & (ncap - 1);
            nt[j] = srv->tab[i];
        }
        free(srv->tab);
        srv->tab = nt;
        srv->tab_cap = ncap;
    }
lookup:
    if (!srv->tab_cap)
        return NULL;
    size_t i = tab_slot(key, srv->tab_cap);
    while (srv->tab[i].used) {
        if (srv->tab[i].key == key)
            return &srv->tab[i];
        i = (i + 1) & (srv->tab_cap - 1);
    }
    if (!insert || (srv->tab_used + 1) * 2 > srv->tab_cap)
        return NULL;
    srv->tab[i].used = 1;
    srv->tab[i].key = key;
    srv->tab_used++;
    return &srv->tab[i];
}

static void tab_delete(struct mw_nf_server *srv, int64_t key)
{
    struct nf_entry *e = tab_find(srv, key, 0);
    if (!e)
        return;
    size_t mask = srv->tab_cap - 1, i = (size_t)(e - srv->tab), j = i;
    srv->tab[i].used = 0;
    srv->tab_used--;
    for (;;) {
        j = (j + 1) & mask;
        if (!srv->tab[j].used)
            break;
        size_t k = tab_slot(srv->tab[j].key, srv->tab_cap);
        /* move j back into the hole at i unless its home slot lies cyclically in (i, j] */
        if ((i <= j) ? (i < k && k <= j) : (i < k || k <= j))
            continue;
        srv->tab[i] = srv->tab[j];
        srv->tab[j].used = 0;
        i = j;
    }
}

static void tab_update(struct mw_nf_server *srv, const struct mw_nf_obs *o, const uint8_t *rec)
{
    pthread_mutex_lock(&srv->tab_lock);
    if (o->obs == MW_NF_OBS_CLOSE) {
        tab_delete(srv, o->sockid);
    } else {
        struct nf_entry *e = tab_find(srv, o->sockid, 1);
        if (e)
            memcpy(e->rec, rec, MW_NF_INFO_LEN);
        if (o->obs == MW_NF_OBS_ACCEPT && o->extra && (int64_t)o->extra != o->sockid) {
            /* the accepted connection exists from now on, even before its own first record */
            struct nf_entry *n = tab_find(srv, (int64_t)o->extra, 1);
            if (n) {
                struct mw_nf_info in;
                mw_nf_info_decode(rec, MW_NF_INFO_LEN, &in);
                in.sockfd = (int64_t)o->extra;
                in.extra = 0;
                in.bytes_in = in.bytes_out = 0;
                in.start_sec = o->ts_sec;
                in.start_nsec = o->ts_nsec;
                mw_nf_info_encode(&in, n->rec);
            }
        }
    }
    __atomic_store_n(&srv->st.open_sockets, srv->tab_used, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&srv->tab_lock);
}

/* ---- emit (any thread) --------------------------------------------------------------------- */
void mw_nf_server_emit(struct mw_nf_server *srv, const struct mw_nf_obs *o)
{
    struct mw_nf_info in = {
        .sig = MW_NF_SIG_INFO, .id = 0, .obs = o->obs,
        .start_sec = o->start_sec, .start_nsec = o->start_nsec,
        .ts_sec = o->ts_sec, .ts_nsec = o->ts_nsec, .sockfd = o->sockid,
        .local = o->local, .remote = o->remote,
        .bytes_in = o->bytes_in, .bytes_out = o->bytes_out, .extra = o->extra,
    };
    uint8_t rec[MW_NF_INFO_LEN];
    int need_wake = 0;
    uint64_t queued = 0, dropped = 0; /* added to the shared counters once, not per client */
    mw_nf_info_encode(&in, rec);
    STAT_ADD(srv, records_emitted, 1);
    tab_update(srv, o, rec);

    pthread_rwlock_rdlock(&srv->clients_lock);
    for (size_t i = 0; i < srv->nclients; i++) {
        struct nf_client *c = srv->clients[i];
        pthread_mutex_lock(&c->lock);
        if (c->monitor && c->subscribed) {
            size_t slot;
            if (c->count == srv->qcap) { /* full: the oldest record goes */
                slot = c->head;
                c->head = (c->head + 1) % srv->qcap;
                c->dropped++;
                dropped++;
            } else {
                slot = (c->head + c->count) % srv->qcap;
                c->count++;
            }
            uint8_t *dst = c->ring + slot * MW_NF_INFO_LEN;
            uint32_t seq = c->next_seq++;
            memcpy(dst, rec, MW_NF_INFO_LEN);
            dst[2] = (uint8_t)(seq >> 24);
            dst[3] = (uint8_t)(seq >> 16);
            dst[4] = (uint8_t)(seq >> 8);
            dst[5] = (uint8_t)seq;
            c->queued++;
            queued++;
            if (c->armed) {
                __atomic_store_n(&c->armed, 0, __ATOMIC_RELAXED);
                need_wake = 1;
            }
        }
        pthread_mutex_unlock(&c->lock);
    }
    pthread_rwlock_unlock(&srv->clients_lock);
    if (queued)
        STAT_ADD(srv, records_queued, queued);
    if (dropped)
        STAT_ADD(srv, records_dropped, dropped);
    if (need_wake)
        wake(srv);
}

/* Appends whole messages to a client's control queue; caller holds c->lock. */
static int ctl_append(struct nf_client *c, const uint8_t *buf, size_t len)
{
    if (c->ctl_len + len > c->ctl_cap) {
        size_t ncap = c->ctl_cap ? c->ctl_cap : 4096;
        while (ncap < c->ctl_len + len)
            ncap *= 2;
        uint8_t *n = realloc(c->ctl, ncap);
        if (!n)
            return -ENOMEM;
        c->ctl = n;
        c->ctl_cap = ncap;
    }
    memcpy(c->ctl + c->ctl_len, buf, len);
    c->ctl_len += len;
    return 0;
}

/* Queues a response; 'routed' = it answers a request handed to on_request. Caller holds c->lock.
 * Returns -ENOMEM, 0, or 1 when the server thread was idle for this client (armed) and needs a wake
 * unless the caller is that thread. */
static int queue_response_locked(struct mw_nf_server *srv, struct nf_client *c, uint32_t id,
                                 uint32_t status, const uint8_t *val, int routed)
{
    struct mw_nf_feature_response r = { .sig = MW_NF_SIG_RESPONSE, .id = id, .status = status };
    uint8_t buf[MW_NF_RESPONSE_LEN];
    if (val)
        memcpy(r.val, val, MW_NF_VAL_LEN);
    mw_nf_response_encode(&r, buf);
    int rc = ctl_append(c, buf, sizeof(buf));
    int was_full = routed && c->pending >= NF_MAX_PENDING;
    if (routed && c->pending)
        c->pending--;
    if (rc == 0)
        STAT_ADD(srv, responses, 1);
    /* the server thread must look at this client again; a caller off that thread wakes it */
    int was_armed = c->armed;
    __atomic_store_n(&c->armed, 0, __ATOMIC_RELAXED);
    return rc < 0 ? rc : (was_armed || was_full);
}

int mw_nf_server_respond(struct mw_nf_server *srv, uint64_t client_id, uint32_t req_id,
                         uint32_t status, const uint8_t val[16])
{
    int rc = -ENOENT, need_wake = 0;
    pthread_rwlock_rdlock(&srv->clients_lock);
    for (size_t i = 0; i < srv->nclients; i++) {
        struct nf_client *c = srv->clients[i];
        if (c->id != client_id)
            continue;
        pthread_mutex_lock(&c->lock);
        rc = queue_response_locked(srv, c, req_id, status, val, 1);
        pthread_mutex_unlock(&c->lock);
        if (rc > 0) {
            need_wake = 1;
            rc = 0;
        }
        break;
    }
    pthread_rwlock_unlock(&srv->clients_lock);
    if (need_wake)
        wake(srv);
    return rc;
}

/* ---- server thread: clients ------------------------------------------------------------ */
/* Too much waiting for this client: stop taking its requests until it drains. */
static int client_paused(struct nf_client *c)
{
    pthread_mutex_lock(&c->lock);
    int paused = c->ctl_len > NF_CTL_PAUSE || c->pending >= NF_MAX_PENDING;
    pthread_mutex_unlock(&c->lock);
    return paused;
}

static void client_set_events(struct mw_nf_server *srv, struct nf_client *c)
{
    if (c->dead)
        return;
    int paused = client_paused(c) || c->in_off < c->in_len;
    uint32_t mask = 0;
    if (!c->eof && !c->closing && !paused)
        mask |= EPOLLIN;
    if (c->want_out)
        mask |= EPOLLOUT;
    if (mask == c->ev_mask)
        return;
    struct epoll_event ev = { .events = mask, .data.ptr = c };
    if (epoll_ctl(srv->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        nf_log("epoll_ctl(MOD) for client %llu failed: %s", (unsigned long long)c->id,
               strerror(errno));
    else
        c->ev_mask = mask;
}

static void client_close(struct mw_nf_server *srv, struct nf_client *c, const char *why)
{
    if (c->dead)
        return;
    c->dead = 1;
    epoll_ctl(srv->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    pthread_rwlock_wrlock(&srv->clients_lock);
    for (size_t i = 0; i < srv->nclients; i++) {
        if (srv->clients[i] == c) {
            srv->clients[i] = srv->clients[--srv->nclients];
            break;
        }
    }
    pthread_rwlock_unlock(&srv->clients_lock);
    STAT_ADD(srv, clients, (uint64_t)-1);
    nf_log("client %llu (%s) disconnected: %s; sent %llu records, dropped %llu",
           (unsigned long long)c->id, c->peer, why, (unsigned long long)c->sent,
           (unsigned long long)c->dropped);
    close(c->fd);
    c->fd = -1;
    c->next_dead = srv->grave;
    srv->grave = c;
}

static void client_free(struct nf_client *c)
{
    pthread_mutex_destroy(&c->lock);
    free(c->ring);
    free(c->ctl);
    free(c);
}

static void free_grave(struct mw_nf_server *srv)
{
    while (srv->grave) {
        struct nf_client *c = srv->grave;
        srv->grave = c->next_dead;
        client_free(c);
    }
}

/* Writes what the client has; returns 1 when it stopped because of the fairness budget. */
static int client_flush(struct mw_nf_server *srv, struct nf_client *c)
{
    for (int turn = 0; turn < NF_FLUSH_BUDGET && !c->dead; turn++) {
        if (c->out_off == c->out_len) {
            c->sent += c->out_records;
            STAT_ADD(srv, records_sent, c->out_records);
            c->out_off = c->out_len = c->out_records = 0;
            pthread_mutex_lock(&c->lock);
            if (c->ctl_len) {
                size_t n = c->ctl_len < NF_OUTBUF ? c->ctl_len : NF_OUTBUF;
                memcpy(c->out, c->ctl, n);
                memmove(c->ctl, c->ctl + n, c->ctl_len - n);
                c->ctl_len -= n;
                c->out_len = n;
            } else if (c->count && !c->closing) {
                size_t n = c->count, room = NF_OUTBUF / MW_NF_INFO_LEN;
                if (n > room)
                    n = room;
                size_t first = srv->qcap - c->head;
                if (first > n)
                    first = n;
                memcpy(c->out, c->ring + c->head * MW_NF_INFO_LEN, first * MW_NF_INFO_LEN);
                if (n > first)
                    memcpy(c->out + first * MW_NF_INFO_LEN, c->ring, (n - first) * MW_NF_INFO_LEN);
                c->head = (c->head + n) % srv->qcap;
                c->count -= n;
                c->out_len = n * MW_NF_INFO_LEN;
                c->out_records = n;
            } else {
                /* nothing left: the next emit/respond wakes us */
                __atomic_store_n(&c->armed, 1, __ATOMIC_RELAXED);
            }
            pthread_mutex_unlock(&c->lock);
            if (!c->out_len) {
                if (c->closing)
                    client_close(srv, c, c->close_why ? c->close_why : "closed after an error");
                else
                    client_set_events(srv, c);
                return 0;
            }
        }
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                c->want_out = 1;
                client_set_events(srv, c);
                return 0;
            }
            if (errno == EINTR)
                continue;
            char why[96];
            snprintf(why, sizeof(why), "send() failed: %s", strerror(errno));
            client_close(srv, c, why);
            return 0;
        }
        c->out_off += (size_t)n;
    }
    client_set_events(srv, c);
    return !c->dead;
}

static void queue_response(struct mw_nf_server *srv, struct nf_client *c, uint32_t id,
                           uint32_t status, const uint8_t *val)
{
    pthread_mutex_lock(&c->lock);
    if (queue_response_locked(srv, c, id, status, val, 0) < 0)
        c->closing = 1; /* out of memory: better a clean disconnect than a lost answer */
    pthread_mutex_unlock(&c->lock);
}

static void fail_client(struct mw_nf_server *srv, struct nf_client *c, uint32_t id, uint32_t status,
                        const char *why)
{
    if (status != EACCES)
        STAT_ADD(srv, protocol_errors, 1);
    queue_response(srv, c, id, status, NULL);
    c->closing = 1;
    c->close_why = why;
    c->deadline_ms = now_ms() + NF_CLOSE_LINGER_MS;
}

static void handle_socket_list(struct mw_nf_server *srv, struct nf_client *c, uint32_t req_id)
{
    uint8_t *snap = NULL;
    size_t n = 0;
    pthread_mutex_lock(&srv->tab_lock);
    if (srv->tab_used && (snap = malloc(srv->tab_used * MW_NF_INFO_LEN))) {
        for (size_t i = 0; i < srv->tab_cap; i++) {
            if (!srv->tab[i].used)
                continue;
            uint8_t *r = snap + n++ * MW_NF_INFO_LEN;
            memcpy(r, srv->tab[i].rec, MW_NF_INFO_LEN);
            r[0] = MW_NF_SIG_SNAPSHOT >> 8;
            r[1] = MW_NF_SIG_SNAPSHOT & 0xff;
            r[2] = (uint8_t)(req_id >> 24);
            r[3] = (uint8_t)(req_id >> 16);
            r[4] = (uint8_t)(req_id >> 8);
            r[5] = (uint8_t)req_id;
        }
    }
    int nomem = srv->tab_used && !snap;
    pthread_mutex_unlock(&srv->tab_lock);
    uint8_t val[MW_NF_VAL_LEN];
    mw_nf_val_set_u32(val, (uint32_t)n);
    pthread_mutex_lock(&c->lock);
    if (nomem || (n && ctl_append(c, snap, n * MW_NF_INFO_LEN) < 0))
        queue_response_locked(srv, c, req_id, ENOMEM, NULL, 0);
    else
        queue_response_locked(srv, c, req_id, 0, val, 0);
    pthread_mutex_unlock(&c->lock);
    free(snap);
}

static void handle_request(struct mw_nf_server *srv, struct nf_client *c,
                           const struct mw_nf_feature_request *rq)
{
    uint8_t val[MW_NF_VAL_LEN] = { 0 };
    STAT_ADD(srv, requests, 1);
    int bad = mw_nf_request_check(rq);
    if (bad) {
        queue_response(srv, c, rq->id, (uint32_t)bad, NULL);
        return;
    }
    switch (rq->name) {
    case MW_NF_FEAT_MONITOR_ON:
    case MW_NF_FEAT_MONITOR_OFF:
        pthread_mutex_lock(&c->lock);
        c->monitor = rq->name == MW_NF_FEAT_MONITOR_ON;
        if (!c->monitor) /* nothing queued before the switch follows the response */
            c->count = 0;
        queue_response_locked(srv, c, rq->id, 0, NULL, 0);
        pthread_mutex_unlock(&c->lock);
        return;
    case MW_NF_FEAT_SOCKET_LIST:
        handle_socket_list(srv, c, rq->id);
        return;
    case MW_NF_FEAT_CLIENT_STATS:
        pthread_mutex_lock(&c->lock);
        mw_nf_val_set_u64x2(val, c->sent, c->dropped);
        queue_response_locked(srv, c, rq->id, 0, val, 0);
        pthread_mutex_unlock(&c->lock);
        return;
    }
    if (!srv->cfg.on_request) {
        queue_response(srv, c, rq->id, ENOTSUP, NULL);
        return;
    }
    pthread_mutex_lock(&c->lock);
    c->pending++;
    pthread_mutex_unlock(&c->lock);
    srv->cfg.on_request(srv->cfg.ctx, srv, c->id, rq);
}

static int token_equal(const struct mw_nf_server *srv, const struct mw_nf_auth *a)
{
    /* constant time over the configured token length */
    unsigned diff = a->token_len != srv->token_len;
    for (size_t i = 0; i < srv->token_len; i++)
        /* compare as bytes: a plain char is signed here, so bytes >= 0x80 would differ */
        diff |= (unsigned)((unsigned char)srv->token[i] ^ (i < a->token_len ? a->token[i] : 0));
    return diff == 0;
}

static void handle_message(struct mw_nf_server *srv, struct nf_client *c, const struct mw_nf_msg *m)
{
    uint32_t id = m->sig == MW_NF_SIG_AUTH ? m->u.auth.id
                : m->sig == MW_NF_SIG_REQUEST ? m->u.req.id
                : m->sig == MW_NF_SIG_RESPONSE ? m->u.resp.id : m->u.info.id;
    if (m->sig == MW_NF_SIG_AUTH) {
        if (c->subscribed) {
            queue_response(srv, c, id, 0, NULL);
            return;
        }
        if (!token_equal(srv, &m->u.auth)) {
            STAT_ADD(srv, auth_failures, 1);
            nf_log("client %llu (%s): wrong token, disconnecting", (unsigned long long)c->id, c->peer);
            fail_client(srv, c, id, EACCES, "wrong token");
            return;
        }
        pthread_mutex_lock(&c->lock);
        c->subscribed = 1;
        c->deadline_ms = 0;
        queue_response_locked(srv, c, id, 0, NULL, 0);
        pthread_mutex_unlock(&c->lock);
        return;
    }
    if (!c->subscribed) {
        STAT_ADD(srv, auth_failures, 1);
        nf_log("client %llu (%s): request before the token handshake, disconnecting",
               (unsigned long long)c->id, c->peer);
        fail_client(srv, c, id, EACCES, "request before the token handshake");
        return;
    }
    if (m->sig != MW_NF_SIG_REQUEST) {
        /* a server-to-client message sent to us: framing is intact, answer and go on */
        STAT_ADD(srv, protocol_errors, 1);
        queue_response(srv, c, id, EINVAL, NULL);
        return;
    }
    handle_request(srv, c, &m->u.req);
}

/* Parses buffered input; stops at a pause limit, leaving the rest in c->in. */
static void client_parse(struct mw_nf_server *srv, struct nf_client *c)
{
    while (c->in_off < c->in_len && !c->closing && !c->dead) {
        if (client_paused(c))
            return;
        struct mw_nf_msg m;
        int got;
        ssize_t used = mw_nf_reader_feed(&c->rd, c->in + c->in_off, c->in_len - c->in_off, &m, &got);
        if (used < 0) {
            /* unknown signature: the stream cannot be re-synchronised */
            nf_log("client %llu (%s): unknown signature 0x%02x%02x at stream offset %llu, "
                   "disconnecting", (unsigned long long)c->id, c->peer, c->rd.buf[0],
                   c->rd.buf[1], (unsigned long long)c->rd.offset);
            fail_client(srv, c, 0, EPROTO, "unknown signature (protocol error)");
            c->in_off = c->in_len = 0;
            return;
        }
        c->in_off += (size_t)used;
        if (got < 0) { /* framed but invalid (auth token length): answer with its id */
            const uint8_t *b = c->rd.buf;
            uint32_t id = (uint32_t)b[2] << 24 | (uint32_t)b[3] << 16 | (uint32_t)b[4] << 8 | b[5];
            if (!c->subscribed) {
                STAT_ADD(srv, auth_failures, 1);
                fail_client(srv, c, id, EACCES, "malformed token handshake");
                return;
            }
            STAT_ADD(srv, protocol_errors, 1);
            queue_response(srv, c, id, EINVAL, NULL);
            continue;
        }
        if (got)
            handle_message(srv, c, &m);
    }
}

static void client_read(struct mw_nf_server *srv, struct nf_client *c)
{
    for (int rounds = 0; rounds < 16 && !c->closing && !c->dead; rounds++) {
        client_parse(srv, c);
        if (c->in_off < c->in_len || c->closing || c->dead)
            break; /* paused with input left: EPOLLIN goes off below */
        ssize_t n = recv(c->fd, c->in, sizeof(c->in), 0);
        if (n == 0) {
            /* EOF. A peer that merely half-closed could still read, but a peer that has gone
             * would otherwise hold its descriptor and queue until the next write fails (never,
             * with monitor off): a client keeps its sending side open while it wants the stream
             * (docs/protocol.md). */
            c->eof = 1;
            client_close(srv, c, "EOF from client");
            return;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                char why[96];
                snprintf(why, sizeof(why), "recv() failed: %s", strerror(errno));
                client_close(srv, c, why);
                return;
            }
            break;
        }
        c->in_len = (size_t)n;
        c->in_off = 0;
    }
    client_parse(srv, c);
    /* pause reading while too many requests are unanswered (the flush may not run: idle client) */
    client_set_events(srv, c);
}

/* Takes over a connected non-blocking socket as a new client; NULL (socket closed) on failure. */
static struct nf_client *client_add(struct mw_nf_server *srv, int fd, const char *peer)
{
    struct nf_client *c = calloc(1, sizeof(*c));
    uint8_t *ring = malloc(srv->qcap * MW_NF_INFO_LEN);
    if (!c || !ring) {
        nf_log("out of memory for a client queue of %zu records; refused a client", srv->qcap);
        free(c);
        free(ring);
        close(fd);
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    c->fd = fd;
    c->ring = ring;
    c->monitor = 1;
    c->subscribed = srv->token_len == 0;
    c->armed = 1;
    c->id = ++srv->next_client_id;
    mw_nf_reader_init(&c->rd);
    snprintf(c->peer, sizeof(c->peer), "%s", peer);
    if (!c->subscribed)
        c->deadline_ms = now_ms() + NF_AUTH_TIMEOUT_MS;

    pthread_rwlock_wrlock(&srv->clients_lock);
    if (srv->nclients == srv->clients_cap) {
        size_t ncap = srv->clients_cap ? srv->clients_cap * 2 : 16;
        struct nf_client **n = realloc(srv->clients, ncap * sizeof(*n));
        if (!n) {
            pthread_rwlock_unlock(&srv->clients_lock);
            nf_log("out of memory for the client list; refused a client");
            close(fd);
            client_free(c);
            return NULL;
        }
        srv->clients = n;
        srv->clients_cap = ncap;
    }
    srv->clients[srv->nclients++] = c;
    pthread_rwlock_unlock(&srv->clients_lock);
    STAT_ADD(srv, clients, 1);
    STAT_ADD(srv, clients_total, 1);

    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
    if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        nf_log("epoll_ctl(ADD) for client %s failed: %s", c->peer, strerror(errno));
        client_close(srv, c, "epoll_ctl failed");
        return NULL;
    }
    c->ev_mask = EPOLLIN;
    nf_log("client %llu connected from %s%s", (unsigned long long)c->id, c->peer,
           c->subscribed ? "" : " (waiting for the token)");
    return c;
}

static void accept_clients(struct mw_nf_server *srv)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(srv->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if ((errno == EMFILE || errno == ENFILE) && srv->reserve_fd >= 0) {
                /* out of descriptors: accept and drop so the listener does not spin */
                close(srv->reserve_fd);
                fd = accept(srv->lfd, NULL, NULL);
                if (fd >= 0)
                    close(fd);
                srv->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                nf_log("accept4() failed: %s; refused a client", strerror(EMFILE));
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                nf_log("accept4() failed: %s", strerror(errno));
            return;
        }
        char host[INET6_ADDRSTRLEN] = "?", port[8] = "?", peer[64];
        getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), port, sizeof(port),
                    NI_NUMERICHOST | NI_NUMERICSERV);
        snprintf(peer, sizeof(peer), "%s:%s", host, port);
        if (srv->nclients >= NF_MAX_CLIENTS) {
            nf_log("refused client %s: already %d clients (the limit)", peer, NF_MAX_CLIENTS);
            close(fd);
            continue;
        }
        client_add(srv, fd, peer);
    }
}

static void *server_main(void *arg)
{
    struct mw_nf_server *srv = arg;
    struct epoll_event evs[64];
    uint64_t last_tick = now_ms();
    int busy = 0;

    while (!__atomic_load_n(&srv->stop, __ATOMIC_ACQUIRE)) {
        int n = epoll_wait(srv->epfd, evs, 64, busy ? 0 : 250);
        if (n < 0) {
            if (errno != EINTR)
                nf_log("epoll_wait() failed: %s", strerror(errno));
            continue;
        }
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &event_tag) {
                uint64_t v;
                if (read(srv->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
                    nf_log("read(eventfd) failed: %s", strerror(errno));
                /* an RMW, so that the armed flags read below are at least as new as the emit
                 * that found wake_pending already set and therefore did not write the eventfd */
                __atomic_exchange_n(&srv->wake_pending, 0, __ATOMIC_ACQ_REL);
                continue;
            }
            if (p == &listen_tag) {
                accept_clients(srv);
                continue;
            }
            struct nf_client *c = p;
            if (c->dead)
                continue;
            if (evs[i].events & EPOLLIN)
                client_read(srv, c);
            if (!c->dead && (evs[i].events & (EPOLLERR | EPOLLHUP))) {
                client_close(srv, c, (evs[i].events & EPOLLERR) ? "socket error" : "hang-up");
            }
            if (!c->dead && (evs[i].events & EPOLLOUT))
                c->want_out = 0;
        }
        /* Flush every client that has (or may have) something to send and is not blocked. */
        busy = 0;
        uint64_t t = now_ms();
        int tick = t - last_tick >= 250;
        for (size_t i = 0; i < srv->nclients; i++) {
            struct nf_client *c = srv->clients[i];
            if (c->in_off < c->in_len && !c->closing)
                client_read(srv, c); /* input left from a pause: parse it now if unpaused */
            if (c->dead) {
                i--;
                continue;
            }
            if (tick && c->deadline_ms && t >= c->deadline_ms) {
                client_close(srv, c, c->subscribed ? "did not read its last response in time"
                                                   : "no token handshake in time");
            } else if (!c->want_out && !__atomic_load_n(&c->armed, __ATOMIC_RELAXED)) {
                busy |= client_flush(srv, c);
            }
            if (c->dead)
                i--; /* client_close moved the last client into this slot */
        }
        if (tick)
            last_tick = t;
        /* Closed clients are freed only now: no event of this batch can refer to them. */
        free_grave(srv);
    }
    return NULL;
}

/* ---- lifecycle ----------------------------------------------------------------------------- */
static int is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a))
            return 1;
        return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
    }
    return 0;
}

int mw_nf_server_start(const struct mw_nf_server_config *cfg, struct mw_nf_server **out)
{
    struct mw_nf_server *srv = NULL;
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
    struct addrinfo *ai = NULL;
    char port[8];
    int rc, one = 1;

    *out = NULL;
    if (cfg->token && (strlen(cfg->token) == 0 || strlen(cfg->token) > MW_NF_TOKEN_MAX)) {
        nf_log("token must be 1..%d bytes", MW_NF_TOKEN_MAX);
        return -EINVAL;
    }
    srv = calloc(1, sizeof(*srv));
    if (!srv)
        return -ENOMEM;
    srv->cfg = *cfg;
    srv->lfd = srv->efd = srv->epfd = srv->reserve_fd = -1;
    snprintf(srv->bind_addr, sizeof(srv->bind_addr), "%s",
             cfg->bind_addr && *cfg->bind_addr ? cfg->bind_addr : "127.0.0.1");
    srv->cfg.bind_addr = srv->bind_addr;
    if (cfg->token) {
        snprintf(srv->token, sizeof(srv->token), "%s", cfg->token);
        srv->token_len = strlen(srv->token);
        srv->cfg.token = srv->token;
    }
    srv->qcap = cfg->queue_records ? cfg->queue_records : NF_DEFAULT_QUEUE;
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    /* emitters are readers and never stop coming: let the server thread's writes through */
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&srv->clients_lock, &ra);
    pthread_rwlockattr_destroy(&ra);
    pthread_mutex_init(&srv->tab_lock, NULL);

    snprintf(port, sizeof(port), "%u", cfg->port);
    rc = getaddrinfo(srv->bind_addr, port, &hints, &ai);
    if (rc) {
        nf_log("getaddrinfo(%s) failed: %s", srv->bind_addr, gai_strerror(rc));
        rc = -EADDRNOTAVAIL;
        goto fail;
    }
    if (!is_loopback(ai->ai_addr) && !srv->token_len) {
        nf_log("refusing to listen on %s without a token: a non-loopback NetFlow listener needs "
               "the token handshake (set a token)", srv->bind_addr);
        rc = -EACCES;
        goto fail;
    }
    srv->lfd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (srv->lfd < 0) {
        rc = -errno;
        nf_log("socket() failed: %s", strerror(errno));
        goto fail;
    }
    setsockopt(srv->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(srv->lfd, ai->ai_addr, ai->ai_addrlen) < 0) {
        rc = -errno;
        nf_log("bind(%s port %u) failed: %s", srv->bind_addr, cfg->port, strerror(errno));
        goto fail;
    }
    if (listen(srv->lfd, 128) < 0) {
        rc = -errno;
        nf_log("listen() failed: %s", strerror(errno));
        goto fail;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(srv->lfd, (struct sockaddr *)&ss, &sl) < 0) {
        rc = -errno;
        nf_log("getsockname() failed: %s", strerror(errno));
        goto fail;
    }
    srv->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    srv->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    srv->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (srv->efd < 0 || srv->epfd < 0) {
        rc = -errno;
        nf_log("%s() failed: %s", srv->efd < 0 ? "eventfd" : "epoll_create1", strerror(errno));
        goto fail;
    }
    srv->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &listen_tag };
    struct epoll_event ev2 = { .events = EPOLLIN, .data.ptr = &event_tag };
    if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->lfd, &ev) < 0 ||
        epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->efd, &ev2) < 0) {
        rc = -errno;
        nf_log("epoll_ctl(ADD) failed: %s", strerror(errno));
        goto fail;
    }
    rc = pthread_create(&srv->thread, NULL, server_main, srv);
    if (rc) {
        nf_log("pthread_create() failed: %s", strerror(rc));
        rc = -rc;
        goto fail;
    }
    freeaddrinfo(ai);
    nf_log("listening on %s port %u (queue %zu records per client%s)", srv->bind_addr, srv->port,
           srv->qcap, srv->token_len ? ", token required" : "");
    *out = srv;
    return 0;
fail:
    if (ai)
        freeaddrinfo(ai);
    if (srv->lfd >= 0)
        close(srv->lfd);
    if (srv->efd >= 0)
        close(srv->efd);
    if (srv->epfd >= 0)
        close(srv->epfd);
    if (srv->reserve_fd >= 0)
        close(srv->reserve_fd);
    pthread_rwlock_destroy(&srv->clients_lock);
    pthread_mutex_destroy(&srv->tab_lock);
    free(srv);
    return rc;
}

uint16_t mw_nf_server_port(const struct mw_nf_server *srv)
{
    return srv->port;
}

void mw_nf_server_stats(const struct mw_nf_server *srv, struct mw_nf_server_stats *out)
{
    const uint64_t *src = (const uint64_t *)&srv->st;
    uint64_t *dst = (uint64_t *)out;
    for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
        dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

size_t mw_nf_server_max_queued(struct mw_nf_server *srv)
{
    size_t m = 0;
    pthread_rwlock_rdlock(&srv->clients_lock);
    for (size_t i = 0; i < srv->nclients; i++) {
        struct nf_client *c = srv->clients[i];
        pthread_mutex_lock(&c->lock);
        if (c->count > m)
            m = c->count;
        pthread_mutex_unlock(&c->lock);
    }
    pthread_rwlock_unlock(&srv->clients_lock);
    return m;
}

size_t mw_nf_server_queue_capacity(const struct mw_nf_server *srv)
{
    return srv->qcap;
}

void mw_nf_server_stop(struct mw_nf_server *srv)
{
    if (!srv)
        return;
    __atomic_store_n(&srv->stop, 1, __ATOMIC_RELEASE);
    uint64_t one = 1;
    if (write(srv->efd, &one, sizeof(one)) < 0)
        nf_log("write(eventfd) failed: %s", strerror(errno));
    pthread_join(srv->thread, NULL);
    while (srv->nclients)
        client_close(srv, srv->clients[0], "server stopping");
    free_grave(srv);
    free(srv->clients);
    free(srv->tab);
    close(srv->lfd);
    close(srv->efd);
    close(srv->epfd);
    if (srv->reserve_fd >= 0)
        close(srv->reserve_fd);
    pthread_rwlock_destroy(&srv->clients_lock);
    pthread_mutex_destroy(&srv->tab_lock);
    free(srv);
}
