/* mwnf: command-line NetFlow client, like the original console tool.
 *
 *   mwnf [--connect HOST:PORT] [--token T] [--timeout S] COMMAND ...
 *
 * Every command except watch turns the traffic monitor off for its own connection first, so it is
 * not flooded by the stream, then sends one or a few feature requests and waits for the answers. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mw/log.h"
#include "mwnf.h"

static const char *usage_text =
    "usage: mwnf [--connect HOST:PORT] [--token T] [--timeout S] COMMAND ...\n"
    "\n"
    "NetFlow client for MAGICWAND INS (protocol: docs/protocol.md).\n"
    "  --connect HOST:PORT  server (default $MW_NETFLOW_ADDR or 127.0.0.1:2055; [::1]:2055 for IPv6)\n"
    "  --token T            token handshake (default $MW_NETFLOW_TOKEN); needed when the server has one\n"
    "  --timeout S          seconds to wait for an answer (default 5)\n"
    "\n"
    "commands:\n"
    "  watch [--count N] [--socket ID] [--obs NAME,...]\n"
    "                       live stream, one line per record; gaps (dropped records) are flagged\n"
    "  sockets              list open sockets (socket-list extension)\n"
    "  close SOCKID         close a socket (is-open := 0)\n"
    "  block ADDR [--close-existing]   refuse new connections from ADDR (and close its open ones)\n"
    "  unblock ADDR\n"
    "  get NAME [--socket ID | --address A | --ins ID]\n"
    "  set NAME VALUE [--socket ID | --address A | --ins ID]\n"
    "                       NAME symbolic (rcvbuf, sndtimeo, congctl, ...) or numeric (0x010a);\n"
    "                       time values as seconds (5.25); congctl as reno|newreno|cubic or number\n"
    "  names                list every feature name with its scope and value type\n"
    "  ins list | ins spawn N | ins stop ID | ins respawn ID | ins limit ID N\n"
    "  serve-script FILE|--synthetic N [--port P] ...   scripted NetFlow source (serve-script --help)\n"
    "\n"
    "exit codes: 0 ok, 1 the server refused (status printed), 2 usage error,\n"
    "            3 connection, timeout, token or protocol failure\n";

static int usage_err(const char *fmt, const char *arg)
{
    fprintf(stderr, "mwnf: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (mwnf --help)\n");
    return MWNF_EUSAGE;
}

/* ---- helpers shared with serve.c ---------------------------------------------------------- */
const char *mwnf_status_str(uint32_t status, char *buf, size_t len)
{
    const char *what = "";
    switch (status) {
    case 0: snprintf(buf, len, "ok"); return buf;
    case EBADF: what = " (unknown socket)"; break;
    case ENOTSUP: what = " (unknown or unsupported feature)"; break;
    case EINVAL: what = " (bad value or malformed request)"; break;
    case EPERM: what = " (not permitted)"; break;
    case ESRCH: what = " (unknown INS)"; break;
    case ENOENT: what = " (no such entry)"; break;
    case EACCES: what = " (token refused)"; break;
    case EPROTO: what = " (protocol error)"; break;
    case ETIMEDOUT: what = " (data plane did not answer in time)"; break;
    case EAGAIN: what = " (busy, try again)"; break;
    }
    const char *name = status < 4096 ? strerrorname_np((int)status) : NULL;
    if (name)
        snprintf(buf, len, "%s%s", name, what);
    else
        snprintf(buf, len, "status %u", status);
    return buf;
}

int mwnf_parse_u64(const char *s, uint64_t max, uint64_t *v)
{
    char *end;
    if (!s || !*s || *s == '-')
        return -1;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 0);
    if (errno || *end || x > max)
        return -1;
    *v = x;
    return 0;
}

int mwnf_parse_hostport(const char *s, char *host, size_t hlen, uint16_t *port)
{
    const char *colon;
    uint64_t p;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':' || (size_t)(rb - s - 1) >= hlen)
            return -1;
        snprintf(host, hlen, "%.*s", (int)(rb - s - 1), s + 1);
        colon = rb + 1;
    } else if ((colon = strrchr(s, ':'))) {
        if ((size_t)(colon - s) >= hlen || colon == s || strchr(s, ':') != colon)
            return -1;
        snprintf(host, hlen, "%.*s", (int)(colon - s), s);
    } else {
        snprintf(host, hlen, "127.0.0.1");
        colon = s - 1;
    }
    if (mwnf_parse_u64(colon + 1, 65535, &p) < 0)
        return -1;
    *port = (uint16_t)p;
    return 0;
}

int mwnf_parse_addr(const char *s, uint32_t *af, uint8_t addr[16])
{
    memset(addr, 0, 16);
    if (inet_pton(AF_INET, s, addr) == 1) {
        *af = 4;
        return 0;
    }
    if (inet_pton(AF_INET6, s, addr) == 1) {
        *af = 6;
        return 0;
    }
    return -1;
}

/* ---- connection ------------------------------------------------------------------------ */
struct conn {
    int fd;
    struct mw_nf_reader rd;
    uint8_t buf[16384];
    size_t len, off;
    int timeout_ms;
    uint32_t next_id;
    const char *where;
    const char *token;
    int want_stream; /* watch: keep the monitor on */
};

static void conn_init(struct conn *c, const char *hostport, const char *token, int timeout_ms,
                      int want_stream)
{
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->timeout_ms = timeout_ms;
    c->next_id = 1;
    c->where = hostport;
    c->token = token;
    c->want_stream = want_stream;
    mw_nf_reader_init(&c->rd);
}

static int conn_send(struct conn *c, uint16_t flags, uint16_t name, const uint8_t *val,
                     const uint8_t *ident, uint32_t *id_out);

/* Connects on first use, so that argument errors never need a server. */
static int conn_open(struct conn *c)
{
    char host[256];
    uint16_t port;
    const char *hostport = c->where, *token = c->token;
    if (c->fd >= 0)
        return 0;
    if (mwnf_parse_hostport(hostport, host, sizeof(host), &port) < 0) {
        fprintf(stderr, "mwnf: bad address '%s' (want HOST:PORT or [V6]:PORT)\n", hostport);
        return MWNF_EUSAGE;
    }
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai, *a;
    char ps[8];
    snprintf(ps, sizeof(ps), "%u", port);
    int rc = getaddrinfo(host, ps, &hints, &ai);
    if (rc) {
        fprintf(stderr, "mwnf: cannot resolve %s: %s\n", host, gai_strerror(rc));
        return MWNF_ECONN;
    }
    int err = 0;
    for (a = ai; a; a = a->ai_next) {
        c->fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c->fd < 0) {
            err = errno;
            continue;
        }
        if (connect(c->fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        err = errno;
        close(c->fd);
        c->fd = -1;
    }
    freeaddrinfo(ai);
    if (c->fd < 0) {
        fprintf(stderr, "mwnf: connect to %s failed: %s (is mwcomms running? ./mw status)\n",
                hostport, strerror(err));
        return MWNF_ECONN;
    }
    if (token && *token) {
        struct mw_nf_auth au = { .sig = MW_NF_SIG_AUTH, .id = c->next_id++ };
        uint8_t b[MW_NF_AUTH_LEN];
        size_t tl = strlen(token);
        if (tl > MW_NF_TOKEN_MAX) {
            fprintf(stderr, "mwnf: token longer than %d bytes\n", MW_NF_TOKEN_MAX);
            return MWNF_EUSAGE;
        }
        au.token_len = (uint16_t)tl;
        memcpy(au.token, token, tl);
        mw_nf_auth_encode(&au, b);
        if (send(c->fd, b, sizeof(b), MSG_NOSIGNAL) != (ssize_t)sizeof(b)) {
            fprintf(stderr, "mwnf: send() of the token failed: %s\n", strerror(errno));
            return MWNF_ECONN;
        }
    }
    /* commands do not want the stream: switch it off for this connection (no need to wait: records
     * already on the way are skipped while waiting for an answer) */
    if (!c->want_stream)
        return conn_send(c, 0, MW_NF_FEAT_MONITOR_OFF, NULL, NULL, NULL);
    return 0;
}

/* Next message: 1, 0 on EOF, -ETIMEDOUT, -EPROTO (garbage from the server), other -errno */
static int conn_read(struct conn *c, struct mw_nf_msg *m, int timeout_ms)
{
    for (;;) {
        while (c->off < c->len) {
            int got;
            ssize_t n = mw_nf_reader_feed(&c->rd, c->buf + c->off, c->len - c->off, m, &got);
            if (n < 0)
                return (int)n;
            c->off += (size_t)n;
            if (got < 0)
                return -EPROTO;
            if (got)
                return 1;
        }
        struct pollfd p = { .fd = c->fd, .events = POLLIN };
        int pr = poll(&p, 1, timeout_ms);
        if (pr == 0)
            return -ETIMEDOUT;
        if (pr < 0) {
            if (errno == EINTR)
                return -EINTR;
            return -errno;
        }
        ssize_t n = recv(c->fd, c->buf, sizeof(c->buf), 0);
        if (n == 0)
            return 0;
        if (n < 0)
            return errno == EINTR ? -EINTR : -errno;
        c->len = (size_t)n;
        c->off = 0;
    }
}

static int conn_fail(struct conn *c, int rc, const char *doing)
{
    if (rc == 0)
        fprintf(stderr, "mwnf: %s: the server closed the connection (token missing or wrong?)\n",
                doing);
    else if (rc == -ETIMEDOUT)
        fprintf(stderr, "mwnf: %s: no answer from %s within %d ms\n", doing, c->where,
                c->timeout_ms);
    else if (rc == -EPROTO)
        fprintf(stderr, "mwnf: %s: malformed data from the server at stream offset %llu\n", doing,
                (unsigned long long)c->rd.offset);
    else
        fprintf(stderr, "mwnf: %s: recv() failed: %s\n", doing, strerror(-rc));
    return MWNF_ECONN;
}

static int conn_send(struct conn *c, uint16_t flags, uint16_t name, const uint8_t *val,
                     const uint8_t *ident, uint32_t *id_out)
{
    int rc = conn_open(c);
    if (rc)
        return rc;
    struct mw_nf_feature_request r = { .sig = MW_NF_SIG_REQUEST, .id = c->next_id++,
                                       .flags = flags, .name = name };
    uint8_t b[MW_NF_REQUEST_LEN];
    if (val)
        memcpy(r.val, val, MW_NF_VAL_LEN);
    if (ident)
        memcpy(r.ident, ident, MW_NF_IDENT_LEN);
    mw_nf_request_encode(&r, b);
    if (send(c->fd, b, sizeof(b), MSG_NOSIGNAL) != (ssize_t)sizeof(b)) {
        fprintf(stderr, "mwnf: send() failed: %s\n", strerror(errno));
        return MWNF_ECONN;
    }
    if (id_out)
        *id_out = r.id;
    return 0;
}

/* Waits for the response to id; snapshots for that id go to snap_fn. Info records are skipped.
 * A response to the token handshake with a non-zero status means the token was refused. */
static int conn_wait(struct conn *c, uint32_t id, struct mw_nf_feature_response *out,
                     void (*snap_fn)(const struct mw_nf_info *, void *), void *arg)
{
    struct mw_nf_msg m;
    for (;;) {
        int rc = conn_read(c, &m, c->timeout_ms);
        if (rc != 1)
            return conn_fail(c, rc, "waiting for the answer");
        if (m.sig == MW_NF_SIG_SNAPSHOT && m.u.info.id == id && snap_fn)
            snap_fn(&m.u.info, arg);
        if (m.sig != MW_NF_SIG_RESPONSE)
            continue;
        if (m.u.resp.id == id) {
            *out = m.u.resp;
            return 0;
        }
        if (m.u.resp.status == EACCES || m.u.resp.status == EPROTO) {
            char sb[96];
            fprintf(stderr, "mwnf: the server refused the connection: %s\n",
                    mwnf_status_str(m.u.resp.status, sb, sizeof(sb)));
            return MWNF_ECONN;
        }
    }
}

/* One request, one answer. */
static int conn_call(struct conn *c, uint16_t flags, uint16_t name, const uint8_t *val,
                     const uint8_t *ident, struct mw_nf_feature_response *out)
{
    uint32_t id;
    int rc = conn_send(c, flags, name, val, ident, &id);
    return rc ? rc : conn_wait(c, id, out, NULL, NULL);
}

static int refused(const char *what, uint32_t status)
{
    char sb[96];
    fprintf(stderr, "mwnf: %s: %s\n", what, mwnf_status_str(status, sb, sizeof(sb)));
    return MWNF_EREFUSED;
}

/* ---- formatting ------------------------------------------------------------------------ */
static void fmt_time(uint64_t sec, uint64_t nsec, char *buf, size_t len)
{
    time_t t = (time_t)sec;
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%06lluZ", (unsigned long long)(nsec / 1000) % 1000000);
}

static void print_info(const struct mw_nf_info *i, FILE *out)
{
    char ts[48], l[64], r[64];
    fmt_time(i->ts_sec, i->ts_nsec, ts, sizeof(ts));
    fprintf(out, "%s %-7s sock=%-13lld %s -> %s in=%llu out=%llu", ts, mw_nf_obs_name(i->obs),
            (long long)i->sockfd, mw_nf_endpoint_str(&i->local, l, sizeof(l)),
            mw_nf_endpoint_str(&i->remote, r, sizeof(r)), (unsigned long long)i->bytes_in,
            (unsigned long long)i->bytes_out);
    if (i->obs == MW_NF_OBS_ACCEPT)
        fprintf(out, " new=%llu", (unsigned long long)i->extra);
    else if (i->extra)
        fprintf(out, " extra=%llu", (unsigned long long)i->extra);
    fputc('\n', out);
}

static void print_val(const struct mw_nf_feature_desc *d, const uint8_t *val)
{
    uint64_t a, b;
    struct mw_nf_ins_entry e;
    switch (d ? d->kind : MW_NF_VK_U32) {
    case MW_NF_VK_NONE: printf("ok\n"); break;
    case MW_NF_VK_TIME:
        mw_nf_val_time(val, &a, &b);
        printf("%llu.%06llu s\n", (unsigned long long)a, (unsigned long long)b);
        break;
    case MW_NF_VK_U64: printf("%llu\n", (unsigned long long)mw_nf_val_u64(val)); break;
    case MW_NF_VK_U64X2:
        mw_nf_val_u64x2(val, &a, &b);
        printf("%llu %llu\n", (unsigned long long)a, (unsigned long long)b);
        break;
    case MW_NF_VK_TCPINFO: {
        struct mw_nf_tcp_info ti;
        mw_nf_val_tcp_info(val, &ti);
        printf("rtt=%uus rttvar=%uus cwnd=%u retrans=%u\n", ti.rtt_us, ti.rttvar_us, ti.snd_cwnd,
               ti.total_retrans);
        break;
    }
    case MW_NF_VK_INS:
        mw_nf_val_ins_entry(val, &e);
        printf("ins=%u pid=%u open=%u max=%u\n", e.ins_id, e.pid, e.open_sockets, e.max_sockets);
        break;
    default: {
        uint32_t v = mw_nf_val_u32(val);
        const char *cc = d && d->name == MW_NF_FEAT_CONGCTL ? mw_nf_cc_name(v) : NULL;
        if (cc)
            printf("%s (0x%x)\n", cc, v);
        else
            printf("%u\n", v);
    }
    }
}

/* ---- commands ------------------------------------------------------------------------- */
static volatile sig_atomic_t stop_flag;
static void on_sig(int s) { (void)s; stop_flag = 1; }

static int cmd_watch(struct conn *c, int argc, char **argv)
{
    uint64_t count = 0, sock = 0;
    int have_sock = 0;
    unsigned obs_mask = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--count") && i + 1 < argc) {
            if (mwnf_parse_u64(argv[++i], UINT64_MAX, &count) < 0)
                return usage_err("bad --count '%s'", argv[i]);
        } else if (!strcmp(argv[i], "--socket") && i + 1 < argc) {
            if (mwnf_parse_u64(argv[++i], INT64_MAX, &sock) < 0)
                return usage_err("bad --socket '%s'", argv[i]);
            have_sock = 1;
        } else if (!strcmp(argv[i], "--obs") && i + 1 < argc) {
            char *list = strdup(argv[++i]), *save = NULL;
            for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                int o = mw_nf_obs_lookup(t);
                if (o < 0) {
                    free(list);
                    return usage_err("unknown observation '%s' (create,bind,accept,connect,recv,send,close)", t);
                }
                obs_mask |= 1u << o;
            }
            free(list);
        } else {
            return usage_err("watch: unexpected argument '%s'", argv[i]);
        }
    }
    int orc = conn_open(c);
    if (orc)
        return orc;
    struct sigaction sa = { .sa_handler = on_sig };
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    setvbuf(stdout, NULL, _IOLBF, 0);
    uint64_t seen = 0, gaps = 0, dropped = 0;
    uint32_t next = 0;
    int first = 1, rc = MWNF_OK;
    struct mw_nf_msg m;
    while (!stop_flag && (!count || seen < count)) {
        int r = conn_read(c, &m, 1000);
        if (r == -ETIMEDOUT || r == -EINTR)
            continue;
        if (r != 1) {
            rc = conn_fail(c, r, "watch");
            break;
        }
        if (m.sig == MW_NF_SIG_RESPONSE) {
            if (m.u.resp.status) {
                char sb[96];
                fprintf(stderr, "mwnf: the server refused the connection: %s\n",
                        mwnf_status_str(m.u.resp.status, sb, sizeof(sb)));
                rc = MWNF_ECONN;
                break;
            }
            continue;
        }
        if (m.sig != MW_NF_SIG_INFO)
            continue;
        if (!first && m.u.info.id != next) {
            uint32_t gap = m.u.info.id - next; /* modulo 2^32 */
            gaps++;
            dropped += gap;
            printf("!! gap: %u records dropped for this client (seq %u -> %u)\n", gap, next,
                   m.u.info.id);
        }
        first = 0;
        next = m.u.info.id + 1;
        if (have_sock && m.u.info.sockfd != (int64_t)sock && m.u.info.extra != sock)
            continue;
        if (obs_mask && (m.u.info.obs >= 32 || !(obs_mask & (1u << m.u.info.obs))))
            continue;
        print_info(&m.u.info, stdout);
        seen++;
        if (ferror(stdout)) /* reader gone (mwnf watch | head): SIGPIPE is ignored, stop here */
            break;
    }
    fprintf(stderr, "mwnf: watch: %llu records shown, %llu dropped in %llu gaps\n",
            (unsigned long long)seen, (unsigned long long)dropped, (unsigned long long)gaps);
    return rc;
}

struct sock_list {
    size_t n, cap;
    struct mw_nf_info *v;
};

static void collect_snap(const struct mw_nf_info *i, void *arg)
{
    struct sock_list *l = arg;
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 64;
        struct mw_nf_info *nv = realloc(l->v, ncap * sizeof(*nv));
        if (!nv)
            return;
        l->v = nv;
        l->cap = ncap;
    }
    l->v[l->n++] = *i;
}

static int by_sock(const void *a, const void *b)
{
    const struct mw_nf_info *x = a, *y = b;
    return x->sockfd < y->sockfd ? -1 : x->sockfd > y->sockfd;
}

static int cmd_sockets(struct conn *c)
{
    struct sock_list l = { 0 };
    struct mw_nf_feature_response r;
    uint32_t id;
    int rc = conn_send(c, MW_NF_FLAG_READ, MW_NF_FEAT_SOCKET_LIST, NULL, NULL, &id);
    if (!rc)
        rc = conn_wait(c, id, &r, collect_snap, &l);
    if (rc) {
        free(l.v);
        return rc;
    }
    if (r.status) {
        free(l.v);
        return refused("sockets", r.status);
    }
    qsort(l.v, l.n, sizeof(*l.v), by_sock);
    printf("%-12s %-8s %-42s %-42s %12s %12s\n", "SOCKET", "LAST", "LOCAL", "REMOTE", "IN", "OUT");
    for (size_t i = 0; i < l.n; i++) {
        char lo[64], re[64];
        printf("%-12lld %-8s %-42s %-42s %12llu %12llu\n", (long long)l.v[i].sockfd,
               mw_nf_obs_name(l.v[i].obs), mw_nf_endpoint_str(&l.v[i].local, lo, sizeof(lo)),
               mw_nf_endpoint_str(&l.v[i].remote, re, sizeof(re)),
               (unsigned long long)l.v[i].bytes_in, (unsigned long long)l.v[i].bytes_out);
    }
    printf("%zu open sockets\n", l.n);
    if (l.n != mw_nf_val_u32(r.val))
        fprintf(stderr, "mwnf: warning: the server announced %u sockets, %zu arrived\n",
                mw_nf_val_u32(r.val), l.n);
    free(l.v);
    return MWNF_OK;
}

/* Target options shared by get/set: fills flags and ident. */
struct target {
    int kind; /* 0 none, 1 socket, 2 address, 3 ins */
    uint8_t ident[MW_NF_IDENT_LEN];
};

static int parse_target(int *argc, char **argv, struct target *t)
{
    int out = 0;
    memset(t, 0, sizeof(*t));
    for (int i = 0; i < *argc; i++) {
        const char *o = argv[i];
        if ((!strcmp(o, "--socket") || !strcmp(o, "--address") || !strcmp(o, "--ins")) &&
            i + 1 < *argc) {
            const char *v = argv[++i];
            uint64_t x;
            if (t->kind)
                return usage_err("give only one of --socket, --address, --ins%s", "");
            if (!strcmp(o, "--socket")) {
                if (mwnf_parse_u64(v, INT64_MAX, &x) < 0)
                    return usage_err("bad socket id '%s'", v);
                mw_nf_ident_set_sockid(t->ident, (int64_t)x);
                t->kind = 1;
            } else if (!strcmp(o, "--address")) {
                uint32_t af;
                uint8_t a[16];
                if (mwnf_parse_addr(v, &af, a) < 0)
                    return usage_err("bad address '%s' (IPv4 or IPv6 literal)", v);
                mw_nf_ident_set_addr(t->ident, af, a);
                t->kind = 2;
            } else {
                if (mwnf_parse_u64(v, UINT32_MAX, &x) < 0)
                    return usage_err("bad INS id '%s'", v);
                mw_nf_ident_set_ins(t->ident, (uint32_t)x);
                t->kind = 3;
            }
        } else {
            argv[out++] = argv[i];
        }
    }
    *argc = out;
    return 0;
}

static int target_flags(const struct mw_nf_feature_desc *d, const struct target *t, uint16_t *flags)
{
    static const char *need[] = { "", "--socket ID", "--address A", "--ins ID" };
    int want = d->scope == MW_NF_SCOPE_SOCKET ? 1 : d->scope == MW_NF_SCOPE_ADDR ? 2
             : d->scope == MW_NF_SCOPE_INS ? 3 : 0;
    /* congctl/delack without --ins apply to every INS */
    int optional = d->name == MW_NF_FEAT_CONGCTL || d->name == MW_NF_FEAT_DELACK;
    if (t->kind != want && !(optional && t->kind == 0)) {
        fprintf(stderr, "mwnf: %s %s%s (mwnf --help)\n", d->sym,
                want ? "needs " : "takes no target option", need[want]);
        return MWNF_EUSAGE;
    }
    *flags = t->kind == 1 ? MW_NF_FLAG_BY_SOCKET : t->kind == 3 ? MW_NF_FLAG_BY_INS : 0;
    return 0;
}

static int parse_value(const struct mw_nf_feature_desc *d, int argc, char **argv, uint8_t *val)
{
    uint64_t x;
    memset(val, 0, MW_NF_VAL_LEN);
    if (d->kind == MW_NF_VK_NONE) {
        if (argc)
            return usage_err("%s takes no value", d->sym);
        return 0;
    }
    if (argc != 1)
        return usage_err("set %s needs exactly one VALUE", d->sym);
    const char *s = argv[0];
    if (d->kind == MW_NF_VK_TIME) {
        char *end;
        errno = 0;
        double secs = strtod(s, &end);
        if (errno || *end || secs < 0 || secs > 1e12)
            return usage_err("bad time '%s' (seconds, e.g. 5.25)", s);
        uint64_t sec = (uint64_t)secs;
        uint64_t us = (uint64_t)((secs - (double)sec) * 1e6 + 0.5);
        if (us >= 1000000) {
            sec++;
            us -= 1000000;
        }
        mw_nf_val_set_time(val, sec, us);
        return 0;
    }
    if (d->name == MW_NF_FEAT_CONGCTL) {
        for (uint32_t cc = MW_NF_CC_RENO; cc <= MW_NF_CC_CUBIC; cc++)
            if (!strcmp(s, mw_nf_cc_name(cc))) {
                mw_nf_val_set_u32(val, cc);
                return 0;
            }
    }
    if (!strcmp(s, "on") || !strcmp(s, "off")) {
        mw_nf_val_set_u32(val, s[1] == 'n');
        return 0;
    }
    if (d->kind == MW_NF_VK_U64) {
        if (mwnf_parse_u64(s, UINT64_MAX, &x) < 0)
            return usage_err("bad value '%s'", s);
        mw_nf_val_set_u64(val, x);
        return 0;
    }
    if (mwnf_parse_u64(s, UINT32_MAX, &x) < 0)
        return usage_err("bad value '%s' (a number, decimal or 0x hex)", s);
    mw_nf_val_set_u32(val, (uint32_t)x);
    return 0;
}

static int cmd_getset(struct conn *c, int write, int argc, char **argv)
{
    struct target t;
    int rc = parse_target(&argc, argv, &t);
    if (rc)
        return rc;
    if (argc < 1)
        return usage_err("%s needs a feature NAME", write ? "set" : "get");
    const struct mw_nf_feature_desc *d = mw_nf_feature_lookup(argv[0]);
    if (!d)
        return usage_err("unknown feature '%s' (mwnf names)", argv[0]);
    uint16_t flags;
    uint8_t val[MW_NF_VAL_LEN] = { 0 };
    if ((rc = target_flags(d, &t, &flags)))
        return rc;
    if (write) {
        if (!(d->access & MW_NF_ACC_W))
            return usage_err("%s is read only", d->sym);
        if ((rc = parse_value(d, argc - 1, argv + 1, val)))
            return rc;
        flags |= MW_NF_FLAG_WRITE;
    } else {
        if (!(d->access & MW_NF_ACC_R))
            return usage_err("%s cannot be read", d->sym);
        if (d->name == MW_NF_FEAT_INS_LIST && argc == 2) {
            uint64_t x;
            if (mwnf_parse_u64(argv[1], UINT32_MAX, &x) < 0)
                return usage_err("bad index '%s'", argv[1]);
            mw_nf_val_set_u32(val, (uint32_t)x);
        } else if (argc != 1) {
            return usage_err("get takes one NAME, got '%s' too", argv[1]);
        }
    }
    struct mw_nf_feature_response r;
    if ((rc = conn_call(c, flags, d->name, val, t.ident, &r)))
        return rc;
    if (r.status)
        return refused(d->sym, r.status);
    if (write)
        printf("ok\n");
    else
        print_val(d, r.val);
    return MWNF_OK;
}

static int cmd_close(struct conn *c, int argc, char **argv)
{
    uint64_t id;
    if (argc != 1 || mwnf_parse_u64(argv[0], INT64_MAX, &id) < 0)
        return usage_err("close needs one SOCKID%s", "");
    uint8_t ident[MW_NF_IDENT_LEN], val[MW_NF_VAL_LEN] = { 0 };
    mw_nf_ident_set_sockid(ident, (int64_t)id);
    struct mw_nf_feature_response r;
    int rc = conn_call(c, MW_NF_FLAG_WRITE | MW_NF_FLAG_BY_SOCKET, MW_NF_FEAT_IS_OPEN, val, ident, &r);
    if (rc)
        return rc;
    if (r.status)
        return refused("close", r.status);
    printf("closed socket %llu\n", (unsigned long long)id);
    return MWNF_OK;
}

static int cmd_block(struct conn *c, int block, int argc, char **argv)
{
    int close_existing = 0;
    const char *addr = NULL;
    for (int i = 0; i < argc; i++) {
        if (block && !strcmp(argv[i], "--close-existing"))
            close_existing = 1;
        else if (!addr)
            addr = argv[i];
        else
            return usage_err("unexpected argument '%s'", argv[i]);
    }
    uint32_t af;
    uint8_t a[16], ident[MW_NF_IDENT_LEN], val[MW_NF_VAL_LEN];
    if (!addr || mwnf_parse_addr(addr, &af, a) < 0)
        return usage_err("%s needs an IPv4 or IPv6 address", block ? "block" : "unblock");
    mw_nf_ident_set_addr(ident, af, a);
    mw_nf_val_set_u32(val, !block ? MW_NF_BLOCK_OFF : close_existing ? MW_NF_BLOCK_ON_CLOSE
                                                                     : MW_NF_BLOCK_ON);
    struct mw_nf_feature_response r;
    int rc = conn_call(c, MW_NF_FLAG_WRITE, MW_NF_FEAT_ADDR_BLOCK, val, ident, &r);
    if (rc)
        return rc;
    if (r.status)
        return refused(block ? "block" : "unblock", r.status);
    printf("%s %s%s\n", block ? "blocked" : "unblocked", addr,
           close_existing ? " (existing connections closed)" : "");
    return MWNF_OK;
}

static int cmd_ins(struct conn *c, int argc, char **argv)
{
    struct mw_nf_feature_response r;
    uint8_t val[MW_NF_VAL_LEN] = { 0 }, ident[MW_NF_IDENT_LEN] = { 0 };
    uint64_t a = 0, b = 0;
    int rc;
    if (argc < 1)
        return usage_err("ins needs list|spawn N|stop ID|respawn ID|limit ID N%s", "");
    const char *sub = argv[0];
    if (!strcmp(sub, "list") && argc == 1) {
        if ((rc = conn_call(c, 0, MW_NF_FEAT_INS_COUNT, val, ident, &r)))
            return rc;
        if (r.status)
            return refused("ins list", r.status);
        uint32_t n = mw_nf_val_u32(r.val);
        printf("%-6s %-8s %-12s %s\n", "INS", "PID", "OPEN", "MAX");
        uint32_t shown = 0;
        for (uint32_t i = 0; i < n + 64; i++) { /* the pool may change while we list it */
            mw_nf_val_set_u32(val, i);
            if ((rc = conn_call(c, 0, MW_NF_FEAT_INS_LIST, val, ident, &r)))
                return rc;
            if (r.status == ENOENT)
                break;
            if (r.status)
                return refused("ins list", r.status);
            struct mw_nf_ins_entry e;
            mw_nf_val_ins_entry(r.val, &e);
            char mx[16];
            snprintf(mx, sizeof(mx), "%u", e.max_sockets);
            printf("%-6u %-8u %-12u %s\n", e.ins_id, e.pid, e.open_sockets,
                   e.max_sockets ? mx : "unlimited");
            shown++;
        }
        printf("%u INS\n", shown);
        return MWNF_OK;
    }
    if (!strcmp(sub, "spawn") && argc == 2) {
        if (mwnf_parse_u64(argv[1], 1024, &a) < 0 || a == 0)
            return usage_err("ins spawn needs N between 1 and 1024, got '%s'", argv[1]);
        mw_nf_val_set_u32(val, (uint32_t)a);
        if ((rc = conn_call(c, MW_NF_FLAG_WRITE, MW_NF_FEAT_INS_SPAWN, val, ident, &r)))
            return rc;
        if (r.status)
            return refused("ins spawn", r.status);
        printf("started %u INS\n", mw_nf_val_u32(r.val));
        return MWNF_OK;
    }
    if ((!strcmp(sub, "stop") || !strcmp(sub, "respawn")) && argc == 2) {
        if (mwnf_parse_u64(argv[1], UINT32_MAX, &a) < 0)
            return usage_err("bad INS id '%s'", argv[1]);
        mw_nf_ident_set_ins(ident, (uint32_t)a);
        int stop = sub[0] == 's';
        if ((rc = conn_call(c, MW_NF_FLAG_WRITE | MW_NF_FLAG_BY_INS,
                            stop ? MW_NF_FEAT_INS_STOP : MW_NF_FEAT_INS_RESPAWN, val, ident, &r)))
            return rc;
        if (r.status)
            return refused(stop ? "ins stop" : "ins respawn", r.status);
        if (stop)
            printf("stopped INS %llu\n", (unsigned long long)a);
        else
            printf("respawned INS %llu as INS %u\n", (unsigned long long)a, mw_nf_val_u32(r.val));
        return MWNF_OK;
    }
    if (!strcmp(sub, "limit") && argc == 3) {
        if (mwnf_parse_u64(argv[1], UINT32_MAX, &a) < 0)
            return usage_err("bad INS id '%s'", argv[1]);
        if (mwnf_parse_u64(argv[2], UINT32_MAX, &b) < 0)
            return usage_err("bad limit '%s' (0 = unlimited)", argv[2]);
        mw_nf_ident_set_ins(ident, (uint32_t)a);
        mw_nf_val_set_u32(val, (uint32_t)b);
        if ((rc = conn_call(c, MW_NF_FLAG_WRITE | MW_NF_FLAG_BY_INS, MW_NF_FEAT_INS_MAX_SOCKETS,
                            val, ident, &r)))
            return rc;
        if (r.status)
            return refused("ins limit", r.status);
        printf("INS %llu: max open sockets %llu%s\n", (unsigned long long)a,
               (unsigned long long)b, b ? "" : " (unlimited)");
        return MWNF_OK;
    }
    return usage_err("ins: bad subcommand '%s' (list|spawn N|stop ID|respawn ID|limit ID N)", sub);
}

static int cmd_names(void)
{
    static const char *scope[] = { "client", "socket", "ins", "address", "server" };
    static const char *kind[] = { "-", "u32", "u64", "time", "ins-entry", "u64x2", "tcp-info" };
    size_t n;
    const struct mw_nf_feature_desc *t = mw_nf_feature_table(&n);
    printf("%-7s %-16s %-8s %-9s %-3s %s\n", "NAME", "SYMBOL", "SCOPE", "VALUE", "RW", "MEANING");
    for (size_t i = 0; i < n; i++)
        printf("0x%04x  %-16s %-8s %-9s %c%c  %s\n", t[i].name, t[i].sym, scope[t[i].scope],
               kind[t[i].kind], t[i].access & MW_NF_ACC_R ? 'r' : '-',
               t[i].access & MW_NF_ACC_W ? 'w' : '-', t[i].help);
    return MWNF_OK;
}

int main(int argc, char **argv)
{
    const char *addr = getenv("MW_NETFLOW_ADDR");
    const char *token = getenv("MW_NETFLOW_TOKEN");
    uint64_t timeout_s = 5;
    int i = 1;
    signal(SIGPIPE, SIG_IGN);
    mw_log_prog = "mwnf";
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage_text, stdout);
            return MWNF_OK;
        } else if (!strcmp(argv[i], "--connect") && i + 1 < argc) {
            addr = argv[++i];
        } else if (!strcmp(argv[i], "--token") && i + 1 < argc) {
            token = argv[++i];
        } else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
            if (mwnf_parse_u64(argv[++i], 3600, &timeout_s) < 0 || !timeout_s)
                return usage_err("bad --timeout '%s' (1..3600 seconds)", argv[i]);
        } else {
            return usage_err("unknown option '%s'", argv[i]);
        }
    }
    if (i >= argc)
        return usage_err("missing COMMAND%s", "");
    const char *cmd = argv[i++];
    int cargc = argc - i;
    char **cargv = argv + i;
    if (!strcmp(cmd, "serve-script"))
        return mwnf_serve_main(cargc, cargv);
    if (!strcmp(cmd, "names"))
        return cmd_names();
    static const char *known[] = { "watch", "sockets", "close", "block", "unblock", "get", "set",
                                   "ins", NULL };
    int ok = 0;
    for (int k = 0; known[k]; k++)
        ok |= !strcmp(cmd, known[k]);
    if (!ok)
        return usage_err("unknown command '%s'", cmd);
    if (!strcmp(cmd, "sockets") && cargc)
        return usage_err("sockets takes no arguments, got '%s'", cargv[0]);

    struct conn c;
    int rc;
    conn_init(&c, addr && *addr ? addr : "127.0.0.1:2055", token, (int)timeout_s * 1000,
              !strcmp(cmd, "watch"));
    if (!strcmp(cmd, "watch"))
        rc = cmd_watch(&c, cargc, cargv);
    else if (!strcmp(cmd, "sockets"))
        rc = cmd_sockets(&c);
    else if (!strcmp(cmd, "close"))
        rc = cmd_close(&c, cargc, cargv);
    else if (!strcmp(cmd, "block") || !strcmp(cmd, "unblock"))
        rc = cmd_block(&c, cmd[0] == 'b', cargc, cargv);
    else if (!strcmp(cmd, "get") || !strcmp(cmd, "set"))
        rc = cmd_getset(&c, cmd[0] == 's', cargc, cargv);
    else
        rc = cmd_ins(&c, cargc, cargv);
    if (c.fd >= 0)
        close(c.fd);
    return rc;
}
