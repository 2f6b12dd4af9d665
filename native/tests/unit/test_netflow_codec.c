/* NetFlow codec conformance: every shared vector (testdata/netflow-vectors/NAME.hex + NAME.json)
 * decodes to the JSON's fields, the JSON's fields encode to the same bytes, and decoding then
 * re-encoding gives the same bytes. Plus the never-trust-lengths and stream-reader properties. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mw/netflow.h"
#include "mwtest.h"

/* ---- a minimal reader for the vectors' flat JSON objects (numbers and strings only) ---- */
#define JMAX 32
struct jfield {
    char key[48];
    int is_str;
    int neg;          /* number was negative: use i */
    uint64_t u;
    int64_t i;
    char s[80];
};
struct jobj {
    int n;
    struct jfield f[JMAX];
};

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
        p++;
    return p;
}

static const char *parse_str(const char *p, char *out, size_t cap)
{
    size_t n = 0;
    if (*p != '"')
        return NULL;
    p++;
    while (*p && *p != '"') {
        if (*p == '\\' || n + 1 >= cap)
            return NULL; /* the vectors need no escapes */
        out[n++] = *p++;
    }
    if (*p != '"')
        return NULL;
    out[n] = 0;
    return p + 1;
}

/* 0 on success, -1 on anything that is not a flat object of numbers/strings */
static int json_parse(const char *p, struct jobj *o)
{
    memset(o, 0, sizeof(*o));
    p = skip_ws(p);
    if (*p++ != '{')
        return -1;
    for (;;) {
        p = skip_ws(p);
        if (*p == '}')
            return 0;
        if (o->n == JMAX)
            return -1;
        struct jfield *f = &o->f[o->n];
        p = parse_str(p, f->key, sizeof(f->key));
        if (!p)
            return -1;
        p = skip_ws(p);
        if (*p++ != ':')
            return -1;
        p = skip_ws(p);
        if (*p == '"') {
            f->is_str = 1;
            p = parse_str(p, f->s, sizeof(f->s));
            if (!p)
                return -1;
        } else {
            char *end;
            errno = 0;
            if (*p == '-') {
                f->neg = 1;
                f->i = strtoll(p, &end, 10);
                f->u = (uint64_t)f->i;
            } else {
                f->u = strtoull(p, &end, 10);
                f->i = (int64_t)f->u;
            }
            if (end == p || errno)
                return -1;
            p = end;
        }
        o->n++;
        p = skip_ws(p);
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p == '}')
            return 0;
        return -1;
    }
}

static const struct jfield *jget(const struct jobj *o, const char *key)
{
    for (int i = 0; i < o->n; i++)
        if (strcmp(o->f[i].key, key) == 0)
            return &o->f[i];
    return NULL;
}

static uint64_t jnum(const struct jobj *o, const char *key)
{
    const struct jfield *f = jget(o, key);
    return f && !f->is_str ? f->u : 0;
}

static void jaddr(const struct jobj *o, const char *key, uint32_t af, uint8_t out[16])
{
    const struct jfield *f = jget(o, key);
    memset(out, 0, 16);
    if (f && f->is_str)
        inet_pton(af == 6 ? AF_INET6 : AF_INET, f->s, out);
}

/* ---- files ---- */
static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return NULL;
    char *buf = calloc(1, 8192);
    size_t n = buf ? fread(buf, 1, 8191, fp) : 0;
    (void)n;
    fclose(fp);
    return buf;
}

static int hex_decode(const char *h, uint8_t *out, size_t cap)
{
    size_t n = 0;
    while (h[0] && h[0] != '\n' && h[0] != '\r') {
        unsigned v;
        if (!h[1] || n == cap || sscanf(h, "%2x", &v) != 1)
            return -1;
        out[n++] = (uint8_t)v;
        h += 2;
    }
    return (int)n;
}

static const char *vectors_dir(char *buf, size_t len)
{
    const char *root = getenv("MW_ROOT");
    snprintf(buf, len, "%s/testdata/netflow-vectors", root ? root : "..");
    return buf;
}

/* Builds the message the JSON describes, in host order. */
static void from_json(const struct jobj *o, struct mw_nf_msg *m)
{
    memset(m, 0, sizeof(*m));
    m->sig = (uint16_t)jnum(o, "sig");
    if (m->sig == MW_NF_SIG_AUTH) {
        const struct jfield *t = jget(o, "token");
        struct mw_nf_auth *a = &m->u.auth;
        a->sig = m->sig;
        a->id = (uint32_t)jnum(o, "id");
        a->token_len = (uint16_t)jnum(o, "token_len");
        /* token_len is checked against the string so a vector cannot disagree with itself */
        if (t && t->is_str && strlen(t->s) == a->token_len && a->token_len <= MW_NF_TOKEN_MAX)
            memcpy(a->token, t->s, a->token_len);
        else
            a->token_len = 0; /* encodes to -EINVAL: the vector is reported as bad */
        return;
    }
    if (m->sig == MW_NF_SIG_INFO || m->sig == MW_NF_SIG_SNAPSHOT) { /* snapshot: info layout */
        struct mw_nf_info *i = &m->u.info;
        i->sig = m->sig;
        i->id = (uint32_t)jnum(o, "id");
        i->obs = (uint16_t)jnum(o, "obs");
        i->start_sec = jnum(o, "session_start_sec");
        i->start_nsec = jnum(o, "session_start_ns");
        i->ts_sec = jnum(o, "curr_sec");
        i->ts_nsec = jnum(o, "curr_ns");
        i->sockfd = (int64_t)jnum(o, "sockfd");
        i->local.af = (uint32_t)jnum(o, "local_af");
        jaddr(o, "local_addr", i->local.af, i->local.addr);
        i->local.port = (uint16_t)jnum(o, "local_port");
        i->remote.af = (uint32_t)jnum(o, "remote_af");
        jaddr(o, "remote_addr", i->remote.af, i->remote.addr);
        i->remote.port = (uint16_t)jnum(o, "remote_port");
        i->bytes_in = jnum(o, "bytes_in");
        i->bytes_out = jnum(o, "bytes_out");
        i->extra = jnum(o, "extra");
        return;
    }
    uint8_t *val = m->sig == MW_NF_SIG_REQUEST ? m->u.req.val : m->u.resp.val;
    if (jget(o, "val_v32"))
        mw_nf_val_set_u32(val, (uint32_t)jnum(o, "val_v32"));
    if (jget(o, "val_v64"))
        mw_nf_val_set_u64(val, jnum(o, "val_v64"));
    if (jget(o, "val_time_s"))
        mw_nf_val_set_time(val, jnum(o, "val_time_s"), jnum(o, "val_time_us"));
    if (m->sig == MW_NF_SIG_REQUEST) {
        struct mw_nf_feature_request *r = &m->u.req;
        r->sig = m->sig;
        r->id = (uint32_t)jnum(o, "id");
        r->flags = (uint16_t)jnum(o, "flags");
        r->name = (uint16_t)jnum(o, "name");
        if (jget(o, "ident_sockfd"))
            mw_nf_ident_set_sockid(r->ident, (int64_t)jnum(o, "ident_sockfd"));
        if (jget(o, "ident_af")) {
            uint8_t a[16];
            uint32_t af = (uint32_t)jnum(o, "ident_af");
            jaddr(o, "ident_addr", af, a);
            mw_nf_ident_set_addr(r->ident, af, a);
        }
    } else {
        m->u.resp.sig = m->sig;
        m->u.resp.id = (uint32_t)jnum(o, "id");
        m->u.resp.status = (uint32_t)jnum(o, "status");
    }
}

static int encode(const struct mw_nf_msg *m, uint8_t *out)
{
    switch (m->sig) {
    case MW_NF_SIG_INFO:
    case MW_NF_SIG_SNAPSHOT: return mw_nf_info_encode(&m->u.info, out) ? -1 : MW_NF_INFO_LEN;
    case MW_NF_SIG_AUTH: return mw_nf_auth_encode(&m->u.auth, out) ? -1 : MW_NF_AUTH_LEN;
    case MW_NF_SIG_REQUEST: return mw_nf_request_encode(&m->u.req, out) ? -1 : MW_NF_REQUEST_LEN;
    case MW_NF_SIG_RESPONSE:
        return mw_nf_response_encode(&m->u.resp, out) ? -1 : MW_NF_RESPONSE_LEN;
    default: return -1;
    }
}

static int same_msg(const struct mw_nf_msg *a, const struct mw_nf_msg *b)
{
    if (a->sig != b->sig)
        return 0;
    switch (a->sig) {
    case MW_NF_SIG_INFO:
    case MW_NF_SIG_SNAPSHOT: {
        const struct mw_nf_info *x = &a->u.info, *y = &b->u.info;
        return x->id == y->id && x->obs == y->obs && x->start_sec == y->start_sec &&
               x->start_nsec == y->start_nsec && x->ts_sec == y->ts_sec &&
               x->ts_nsec == y->ts_nsec && x->sockfd == y->sockfd && x->local.af == y->local.af &&
               !memcmp(x->local.addr, y->local.addr, 16) && x->local.port == y->local.port &&
               x->remote.af == y->remote.af && !memcmp(x->remote.addr, y->remote.addr, 16) &&
               x->remote.port == y->remote.port && x->bytes_in == y->bytes_in &&
               x->bytes_out == y->bytes_out && x->extra == y->extra;
    }
    case MW_NF_SIG_REQUEST:
        return a->u.req.id == b->u.req.id && a->u.req.flags == b->u.req.flags &&
               a->u.req.name == b->u.req.name && !memcmp(a->u.req.val, b->u.req.val, 16) &&
               !memcmp(a->u.req.ident, b->u.req.ident, 20);
    case MW_NF_SIG_RESPONSE:
        return a->u.resp.id == b->u.resp.id && a->u.resp.status == b->u.resp.status &&
               !memcmp(a->u.resp.val, b->u.resp.val, 16);
    case MW_NF_SIG_AUTH:
        return a->u.auth.id == b->u.auth.id && a->u.auth.token_len == b->u.auth.token_len &&
               !memcmp(a->u.auth.token, b->u.auth.token, MW_NF_TOKEN_MAX);
    }
    return 0;
}

MW_TEST(netflow_vectors_decode_and_reencode)
{
    char dir[1024], path[1400];
    DIR *d = opendir(vectors_dir(dir, sizeof(dir)));
    MW_ASSERT(d != NULL);
    if (!d)
        return;
    /* info, request, response, snapshot, auth */
    int count = 0, bad = 0, kinds[5] = { 0, 0, 0, 0, 0 };
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t nl = strlen(e->d_name);
        if (nl < 5 || strcmp(e->d_name + nl - 4, ".hex"))
            continue;
        char base[256];
        snprintf(base, sizeof(base), "%.*s", (int)(nl - 4), e->d_name);
        snprintf(path, sizeof(path), "%s/%s.hex", dir, base);
        char *hex = slurp(path);
        snprintf(path, sizeof(path), "%s/%s.json", dir, base);
        char *js = slurp(path);
        uint8_t bytes[256], again[256];
        struct jobj o;
        struct mw_nf_msg got, want;
        int n = hex && js ? hex_decode(hex, bytes, sizeof(bytes)) : -1;
        int ok = n > 0 && json_parse(js, &o) == 0;
        if (ok) {
            from_json(&o, &want);
            int rc = mw_nf_decode(bytes, (size_t)n, &got);
            ok = rc == n && rc == mw_nf_msg_len(want.sig) && same_msg(&got, &want);
            if (!ok)
                fprintf(stderr, "  %s: decode rc=%d len=%d or fields differ from the JSON\n", base, rc, n);
            /* JSON -> bytes */
            if (ok && (encode(&want, again) != n || memcmp(again, bytes, (size_t)n))) {
                fprintf(stderr, "  %s: encoding the JSON fields gives other bytes\n", base);
                ok = 0;
            }
            /* bytes -> struct -> bytes */
            if (ok && (encode(&got, again) != n || memcmp(again, bytes, (size_t)n))) {
                fprintf(stderr, "  %s: re-encoding the decoded message gives other bytes\n", base);
                ok = 0;
            }
            if (ok)
                kinds[want.sig == MW_NF_SIG_INFO ? 0 : want.sig == MW_NF_SIG_REQUEST ? 1
                      : want.sig == MW_NF_SIG_RESPONSE ? 2 : want.sig == MW_NF_SIG_SNAPSHOT ? 3 : 4]++;
        } else {
            fprintf(stderr, "  %s: unreadable vector (hex or JSON)\n", base);
        }
        bad += !ok;
        count++;
        free(hex);
        free(js);
    }
    closedir(d);
    MW_ASSERT(bad == 0);
    MW_ASSERT(count >= 22); /* 22 vectors at the time of writing: all of them must be seen */
    MW_ASSERT(kinds[0] > 0 && kinds[1] > 0 && kinds[2] > 0 && kinds[3] > 0 && kinds[4] > 0);
}

/* Every vector's byte prefix is rejected with -EMSGSIZE, never read past. */
MW_TEST(netflow_decode_never_trusts_lengths)
{
    uint8_t buf[MW_NF_MAX_MSG_LEN];
    struct mw_nf_msg m;
    static const uint16_t sigs[] = { MW_NF_SIG_INFO, MW_NF_SIG_REQUEST, MW_NF_SIG_RESPONSE,
                                     MW_NF_SIG_SNAPSHOT, MW_NF_SIG_AUTH };
    for (size_t s = 0; s < sizeof(sigs) / sizeof(sigs[0]); s++) {
        int n = mw_nf_msg_len(sigs[s]);
        MW_ASSERT(n > 0);
        memset(buf, 0, sizeof(buf));
        buf[0] = sigs[s] >> 8;
        buf[1] = sigs[s] & 0xff;
        buf[7] = 4; /* auth token length 4 */
        for (int len = 0; len < n; len++) {
            /* a heap copy of exactly len bytes lets ASan catch any over-read */
            uint8_t *h = malloc(len ? (size_t)len : 1);
            memcpy(h, buf, (size_t)len);
            MW_ASSERT(mw_nf_decode(h, (size_t)len, &m) == -EMSGSIZE);
            free(h);
        }
        MW_ASSERT(mw_nf_decode(buf, (size_t)n, &m) == n);
    }
    memset(buf, 0, sizeof(buf));
    buf[0] = 0xd3;
    buf[1] = 0x21;
    MW_ASSERT(mw_nf_msg_len(0xd321) == -EPROTO);
    MW_ASSERT(mw_nf_decode(buf, sizeof(buf), &m) == -EPROTO);
    /* a typed decoder refuses another message's signature */
    struct mw_nf_feature_request rq;
    buf[1] = 0x10;
    MW_ASSERT(mw_nf_request_decode(buf, sizeof(buf), &rq) == -EPROTO);
    MW_ASSERT(mw_nf_request_decode(NULL, 0, &rq) == -EMSGSIZE);
}

MW_TEST(netflow_reader_reassembles_any_split)
{
    /* three messages back to back, fed in every chunk size from 1 to the whole */
    struct mw_nf_info in = { .sig = MW_NF_SIG_INFO, .id = 42, .obs = MW_NF_OBS_SEND, .sockfd = -7,
                             .bytes_in = 1, .bytes_out = 2, .extra = 3 };
    struct mw_nf_feature_request rq = { .sig = MW_NF_SIG_REQUEST, .id = 9,
                                        .flags = MW_NF_FLAG_WRITE, .name = MW_NF_FEAT_CONGCTL };
    struct mw_nf_auth au = { .sig = MW_NF_SIG_AUTH, .id = 1, .token_len = 3, .token = "abc" };
    uint8_t stream[MW_NF_INFO_LEN + MW_NF_REQUEST_LEN + MW_NF_AUTH_LEN];
    MW_ASSERT(mw_nf_info_encode(&in, stream) == 0);
    MW_ASSERT(mw_nf_request_encode(&rq, stream + MW_NF_INFO_LEN) == 0);
    MW_ASSERT(mw_nf_auth_encode(&au, stream + MW_NF_INFO_LEN + MW_NF_REQUEST_LEN) == 0);
    for (size_t chunk = 1; chunk <= sizeof(stream); chunk++) {
        struct mw_nf_reader r;
        struct mw_nf_msg m;
        uint16_t seen[4] = { 0 };
        int nseen = 0, err = 0;
        mw_nf_reader_init(&r);
        for (size_t off = 0; off < sizeof(stream) && !err;) {
            size_t len = sizeof(stream) - off < chunk ? sizeof(stream) - off : chunk;
            size_t done = 0;
            while (done < len) {
                int got;
                ssize_t n = mw_nf_reader_feed(&r, stream + off + done, len - done, &m, &got);
                if (n < 0) {
                    err = 1;
                    break;
                }
                done += (size_t)n;
                if (got < 0)
                    err = 1;
                if (got == 1 && nseen < 4)
                    seen[nseen++] = m.sig;
                if (got == 1 && m.sig == MW_NF_SIG_INFO && (m.u.info.sockfd != -7 || m.u.info.id != 42))
                    err = 1;
                if (got == 1 && m.sig == MW_NF_SIG_AUTH && memcmp(m.u.auth.token, "abc", 3))
                    err = 1;
            }
            off += len;
        }
        MW_ASSERT(!err && nseen == 3 && seen[0] == MW_NF_SIG_INFO &&
                  seen[1] == MW_NF_SIG_REQUEST && seen[2] == MW_NF_SIG_AUTH);
        MW_ASSERT(r.offset == sizeof(stream) && r.have == 0);
    }
    /* garbage: unknown signature is reported with the offset of the bad message */
    struct mw_nf_reader r;
    struct mw_nf_msg m;
    int got;
    uint8_t junk[MW_NF_REQUEST_LEN + 3];
    memcpy(junk, stream + MW_NF_INFO_LEN, MW_NF_REQUEST_LEN);
    junk[MW_NF_REQUEST_LEN] = 0xde;
    junk[MW_NF_REQUEST_LEN + 1] = 0xad;
    junk[MW_NF_REQUEST_LEN + 2] = 0x00;
    mw_nf_reader_init(&r);
    ssize_t n = mw_nf_reader_feed(&r, junk, sizeof(junk), &m, &got);
    MW_ASSERT(n == MW_NF_REQUEST_LEN && got == 1 && m.sig == MW_NF_SIG_REQUEST);
    n = mw_nf_reader_feed(&r, junk + n, sizeof(junk) - (size_t)n, &m, &got);
    MW_ASSERT(n == -EPROTO && got == 0 && r.offset == MW_NF_REQUEST_LEN);
    /* an auth message with a token length out of range is framed, then refused */
    uint8_t badauth[MW_NF_AUTH_LEN] = { 0xd3, 0x30, 0, 0, 0, 1, 0x00, 0x41 };
    mw_nf_reader_init(&r);
    n = mw_nf_reader_feed(&r, badauth, sizeof(badauth), &m, &got);
    MW_ASSERT(n == MW_NF_AUTH_LEN && got == -EINVAL && r.offset == MW_NF_AUTH_LEN && r.have == 0);
}

MW_TEST(netflow_request_check_and_names)
{
    struct mw_nf_feature_request r = { .sig = MW_NF_SIG_REQUEST, .id = 1 };
    r.name = MW_NF_FEAT_MONITOR_OFF;
    MW_ASSERT(mw_nf_request_check(&r) == 0);
    r.name = 0x7777;
    MW_ASSERT(mw_nf_request_check(&r) == ENOTSUP);
    r.name = MW_NF_FEAT_RCVBUF;
    r.flags = MW_NF_FLAG_BY_SOCKET;
    MW_ASSERT(mw_nf_request_check(&r) == 0);
    r.flags = 0; /* a socket option needs a socket */
    MW_ASSERT(mw_nf_request_check(&r) == EINVAL);
    r.flags = 0x0100 | MW_NF_FLAG_BY_SOCKET;
    MW_ASSERT(mw_nf_request_check(&r) == EINVAL);
    r.name = MW_NF_FEAT_ERROR;
    r.flags = MW_NF_FLAG_WRITE | MW_NF_FLAG_BY_SOCKET;
    MW_ASSERT(mw_nf_request_check(&r) == EPERM);
    r.name = MW_NF_FEAT_ADDR_BLOCK;
    r.flags = MW_NF_FLAG_WRITE;
    MW_ASSERT(mw_nf_request_check(&r) == EINVAL); /* ident af 0 */
    uint8_t a[16] = { 127, 0, 0, 1 };
    mw_nf_ident_set_addr(r.ident, 4, a);
    mw_nf_val_set_u32(r.val, MW_NF_BLOCK_ON);
    MW_ASSERT(mw_nf_request_check(&r) == 0);
    mw_nf_val_set_u32(r.val, 3);
    MW_ASSERT(mw_nf_request_check(&r) == EINVAL);
    memset(r.ident, 0, sizeof(r.ident));
    r.name = MW_NF_FEAT_CONGCTL;
    mw_nf_val_set_u32(r.val, 0x93);
    MW_ASSERT(mw_nf_request_check(&r) == EINVAL);
    mw_nf_val_set_u32(r.val, MW_NF_CC_CUBIC);
    MW_ASSERT(mw_nf_request_check(&r) == 0);
    r.name = MW_NF_FEAT_INS_STOP; /* which INS? */
    MW_ASSERT(mw_nf_request_check(&r) == EINVAL);
    r.flags |= MW_NF_FLAG_BY_INS;
    MW_ASSERT(mw_nf_request_check(&r) == 0);

    MW_ASSERT(mw_nf_feature_lookup("rcvbuf")->name == MW_NF_FEAT_RCVBUF);
    MW_ASSERT(mw_nf_feature_lookup("0x1101")->name == MW_NF_FEAT_CONGCTL);
    MW_ASSERT(mw_nf_feature_lookup("CongCtl")->name == MW_NF_FEAT_CONGCTL);
    MW_ASSERT(mw_nf_feature_lookup("0x9999") == NULL);
    MW_ASSERT(mw_nf_feature_lookup("rcvbuf2") == NULL);
    MW_ASSERT(mw_nf_obs_lookup("accept") == MW_NF_OBS_ACCEPT);
    MW_ASSERT(strcmp(mw_nf_obs_name(MW_NF_OBS_CLOSE), "close") == 0);

    struct mw_nf_endpoint ep = { .af = 6, .port = 443 };
    ep.addr[0] = 0x20;
    ep.addr[1] = 0x01;
    ep.addr[15] = 1;
    char buf[64];
    MW_ASSERT(strcmp(mw_nf_endpoint_str(&ep, buf, sizeof(buf)), "[2001::1]:443") == 0);
    r.name = MW_NF_FEAT_TCP_INFO; /* read only */
    r.flags = MW_NF_FLAG_WRITE | MW_NF_FLAG_BY_SOCKET;
    MW_ASSERT(mw_nf_request_check(&r) == EPERM);
    r.flags = MW_NF_FLAG_BY_SOCKET;
    MW_ASSERT(mw_nf_request_check(&r) == 0);
    struct mw_nf_tcp_info ti = { 1500, 300, 10, 2 }, ti2;
    uint8_t tv[16];
    mw_nf_val_set_tcp_info(tv, &ti);
    mw_nf_val_tcp_info(tv, &ti2);
    MW_ASSERT(memcmp(&ti, &ti2, sizeof(ti)) == 0 && tv[2] == 0x05 && tv[3] == 0xdc);
    struct mw_nf_ins_entry e = { 3, 1234, 56, 0 }, e2;
    uint8_t val[16];
    mw_nf_val_set_ins_entry(val, &e);
    mw_nf_val_ins_entry(val, &e2);
    MW_ASSERT(memcmp(&e, &e2, sizeof(e)) == 0 && val[3] == 3);
}
