/* mwnf serve-script: a scripted NetFlow source for Java development, tests and `./mw bench ingest`.
 *
 * It runs the real NetFlow server (mwcomms/netflow_server.c) and emits records from a small script
 * or N synthetic records, answering feature requests with configurable statuses. stdout carries one
 * line "listening HOST:PORT" first, then one JSON line per request received (so a test can check
 * what a client sent) and a final JSON summary. Format: docs/protocol.md, "serve-script". */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../mwcomms/netflow_server.h"
#include "mwnf.h"

static const char *serve_usage =
    "usage: mwnf serve-script FILE|--synthetic N [options]\n"
    "  FILE               script to play ('-' = stdin); see docs/protocol.md, serve-script\n"
    "  --synthetic N      emit N synthetic records (create..close cycles) as fast as the clients\n"
    "                     take them (add --allow-drops to emit at full speed regardless)\n"
    "  --port P           listen port (default 2055; 0 = ephemeral, printed on stdout)\n"
    "  --bind ADDR        listen address (default 127.0.0.1)\n"
    "  --token T          require the token handshake\n"
    "  --queue N          per-client queue in records (default 65536)\n"
    "  --wait-clients N   wait for N clients before emitting (default 1)\n"
    "  --status NAME=ERRNO[:VALUE]   answer requests for NAME with ERRNO (number or EBADF...) and\n"
    "                     VALUE (u32); repeatable; default: 0, reads return the last value written\n"
    "  --linger S         after the script, keep serving S seconds (default: until every client\n"
    "                     has disconnected)\n"
    "  --rate R           synthetic records per second (default: unlimited)\n"
    "  --allow-drops      do not pace synthetic records by the slowest client\n";

#define MAX_RULES 64
#define MAX_STORE 256

struct rule {
    uint16_t name;
    uint32_t status;
    int has_val;
    uint32_t val;
};

struct stored {
    uint16_t name;
    uint8_t ident[MW_NF_IDENT_LEN];
    uint8_t val[MW_NF_VAL_LEN];
};

struct serve {
    struct mw_nf_server *srv;
    pthread_mutex_t lock;
    struct rule rules[MAX_RULES];
    int nrules;
    struct stored store[MAX_STORE];
    int nstore;
    uint64_t requests;
    int allow_drops;
};

static volatile sig_atomic_t serve_stop;
static void serve_on_sig(int s) { (void)s; serve_stop = 1; }

static int parse_errno(const char *s, uint32_t *out)
{
    uint64_t v;
    if (mwnf_parse_u64(s, 4095, &v) == 0) {
        *out = (uint32_t)v;
        return 0;
    }
    for (int e = 1; e < 4096; e++) {
        const char *n = strerrorname_np(e);
        if (n && !strcmp(n, s)) {
            *out = (uint32_t)e;
            return 0;
        }
    }
    return -1;
}

/* "NAME=ERRNO[:VALUE]" */
static int parse_rule(const char *s, struct rule *r)
{
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", s);
    char *eq = strchr(buf, '=');
    if (!eq)
        return -1;
    *eq = 0;
    char *colon = strchr(eq + 1, ':');
    if (colon)
        *colon = 0;
    const struct mw_nf_feature_desc *d = mw_nf_feature_lookup(buf);
    uint64_t v = 0;
    if (!d || parse_errno(eq + 1, &r->status) < 0 ||
        (colon && mwnf_parse_u64(colon + 1, UINT32_MAX, &v) < 0))
        return -1;
    r->name = d->name;
    r->has_val = colon != NULL;
    r->val = (uint32_t)v;
    return 0;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

static void on_request(void *ctx, struct mw_nf_server *srv, uint64_t client_id,
                       const struct mw_nf_feature_request *rq)
{
    struct serve *s = ctx;
    uint32_t status = 0;
    uint8_t val[MW_NF_VAL_LEN] = { 0 };
    pthread_mutex_lock(&s->lock);
    s->requests++;
    const struct rule *rule = NULL;
    for (int i = s->nrules - 1; i >= 0 && !rule; i--)
        if (s->rules[i].name == rq->name)
            rule = &s->rules[i];
    struct stored *st = NULL;
    for (int i = 0; i < s->nstore && !st; i++)
        if (s->store[i].name == rq->name && !memcmp(s->store[i].ident, rq->ident, MW_NF_IDENT_LEN))
            st = &s->store[i];
    if (rule) {
        status = rule->status;
        if (rule->has_val)
            mw_nf_val_set_u32(val, rule->val);
    } else if (rq->flags & MW_NF_FLAG_WRITE) {
        /* remember writes so a later read returns them, like a real socket option would */
        if (!st && s->nstore < MAX_STORE) {
            st = &s->store[s->nstore++];
            st->name = rq->name;
            memcpy(st->ident, rq->ident, MW_NF_IDENT_LEN);
        }
        if (st)
            memcpy(st->val, rq->val, MW_NF_VAL_LEN);
        memcpy(val, rq->val, MW_NF_VAL_LEN);
    } else if (st) {
        memcpy(val, st->val, MW_NF_VAL_LEN);
    } else if (rq->name == MW_NF_FEAT_INS_LIST) {
        status = ENOENT; /* a script source has no INS pool */
    }
    pthread_mutex_unlock(&s->lock);
    char vh[33], ih[41];
    hex(rq->val, MW_NF_VAL_LEN, vh);
    hex(rq->ident, MW_NF_IDENT_LEN, ih);
    const struct mw_nf_feature_desc *d = mw_nf_feature(rq->name);
    /* one line, flushed, so that a test reading stdout sees every request as it happens */
    printf("{\"request\":{\"client\":%llu,\"id\":%u,\"flags\":%u,\"name\":%u,\"sym\":\"%s\","
           "\"val\":\"%s\",\"ident\":\"%s\"},\"status\":%u}\n",
           (unsigned long long)client_id, rq->id, rq->flags, rq->name, d ? d->sym : "?", vh, ih,
           status);
    fflush(stdout);
    mw_nf_server_respond(srv, client_id, rq->id, status, val);
}

static void sleep_us(uint64_t us)
{
    struct timespec ts = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000 };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !serve_stop)
        ;
}

static int wait_clients(struct serve *s, uint64_t n)
{
    struct mw_nf_server_stats st;
    for (;;) {
        mw_nf_server_stats(s->srv, &st);
        if (st.clients >= n)
            return 0;
        if (serve_stop)
            return -1;
        sleep_us(10000);
    }
}

/* Keeps at least half of every client queue free, unless drops are allowed. */
static void pace(struct serve *s)
{
    if (s->allow_drops)
        return;
    size_t cap = mw_nf_server_queue_capacity(s->srv);
    while (!serve_stop && mw_nf_server_max_queued(s->srv) > cap / 2)
        sleep_us(200);
}

/* Waits until every queued record has been written to its client (or the clients are gone). */
static void wait_drained(struct serve *s, int max_ms)
{
    struct mw_nf_server_stats st;
    for (int i = 0; i < max_ms / 10 && !serve_stop; i++) {
        mw_nf_server_stats(s->srv, &st);
        if (st.records_sent + st.records_dropped >= st.records_queued || st.clients == 0)
            return;
        sleep_us(10000);
    }
}

static void now_rt(uint64_t *sec, uint64_t *nsec)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    *sec = (uint64_t)ts.tv_sec;
    *nsec = (uint64_t)ts.tv_nsec;
}

static int parse_ep(const char *s, struct mw_nf_endpoint *ep)
{
    char host[128];
    uint16_t port;
    if (mwnf_parse_hostport(s, host, sizeof(host), &port) < 0)
        return -1;
    if (mwnf_parse_addr(host, &ep->af, ep->addr) < 0)
        return -1;
    ep->port = port;
    return 0;
}

static int parse_ts(const char *s, uint64_t *sec, uint64_t *nsec)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", s);
    char *dot = strchr(buf, '.');
    if (dot)
        *dot = 0;
    if (mwnf_parse_u64(buf, UINT64_MAX, sec) < 0)
        return -1;
    *nsec = 0;
    if (dot && mwnf_parse_u64(dot + 1, 999999999, nsec) < 0)
        return -1;
    return 0;
}

/* "OBS SOCKID key=value..." into an observation; 0 or -1 with *err set */
static int parse_info(char **tok, int ntok, struct mw_nf_obs *o, const char **err)
{
    uint64_t v;
    memset(o, 0, sizeof(*o));
    if (ntok < 2) {
        *err = "info needs OBS and SOCKID";
        return -1;
    }
    int ob = mw_nf_obs_lookup(tok[0]);
    if (ob < 0 && mwnf_parse_u64(tok[0], 0xffff, &v) == 0)
        ob = (int)v;
    if (ob < 0) {
        *err = "unknown observation (create,bind,accept,connect,recv,send,close or a number)";
        return -1;
    }
    o->obs = (uint16_t)ob;
    char *end;
    errno = 0;
    long long sid = strtoll(tok[1], &end, 0);
    if (errno || *end) {
        *err = "bad SOCKID";
        return -1;
    }
    o->sockid = sid;
    now_rt(&o->ts_sec, &o->ts_nsec);
    o->start_sec = o->ts_sec;
    o->start_nsec = o->ts_nsec;
    for (int i = 2; i < ntok; i++) {
        char *eq = strchr(tok[i], '=');
        if (!eq) {
            *err = "expected key=value";
            return -1;
        }
        *eq = 0;
        const char *k = tok[i], *val = eq + 1;
        int bad = 0;
        if (!strcmp(k, "local"))
            bad = parse_ep(val, &o->local);
        else if (!strcmp(k, "remote"))
            bad = parse_ep(val, &o->remote);
        else if (!strcmp(k, "in"))
            bad = mwnf_parse_u64(val, UINT64_MAX, &o->bytes_in);
        else if (!strcmp(k, "out"))
            bad = mwnf_parse_u64(val, UINT64_MAX, &o->bytes_out);
        else if (!strcmp(k, "extra") || !strcmp(k, "new"))
            bad = mwnf_parse_u64(val, UINT64_MAX, &o->extra);
        else if (!strcmp(k, "start"))
            bad = parse_ts(val, &o->start_sec, &o->start_nsec);
        else if (!strcmp(k, "ts"))
            bad = parse_ts(val, &o->ts_sec, &o->ts_nsec);
        else if (!strcmp(k, "ins")) {
            bad = mwnf_parse_u64(val, INT32_MAX, &v);
            o->ins_id = (int32_t)v;
        } else {
            *err = "unknown key (local remote in out extra start ts ins)";
            return -1;
        }
        if (bad) {
            *err = "bad value";
            return -1;
        }
    }
    return 0;
}

static int run_script(struct serve *s, FILE *fp, const char *fname, uint64_t *emitted)
{
    char line[1024];
    int lineno = 0;
    while (!serve_stop && fgets(line, sizeof(line), fp)) {
        lineno++;
        char *tok[32], *save = NULL;
        int ntok = 0;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        for (char *t = strtok_r(line, " \t\r\n", &save); t && ntok < 32;
             t = strtok_r(NULL, " \t\r\n", &save))
            tok[ntok++] = t;
        if (!ntok)
            continue;
        const char *err = NULL;
        uint64_t n = 0;
        if (!strcmp(tok[0], "info")) {
            struct mw_nf_obs o;
            if (parse_info(tok + 1, ntok - 1, &o, &err) == 0) {
                pace(s);
                mw_nf_server_emit(s->srv, &o);
                (*emitted)++;
            }
        } else if (!strcmp(tok[0], "repeat")) {
            /* repeat N OBS SOCKID ...: N records, the socket id and byte counters counting up */
            struct mw_nf_obs o;
            if (ntok < 4 || mwnf_parse_u64(tok[1], UINT32_MAX, &n) < 0)
                err = "repeat needs N OBS SOCKID [key=value...]";
            else if (parse_info(tok + 2, ntok - 2, &o, &err) == 0) {
                for (uint64_t i = 0; i < n && !serve_stop; i++) {
                    pace(s);
                    mw_nf_server_emit(s->srv, &o);
                    (*emitted)++;
                    o.sockid++;
                    o.bytes_in += 100;
                    o.bytes_out += 200;
                    now_rt(&o.ts_sec, &o.ts_nsec);
                }
            }
        } else if (!strcmp(tok[0], "sleep")) {
            if (ntok != 2 || mwnf_parse_u64(tok[1], 3600000, &n) < 0)
                err = "sleep needs milliseconds";
            else
                sleep_us(n * 1000);
        } else if (!strcmp(tok[0], "wait-clients")) {
            if (ntok != 2 || mwnf_parse_u64(tok[1], 100000, &n) < 0)
                err = "wait-clients needs N";
            else if (wait_clients(s, n) < 0)
                break;
        } else if (!strcmp(tok[0], "wait-drained")) {
            wait_drained(s, 60000);
        } else if (!strcmp(tok[0], "status")) {
            /* status NAME ERRNO [VALUE] */
            char spec[160];
            if (ntok < 3 || ntok > 4) {
                err = "status needs NAME ERRNO [VALUE]";
            } else {
                snprintf(spec, sizeof(spec), "%s=%s%s%s", tok[1], tok[2], ntok == 4 ? ":" : "",
                         ntok == 4 ? tok[3] : "");
                pthread_mutex_lock(&s->lock);
                if (s->nrules == MAX_RULES || parse_rule(spec, &s->rules[s->nrules]) < 0)
                    err = "bad status rule (NAME ERRNO [VALUE])";
                else
                    s->nrules++;
                pthread_mutex_unlock(&s->lock);
            }
        } else {
            err = "unknown command (info repeat sleep wait-clients wait-drained status)";
        }
        if (err) {
            fprintf(stderr, "mwnf: %s:%d: %s\n", fname, lineno, err);
            return MWNF_EUSAGE;
        }
    }
    return MWNF_OK;
}

static void run_synthetic(struct serve *s, uint64_t n, uint64_t rate, uint64_t *emitted)
{
    struct mw_nf_obs o;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    memset(&o, 0, sizeof(o));
    for (uint64_t i = 0; i < n && !serve_stop; i++) {
        /* socket k goes create, bind, accept (new socket id in extra), connect, recv, send, close */
        uint64_t k = i / 7 + 1;
        o.obs = (uint16_t)(1 + i % 7);
        o.sockid = (int64_t)k;
        if (o.obs == MW_NF_OBS_CREATE) {
            now_rt(&o.start_sec, &o.start_nsec);
            o.bytes_in = o.bytes_out = 0;
        }
        now_rt(&o.ts_sec, &o.ts_nsec);
        o.local.af = 4;
        o.local.addr[0] = 10;
        o.local.addr[3] = 1;
        o.local.port = 80;
        o.remote.af = 4;
        o.remote.addr[0] = 198;
        o.remote.addr[1] = 51;
        o.remote.addr[2] = 100;
        o.remote.addr[3] = (uint8_t)(1 + k % 250);
        o.remote.port = (uint16_t)(10000 + k % 50000);
        if (o.obs == MW_NF_OBS_RECV)
            o.bytes_in += 512;
        if (o.obs == MW_NF_OBS_SEND)
            o.bytes_out += 4096;
        o.extra = o.obs == MW_NF_OBS_ACCEPT ? k + 1000000000ull : 0;
        o.ins_id = (int32_t)(k % 4);
        if ((i & 255) == 0)
            pace(s);
        if (rate) {
            struct timespec t;
            clock_gettime(CLOCK_MONOTONIC, &t);
            double el = (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9;
            double due = (double)i / (double)rate;
            if (due > el)
                sleep_us((uint64_t)((due - el) * 1e6));
        }
        mw_nf_server_emit(s->srv, &o);
        (*emitted)++;
    }
}

int mwnf_serve_main(int argc, char **argv)
{
    struct serve s = { .lock = PTHREAD_MUTEX_INITIALIZER };
    struct mw_nf_server_config cfg = { .bind_addr = "127.0.0.1", .port = 2055 };
    const char *file = NULL;
    uint64_t synthetic = 0, wait_n = 1, linger = UINT64_MAX, rate = 0, v;
    int have_synth = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(serve_usage, stdout);
            return MWNF_OK;
        } else if (!strcmp(a, "--synthetic") && more) {
            if (mwnf_parse_u64(argv[++i], UINT64_MAX, &synthetic) < 0)
                goto bad;
            have_synth = 1;
        } else if (!strcmp(a, "--port") && more) {
            if (mwnf_parse_u64(argv[++i], 65535, &v) < 0)
                goto bad;
            cfg.port = (uint16_t)v;
        } else if (!strcmp(a, "--bind") && more) {
            cfg.bind_addr = argv[++i];
        } else if (!strcmp(a, "--token") && more) {
            cfg.token = argv[++i];
        } else if (!strcmp(a, "--queue") && more) {
            if (mwnf_parse_u64(argv[++i], 1u << 24, &v) < 0 || !v)
                goto bad;
            cfg.queue_records = v;
        } else if (!strcmp(a, "--wait-clients") && more) {
            if (mwnf_parse_u64(argv[++i], 100000, &wait_n) < 0)
                goto bad;
        } else if (!strcmp(a, "--linger") && more) {
            if (mwnf_parse_u64(argv[++i], 86400 * 365, &linger) < 0)
                goto bad;
        } else if (!strcmp(a, "--rate") && more) {
            if (mwnf_parse_u64(argv[++i], UINT32_MAX, &rate) < 0)
                goto bad;
        } else if (!strcmp(a, "--status") && more) {
            if (s.nrules == MAX_RULES || parse_rule(argv[++i], &s.rules[s.nrules]) < 0) {
                fprintf(stderr, "mwnf: serve-script: bad --status '%s' (NAME=ERRNO[:VALUE], e.g. "
                        "rcvbuf=EBADF or congctl=0:146)\n", argv[i]);
                return MWNF_EUSAGE;
            }
            s.nrules++;
        } else if (!strcmp(a, "--allow-drops")) {
            s.allow_drops = 1;
        } else if (a[0] != '-' || !strcmp(a, "-")) {
            if (file)
                goto bad;
            file = a;
        } else {
            goto bad;
        }
        continue;
    bad:
        fprintf(stderr, "mwnf: serve-script: bad or incomplete option '%s' (mwnf serve-script --help)\n", a);
        return MWNF_EUSAGE;
    }
    if (!!file == have_synth) {
        fprintf(stderr, "mwnf: serve-script needs exactly one of FILE or --synthetic N\n");
        return MWNF_EUSAGE;
    }
    FILE *fp = NULL;
    if (file) {
        fp = strcmp(file, "-") ? fopen(file, "r") : stdin;
        if (!fp) {
            fprintf(stderr, "mwnf: serve-script: cannot open %s: %s\n", file, strerror(errno));
            return MWNF_EUSAGE;
        }
    }
    cfg.on_request = on_request;
    cfg.ctx = &s;
    struct sigaction sa = { .sa_handler = serve_on_sig };
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    int rc = mw_nf_server_start(&cfg, &s.srv);
    if (rc < 0) {
        fprintf(stderr, "mwnf: serve-script: cannot listen on %s port %u: %s\n", cfg.bind_addr,
                cfg.port, strerror(-rc));
        if (fp && fp != stdin)
            fclose(fp);
        return MWNF_ECONN;
    }
    int v6 = strchr(cfg.bind_addr, ':') != NULL;
    printf("listening %s%s%s:%u\n", v6 ? "[" : "", cfg.bind_addr, v6 ? "]" : "",
           mw_nf_server_port(s.srv));
    fflush(stdout);

    struct timespec t0, t1;
    uint64_t emitted = 0;
    rc = MWNF_OK;
    if (wait_n && wait_clients(&s, wait_n) < 0)
        goto done;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (fp)
        rc = run_script(&s, fp, file, &emitted);
    else
        run_synthetic(&s, synthetic, rate, &emitted);
    wait_drained(&s, 600000);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

    /* keep answering requests: for --linger seconds, or until every client has gone */
    for (uint64_t waited = 0; !serve_stop && rc == MWNF_OK; waited += 100) {
        struct mw_nf_server_stats st;
        mw_nf_server_stats(s.srv, &st);
        if (linger == UINT64_MAX ? st.clients == 0 : waited >= linger * 1000)
            break;
        sleep_us(100000);
    }
    struct mw_nf_server_stats st;
    mw_nf_server_stats(s.srv, &st);
    printf("{\"summary\":{\"emitted\":%llu,\"seconds\":%.3f,\"records_per_second\":%.0f,"
           "\"sent\":%llu,\"dropped\":%llu,\"requests\":%llu,\"clients_total\":%llu}}\n",
           (unsigned long long)emitted, secs, secs > 0 ? (double)emitted / secs : 0.0,
           (unsigned long long)st.records_sent, (unsigned long long)st.records_dropped,
           (unsigned long long)st.requests, (unsigned long long)st.clients_total);
    fflush(stdout);
done:
    mw_nf_server_stop(s.srv);
    if (fp && fp != stdin)
        fclose(fp);
    return rc;
}
