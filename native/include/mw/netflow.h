/* NetFlow wire format: the one place that knows the bytes.
 *
 * TCP, every integer big-endian, structures packed. Every message starts with a 6-byte base
 * (sig u16, id u32). The three original messages (info 0xd310, feature request 0xd320, feature
 * response 0xd32f) are a contract with existing clients and keep their layout byte for byte;
 * extensions are new signatures or new feature names only (docs/protocol.md has every layout with
 * byte offsets, the errno conventions and the queueing rules).
 *
 * Host-side structs below are in host byte order. val[16] and ident[20] of requests/responses are
 * kept as the raw wire bytes because their meaning depends on the feature name; use the
 * mw_nf_val_* / mw_nf_ident_* helpers to read and write them.
 *
 * Decoders never trust lengths: they take the buffer length, return -EMSGSIZE when it is shorter
 * than the message, -EPROTO when the signature is unknown or not the expected one.
 */
#ifndef MW_NETFLOW_H
#define MW_NETFLOW_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- signatures ------------------------------------------------------------------------- */
#define MW_NF_SIG_INFO      0xd310u /* server -> client: one record per observation */
#define MW_NF_SIG_REQUEST   0xd320u /* client -> server: feature read/write */
#define MW_NF_SIG_RESPONSE  0xd32fu /* server -> client: answer to a request (id = request id) */
/* extensions */
#define MW_NF_SIG_SNAPSHOT  0xd311u /* server -> client: one open socket, info layout, id = request id
                                     * (answer to MW_NF_FEAT_SOCKET_LIST, before its response) */
#define MW_NF_SIG_AUTH      0xd330u /* client -> server: token handshake (answered by a response) */

/* ---- sizes ---------------------------------------------------------------------------- */
#define MW_NF_BASE_LEN      6
#define MW_NF_INFO_LEN      116
#define MW_NF_REQUEST_LEN   46
#define MW_NF_RESPONSE_LEN  26
#define MW_NF_AUTH_LEN      72
#define MW_NF_TOKEN_MAX     64
#define MW_NF_MAX_MSG_LEN   MW_NF_INFO_LEN /* longest message of any signature */
#define MW_NF_VAL_LEN       16
#define MW_NF_IDENT_LEN     20

/* ---- observation types (info.obs) ----------------------------------------------------- */
enum mw_nf_obs_type {
    MW_NF_OBS_NONE = 0,
    MW_NF_OBS_CREATE = 1,
    MW_NF_OBS_BIND = 2,
    MW_NF_OBS_ACCEPT = 3, /* extra = the new socket's id */
    MW_NF_OBS_CONNECT = 4,
    MW_NF_OBS_RECV = 5,
    MW_NF_OBS_SEND = 6,
    MW_NF_OBS_CLOSE = 7,
    MW_NF_OBS_COUNT = 8
};

/* ---- request flags ---------------------------------------------------------------------- */
#define MW_NF_FLAG_READ      0x0000u
#define MW_NF_FLAG_WRITE     0x0001u
#define MW_NF_FLAG_BY_SOCKET 0x0002u /* ident = socket id (i64 in ident[0..8]) */
#define MW_NF_FLAG_BY_INS    0x0004u /* extension: ident = INS id (u32 in ident[0..4]) */
#define MW_NF_FLAG_MASK      0x0007u

/* ---- feature names (original values; keep them) ----------------------------------------- */
#define MW_NF_FEAT_MONITOR_ON    0x0001u /* handled by the NetFlow server, per client */
#define MW_NF_FEAT_MONITOR_OFF   0x0002u
#define MW_NF_FEAT_NONBLOCK      0x0003u
#define MW_NF_FEAT_REUSEADDR     0x0004u
#define MW_NF_FEAT_REUSEPORT     0x0005u
#define MW_NF_FEAT_KEEPALIVE     0x0006u
#define MW_NF_FEAT_DEFER_ACCEPT  0x0007u
#define MW_NF_FEAT_NODELAY       0x0008u
#define MW_NF_FEAT_IS_OPEN       0x0101u /* write 0 = close the socket */
#define MW_NF_FEAT_OWNER_RUNNING 0x0102u
#define MW_NF_FEAT_SNDBUF        0x0109u
#define MW_NF_FEAT_RCVBUF        0x010au
#define MW_NF_FEAT_SNDTIMEO      0x010bu /* time value */
#define MW_NF_FEAT_RCVTIMEO      0x010cu /* time value */
#define MW_NF_FEAT_SNDLOWAT      0x010du
#define MW_NF_FEAT_RCVLOWAT      0x010eu
#define MW_NF_FEAT_ERROR         0x010fu /* read only: pending SO_ERROR */
/* extension: richer telemetry, read by socket: val = mw_nf_tcp_info (answered by the INS) */
#define MW_NF_FEAT_TCP_INFO      0x0110u
#define MW_NF_FEAT_CONGCTL       0x1101u /* INS-wide, MW_NF_CC_* */
#define MW_NF_FEAT_DELACK        0x1102u /* INS-wide, 1 delayed ACK on / 0 quick ACK */
#define MW_NF_FEAT_ADDR_BLOCK    0x1103u /* ident = address; MW_NF_BLOCK_* */
/* extensions: INS lifecycle and tuning (answered by the data plane) */
#define MW_NF_FEAT_INS_COUNT     0x2001u /* read: val.u32 = number of INS */
#define MW_NF_FEAT_INS_LIST      0x2002u /* read, val.u32 = index: val = mw_nf_ins_entry; ENOENT past end */
#define MW_NF_FEAT_INS_SPAWN     0x2003u /* write val.u32 = N: reply val.u32 = how many started */
#define MW_NF_FEAT_INS_STOP      0x2004u /* write, BY_INS */
#define MW_NF_FEAT_INS_RESPAWN   0x2005u /* write, BY_INS: reply val.u32 = id of the new instance */
#define MW_NF_FEAT_INS_MAX_SOCKETS 0x2006u /* read/write, BY_INS: val.u32 (0 = unlimited) */
/* extensions answered by the NetFlow server itself */
#define MW_NF_FEAT_SOCKET_LIST   0x2101u /* read: snapshots (0xd311) then response val.u32 = count */
#define MW_NF_FEAT_CLIENT_STATS  0x2102u /* read: val = sent u64, dropped u64 (this client) */

/* congestion control values (MW_NF_FEAT_CONGCTL) */
#define MW_NF_CC_RENO    0x90u
#define MW_NF_CC_NEWRENO 0x91u
#define MW_NF_CC_CUBIC   0x92u

/* address block values (MW_NF_FEAT_ADDR_BLOCK val.u32) */
#define MW_NF_BLOCK_OFF        0u /* unblock */
#define MW_NF_BLOCK_ON         1u /* refuse new connections from the address (default kind) */
#define MW_NF_BLOCK_ON_CLOSE   2u /* extension: also close its existing connections */

/* ---- wire layouts (packed, big-endian on the wire), used for offsets and size checks ---- */
struct mw_nf_wire_base { uint16_t sig; uint32_t id; } __attribute__((packed));
struct mw_nf_wire_endpoint { uint32_t af; uint8_t addr[16]; uint16_t port; } __attribute__((packed));
struct mw_nf_wire_info {
    struct mw_nf_wire_base base;
    uint16_t obs;
    uint64_t start_sec, start_nsec;
    uint64_t ts_sec, ts_nsec;
    int64_t sockfd;
    struct mw_nf_wire_endpoint local, remote;
    uint64_t bytes_in, bytes_out, extra;
} __attribute__((packed));
struct mw_nf_wire_request {
    struct mw_nf_wire_base base;
    uint16_t flags, name;
    uint8_t val[16];
    uint8_t ident[20];
} __attribute__((packed));
struct mw_nf_wire_response {
    struct mw_nf_wire_base base;
    uint32_t status;
    uint8_t val[16];
} __attribute__((packed));
struct mw_nf_wire_auth {
    struct mw_nf_wire_base base;
    uint16_t token_len;
    uint8_t token[MW_NF_TOKEN_MAX];
} __attribute__((packed));

_Static_assert(sizeof(struct mw_nf_wire_base) == MW_NF_BASE_LEN, "base is 6 bytes");
_Static_assert(sizeof(struct mw_nf_wire_endpoint) == 22, "endpoint is 22 bytes");
_Static_assert(sizeof(struct mw_nf_wire_info) == MW_NF_INFO_LEN, "info is 116 bytes");
_Static_assert(sizeof(struct mw_nf_wire_request) == MW_NF_REQUEST_LEN, "request is 46 bytes");
_Static_assert(sizeof(struct mw_nf_wire_response) == MW_NF_RESPONSE_LEN, "response is 26 bytes");
_Static_assert(sizeof(struct mw_nf_wire_auth) == MW_NF_AUTH_LEN, "auth is 72 bytes");

/* ---- host-order messages -------------------------------------------------------------- */
struct mw_nf_endpoint {
    uint32_t af;      /* 4, 6, or 0 when unknown */
    uint8_t addr[16]; /* IPv4 in the first 4 bytes, rest zero */
    uint16_t port;
};

struct mw_nf_info {   /* also the snapshot record (sig MW_NF_SIG_SNAPSHOT) */
    uint16_t sig;
    uint32_t id;      /* per-client sequence number (snapshot: request id) */
    uint16_t obs;
    uint64_t start_sec, start_nsec;
    uint64_t ts_sec, ts_nsec;
    int64_t sockfd;   /* socket id */
    struct mw_nf_endpoint local, remote;
    uint64_t bytes_in, bytes_out;
    uint64_t extra;
};

struct mw_nf_feature_request {
    uint16_t sig;
    uint32_t id;
    uint16_t flags;
    uint16_t name;
    uint8_t val[MW_NF_VAL_LEN];
    uint8_t ident[MW_NF_IDENT_LEN];
};

struct mw_nf_feature_response {
    uint16_t sig;
    uint32_t id;      /* = request id */
    uint32_t status;  /* 0 or a positive errno */
    uint8_t val[MW_NF_VAL_LEN];
};

struct mw_nf_auth {
    uint16_t sig;
    uint32_t id;
    uint16_t token_len; /* 1..MW_NF_TOKEN_MAX */
    uint8_t token[MW_NF_TOKEN_MAX];
};

/* INS_LIST answer, packed in val[16] as four big-endian u32 */
struct mw_nf_ins_entry {
    uint32_t ins_id;
    uint32_t pid;
    uint32_t open_sockets;
    uint32_t max_sockets; /* 0 = unlimited */
};

/* TCP_INFO answer, packed in val[16] as four big-endian u32 */
struct mw_nf_tcp_info {
    uint32_t rtt_us;
    uint32_t rttvar_us;
    uint32_t snd_cwnd;      /* segments */
    uint32_t total_retrans;
};

struct mw_nf_msg {
    uint16_t sig;
    union {
        struct mw_nf_info info;          /* INFO and SNAPSHOT */
        struct mw_nf_feature_request req;
        struct mw_nf_feature_response resp;
        struct mw_nf_auth auth;
    } u;
};

/* ---- codec (native/common/netflow.c) ---------------------------------------------------- */
/* Length of a message with this signature, or -EPROTO when the signature is unknown. */
int mw_nf_msg_len(uint16_t sig);

/* Encoders write exactly MW_NF_*_LEN bytes; -EINVAL on a signature that does not fit the layout
 * (info: INFO or SNAPSHOT) or an auth token longer than MW_NF_TOKEN_MAX. */
int mw_nf_info_encode(const struct mw_nf_info *in, uint8_t out[MW_NF_INFO_LEN]);
int mw_nf_request_encode(const struct mw_nf_feature_request *in, uint8_t out[MW_NF_REQUEST_LEN]);
int mw_nf_response_encode(const struct mw_nf_feature_response *in, uint8_t out[MW_NF_RESPONSE_LEN]);
int mw_nf_auth_encode(const struct mw_nf_auth *in, uint8_t out[MW_NF_AUTH_LEN]);

/* Decoders: 0, -EMSGSIZE (buffer too short), -EPROTO (unknown or other signature),
 * -EINVAL (auth token length out of range). */
int mw_nf_info_decode(const uint8_t *buf, size_t len, struct mw_nf_info *out);
int mw_nf_request_decode(const uint8_t *buf, size_t len, struct mw_nf_feature_request *out);
int mw_nf_response_decode(const uint8_t *buf, size_t len, struct mw_nf_feature_response *out);
int mw_nf_auth_decode(const uint8_t *buf, size_t len, struct mw_nf_auth *out);
/* Any message; returns its length (> 0) or a negative errno as above. */
int mw_nf_decode(const uint8_t *buf, size_t len, struct mw_nf_msg *out);

/* Stream reader: feed arbitrary chunks, get whole messages. */
struct mw_nf_reader {
    uint8_t buf[MW_NF_MAX_MSG_LEN];
    size_t have;
    uint64_t offset; /* stream offset of the message being assembled */
};
void mw_nf_reader_init(struct mw_nf_reader *r);
/* Consumes bytes from data (at most one message's worth) and returns how many (>= 0); sets *got = 1
 * and fills *msg when a whole message completed, *got = 0 when more bytes are needed, and
 * *got = -EINVAL when a whole message was framed but its body is invalid (auth token length out of
 * range; r->buf still holds its bytes, framing stays intact). Returns -EPROTO when the stream has an
 * unknown signature (there is no way to resynchronise: the caller reports and disconnects);
 * r->offset then is the stream offset of the bad message. */
ssize_t mw_nf_reader_feed(struct mw_nf_reader *r, const uint8_t *data, size_t len,
                          struct mw_nf_msg *msg, int *got);

/* Request checks done before a request is routed: 0 or a positive errno
 * (EINVAL unknown flag bits / bad ident, ENOTSUP unknown name, EPERM write to a read-only name). */
int mw_nf_request_check(const struct mw_nf_feature_request *r);

/* ---- val / ident helpers (big-endian wire bytes) ------------------------------------------ */
uint32_t mw_nf_val_u32(const uint8_t val[MW_NF_VAL_LEN]);
uint64_t mw_nf_val_u64(const uint8_t val[MW_NF_VAL_LEN]);
void mw_nf_val_time(const uint8_t val[MW_NF_VAL_LEN], uint64_t *sec, uint64_t *usec);
void mw_nf_val_u64x2(const uint8_t val[MW_NF_VAL_LEN], uint64_t *a, uint64_t *b);
void mw_nf_val_set_u32(uint8_t val[MW_NF_VAL_LEN], uint32_t v);      /* zeroes the rest */
void mw_nf_val_set_u64(uint8_t val[MW_NF_VAL_LEN], uint64_t v);      /* zeroes the rest */
void mw_nf_val_set_time(uint8_t val[MW_NF_VAL_LEN], uint64_t sec, uint64_t usec);
void mw_nf_val_set_u64x2(uint8_t val[MW_NF_VAL_LEN], uint64_t a, uint64_t b);
void mw_nf_val_ins_entry(const uint8_t val[MW_NF_VAL_LEN], struct mw_nf_ins_entry *e);
void mw_nf_val_set_ins_entry(uint8_t val[MW_NF_VAL_LEN], const struct mw_nf_ins_entry *e);
void mw_nf_val_tcp_info(const uint8_t val[MW_NF_VAL_LEN], struct mw_nf_tcp_info *t);
void mw_nf_val_set_tcp_info(uint8_t val[MW_NF_VAL_LEN], const struct mw_nf_tcp_info *t);
int64_t mw_nf_ident_sockid(const uint8_t ident[MW_NF_IDENT_LEN]);
uint32_t mw_nf_ident_ins(const uint8_t ident[MW_NF_IDENT_LEN]);
/* 0, or -EINVAL when af is neither 4 nor 6 */
int mw_nf_ident_addr(const uint8_t ident[MW_NF_IDENT_LEN], uint32_t *af, uint8_t addr[16]);
void mw_nf_ident_set_sockid(uint8_t ident[MW_NF_IDENT_LEN], int64_t id);  /* zeroes the rest */
void mw_nf_ident_set_ins(uint8_t ident[MW_NF_IDENT_LEN], uint32_t ins_id);
void mw_nf_ident_set_addr(uint8_t ident[MW_NF_IDENT_LEN], uint32_t af, const uint8_t addr[16]);

/* ---- names, for tools and logs ------------------------------------------------------------ */
enum mw_nf_val_kind { MW_NF_VK_NONE, MW_NF_VK_U32, MW_NF_VK_U64, MW_NF_VK_TIME, MW_NF_VK_INS,
                      MW_NF_VK_U64X2, MW_NF_VK_TCPINFO };
enum mw_nf_scope { MW_NF_SCOPE_CLIENT, MW_NF_SCOPE_SOCKET, MW_NF_SCOPE_INS, MW_NF_SCOPE_ADDR,
                   MW_NF_SCOPE_SERVER };
#define MW_NF_ACC_R 1
#define MW_NF_ACC_W 2
struct mw_nf_feature_desc {
    uint16_t name;
    const char *sym;       /* "rcvbuf", "congctl", ... */
    enum mw_nf_scope scope;
    enum mw_nf_val_kind kind;
    unsigned access;       /* MW_NF_ACC_R | MW_NF_ACC_W */
    const char *help;
};
const struct mw_nf_feature_desc *mw_nf_feature(uint16_t name); /* NULL when unknown */
/* Symbolic ("rcvbuf", "SO_RCVBUF" is not accepted) or numeric ("0x010a", "266"); NULL if neither */
const struct mw_nf_feature_desc *mw_nf_feature_lookup(const char *s);
const struct mw_nf_feature_desc *mw_nf_feature_table(size_t *n);
const char *mw_nf_obs_name(uint16_t obs); /* "create", ...; "obs?" when unknown */
int mw_nf_obs_lookup(const char *s);      /* -1 when unknown */
const char *mw_nf_cc_name(uint32_t cc);   /* "reno", ...; NULL when unknown */
/* Formats "10.1.2.3:80" or "[2001:db8::1]:443" ("-" when af 0); returns buf */
char *mw_nf_endpoint_str(const struct mw_nf_endpoint *ep, char *buf, size_t len);

#endif /* MW_NETFLOW_H */
