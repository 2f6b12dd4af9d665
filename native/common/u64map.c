#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mw/u64map.h"

static size_t slot(uint64_t k, size_t cap)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (size_t)k & (cap - 1);
}

int mw_u64map_init(struct mw_u64map *m, size_t hint)
{
    size_t cap = 16;
    while (cap < hint * 2)
        cap <<= 1;
    m->keys = calloc(cap, sizeof(*m->keys));
    m->vals = calloc(cap, sizeof(*m->vals));
    m->cap = cap;
    m->count = 0;
    if (!m->keys || !m->vals) {
        free(m->keys);
        free(m->vals);
        m->keys = NULL;
        m->vals = NULL;
        return -ENOMEM;
    }
    return 0;
}

void mw_u64map_free(struct mw_u64map *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

void *mw_u64map_get(const struct mw_u64map *m, uint64_t key)
{
    if (!key || !m->cap)
        return NULL;
    for (size_t i = slot(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->keys[i] == key)
            return m->vals[i];
        if (!m->keys[i])
            return NULL;
    }
}

static int grow(struct mw_u64map *m)
{
    struct mw_u64map n;
    if (mw_u64map_init(&n, m->cap) < 0)
        return -ENOMEM;
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i])
            mw_u64map_put(&n, m->keys[i], m->vals[i]);
    mw_u64map_free(m);
    *m = n;
    return 0;
}

int mw_u64map_put(struct mw_u64map *m, uint64_t key, void *val)
{
    if (!key)
        return -EINVAL;
    if (!m->cap && mw_u64map_init(m, 16) < 0)
        return -ENOMEM;
    if ((m->count + 1) * 2 > m->cap && grow(m) < 0)
        return -ENOMEM;
    for (size_t i = slot(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->keys[i] == key) {
            m->vals[i] = val;
            return 0;
        }
        if (!m->keys[i]) {
            m->keys[i] = key;
            m->vals[i] = val;
            m->count++;
            return 0;
        }
    }
}

void *mw_u64map_del(struct mw_u64map *m, uint64_t key)
{
    size_t i, j, mask;
    void *old;
    if (!key || !m->cap)
        return NULL;
    mask = m->cap - 1;
    for (i = slot(key, m->cap);; i = (i + 1) & mask) {
        if (!m->keys[i])
            return NULL;
        if (m->keys[i] == key)
            break;
    }
    old = m->vals[i];
    /* backward-shift: move later entries of the cluster into the hole when their home allows */
    for (j = (i + 1) & mask; m->keys[j]; j = (j + 1) & mask) {
        size_t home = slot(m->keys[j], m->cap);
        /* entry j may move to i if i lies cyclically in [home, j) */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            m->keys[i] = m->keys[j];
            m->vals[i] = m->vals[j];
            i = j;
        }
    }
    m->keys[i] = 0;
    m->vals[i] = NULL;
    m->count--;
    return old;
}
