/* A small open-addressing hash map from non-zero uint64 keys to pointers (linear probing,
 * backward-shift deletion, grows at 50% load). Used for the socket tables keyed by socket id and
 * by inode. Not thread-safe: each owner uses it from one thread. */
#ifndef MW_U64MAP_H
#define MW_U64MAP_H

#include <stddef.h>
#include <stdint.h>

struct mw_u64map {
    uint64_t *keys;     /* 0 = empty slot */
    void **vals;
    size_t cap;         /* power of two */
    size_t count;
};

int   mw_u64map_init(struct mw_u64map *m, size_t cap_hint);          /* 0 / -ENOMEM */
void  mw_u64map_free(struct mw_u64map *m);
void *mw_u64map_get(const struct mw_u64map *m, uint64_t key);
int   mw_u64map_put(struct mw_u64map *m, uint64_t key, void *val);   /* replaces; -EINVAL key 0 */
void *mw_u64map_del(struct mw_u64map *m, uint64_t key);              /* returns the old value */
/* Iterate: for (size_t i = 0; i < m->cap; i++) if (m->keys[i]) ... (no changes while iterating) */

#endif
