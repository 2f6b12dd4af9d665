/* mwcomms: the hub. Rendezvous for shims, the socket table, the INS registry and supervisor, the
 * host-side front end (isolation netns), NetFlow observations and feature requests, tracing. */
#ifndef MW_HUB_H
#define MW_HUB_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "mw/ctl.h"
#include "mw/ring.h"
#include "mw/u64map.h"

#define HUB_MAX_INS 32
#define HUB_TRACE_BUCKETS 24   /* log2 microseconds: <1us, <2us, ... */

enum hub_tag_type { H_LISTEN = 1, H_CLIENT, H_INS, H_SIGNAL, H_NFQ, H_FRONT, H_RING, H_TIMER };
struct hub_tag { int type; void *p; };

struct hub_client {
    uint64_t id;
    int fd;
    pid_t pid;
    uid_t uid;
    uint64_t malformed;
    struct hub_tag tag;
};

struct hub_ins {
    int idx;
    uint32_t ins_id, gen;
    pid_t pid;
    int fd;
    int alive;
    int used;                 /* slot holds an INS (0 after ins-stop / scale-in) */
    int draining;             /* out of rotation for new connections; stopped when it has none */
    uint32_t max_sockets;     /* ins-max-sockets (0 = unlimited), enforced by the INS */
    struct hub_tag tag, ring_tag;
    struct mw_ring ring;      /* observations from this INS (shared memory) */
    int have_ring;
    uint64_t nsock, nconn, nlisten;
    uint64_t inflight;        /* connections handed over by the front end, not yet answered */
    char netns[32], veth_host[16], veth_ins[16];
    char host_ip[20], ins_ip[20];
    unsigned restarts;
    uint64_t started_ns;
    uint64_t obs_received;
};

struct hub_opt { int32_t level, optname, val; };

struct hub_sock {
    uint64_t sockid, inode;
    int ins;                  /* index into hub.ins */
    int32_t domain;
    uint32_t state;
    struct mw_ctl_addr local, peer;
    uint64_t bytes_in, bytes_out, start_sec, start_nsec;
    int seq_dup;              /* listeners: our copy of the INS end of the app's seqpacket pair */
    int backlog;
    int nopts;
    struct hub_opt opts[8];
    uint32_t replicas;        /* listeners: bit i set = INS slot i holds a replica (besides s->ins) */
    int front_fd;             /* isolation netns: the host-side front-end listener */
    struct hub_tag front_tag;
    pid_t owner;
};

enum pend_kind { PK_CLIENT = 1, PK_NETFLOW, PK_INTERNAL };
struct hub_pending {
    uint32_t hub_req;
    int kind;
    uint64_t client_id;
    uint32_t client_req;
    uint16_t op;
    uint64_t sockid;
    uint64_t t0;
    int ins;
    uint64_t new_inode;       /* LISTEN: the new app end's inode */
    int seq_dup;              /* LISTEN: our copy of the INS end */
    uint64_t nf_client;
    uint32_t nf_req;
    uint16_t nf_name;
    int *nf_remaining;        /* broadcast feature requests: replies still due */
    struct hub_opt opt;       /* SETSOCKOPT: what to record for restore */
};

struct hub_trace {
    int on;
    uint64_t count[MW_OP__MAX];
    uint64_t errors[MW_OP__MAX];
    uint64_t hist[MW_OP__MAX][HUB_TRACE_BUCKETS];
    uint64_t total_ns[MW_OP__MAX];
};

struct hub_nfreq;   /* queued NetFlow feature request */

struct hub {
    const char *rendezvous;
    const char *ins_path;
    int nins_want;            /* INS slots in use so far (high-water mark; see hub_ins.used) */
    int ins_min, ins_max;     /* autoscale bounds (ins_min = --ins) */
    uint32_t scale_out_conns; /* autoscale: connections per INS that trigger one more (0 = off) */
    int tfd;                  /* 1 s timer: autoscale, draining */
    struct hub_tag ttag;
    uint64_t last_scale_ns;
    int isolation_netns;
    const char *front_addr4, *front_addr6;
    uint32_t obs_interval_ms;
    int ins_nice;
    uint32_t ins_busy_poll_us;
    uint32_t ins_coalesce_us;
    uint32_t nonce;
    int ep, lfd, sigfd, nfq_efd;
    struct hub_tag ltag, sigtag, nfqtag;
    struct hub_ins ins[HUB_MAX_INS];
    uint32_t next_gen;
    uint64_t next_sockid, next_client;
    uint32_t next_req;
    struct mw_u64map by_id, by_inode, clients, pending;
    struct hub_trace trace;
    void *nf;                 /* struct mw_nf_server * when built with it */
    char nf_addr[64];
    uint16_t nf_port;
    pthread_mutex_t nfq_lock;
    struct hub_nfreq *nfq_head, *nfq_tail;
    uint64_t malformed, obs_total;
    void **grave;
    size_t ngrave, cap_grave;
    int quit;
};

struct hub_config {
    const char *rendezvous;
    const char *ins_path;
    int nins;
    int isolation_netns;
    const char *netflow;      /* "ADDR:PORT", "off" */
    const char *netflow_token;
    const char *front_addr4, *front_addr6;
    uint32_t obs_interval_ms;
    int ins_nice;             /* scheduling priority of the INS processes (default -5) */
    uint32_t ins_busy_poll_us; /* INS busy-poll window after activity (default 200, 0 = off) */
    uint32_t ins_coalesce_us;  /* INS response coalescing window (default 20, 0 = off) */
    int ins_max;              /* most INS instances (spawn, autoscale); default max(nins, HUB_MAX_INS) */
    uint32_t scale_out_conns; /* autoscale threshold, connections per INS (0 = no autoscale) */
};

int  hub_init(struct hub *h, const struct hub_config *cfg);
int  hub_run(struct hub *h);
void hub_fini(struct hub *h);

/* Exposed for the unit tests: handle one message from a shim client. */
void hub_client_message(struct hub *h, struct hub_client *cl, void *buf, ssize_t n, int *fds, int nfds);
/* JSON status into buf; returns length. */
int hub_status_json(struct hub *h, char *buf, size_t cap);
int hub_trace_json(struct hub *h, char *buf, size_t cap);

#endif
