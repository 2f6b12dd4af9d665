/* libFuzzer harness over the control-message parser: every byte string, claimed as coming from
 * each sender with 0..4 fds, goes through mw_ctl_check; accepted ones are also read field by field
 * the way mwcomms and the INS do (address conversion), and socket names through the name parser. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "mw/ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    union { struct mw_ctl_msg m; uint8_t raw[MW_CTL_MAX_MSG]; } *buf;
    static uint8_t storage[sizeof(*buf)];
    buf = (void *)storage;
    if (size > sizeof(storage))
        size = sizeof(storage);
    memcpy(storage, data, size);
    for (int from = MW_FROM_SHIM; from <= MW_FROM_INS; from++)
        for (int nfds = 0; nfds <= MW_CTL_MAX_FDS; nfds++) {
            if (mw_ctl_check(storage, size, nfds, from) == 0) {
                struct sockaddr_storage ss;
                const struct mw_ctl_msg *m = &buf->m;
                if (m->h.op == MW_OP_BIND || m->h.op == MW_OP_CONNECT)
                    mw_ctl_addr_to_sockaddr(&m->u.addr.addr, &ss);
                (void)mw_ctl_op_name(m->h.op);
            }
        }
    if (size >= sizeof(sa_family_t)) {
        struct sockaddr_un sun;
        uint32_t nonce;
        uint64_t id;
        char kind;
        size_t n = size < sizeof(sun) ? size : sizeof(sun);
        memset(&sun, 0, sizeof(sun));
        memcpy(&sun, data, n);
        mw_ctl_name_parse((struct sockaddr *)&sun, (socklen_t)n, &nonce, &id, &kind);
        struct mw_ctl_addr a;
        mw_ctl_addr_from_sockaddr(&a, (struct sockaddr *)&sun, (socklen_t)n);
    }
    return 0;
}
