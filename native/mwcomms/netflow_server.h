/* The NetFlow TCP server: streams one info record per observation to every connected client and
 * routes feature requests to the data plane (see docs/protocol.md, /tmp contract NETFLOW_C_API).
 *
 * Threading: the server runs its own thread with an epoll loop. mw_nf_server_emit() and
 * mw_nf_server_respond() may be called from any thread; emit never blocks on the network: each
 * client has a bounded ring of encoded records; when it is full the oldest record is dropped and
 * counted, and the per-client sequence number (base id of info records) shows the gap.
 */
#ifndef MW_NETFLOW_SERVER_H
#define MW_NETFLOW_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "mw/netflow.h"

struct mw_nf_server;

/* One observation, host byte order. */
struct mw_nf_obs {
    uint16_t obs;                     /* MW_NF_OBS_CREATE ... MW_NF_OBS_CLOSE (1..7) */
    uint64_t start_sec, start_nsec;   /* socket creation time, CLOCK_REALTIME */
    uint64_t ts_sec, ts_nsec;         /* observation time, CLOCK_REALTIME */
    int64_t  sockid;                  /* socket id, unique per mwcomms run */
    struct mw_nf_endpoint local, remote;
    uint64_t bytes_in, bytes_out;     /* cumulative per socket */
    uint64_t extra;                   /* new socket id on accept */
    int32_t  ins_id;                  /* which INS (for extensions / logs) */
};

/* Called on the server's thread for every well-formed feature request that the server does not
 * handle itself (it handles traffic monitor on/off 0x0001/0x0002, SOCKET_LIST and CLIENT_STATS per
 * client, and answers requests that fail mw_nf_request_check()). The callee must eventually call
 * mw_nf_server_respond() exactly once with the same client_id and req->id, from any thread
 * (possibly after a round trip to an INS). Responding for a client that has gone is harmless. */
typedef void (*mw_nf_request_fn)(void *ctx, struct mw_nf_server *srv, uint64_t client_id,
                                 const struct mw_nf_feature_request *req);

struct mw_nf_server_config {
    const char *bind_addr;        /* default "127.0.0.1"; IPv6 literals accepted ("::1") */
    uint16_t port;                /* 0 = ephemeral; default used by mwcomms: 2055 */
    size_t queue_records;         /* per-client bounded queue length; 0 = 65536 */
    const char *token;            /* required handshake token when not NULL (extension);
                                   * mandatory when bind_addr is not a loopback address */
    mw_nf_request_fn on_request;  /* NULL: every routed request is answered ENOTSUP */
    void *ctx;
};

struct mw_nf_server_stats {
    uint64_t clients;             /* connected now */
    uint64_t clients_total;       /* accepted since start */
    uint64_t records_emitted;     /* mw_nf_server_emit() calls */
    uint64_t records_queued;      /* record copies put into client queues */
    uint64_t records_sent;        /* record copies fully written to clients */
    uint64_t records_dropped;     /* record copies dropped because a client queue was full */
    uint64_t requests;            /* well-formed requests received */
    uint64_t responses;           /* responses queued */
    uint64_t protocol_errors;     /* malformed input (client answered with an error or dropped) */
    uint64_t auth_failures;
    uint64_t open_sockets;        /* sockets in the server's table (SOCKET_LIST) */
};

int  mw_nf_server_start(const struct mw_nf_server_config *cfg, struct mw_nf_server **out);
void mw_nf_server_emit(struct mw_nf_server *srv, const struct mw_nf_obs *obs);
int  mw_nf_server_respond(struct mw_nf_server *srv, uint64_t client_id, uint32_t req_id,
                          uint32_t status, const uint8_t val[16]);
uint16_t mw_nf_server_port(const struct mw_nf_server *srv);
void mw_nf_server_stats(const struct mw_nf_server *srv, struct mw_nf_server_stats *out);
/* Joins the thread and frees everything: no emit/respond may run during or after it. */
void mw_nf_server_stop(struct mw_nf_server *srv);

/* Not in the data-plane contract; used by tools and tests. */
/* Largest number of records waiting in any client's queue (for pacing a synthetic source). */
size_t mw_nf_server_max_queued(struct mw_nf_server *srv);
/* Per-client queue capacity actually in use. */
size_t mw_nf_server_queue_capacity(const struct mw_nf_server *srv);

#endif /* MW_NETFLOW_SERVER_H */
