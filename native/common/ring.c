#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mw/ring.h"

struct mw_ring_shared {
    _Atomic uint64_t head;
    char pad0[56];
    _Atomic uint64_t tail;
    _Atomic uint32_t need_wakeup;
    char pad1[52];
    uint32_t magic, version, rec_size, capacity;
    char pad2[48];
};
_Static_assert(sizeof(struct mw_ring_shared) == 192, "ring header layout");
_Static_assert(offsetof(struct mw_ring_shared, tail) == 64, "tail on its own cache line");
_Static_assert(offsetof(struct mw_ring_shared, magic) == 128, "descriptor at 128");

static size_t map_len(uint32_t rec_size, uint32_t capacity)
{
    return sizeof(struct mw_ring_shared) + (size_t)rec_size * capacity;
}

int mw_ring_create(struct mw_ring *r, uint32_t rec_size, uint32_t capacity)
{
    int e;
    memset(r, 0, sizeof(*r));
    r->memfd = r->efd = -1;
    if (!rec_size || rec_size % 8 || !capacity || (capacity & (capacity - 1)))
        return -EINVAL;
    r->map_len = map_len(rec_size, capacity);
    r->memfd = memfd_create("mw-ins-ring", MFD_CLOEXEC);
    if (r->memfd < 0)
        return -errno;
    if (ftruncate(r->memfd, (off_t)r->map_len) < 0)
        goto fail;
    r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (r->efd < 0)
        goto fail;
    r->sh = mmap(NULL, r->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, r->memfd, 0);
    if (r->sh == MAP_FAILED) {
        r->sh = NULL;
        goto fail;
    }
    r->sh->magic = MW_RING_MAGIC;
    r->sh->version = MW_RING_VERSION;
    r->sh->rec_size = rec_size;
    r->sh->capacity = capacity;
    atomic_store(&r->sh->need_wakeup, 1);   /* the consumer starts asleep */
    r->recs = (unsigned char *)r->sh + sizeof(struct mw_ring_shared);
    r->rec_size = rec_size;
    r->capacity = capacity;
    return 0;
fail:
    e = -errno;
    mw_ring_destroy(r);
    return e;
}

int mw_ring_attach(struct mw_ring *r, int memfd, int efd, uint32_t rec_size)
{
    struct stat st;
    struct mw_ring_shared *sh;
    memset(r, 0, sizeof(*r));
    r->memfd = memfd;
    r->efd = efd;
    if (fstat(memfd, &st) < 0)
        return -errno;
    if ((size_t)st.st_size < sizeof(struct mw_ring_shared))
        return -EINVAL;
    sh = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    if (sh == MAP_FAILED)
        return -errno;
    r->sh = sh;
    r->map_len = (size_t)st.st_size;
    /* the descriptor comes from the other process: check it against what we mapped */
    if (sh->magic != MW_RING_MAGIC || sh->version != MW_RING_VERSION || sh->rec_size != rec_size ||
        !sh->capacity || (sh->capacity & (sh->capacity - 1)) ||
        map_len(sh->rec_size, sh->capacity) > r->map_len)
        return -EPROTO;
    r->rec_size = sh->rec_size;
    r->capacity = sh->capacity;
    r->recs = (unsigned char *)sh + sizeof(struct mw_ring_shared);
    return 0;
}

void mw_ring_destroy(struct mw_ring *r)
{
    if (r->sh)
        munmap(r->sh, r->map_len);
    if (r->memfd >= 0)
        close(r->memfd);
    if (r->efd >= 0)
        close(r->efd);
    memset(r, 0, sizeof(*r));
    r->memfd = r->efd = -1;
}

int mw_ring_put(struct mw_ring *r, const void *rec)
{
    uint64_t head = atomic_load_explicit(&r->sh->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&r->sh->tail, memory_order_acquire);
    if (head - tail >= r->capacity)
        return -ENOSPC;
    memcpy(r->recs + (size_t)(head & (r->capacity - 1)) * r->rec_size, rec, r->rec_size);
    atomic_store_explicit(&r->sh->head, head + 1, memory_order_release);
    r->unsignalled++;
    return 0;
}

void mw_ring_kick(struct mw_ring *r)
{
    uint64_t one = 1;
    if (!r->unsignalled)
        return;
    r->unsignalled = 0;
    /* pairs with the fence in mw_ring_prepare_sleep: either the consumer sees our head, or we
     * see its flag */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_exchange_explicit(&r->sh->need_wakeup, 0, memory_order_acq_rel))
        if (write(r->efd, &one, sizeof(one)) < 0) { /* counter saturated: already signalled */ }
}

uint32_t mw_ring_take(struct mw_ring *r, void *out, uint32_t max)
{
    uint64_t tail = atomic_load_explicit(&r->sh->tail, memory_order_relaxed);
    uint64_t head = atomic_load_explicit(&r->sh->head, memory_order_acquire);
    uint32_t n = 0;
    /* a producer can corrupt only what it sends: never trust head beyond capacity */
    if (head - tail > r->capacity)
        tail = head - r->capacity;
    while (tail != head && n < max) {
        memcpy((unsigned char *)out + (size_t)n * r->rec_size,
               r->recs + (size_t)(tail & (r->capacity - 1)) * r->rec_size, r->rec_size);
        tail++;
        n++;
    }
    atomic_store_explicit(&r->sh->tail, tail, memory_order_release);
    return n;
}

int mw_ring_prepare_sleep(struct mw_ring *r)
{
    atomic_store_explicit(&r->sh->need_wakeup, 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_seq_cst);
    return atomic_load_explicit(&r->sh->head, memory_order_acquire) !=
           atomic_load_explicit(&r->sh->tail, memory_order_relaxed);
}

void mw_ring_woken(struct mw_ring *r)
{
    uint64_t v;
    if (read(r->efd, &v, sizeof(v)) < 0) { /* nothing pending */ }
}

uint32_t mw_ring_count(const struct mw_ring *r)
{
    return (uint32_t)(atomic_load_explicit(&r->sh->head, memory_order_acquire) -
                      atomic_load_explicit(&r->sh->tail, memory_order_acquire));
}
