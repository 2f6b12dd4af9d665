/* NetFlow codec: encode/decode of every message, the stream reader, request checks and names.
 * Layout and offsets come from the packed wire structs in mw/netflow.h (size-checked there). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mw/netflow.h"

#define OFF(type, field) offsetof(struct type, field)

static inline void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = (uint8_t)v; }
static inline void put32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = (uint8_t)v;
}
static inline void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}
static inline uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) << 32 | get32(p + 4); }

int mw_nf_msg_len(uint16_t sig)
{
    switch (sig) {
    case MW_NF_SIG_INFO:
    case MW_NF_SIG_SNAPSHOT: return MW_NF_INFO_LEN;
    case MW_NF_SIG_REQUEST: return MW_NF_REQUEST_LEN;
    case MW_NF_SIG_RESPONSE: return MW_NF_RESPONSE_LEN;
    case MW_NF_SIG_AUTH: return MW_NF_AUTH_LEN;
    default: return -EPROTO;
    }
}

static void put_ep(uint8_t *p, const struct mw_nf_endpoint *ep)
{
    put32(p + OFF(mw_nf_wire_endpoint, af), ep->af);
    memcpy(p + OFF(mw_nf_wire_endpoint, addr), ep->addr, 16);
    put16(p + OFF(mw_nf_wire_endpoint, port), ep->port);
}

static void get_ep(const uint8_t *p, struct mw_nf_endpoint *ep)
{
    ep->af = get32(p + OFF(mw_nf_wire_endpoint, af));
    memcpy(ep->addr, p + OFF(mw_nf_wire_endpoint, addr), 16);
    ep->port = get16(p + OFF(mw_nf_wire_endpoint, port));
}

static void put_base(uint8_t *p, uint16_t sig, uint32_t id)
{
    put16(p, sig);
    put32(p + OFF(mw_nf_wire_base, id), id);
}

/* Checks a buffer before decoding: long enough for the base, the expected signature, the length. */
static int check_buf(const uint8_t *buf, size_t len, uint16_t want1, uint16_t want2, size_t need)
{
    if (!buf || len < 2)
        return -EMSGSIZE;
    uint16_t sig = get16(buf);
    if (sig != want1 && sig != want2)
        return -EPROTO;
    if (len < need)
        return -EMSGSIZE;
    return 0;
}

int mw_nf_info_encode(const struct mw_nf_info *in, uint8_t out[MW_NF_INFO_LEN])
{
    if (in->sig != MW_NF_SIG_INFO && in->sig != MW_NF_SIG_SNAPSHOT)
        return -EINVAL;
    put_base(out, in->sig, in->id);
    put16(out + OFF(mw_nf_wire_info, obs), in->obs);
    put64(out + OFF(mw_nf_wire_info, start_sec), in->start_sec);
    put64(out + OFF(mw_nf_wire_info, start_nsec), in->start_nsec);
    put64(out + OFF(mw_nf_wire_info, ts_sec), in->ts_sec);
    put64(out + OFF(mw_nf_wire_info, ts_nsec), in->ts_nsec);
    put64(out + OFF(mw_nf_wire_info, sockfd), (uint64_t)in->sockfd);
    put_ep(out + OFF(mw_nf_wire_info, local), &in->local);
    put_ep(out + OFF(mw_nf_wire_info, remote), &in->remote);
    put64(out + OFF(mw_nf_wire_info, bytes_in), in->bytes_in);
    put64(out + OFF(mw_nf_wire_info, bytes_out), in->bytes_out);
    put64(out + OFF(mw_nf_wire_info, extra), in->extra);
    return 0;
}

int mw_nf_info_decode(const uint8_t *buf, size_t len, struct mw_nf_info *out)
{
    int rc = check_buf(buf, len, MW_NF_SIG_INFO, MW_NF_SIG_SNAPSHOT, MW_NF_INFO_LEN);
    if (rc)
        return rc;
    memset(out, 0, sizeof(*out));
    out->sig = get16(buf);
    out->id = get32(buf + OFF(mw_nf_wire_base, id));
    out->obs = get16(buf + OFF(mw_nf_wire_info, obs));
    out->start_sec = get64(buf + OFF(mw_nf_wire_info, start_sec));
    out->start_nsec = get64(buf + OFF(mw_nf_wire_info, start_nsec));
    out->ts_sec = get64(buf + OFF(mw_nf_wire_info, ts_sec));
    out->ts_nsec = get64(buf + OFF(mw_nf_wire_info, ts_nsec));
    out->sockfd = (int64_t)get64(buf + OFF(mw_nf_wire_info, sockfd));
    get_ep(buf + OFF(mw_nf_wire_info, local), &out->local);
    get_ep(buf + OFF(mw_nf_wire_info, remote), &out->remote);
    out->bytes_in = get64(buf + OFF(mw_nf_wire_info, bytes_in));
    out->bytes_out = get64(buf + OFF(mw_nf_wire_info, bytes_out));
    out->extra = get64(buf + OFF(mw_nf_wire_info, extra));
    return 0;
}

int mw_nf_request_encode(const struct mw_nf_feature_request *in, uint8_t out[MW_NF_REQUEST_LEN])
{
    if (in->sig != MW_NF_SIG_REQUEST)
        return -EINVAL;
    put_base(out, in->sig, in->id);
    put16(out + OFF(mw_nf_wire_request, flags), in->flags);
    put16(out + OFF(mw_nf_wire_request, name), in->name);
    memcpy(out + OFF(mw_nf_wire_request, val), in->val, MW_NF_VAL_LEN);
    memcpy(out + OFF(mw_nf_wire_request, ident), in->ident, MW_NF_IDENT_LEN);
    return 0;
}

int mw_nf_request_decode(const uint8_t *buf, size_t len, struct mw_nf_feature_request *out)
{
    int rc = check_buf(buf, len, MW_NF_SIG_REQUEST, MW_NF_SIG_REQUEST, MW_NF_REQUEST_LEN);
    if (rc)
        return rc;
    out->sig = get16(buf);
    out->id = get32(buf + OFF(mw_nf_wire_base, id));
    out->flags = get16(buf + OFF(mw_nf_wire_request, flags));
    out->name = get16(buf + OFF(mw_nf_wire_request, name));
    memcpy(out->val, buf + OFF(mw_nf_wire_request, val), MW_NF_VAL_LEN);
    memcpy(out->ident, buf + OFF(mw_nf_wire_request, ident), MW_NF_IDENT_LEN);
    return 0;
}

int mw_nf_response_encode(const struct mw_nf_feature_response *in, uint8_t out[MW_NF_RESPONSE_LEN])
{
    if (in->sig != MW_NF_SIG_RESPONSE)
        return -EINVAL;
    put_base(out, in->sig, in->id);
    put32(out + OFF(mw_nf_wire_response, status), in->status);
    memcpy(out + OFF(mw_nf_wire_response, val), in->val, MW_NF_VAL_LEN);
    return 0;
}

int mw_nf_response_decode(const uint8_t *buf, size_t len, struct mw_nf_feature_response *out)
{
    int rc = check_buf(buf, len, MW_NF_SIG_RESPONSE, MW_NF_SIG_RESPONSE, MW_NF_RESPONSE_LEN);
    if (rc)
        return rc;
    out->sig = get16(buf);
    out->id = get32(buf + OFF(mw_nf_wire_base, id));
    out->status = get32(buf + OFF(mw_nf_wire_response, status));
    memcpy(out->val, buf + OFF(mw_nf_wire_response, val), MW_NF_VAL_LEN);
    return 0;
}

int mw_nf_auth_encode(const struct mw_nf_auth *in, uint8_t out[MW_NF_AUTH_LEN])
{
    if (in->sig != MW_NF_SIG_AUTH || in->token_len == 0 || in->token_len > MW_NF_TOKEN_MAX)
        return -EINVAL;
    memset(out, 0, MW_NF_AUTH_LEN);
    put_base(out, in->sig, in->id);
    put16(out + OFF(mw_nf_wire_auth, token_len), in->token_len);
    memcpy(out + OFF(mw_nf_wire_auth, token), in->token, in->token_len);
    return 0;
}

int mw_nf_auth_decode(const uint8_t *buf, size_t len, struct mw_nf_auth *out)
{
    int rc = check_buf(buf, len, MW_NF_SIG_AUTH, MW_NF_SIG_AUTH, MW_NF_AUTH_LEN);
    if (rc)
        return rc;
    memset(out, 0, sizeof(*out));
    out->sig = get16(buf);
    out->id = get32(buf + OFF(mw_nf_wire_base, id));
    out->token_len = get16(buf + OFF(mw_nf_wire_auth, token_len));
    if (out->token_len == 0 || out->token_len > MW_NF_TOKEN_MAX)
        return -EINVAL;
    memcpy(out->token, buf + OFF(mw_nf_wire_auth, token), out->token_len);
    return 0;
}

int mw_nf_decode(const uint8_t *buf, size_t len, struct mw_nf_msg *out)
{
    if (!buf || len < 2)
        return -EMSGSIZE;
    uint16_t sig = get16(buf);
    int n = mw_nf_msg_len(sig), rc;
    if (n < 0)
        return n;
    out->sig = sig;
    switch (sig) {
    case MW_NF_SIG_INFO:
    case MW_NF_SIG_SNAPSHOT: rc = mw_nf_info_decode(buf, len, &out->u.info); break;
    case MW_NF_SIG_REQUEST: rc = mw_nf_request_decode(buf, len, &out->u.req); break;
    case MW_NF_SIG_RESPONSE: rc = mw_nf_response_decode(buf, len, &out->u.resp); break;
    default: rc = mw_nf_auth_decode(buf, len, &out->u.auth); break;
    }
    return rc < 0 ? rc : n;
}

void mw_nf_reader_init(struct mw_nf_reader *r)
{
    memset(r, 0, sizeof(*r));
}

ssize_t mw_nf_reader_feed(struct mw_nf_reader *r, const uint8_t *data, size_t len,
                          struct mw_nf_msg *msg, int *got)
{
    size_t used = 0;
    *got = 0;
    /* The signature decides the length, so take the first two bytes on their own. */
    while (r->have < 2 && used < len)
        r->buf[r->have++] = data[used++];
    if (r->have < 2)
        return (ssize_t)used;
    int need = mw_nf_msg_len(get16(r->buf));
    if (need < 0)
        return need; /* no way to resync: offset stays at the bad message */
    size_t take = (size_t)need - r->have;
    if (take > len - used)
        take = len - used;
    memcpy(r->buf + r->have, data + used, take);
    r->have += take;
    used += take;
    if (r->have < (size_t)need)
        return (ssize_t)used;
    /* Whole message: frame consumed even if its body is invalid, so the stream stays in sync. */
    r->have = 0;
    r->offset += (uint64_t)need;
    int rc = mw_nf_decode(r->buf, (size_t)need, msg);
    *got = rc < 0 ? rc : 1;
    return (ssize_t)used;
}

/* ---- val / ident helpers ----------------------------------------------------------------- */
uint32_t mw_nf_val_u32(const uint8_t val[MW_NF_VAL_LEN]) { return get32(val); }
uint64_t mw_nf_val_u64(const uint8_t val[MW_NF_VAL_LEN]) { return get64(val); }
void mw_nf_val_time(const uint8_t val[MW_NF_VAL_LEN], uint64_t *sec, uint64_t *usec)
{
    *sec = get64(val);
    *usec = get64(val + 8);
}
void mw_nf_val_u64x2(const uint8_t val[MW_NF_VAL_LEN], uint64_t *a, uint64_t *b)
{
    *a = get64(val);
    *b = get64(val + 8);
}
void mw_nf_val_set_u32(uint8_t val[MW_NF_VAL_LEN], uint32_t v)
{
    memset(val, 0, MW_NF_VAL_LEN);
    put32(val, v);
}
void mw_nf_val_set_u64(uint8_t val[MW_NF_VAL_LEN], uint64_t v)
{
    memset(val, 0, MW_NF_VAL_LEN);
    put64(val, v);
}
void mw_nf_val_set_time(uint8_t val[MW_NF_VAL_LEN], uint64_t sec, uint64_t usec)
{
    put64(val, sec);
    put64(val + 8, usec);
}
void mw_nf_val_set_u64x2(uint8_t val[MW_NF_VAL_LEN], uint64_t a, uint64_t b)
{
    put64(val, a);
    put64(val + 8, b);
}
void mw_nf_val_ins_entry(const uint8_t val[MW_NF_VAL_LEN], struct mw_nf_ins_entry *e)
{
    e->ins_id = get32(val);
    e->pid = get32(val + 4);
    e->open_sockets = get32(val + 8);
    e->max_sockets = get32(val + 12);
}
void mw_nf_val_set_ins_entry(uint8_t val[MW_NF_VAL_LEN], const struct mw_nf_ins_entry *e)
{
    put32(val, e->ins_id);
    put32(val + 4, e->pid);
    put32(val + 8, e->open_sockets);
    put32(val + 12, e->max_sockets);
}
void mw_nf_val_tcp_info(const uint8_t val[MW_NF_VAL_LEN], struct mw_nf_tcp_info *t)
{
    t->rtt_us = get32(val);
    t->rttvar_us = get32(val + 4);
    t->snd_cwnd = get32(val + 8);
    t->total_retrans = get32(val + 12);
}
void mw_nf_val_set_tcp_info(uint8_t val[MW_NF_VAL_LEN], const struct mw_nf_tcp_info *t)
{
    put32(val, t->rtt_us);
    put32(val + 4, t->rttvar_us);
    put32(val + 8, t->snd_cwnd);
    put32(val + 12, t->total_retrans);
}
int64_t mw_nf_ident_sockid(const uint8_t ident[MW_NF_IDENT_LEN]) { return (int64_t)get64(ident); }
uint32_t mw_nf_ident_ins(const uint8_t ident[MW_NF_IDENT_LEN]) { return get32(ident); }
int mw_nf_ident_addr(const uint8_t ident[MW_NF_IDENT_LEN], uint32_t *af, uint8_t addr[16])
{
    *af = get32(ident);
    memcpy(addr, ident + 4, 16);
    return (*af == 4 || *af == 6) ? 0 : -EINVAL;
}
void mw_nf_ident_set_sockid(uint8_t ident[MW_NF_IDENT_LEN], int64_t id)
{
    memset(ident, 0, MW_NF_IDENT_LEN);
    put64(ident, (uint64_t)id);
}
void mw_nf_ident_set_ins(uint8_t ident[MW_NF_IDENT_LEN], uint32_t ins_id)
{
    memset(ident, 0, MW_NF_IDENT_LEN);
    put32(ident, ins_id);
}
void mw_nf_ident_set_addr(uint8_t ident[MW_NF_IDENT_LEN], uint32_t af, const uint8_t addr[16])
{
    put32(ident, af);
    memcpy(ident + 4, addr, 16);
}

/* ---- names ----------------------------------------------------------------------------- */
#define R MW_NF_ACC_R
#define W MW_NF_ACC_W
static const struct mw_nf_feature_desc features[] = {
    { MW_NF_FEAT_MONITOR_ON, "monitor-on", MW_NF_SCOPE_CLIENT, MW_NF_VK_NONE, R | W,
      "send info records to this client (default)" },
    { MW_NF_FEAT_MONITOR_OFF, "monitor-off", MW_NF_SCOPE_CLIENT, MW_NF_VK_NONE, R | W,
      "stop sending info records to this client" },
    { MW_NF_FEAT_NONBLOCK, "nonblock", MW_NF_SCOPE_SOCKET, MW_NF_VK_U32, R | W, "O_NONBLOCK" },
    { MW_NF_FEAT_REUSEADDR, "reuseaddr", MW_NF_SCOPE_SOCKET, MW_NF_VK_U32, R | W, "SO_REUSEADDR" },
    { MW_NF_FEAT_REUSEPORT, "reuseport", MW_NF_SCOPE_SOCKET, MW_NF_VK_U32, R | W, "SO_REUSEPORT" },
    { MW_NF_FEAT_KEEPALIVE, "keepalive", MW_NF_SCOPE_SOCKET, MW_NF_VK_U32, R | W, "SO_KEEPALIVE" },
    { MW_NF_FEAT_DEFER_ACCEPT, "defer-accept", MW_NF_SCOPE_SOCKET, MW_NF_VK_U32, R | W,
      "TCP_DEFER_ACCEPT (seconds)" },
    { MW_NF_FEAT_NODELAY, "nodelay", MW_NF_SCOPE_SOCKET, MW_NF_VK_U32, R | W, "TCP_NODELAY" },
    { MW_NF_FEAT_IS_OPEN, "is-open", MW_NF_SCOPE_SOCKET, MW_NF_VK_U32, R | W,
      "1 while open; write 0 to close the socket" },
    { MW_NF_FEAT_OWNER_RUNNING, "owner-running", MW_NF_SCOPE_SOCKET, MW_NF_VK_U32, R,
      "1 while the owning process runs" },
    { MW_NF_FEAT_SNDBUF, "sndbuf", MW_NF_SCOPE_SOCKET, MW_NF_VK_U32, R | W, "SO_SNDBUF (bytes)" },
    { MW_NF_FEAT_RCVBUF, "rcvbuf", MW_NF_SCOPE_SOCKET, MW_NF_VK_U32, R | W, "SO_RCVBUF (bytes)" },
    { MW_NF_FEAT_SNDTIMEO, "sndtimeo", MW_NF_SCOPE_SOCKET, MW_NF_VK_TIME, R | W,
      "SO_SNDTIMEO (s us)" },
    { MW_NF_FEAT_RCVTIMEO, "rcvtimeo", MW_NF_SCOPE_SOCKET, MW_NF_VK_TIME, R | W,
      "SO_RCVTIMEO (s us)" },
    { MW_NF_FEAT_SNDLOWAT, "sndlowat", MW_NF_SCOPE_SOCKET, MW_NF_VK_U32, R | W, "SO_SNDLOWAT" },
    { MW_NF_FEAT_RCVLOWAT, "rcvlowat", MW_NF_SCOPE_SOCKET, MW_NF_VK_U32, R | W, "SO_RCVLOWAT" },
    { MW_NF_FEAT_ERROR, "error", MW_NF_SCOPE_SOCKET, MW_NF_VK_U32, R, "SO_ERROR (read only)" },
    { MW_NF_FEAT_TCP_INFO, "tcp-info", MW_NF_SCOPE_SOCKET, MW_NF_VK_TCPINFO, R,
      "TCP_INFO of the INS's socket: rtt us, rttvar us, cwnd, retransmits" },
    { MW_NF_FEAT_CONGCTL, "congctl", MW_NF_SCOPE_INS, MW_NF_VK_U32, R | W,
      "INS-wide congestion control: reno(0x90) newreno(0x91) cubic(0x92)" },
    { MW_NF_FEAT_DELACK, "delack", MW_NF_SCOPE_INS, MW_NF_VK_U32, R | W,
      "INS-wide delayed ACK: 1 on, 0 quick ACK" },
    { MW_NF_FEAT_ADDR_BLOCK, "block", MW_NF_SCOPE_ADDR, MW_NF_VK_U32, R | W,
      "address block: 1 block new connections, 2 also close existing, 0 unblock" },
    { MW_NF_FEAT_INS_COUNT, "ins-count", MW_NF_SCOPE_SERVER, MW_NF_VK_U32, R,
      "number of INS instances" },
    { MW_NF_FEAT_INS_LIST, "ins-list", MW_NF_SCOPE_SERVER, MW_NF_VK_INS, R,
      "INS at index val: id pid open-sockets max-sockets" },
    { MW_NF_FEAT_INS_SPAWN, "ins-spawn", MW_NF_SCOPE_SERVER, MW_NF_VK_U32, W,
      "start N more INS instances" },
    { MW_NF_FEAT_INS_STOP, "ins-stop", MW_NF_SCOPE_INS, MW_NF_VK_NONE, W, "stop one INS" },
    { MW_NF_FEAT_INS_RESPAWN, "ins-respawn", MW_NF_SCOPE_INS, MW_NF_VK_U32, W,
      "restart one INS (answer: the new id)" },
    { MW_NF_FEAT_INS_MAX_SOCKETS, "ins-max-sockets", MW_NF_SCOPE_INS, MW_NF_VK_U32, R | W,
      "per-INS open socket limit, 0 = unlimited" },
    { MW_NF_FEAT_SOCKET_LIST, "socket-list", MW_NF_SCOPE_CLIENT, MW_NF_VK_U32, R,
      "snapshot of every open socket" },
    { MW_NF_FEAT_CLIENT_STATS, "client-stats", MW_NF_SCOPE_CLIENT, MW_NF_VK_U64X2, R,
      "records sent to and dropped for this client" },
};
#undef R
#undef W

const struct mw_nf_feature_desc *mw_nf_feature_table(size_t *n)
{
    *n = sizeof(features) / sizeof(features[0]);
    return features;
}

const struct mw_nf_feature_desc *mw_nf_feature(uint16_t name)
{
    for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++)
        if (features[i].name == name)
            return &features[i];
    return NULL;
}

const struct mw_nf_feature_desc *mw_nf_feature_lookup(const char *s)
{
    if (!s || !*s)
        return NULL;
    for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++)
        if (strcasecmp(features[i].sym, s) == 0)
            return &features[i];
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 0);
    if (errno || *end || v > 0xffff)
        return NULL;
    return mw_nf_feature((uint16_t)v);
}

int mw_nf_request_check(const struct mw_nf_feature_request *r)
{
    if (r->flags & ~MW_NF_FLAG_MASK)
        return EINVAL;
    if ((r->flags & MW_NF_FLAG_BY_SOCKET) && (r->flags & MW_NF_FLAG_BY_INS))
        return EINVAL;
    const struct mw_nf_feature_desc *d = mw_nf_feature(r->name);
    if (!d)
        return ENOTSUP;
    int write = r->flags & MW_NF_FLAG_WRITE;
    if (d->scope != MW_NF_SCOPE_CLIENT && !(d->access & (write ? MW_NF_ACC_W : MW_NF_ACC_R)))
        return EPERM;
    switch (d->scope) {
    case MW_NF_SCOPE_SOCKET:
        if (!(r->flags & MW_NF_FLAG_BY_SOCKET))
            return EINVAL;
        break;
    case MW_NF_SCOPE_ADDR: {
        uint32_t af;
        uint8_t addr[16];
        if (r->flags & (MW_NF_FLAG_BY_SOCKET | MW_NF_FLAG_BY_INS))
            return EINVAL;
        if (mw_nf_ident_addr(r->ident, &af, addr) < 0)
            return EINVAL;
        if (write && mw_nf_val_u32(r->val) > MW_NF_BLOCK_ON_CLOSE)
            return EINVAL;
        break;
    }
    case MW_NF_SCOPE_INS:
        if (r->flags & MW_NF_FLAG_BY_SOCKET)
            return EINVAL;
        /* stop/respawn/limit need to know which INS */
        if (r->name != MW_NF_FEAT_CONGCTL && r->name != MW_NF_FEAT_DELACK &&
            !(r->flags & MW_NF_FLAG_BY_INS))
            return EINVAL;
        if (r->name == MW_NF_FEAT_CONGCTL && write &&
            (mw_nf_val_u32(r->val) < MW_NF_CC_RENO || mw_nf_val_u32(r->val) > MW_NF_CC_CUBIC))
            return EINVAL;
        if (r->name == MW_NF_FEAT_DELACK && write && mw_nf_val_u32(r->val) > 1)
            return EINVAL;
        break;
    default:
        break;
    }
    return 0;
}

static const char *const obs_names[MW_NF_OBS_COUNT] = {
    "none", "create", "bind", "accept", "connect", "recv", "send", "close"
};

const char *mw_nf_obs_name(uint16_t obs)
{
    return obs < MW_NF_OBS_COUNT ? obs_names[obs] : "obs?";
}

int mw_nf_obs_lookup(const char *s)
{
    for (int i = 0; i < MW_NF_OBS_COUNT; i++)
        if (strcasecmp(obs_names[i], s) == 0)
            return i;
    return -1;
}

const char *mw_nf_cc_name(uint32_t cc)
{
    switch (cc) {
    case MW_NF_CC_RENO: return "reno";
    case MW_NF_CC_NEWRENO: return "newreno";
    case MW_NF_CC_CUBIC: return "cubic";
    default: return NULL;
    }
}

char *mw_nf_endpoint_str(const struct mw_nf_endpoint *ep, char *buf, size_t len)
{
    char a[INET6_ADDRSTRLEN];
    if (ep->af == 4 && inet_ntop(AF_INET, ep->addr, a, sizeof(a)))
        snprintf(buf, len, "%s:%u", a, ep->port);
    else if (ep->af == 6 && inet_ntop(AF_INET6, ep->addr, a, sizeof(a)))
        snprintf(buf, len, "[%s]:%u", a, ep->port);
    else if (ep->af == 0)
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "af%u?:%u", ep->af, ep->port);
    return buf;
}
