/* The control protocol between the shim (in the protected application), mwcomms (the hub) and
 * the INS workers. Defined once, here; every native part includes it.
 *
 * Transport: AF_UNIX SOCK_SEQPACKET, one message per packet, file descriptors attached with
 * SCM_RIGHTS. Every message starts with struct mw_ctl_hdr; the payload layout is fixed per op
 * (see mw_ctl_payload_len()). The receiver checks every message with mw_ctl_check() before it
 * touches a field: magic, version, exact length for the op, number of attached fds, and the range
 * of every field. A message that fails gets an error reply (status -EPROTO/-EINVAL), never a crash.
 *
 * Byte order: host (all parties run on the same machine).
 */
#ifndef MW_CTL_H
#define MW_CTL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#define MW_CTL_MAGIC      0x4d57434cu   /* "MWCL" */
#define MW_CTL_VERSION    1
#define MW_CTL_MAX_FDS    4
#define MW_CTL_MAX_MSG    65536         /* largest packet (text replies of STATUS/TRACE) */
#define MW_CTL_OPT_MAX    256           /* largest socket option value carried */
#define MW_CTL_MAX_TEXT   (MW_CTL_MAX_MSG - (int)sizeof(struct mw_ctl_hdr))

/* Abstract AF_UNIX name bound to every app-side end we hand out, so the shim can tell its own
 * sockets from the application's real AF_UNIX sockets with one getsockname() and no bookkeeping
 * (the name follows the open file across fork/dup/exec):
 *   "\0mw:<run nonce, 8 hex>:<socket id, 16 hex>:<kind>"   kind: 'S' stream, 'L' listener
 * The name is only a hint for the shim's cache: mwcomms identifies a socket by the inode of the
 * fd the application passes with each request (it can only name sockets it really holds). */
#define MW_CTL_NAME_PREFIX "mw:"
#define MW_CTL_NAME_LEN    (1 + 3 + 8 + 1 + 16 + 1 + 1)

enum mw_ctl_op {
    MW_OP_NONE = 0,
    /* shim -> mwcomms (requests; the reply carries the same op and req_id) */
    MW_OP_HELLO = 1,        /* no fds; payload hello */
    MW_OP_SOCKET = 2,       /* fds [app end, peer end]; payload socket */
    MW_OP_BIND = 3,         /* fds [app]; payload addr */
    MW_OP_LISTEN = 4,       /* fds [app, new app seqpacket end, new ins seqpacket end]; listen */
    MW_OP_CONNECT = 5,      /* fds [app]; payload addr */
    MW_OP_GETSOCKOPT = 6,   /* fds [app]; payload sockopt */
    MW_OP_SETSOCKOPT = 7,   /* fds [app]; payload sockopt */
    MW_OP_INFO = 8,         /* fds [app]; reply payload info */
    /* tools -> mwcomms */
    MW_OP_STATUS = 20,      /* reply: JSON text */
    MW_OP_TRACE = 21,       /* payload trace (0 off, 1 on, 2 show, 3 reset); reply: JSON text */
    /* mwcomms -> INS (requests) */
    MW_OP_INS_HELLO = 40,   /* fds [ring memfd, ring eventfd]; payload ins_hello */
    MW_OP_INS_RESTORE = 41, /* fds [ins seqpacket end]; payload restore: re-create a listener */
    MW_OP_INS_HANDOFF = 42, /* fds [accepted tcp socket]; front end hands a connection over */
    MW_OP_INS_FEATURE = 43, /* payload feature: a NetFlow feature request */
    MW_OP_INS_CLOSE = 44,   /* close a socket (mitigation / owner gone) */
    /* INS -> application listener (one packet per accepted connection) */
    MW_OP_ACCEPTED = 60,    /* fds [app end of the new connection]; payload accepted */
    /* INS -> mwcomms (events, no reply) */
    MW_OP_OBS = 70,         /* payload obs */
    MW_OP_OBS_BATCH = 71,   /* payload obs_batch: 1..MW_CTL_OBS_BATCH observations, variable length */
    MW_OP__MAX = 72,
};

/* Flags in the header. */
#define MW_CTL_F_REPLY     0x1u   /* this is a reply */
#define MW_CTL_F_NOREPLY   0x4u   /* SETSOCKOPT: fire and forget (options that cannot fail once valid) */
#define MW_CTL_F_NONBLOCK  0x2u   /* CONNECT: the application's fd is O_NONBLOCK */

struct mw_ctl_hdr {
    uint32_t magic;
    uint16_t version;
    uint16_t op;
    uint32_t len;        /* whole message including this header */
    uint32_t req_id;
    int32_t  status;     /* replies: 0, a positive count, or -errno; requests: 0 */
    uint32_t flags;
    uint64_t sockid;     /* socket id (0 when none) */
};

/* An IP endpoint. family 0 = unset. port in host order. */
struct mw_ctl_addr {
    uint16_t family;
    uint16_t port;
    uint32_t scope_id;
    uint32_t flowinfo;
    uint8_t  addr[16];
};

struct mw_ctl_hello { int32_t pid; uint32_t pad; };
struct mw_ctl_socket { int32_t domain, type, protocol; uint32_t pad; };
struct mw_ctl_addrmsg { struct mw_ctl_addr addr; };
struct mw_ctl_listen { int32_t backlog; uint32_t pad; };
struct mw_ctl_sockopt {
    int32_t  level, optname;
    uint32_t optlen;                 /* request: value length (set) or buffer size (get) */
    uint32_t pad;
    uint8_t  val[MW_CTL_OPT_MAX];
};

/* Socket states (info.state). */
enum mw_sock_state {
    MW_SS_NEW = 1, MW_SS_BOUND, MW_SS_LISTENING, MW_SS_CONNECTING, MW_SS_CONNECTED,
    MW_SS_FAILED, MW_SS_CLOSED,
};
struct mw_ctl_info {
    int32_t  domain, type;
    uint32_t state, ins_id;
    struct mw_ctl_addr local, peer;
    uint64_t bytes_in, bytes_out;
};
struct mw_ctl_trace { uint32_t action; uint32_t pad; };
struct mw_ctl_ins_hello {
    uint32_t ins_id, gen;            /* gen: high bits of the socket ids this INS allocates */
    uint32_t obs_interval_ms;        /* recv/send observation coalescing, 0 = every relay op */
    uint32_t nonce;                  /* run nonce used in socket names */
    uint32_t flags;                  /* MW_INS_F_* */
    uint32_t max_sockets;            /* open sockets the INS accepts before refusing (0 = no limit) */
    uint32_t busy_poll_us;           /* poll this long after activity before sleeping (0 = never) */
    uint32_t coalesce_us;            /* response coalescing window when lightly loaded (0 = off) */
};
/* ins_hello.flags */
#define MW_INS_F_REUSEPORT 1u  /* isolation off, several INS: bind with SO_REUSEPORT so every INS can
                                * hold a replica of each listener on the same address */
/* restore.flags */
#define MW_RESTORE_F_REPLICA 1u /* a replica of a listener another INS also holds */
struct mw_ctl_restore {
    int32_t domain, backlog;
    struct mw_ctl_addr local;
    uint32_t nopts, flags;           /* flags: MW_RESTORE_F_* */
    struct { int32_t level, optname, val, pad; } opts[8];   /* recorded int-valued options */
};
struct mw_ctl_handoff { struct mw_ctl_addr local, peer; };
/* NetFlow feature request hub -> INS. val in host byte order: u32 at 0..3; time features
 * (sndtimeo/rcvtimeo) u64 seconds at 0..7 and u64 microseconds at 8..15; tcp-info reply four u32
 * (rtt_us, rttvar_us, snd_cwnd, total_retrans). */
struct mw_ctl_feature {
    uint16_t flags, name;
    uint32_t pad;
    uint8_t  val[16];
    uint8_t  ident[20];
    uint32_t pad2;
};
struct mw_ctl_accepted { int32_t domain; uint32_t pad; struct mw_ctl_addr local, peer; };
struct mw_ctl_obs {
    uint16_t obs;                    /* 1 create .. 7 close (NetFlow obs codes) */
    uint16_t pad;
    uint32_t state;                  /* socket state after the event */
    int32_t  domain, err;            /* err: connect result etc. */
    uint64_t inode;                  /* app-end inode (create/accept/listen) */
    uint64_t start_sec, start_nsec, ts_sec, ts_nsec;
    struct mw_ctl_addr local, peer;
    uint64_t bytes_in, bytes_out, extra;
};

/* Several observations in one packet: the INS batches recv/send observations of one event-loop
 * round (one syscall instead of one per relay operation). Length = header + 8 + count * rec. */
#define MW_CTL_OBS_BATCH 64
struct mw_ctl_obs_rec { uint64_t sockid; struct mw_ctl_obs obs; };
struct mw_ctl_obs_batch { uint32_t count, pad; struct mw_ctl_obs_rec rec[MW_CTL_OBS_BATCH]; };
struct mw_ctl_obs_batch_msg { struct mw_ctl_hdr h; struct mw_ctl_obs_batch b; };
#define MW_CTL_OBS_BATCH_LEN(n) (sizeof(struct mw_ctl_hdr) + 8 + (size_t)(n) * sizeof(struct mw_ctl_obs_rec))

union mw_ctl_payload {
    struct mw_ctl_hello hello;
    struct mw_ctl_socket socket;
    struct mw_ctl_addrmsg addr;
    struct mw_ctl_listen listen;
    struct mw_ctl_sockopt sockopt;
    struct mw_ctl_info info;
    struct mw_ctl_trace trace;
    struct mw_ctl_ins_hello ins_hello;
    struct mw_ctl_restore restore;
    struct mw_ctl_handoff handoff;
    struct mw_ctl_feature feature;
    struct mw_ctl_accepted accepted;
    struct mw_ctl_obs obs;
};

struct mw_ctl_msg {
    struct mw_ctl_hdr h;
    union mw_ctl_payload u;
};

_Static_assert(sizeof(struct mw_ctl_hdr) == 32, "ctl header is 32 bytes");
_Static_assert(sizeof(struct mw_ctl_addr) == 28, "ctl addr is 28 bytes");
_Static_assert(sizeof(struct mw_ctl_sockopt) == 16 + MW_CTL_OPT_MAX, "sockopt layout");
_Static_assert(sizeof(struct mw_ctl_info) == 16 + 56 + 16, "info layout");
_Static_assert(sizeof(struct mw_ctl_obs) == 56 + 56 + 24, "obs layout");
_Static_assert(sizeof(struct mw_ctl_restore) == 8 + 28 + 8 + 128, "restore layout");
_Static_assert(sizeof(struct mw_ctl_feature) == 48, "feature layout");
_Static_assert(sizeof(struct mw_ctl_msg) <= 512, "control messages stay small");
_Static_assert(sizeof(struct mw_ctl_obs_rec) == 144, "obs record layout");
_Static_assert(MW_CTL_OBS_BATCH_LEN(MW_CTL_OBS_BATCH) <= MW_CTL_MAX_MSG, "a full batch fits a packet");

/* Payload length the op expects for a request (reply = 0) or a reply (reply = 1); -1 unknown op.
 * Text replies (STATUS, TRACE) are variable: the function returns 0 and mw_ctl_check accepts any
 * length up to MW_CTL_MAX_MSG. */
int mw_ctl_payload_len(unsigned op, int reply);
/* Number of fds a request of this op must carry (from the shim's side / INS side). */
int mw_ctl_req_fds(unsigned op);

/* Validate a received message (buffer of n bytes, nfds descriptors attached, sent by `from`:
 * the shim, the hub (mwcomms) or an INS; each may send only its own requests). Returns 0 or a
 * negative errno (-EPROTO bad header/length, -EINVAL bad field, -EBADF wrong fd count). */
enum { MW_FROM_SHIM = 1, MW_FROM_HUB = 2, MW_FROM_INS = 3 };
int mw_ctl_check(const void *buf, size_t n, int nfds, int from);
/* Field checks used by mw_ctl_check (exposed for the unit tests). */
int mw_ctl_addr_check(const struct mw_ctl_addr *a, int allow_unset);

/* Fill a header. */
void mw_ctl_init(struct mw_ctl_msg *m, unsigned op, uint32_t req_id, uint64_t sockid);
size_t mw_ctl_msg_size(unsigned op, int reply);

/* Send one message with up to MW_CTL_MAX_FDS descriptors. MSG_NOSIGNAL always. flags may add
 * MSG_DONTWAIT. Returns 0 or -errno. */
int mw_ctl_send(int sock, const void *msg, size_t len, const int *fds, int nfds, int flags);
/* Receive one message into buf (cap bytes). Received descriptors go to fds (up to
 * MW_CTL_MAX_FDS; extra ones are closed), count in *nfds. Returns bytes (0 = peer closed) or
 * -errno. MSG_CMSG_CLOEXEC always; flags may add MSG_DONTWAIT. A truncated packet is reported as
 * -EMSGSIZE (its fds are closed). */
ssize_t mw_ctl_recv(int sock, void *buf, size_t cap, int *fds, int *nfds, int flags);
void mw_ctl_close_fds(int *fds, int nfds);

/* sockaddr <-> mw_ctl_addr. to_sockaddr returns the length written, or -EINVAL/-ENOSPC. */
int mw_ctl_addr_from_sockaddr(struct mw_ctl_addr *out, const struct sockaddr *sa, socklen_t len);
int mw_ctl_addr_to_sockaddr(const struct mw_ctl_addr *a, struct sockaddr_storage *ss);

/* The abstract socket names (see MW_CTL_NAME_PREFIX). fill: writes sockaddr_un, returns its
 * length. parse: 0 and the id/kind when the name is one of ours, -1 otherwise. */
int mw_ctl_name_fill(struct sockaddr *sun, uint32_t nonce, uint64_t sockid, char kind);
int mw_ctl_name_parse(const struct sockaddr *sun, socklen_t len, uint32_t *nonce, uint64_t *sockid,
                      char *kind);

const char *mw_ctl_op_name(unsigned op);

#endif /* MW_CTL_H */
