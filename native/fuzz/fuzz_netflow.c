/* libFuzzer harness for the NetFlow input side:
 *  1. the message decoders: whatever decodes must re-encode to the same bytes;
 *  2. the stream reader fed in input-chosen chunk sizes, with the request checks;
 *  3. the NetFlow server's per-client request path (framing, auth, request handling, responses,
 *     socket list), driven through a socketpair without the server thread; everything the server
 *     writes back must itself be a clean stream of known messages.
 * The server source is compiled in (static functions) with its log lines silenced. */
#define MW_NF_QUIET 1
#include "../mwcomms/netflow_server.c"

#include <sys/socket.h>

#define CHECK(c)                                                                       \
    do {                                                                               \
        if (!(c)) {                                                                    \
            fprintf(stderr, "fuzz_netflow: check failed: %s (line %d)\n", #c, __LINE__); \
            __builtin_trap();                                                          \
        }                                                                              \
    } while (0)

static void codec_roundtrip(const uint8_t *d, size_t n)
{
    struct mw_nf_msg m;
    uint8_t out[MW_NF_MAX_MSG_LEN];
    int len = mw_nf_decode(d, n, &m);
    if (len < 0) {
        CHECK(len == -EMSGSIZE || len == -EPROTO || len == -EINVAL);
        return;
    }
    CHECK((size_t)len <= n && len == mw_nf_msg_len(m.sig));
    switch (m.sig) {
    case MW_NF_SIG_INFO:
    case MW_NF_SIG_SNAPSHOT:
        CHECK(mw_nf_info_encode(&m.u.info, out) == 0);
        CHECK(memcmp(out, d, MW_NF_INFO_LEN) == 0);
        break;
    case MW_NF_SIG_REQUEST:
        CHECK(mw_nf_request_encode(&m.u.req, out) == 0);
        CHECK(memcmp(out, d, MW_NF_REQUEST_LEN) == 0);
        int e = mw_nf_request_check(&m.u.req);
        CHECK(e == 0 || e == EINVAL || e == ENOTSUP || e == EPERM);
        break;
    case MW_NF_SIG_RESPONSE:
        CHECK(mw_nf_response_encode(&m.u.resp, out) == 0);
        CHECK(memcmp(out, d, MW_NF_RESPONSE_LEN) == 0);
        break;
    case MW_NF_SIG_AUTH:
        CHECK(mw_nf_auth_encode(&m.u.auth, out) == 0);
        /* bytes after the token are padding: only the meaningful prefix must match */
        CHECK(memcmp(out, d, 8 + (size_t)m.u.auth.token_len) == 0);
        break;
    default:
        CHECK(0);
    }
}

static void reader_chunks(const uint8_t *d, size_t n)
{
    if (!n)
        return;
    size_t chunk = (size_t)(d[0] % 17) + 1, off = 1;
    struct mw_nf_reader r;
    mw_nf_reader_init(&r);
    uint64_t consumed = 0;
    while (off < n) {
        size_t len = n - off < chunk ? n - off : chunk;
        size_t done = 0;
        while (done < len) {
            struct mw_nf_msg m;
            int got;
            ssize_t u = mw_nf_reader_feed(&r, d + off + done, len - done, &m, &got);
            if (u < 0) {
                CHECK(u == -EPROTO);
                return;
            }
            CHECK((size_t)u <= len - done);
            done += (size_t)u;
            consumed += (uint64_t)u;
            if (got == 1 && m.sig == MW_NF_SIG_REQUEST)
                (void)mw_nf_request_check(&m.u.req);
            CHECK(got == 1 || got == 0 || got == -EINVAL);
            CHECK(u > 0 || got != 0 || done == len);
        }
        off += len;
    }
    CHECK(r.offset + r.have == consumed);
}

static void fuzz_on_request(void *ctx, struct mw_nf_server *srv, uint64_t cid,
                            const struct mw_nf_feature_request *rq)
{
    (void)ctx;
    /* answer some now, leave some unanswered (a data plane that never replies) */
    if (rq->id & 1)
        mw_nf_server_respond(srv, cid, rq->id, rq->name & 0x7f, rq->val);
}

static struct mw_nf_server *fake_server(int with_token)
{
    struct mw_nf_server *srv = calloc(1, sizeof(*srv));
    CHECK(srv);
    srv->qcap = 8;
    srv->lfd = srv->reserve_fd = -1;
    srv->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    srv->epfd = epoll_create1(EPOLL_CLOEXEC);
    CHECK(srv->efd >= 0 && srv->epfd >= 0);
    pthread_rwlock_init(&srv->clients_lock, NULL);
    pthread_mutex_init(&srv->tab_lock, NULL);
    srv->cfg.on_request = fuzz_on_request;
    if (with_token) {
        strcpy(srv->token, "fuzz-token");
        srv->token_len = strlen(srv->token);
    }
    /* a few open sockets for SOCKET_LIST */
    struct mw_nf_obs o = { .obs = MW_NF_OBS_CREATE, .sockid = 1 };
    mw_nf_server_emit(srv, &o);
    o.obs = MW_NF_OBS_ACCEPT;
    o.extra = 2;
    mw_nf_server_emit(srv, &o);
    return srv;
}

/* Drains what the server wrote; it must be whole, known messages. */
static void check_output(int fd)
{
    struct mw_nf_reader r;
    uint8_t buf[4096];
    ssize_t n;
    mw_nf_reader_init(&r);
    while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
        size_t off = 0;
        while (off < (size_t)n) {
            struct mw_nf_msg m;
            int got;
            ssize_t u = mw_nf_reader_feed(&r, buf + off, (size_t)n - off, &m, &got);
            CHECK(u >= 0 && got >= 0);
            CHECK(!got || m.sig == MW_NF_SIG_INFO || m.sig == MW_NF_SIG_RESPONSE ||
                  m.sig == MW_NF_SIG_SNAPSHOT);
            off += (size_t)u;
        }
    }
}

static void server_client(const uint8_t *d, size_t n)
{
    static struct mw_nf_server *plain, *tokened;
    if (!plain) {
        plain = fake_server(0);
        tokened = fake_server(1);
    }
    struct mw_nf_server *srv = n && (d[0] & 0x80) ? tokened : plain;
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    int big = 1 << 20;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
    setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    struct nf_client *c = client_add(srv, sv[0], "fuzz");
    CHECK(c);
    size_t off = 0;
    while (off < n && !c->dead) {
        ssize_t w = send(sv[1], d + off, n - off, MSG_NOSIGNAL);
        if (w > 0)
            off += (size_t)w;
        client_read(srv, c);
        if (!c->dead) {
            struct mw_nf_obs o = { .obs = MW_NF_OBS_RECV, .sockid = 2, .bytes_in = off };
            mw_nf_server_emit(srv, &o);
            client_flush(srv, c);
        }
        check_output(sv[1]);
        if (w <= 0 && !c->dead && off < n)
            break; /* the server stopped reading (paused): enough */
    }
    if (!c->dead)
        client_close(srv, c, "fuzz input done");
    free_grave(srv);
    close(sv[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    codec_roundtrip(data, size);
    reader_chunks(data, size);
    server_client(data, size);
    return 0;
}
