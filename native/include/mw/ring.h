/* Single-producer single-consumer ring of fixed-size records in shared memory (a memfd mapped by
 * both sides), with an eventfd doorbell and a need-wakeup flag: a busy consumer costs the producer
 * no syscall. Used for INS -> mwcomms observations (docs/dataplane.md has the layout).
 *
 * Layout (offsets in bytes, all little-endian host integers):
 *     0  u64 head          producer: records published so far (monotonic)
 *    64  u64 tail          consumer: records consumed so far (monotonic)
 *    72  u32 need_wakeup   consumer sets 1 before it sleeps; the producer rings when it finds 1
 *   128  u32 magic, u32 version, u32 rec_size, u32 capacity (records, power of two)
 *   192  records[capacity]
 * The producer never waits: when the ring is full it reports it and the caller uses its fallback
 * (the INS sends the record over its control socket instead; mwcomms drains the ring before
 * reading that socket, so order is kept). Peer death is detected on the control socket. */
#ifndef MW_RING_H
#define MW_RING_H

#include <stddef.h>
#include <stdint.h>

#define MW_RING_MAGIC 0x4d57524eu   /* "MWRN" */
#define MW_RING_VERSION 1

struct mw_ring_shared;

struct mw_ring {
    struct mw_ring_shared *sh;
    unsigned char *recs;
    size_t map_len;
    uint32_t rec_size, capacity;
    int memfd, efd;
    uint64_t unsignalled;     /* producer: records published since the last doorbell check */
};

/* Creator (mwcomms): memfd + eventfd + mapping. 0 / -errno. */
int  mw_ring_create(struct mw_ring *r, uint32_t rec_size, uint32_t capacity);
/* Other side (INS): map the received memfd; checks magic, version, sizes against the file size. */
int  mw_ring_attach(struct mw_ring *r, int memfd, int efd, uint32_t rec_size);
void mw_ring_destroy(struct mw_ring *r);   /* unmaps and closes both fds */

/* Producer: copy one record in; 0, or -ENOSPC when full. No syscall. */
int  mw_ring_put(struct mw_ring *r, const void *rec);
/* Producer: ring the doorbell if the consumer asked for it (one write to the eventfd at most). */
void mw_ring_kick(struct mw_ring *r);
/* Consumer: take up to max records into out; returns how many. */
uint32_t mw_ring_take(struct mw_ring *r, void *out, uint32_t max);
/* Consumer, before sleeping: announce it; returns 1 when records arrived meanwhile (do not sleep). */
int  mw_ring_prepare_sleep(struct mw_ring *r);
/* Consumer, on waking: clear the doorbell counter and the flag. */
void mw_ring_woken(struct mw_ring *r);
uint32_t mw_ring_count(const struct mw_ring *r);

#endif
