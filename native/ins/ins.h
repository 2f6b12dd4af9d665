/* The INS worker: executes the application's socket operations on its own network stack and
 * relays bytes between each real TCP socket and the application's AF_UNIX end, with one epoll
 * loop (no thread per socket). See docs/dataplane.md. */
#ifndef MW_INS_H
#define MW_INS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mw/ctl.h"
#include "mw/ring.h"
#include "mw/u64map.h"

enum ins_kind { K_PRE = 1, K_LISTENER, K_CONN };
enum ins_tag_type { T_CTL = 1, T_TCP, T_UFD };

struct ins_sock;
struct ins_tag { int type; struct ins_sock *s; };

struct ins_pend { char *buf; size_t len, off; };
struct ins_handq { struct ins_handq *next; int fd; struct mw_ctl_addr peer; };
#define INS_HANDQ_MAX 4096

struct ins_sock {
    uint64_t sockid;
    int kind;
    int tcp;                 /* the real TCP socket */
    int ufd;                 /* our AF_UNIX end (stream for PRE/CONN, seqpacket for LISTENER) */
    int domain;
    uint32_t state;
    struct mw_ctl_addr local, peer;
    uint64_t inode;          /* the app end's inode */
    uint64_t bytes_in, bytes_out;     /* in: TCP -> app, out: app -> TCP */
    uint64_t start_sec, start_nsec;
    uint64_t last_obs_ns;
    int obs_dirty;
    struct ins_tag ttag, utag;
    uint32_t ev_tcp, ev_u;   /* current epoll interest (UINT32_MAX = not registered) */
    /* relay, direction 0 = app -> TCP, 1 = TCP -> app */
    struct ins_pend pend[2];
    int eof[2];              /* the source of the direction reached EOF */
    int shut[2];             /* the destination was shut down for writing */
    int app_gone;            /* every copy of the app end is closed */
    int u_hup, t_hup;
    int short_read;          /* the last read took less than the buffer: drained */        /* the app end / the TCP peer hung up (no more events will come) */
    /* non-blocking connect */
    int filler_fd;           /* a copy of the app end, kept only while connecting */
    size_t filler_bytes;
    int saved_sndbuf;
    int so_error;
    /* listener: a connection waiting for room in the seqpacket queue */
    int held_app_fd;
    struct ins_sock *held_conn;
    struct mw_ctl_msg held_msg;
    /* listener: connections the front end handed over while one was held (a backlog, like the
     * kernel's accept queue; delivered in order as the program accepts) */
    struct ins_handq *hq_head, *hq_tail;
    uint32_t hq_len;
    /* connection: the listener holding it (accept observation sent, not yet delivered), so
     * closing it (NetFlow is-open := 0, address block) also clears the listener's reference */
    struct ins_sock *held_by;
    int dead;
    uint64_t coalesce_until; /* data from the app waits for the rest until then (0 = not waiting) */
    /* sndtimeo/rcvtimeo written over NetFlow: the INS enforces them (see timeo_scan()) */
    uint64_t rcvtimeo_ns, sndtimeo_ns;
    uint64_t last_rx_ns;     /* last byte from the peer, or the INS was not waiting for one */
    uint64_t last_tx_ns;     /* last progress sending to the peer, or nothing was waiting */
    int close_err;           /* errno reported by the close observation (ETIMEDOUT on expiry) */
    int corked;              /* data was sent with MSG_MORE: shut down before closing */
    struct ins_sock *next_free;
};

struct ins_outq { struct ins_outq *next; size_t len; char data[]; };

/* A ready-made connection pair: the application's end already named (and its inode known). */
struct ins_pair { int app, ours; uint64_t sockid, inode; };
#define INS_POOL_TARGET 16

struct ins_ctx {
    int ctl;                 /* SEQPACKET to mwcomms */
    int ep;
    uint32_t id, gen, nonce, obs_interval_ms;
    int ready;               /* the hello arrived: gen and nonce are known */
    uint32_t busy_poll_us;   /* poll this long after activity before sleeping (0 = never) */
    struct ins_pair pool[INS_POOL_TARGET];
    int npool;
    uint64_t pool_hits, pool_misses;
    uint64_t coalesce_ns;    /* response coalescing window (0 = off), see coalesce_wait() */
    int coal_score;          /* > -8: waiting has been paying off */
    uint32_t coal_probe;
    uint64_t coal_hits, coal_misses;
    int coal_waiting;        /* a response waited in this round: yield before polling again */
    int round_events;        /* events in the current epoll round (a load measure) */
    uint32_t ntimed;         /* sockets with a NetFlow sndtimeo/rcvtimeo */
    uint64_t next_timeo_scan;
    uint64_t timeouts;       /* connections closed by an expired sndtimeo/rcvtimeo */
    uint64_t next_seq;
    struct mw_u64map socks;
    struct ins_tag ctltag;
    uint32_t ctl_ev;
    struct ins_outq *q_head, *q_tail;
    size_t q_len;
    uint64_t obs_dropped;
    struct mw_ctl_obs_batch_msg *batch;   /* fallback: observations sent in one packet */
    struct mw_ring ring;                  /* observations to mwcomms (shared memory) */
    int have_ring;
    uint64_t ring_full;
    char *scratch;
    size_t scratch_len;
    struct ins_sock *free_list;
    uint64_t nconn, nlisten;
    uint32_t flags;          /* MW_INS_F_* from mwcomms */
    uint32_t max_sockets;    /* open sockets before new ones are refused (0 = no limit) */
    uint64_t refused;        /* sockets/connections refused by max_sockets */
    /* mitigations */
    char cc[16];             /* congestion control for new sockets ("" = system default) */
    struct { uint16_t family; uint8_t addr[16]; } blocked[64];
    int nblocked;
    int quit;
};

int  ins_init(struct ins_ctx *c, int ctl_fd, uint32_t id);
int  ins_run(struct ins_ctx *c);        /* until mwcomms goes away; 0 or -errno */
void ins_fini(struct ins_ctx *c);
/* Handle one validated request from mwcomms (exposed for tests). */
void ins_handle(struct ins_ctx *c, struct mw_ctl_msg *m, int *fds, int nfds);

#endif
