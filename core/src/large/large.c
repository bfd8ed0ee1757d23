/* The large tier: blocks above the mid tier get their own 2 MiB-aligned
 * mapping with a 64-byte header at its start. Freed blocks wait in
 * BigCache for reuse (no syscall, pages still resident); when it is over
 * budget the oldest leave it and are advised away with MADV_DONTNEED in
 * batches, staying mapped so a later hit costs only page faults; past a
 * bound on cold address space they are unmapped. Before all that, each
 * thread keeps the last two cacheable blocks (up to 4 MiB) it freed in its
 * heap's stash: a program that allocates and frees buffers in a loop takes
 * no lock at all, which matters most once it has several threads. */
#include "internal.h"

#include <errno.h>
#include <string.h>

enum { L_USED = 0x55, L_HOT, L_PENDING, L_COLD, L_STASHED };
#define STASH_MAX ((size_t)4 << 20) /* largest block a thread keeps for itself */
#define LARGE_MAGIC ((uintptr_t)0x6c617267656b6168ull)
#define BUCKETS 128
#define COLD_FACTOR 4 /* cold address space kept: 4 x the resident budget */

typedef struct hak_large {
    uintptr_t magic;                /* LARGE_MAGIC ^ own address */
    size_t map_size;                /* bytes mapped from the header on */
    size_t offset;                  /* user pointer - header */
    uint16_t state;                 /* L_* */
    uint8_t strategy;               /* ELO candidate that chose its threshold */
    uint8_t cacheable;              /* goes to BigCache when freed (chosen at allocation) */
    uint32_t chunks;                /* chunks marked in the page map */
    struct hak_large *bnext, *bprev; /* bucket of its size */
    struct hak_large *anext, *aprev; /* age list of its state, oldest first */
} hak_large_t;

_Static_assert(sizeof(hak_large_t) <= HAK_LARGE_HEADER, "large header must fit 64 bytes");

typedef struct age_list {
    hak_large_t *head, *tail;
    size_t bytes;
    size_t count;
} age_list_t;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static hak_large_t *g_bucket[BUCKETS];
static age_list_t g_hot, g_pending, g_cold;
static uint64_t g_allocs, g_frees, g_hits, g_misses, g_in_use, g_reserved;
static _Atomic uint32_t g_nth; /* large allocations, for latency sampling */

static size_t round_up(size_t v, size_t to) { return (v + to - 1) & ~(to - 1); }

/* Mapping sizes come in eight steps per power of two, so blocks of nearby
 * sizes share BigCache buckets; returns 0 on overflow. */
static size_t map_size_for(size_t offset, size_t size) {
    size_t need;
    if (__builtin_add_overflow(offset, size, &need) || need > ((size_t)1 << 46)) return 0;
    unsigned k = 63u - (unsigned)__builtin_clzll(need - 1);
    size_t gran = (size_t)1 << (k >= 3 ? k - 3 : 0);
    if (gran < _hak_page_size) gran = _hak_page_size;
    return round_up(need, gran);
}

static unsigned bucket_of(size_t map_size) {
    unsigned k = 63u - (unsigned)__builtin_clzll(map_size - 1);
    unsigned j = (unsigned)((map_size - 1) >> (k - 3)) & 7;
    unsigned idx = (k - 16) * 8 + j;
    return idx < BUCKETS ? idx : BUCKETS - 1;
}

static void age_push(age_list_t *l, hak_large_t *e) {
    e->anext = NULL;
    e->aprev = l->tail;
    if (l->tail) l->tail->anext = e;
    else l->head = e;
    l->tail = e;
    l->bytes += e->map_size;
    l->count++;
}

static void age_remove(age_list_t *l, hak_large_t *e) {
    if (e->aprev) e->aprev->anext = e->anext;
    else l->head = e->anext;
    if (e->anext) e->anext->aprev = e->aprev;
    else l->tail = e->aprev;
    l->bytes -= e->map_size;
    l->count--;
}

static age_list_t *list_of(hak_large_t *e) {
    return e->state == L_HOT ? &g_hot : (e->state == L_PENDING ? &g_pending : &g_cold);
}

static void cache_remove(hak_large_t *e) {
    unsigned b = bucket_of(e->map_size);
    if (e->bprev) e->bprev->bnext = e->bnext;
    else g_bucket[b] = e->bnext;
    if (e->bnext) e->bnext->bprev = e->bprev;
    age_remove(list_of(e), e);
}

static void unmap_block(hak_large_t *e) {
    g_reserved -= e->map_size;
    _hak_pagemap_clear((uintptr_t)e, e->chunks);
    _hak_os_unmap(e, e->map_size);
}

/* Advises every pending block away at once, keeping each header page. */
static void flush_pending(void) {
    while (g_pending.head != NULL) {
        hak_large_t *e = g_pending.head;
        age_remove(&g_pending, e);
        _hak_os_dontneed((uint8_t *)e + _hak_page_size, e->map_size - _hak_page_size);
        e->state = L_COLD;
        age_push(&g_cold, e);
    }
}

/* Called with the lock held after a block entered the cache. */
static void enforce_budget(void) {
    size_t budget = (size_t)hak_opt(OPT_BIGCACHE_MB) << 20;
    int policy = (int)hak_opt(OPT_FREE_POLICY);
    while (g_hot.bytes > budget && g_hot.head != NULL) {
        hak_large_t *e = g_hot.head;
        if (policy == FREE_UNMAP) {
            cache_remove(e);
            unmap_block(e);
            continue;
        }
        age_remove(&g_hot, e);
        e->state = L_PENDING;
        age_push(&g_pending, e);
        size_t batch = policy == FREE_IMMEDIATE ? 1 : (size_t)hak_opt(OPT_MADVISE_BATCH);
        if (g_pending.count >= batch) flush_pending();
    }
    while (g_cold.bytes > budget * COLD_FACTOR && g_cold.head != NULL) {
        hak_large_t *e = g_cold.head;
        cache_remove(e);
        unmap_block(e);
    }
}

static hak_large_t *cache_take(size_t map_size) {
    unsigned b = bucket_of(map_size);
    for (unsigned i = b; i < BUCKETS && i <= b + 2; i++) {
        for (hak_large_t *e = g_bucket[i]; e != NULL; e = e->bnext) {
            if (e->map_size >= map_size) {
                cache_remove(e);
                return e;
            }
        }
    }
    return NULL;
}

/* Maps a block whose user pointer (header + offset) is `align`-aligned. */
static hak_large_t *map_block(size_t map_size, size_t offset, size_t align) {
    if (align <= HAK_CHUNK_SIZE) return _hak_os_map_aligned(map_size, HAK_CHUNK_SIZE);
    /* Larger alignments: map align + size aligned, keep the part whose
     * header sits one chunk before an aligned address. */
    uint8_t *raw = _hak_os_map_aligned(align + map_size, align);
    if (raw == NULL) return NULL;
    uint8_t *base = raw + align - offset;
    _hak_os_unmap(raw, (size_t)(base - raw));
    _hak_os_unmap(base + map_size, offset);
    return (hak_large_t *)base;
}

/* A block of the calling thread's stash that fits map_size closely. */
static hak_large_t *stash_take(hak_heap_t *h, size_t map_size) {
    for (unsigned i = 0; i < HAK_STASH_SLOTS; i++) {
        hak_large_t *e = h->large_stash[i];
        if (e == NULL || e->map_size < map_size || e->map_size > map_size + map_size / 4)
            continue;
        h->large_stash[i] = NULL;
        return e;
    }
    return NULL;
}

static void **stash_slot(hak_heap_t *h) {
    for (unsigned i = 0; i < HAK_STASH_SLOTS; i++)
        if (h->large_stash[i] == NULL) return &h->large_stash[i];
    return NULL;
}

/* Whether a block of map_size may come from and go back to BigCache: the
 * threshold is ELO's choice, made here before the allocation it steers. */
static bool cache_decision(size_t map_size, size_t align, unsigned *strategy, bool *measure) {
    *strategy = 0;
    *measure = false;
    if (!hak_opt(OPT_BIGCACHE) || align > HAK_CHUNK_SIZE) return false;
    if (hak_opt(OPT_ELO) != ELO_OFF) *strategy = _hak_elo_choose(measure);
    return map_size <= _hak_elo_threshold(*strategy);
}

void *_hak_large_alloc(size_t size, size_t align, bool zero) {
    size_t offset = align <= HAK_LARGE_HEADER ? HAK_LARGE_HEADER
                    : (align <= HAK_CHUNK_SIZE ? align : HAK_CHUNK_SIZE);
    if (size == 0) size = 1; /* the user pointer must lie inside the mapping */
    size_t map_size = map_size_for(offset, size);
    if (map_size == 0 || (align > HAK_CHUNK_SIZE && align + map_size < align)) {
        errno = ENOMEM;
        return NULL;
    }
    if (unlikely(_hak_ace_wanted()) && !_hak_init_in_progress_here()) _hak_ace_start();
    uint64_t t0 = 0;
    if (atomic_load_explicit(&_hak_sampling, memory_order_relaxed)) {
        /* a racy count is enough to pick which calls to sample */
        uint32_t nth = atomic_load_explicit(&g_nth, memory_order_relaxed);
        atomic_store_explicit(&g_nth, nth + 1, memory_order_relaxed);
        t0 = hak_lat_begin(nth);
    }
    unsigned strategy;
    bool measure;
    bool cacheable = cache_decision(map_size, align, &strategy, &measure);
    uint64_t m0 = measure ? _hak_now_ns() : 0;
    uint32_t chunks = (uint32_t)(offset >> HAK_CHUNK_SHIFT) + 1;
    hak_large_t *e = NULL;
    uint32_t was = 0;
    hak_heap_t *h = _hak_tl_heap;
    bool stashed = cacheable && offset == HAK_LARGE_HEADER && (uintptr_t)h > 1 &&
                   (e = stash_take(h, map_size)) != NULL;
    if (stashed) {
        was = L_HOT;
    } else {
        hak_lock(&g_lock);
        if (cacheable) e = cache_take(map_size);
        if (e != NULL) {
            was = e->state;
            g_hits++;
        } else {
            g_misses++;
        }
        pthread_mutex_unlock(&g_lock);
    }
    if (e == NULL) {
        e = map_block(map_size, offset, align);
        if (e == NULL && _hak_release_caches() != 0) e = map_block(map_size, offset, align);
        if (e == NULL) return NULL;
        if (!_hak_pagemap_set((uintptr_t)e, chunks, PM_LARGE)) {
            _hak_os_unmap(e, map_size);
            errno = ENOMEM;
            return NULL;
        }
        e->map_size = map_size;
        e->chunks = chunks;
        if (hak_opt(OPT_THP) != THP_OFF && map_size >= ((size_t)4 << 20))
            _hak_os_hugepage(e, map_size);
        hak_lock(&g_lock);
        g_reserved += map_size;
        pthread_mutex_unlock(&g_lock);
    } else if (chunks > e->chunks) {
        if (!_hak_pagemap_set((uintptr_t)e, chunks, PM_LARGE)) {
            hak_lock(&g_lock);
            unmap_block(e);
            pthread_mutex_unlock(&g_lock);
            errno = ENOMEM;
            return NULL;
        }
        e->chunks = chunks;
    }
    e->magic = LARGE_MAGIC ^ (uintptr_t)e;
    e->offset = offset;
    e->state = L_USED;
    e->strategy = (uint8_t)strategy;
    e->cacheable = cacheable;
    uint8_t *p = (uint8_t *)e + offset;
    hak_lat_end(t0); /* the allocator's latency, not calloc's clearing below */
    if (zero && was != 0) {
        /* Cold blocks are zero past their header page; hot ones are not. */
        size_t dirty = size;
        if (was == L_COLD) {
            size_t head = offset < _hak_page_size ? _hak_page_size - offset : 0;
            dirty = size < head ? size : head;
        }
        memset(p, 0, dirty);
    }
    if (stashed) {
        hak_ctr_inc(&h->ctr.large_allocs);
        hak_ctr_add(&h->ctr.large_bytes_in, e->map_size - offset);
    } else {
        hak_lock(&g_lock);
        g_allocs++;
        g_in_use += e->map_size - offset;
        pthread_mutex_unlock(&g_lock);
    }
    if (measure) _hak_elo_alloc_done(strategy, _hak_now_ns() - m0);
    return p;
}

static void free_block(hak_large_t *e);
static bool cache_eligible(const hak_large_t *e);

/* The header of a live large block; `freed` names the failure when the
 * block is already free. */
static hak_large_t *header_of(const void *p, const char *freed) {
    uintptr_t a = (uintptr_t)p;
    uintptr_t base = hak_region_base(a, hak_pagemap_get(a));
    hak_large_t *e = (hak_large_t *)base;
    if (e->magic != (LARGE_MAGIC ^ base) || base + e->offset != a)
        _hak_fail("free of an interior or invalid pointer (large tier)", p);
    if (e->state != L_USED) _hak_fail(freed, p);
    return e;
}

void _hak_large_free(void *p) {
    hak_large_t *e = header_of(p, "double free (large tier)");
    bool measure = _hak_elo_measuring();
    uint64_t t0 = measure ? _hak_now_ns() : 0;
    unsigned strategy = e->strategy & (HAK_ELO_CANDIDATES - 1);
    hak_heap_t *h = _hak_tl_heap;
    void **slot = (uintptr_t)h > 1 ? stash_slot(h) : NULL;
    if (slot != NULL && e->offset == HAK_LARGE_HEADER && e->map_size <= STASH_MAX &&
        cache_eligible(e)) {
        e->state = L_STASHED;
        *slot = e;
        hak_ctr_inc(&h->ctr.large_frees);
        hak_ctr_add(&h->ctr.large_bytes_out, e->map_size - e->offset);
    } else {
        hak_lock(&g_lock);
        g_frees++;
        g_in_use -= e->map_size - e->offset;
        free_block(e);
        pthread_mutex_unlock(&g_lock);
    }
    if (measure) _hak_elo_free_done(strategy, _hak_now_ns() - t0);
}

/* A thread's stashed blocks go to BigCache (thread exit, trim); they were
 * counted as freed when stashed. */
void _hak_large_unstash(hak_heap_t *h) {
    for (unsigned i = 0; i < HAK_STASH_SLOTS; i++) {
        hak_large_t *e = h->large_stash[i];
        if (e == NULL) continue;
        h->large_stash[i] = NULL;
        hak_lock(&g_lock);
        free_block(e);
        pthread_mutex_unlock(&g_lock);
    }
}

/* Whether a freed block may be cached: realloc may have grown it past the
 * threshold it was chosen for. */
static bool cache_eligible(const hak_large_t *e) {
    return e->cacheable && hak_opt(OPT_BIGCACHE) && e->map_size <= _hak_elo_threshold(e->strategy);
}

/* Called with the lock held: the block enters BigCache or is unmapped. */
static void free_block(hak_large_t *e) {
    if (cache_eligible(e)) {
        e->state = L_HOT;
        unsigned b = bucket_of(e->map_size);
        e->bprev = NULL;
        e->bnext = g_bucket[b];
        if (e->bnext) e->bnext->bprev = e;
        g_bucket[b] = e;
        age_push(&g_hot, e);
        enforce_budget();
        return;
    }
    e->state = 0;
    unmap_block(e);
}

size_t _hak_large_usable(const void *p) {
    hak_large_t *e = header_of(p, "usable size of a freed block (large tier)");
    return e->map_size - e->offset;
}

void *_hak_large_realloc(void *p, size_t size) {
    hak_large_t *e = header_of(p, "realloc of a freed block (large tier)");
    size_t usable = e->map_size - e->offset;
    if (size > HAK_MID_MAX && size <= usable && size >= usable / 2) return p;
    if (size > usable) {
        size_t grown = map_size_for(e->offset, size);
        if (grown != 0 && _hak_os_grow_in_place(e, e->map_size, grown)) {
            hak_lock(&g_lock);
            g_reserved += grown - e->map_size;
            g_in_use += grown - e->map_size;
            e->map_size = grown;
            pthread_mutex_unlock(&g_lock);
            return p;
        }
    }
    void *q = hak_malloc(size);
    if (q == NULL) return NULL;
    memcpy(q, p, size < usable ? size : usable);
    _hak_large_free(p);
    return q;
}

void _hak_large_stats(hak_tier_stats_t *out) {
    hak_lock(&g_lock);
    out->allocs = g_allocs;
    out->frees = g_frees;
    out->hits = g_hits;
    out->misses = g_misses;
    out->remote_frees = 0;
    out->bytes_in_use = g_in_use;
    out->bytes_reserved = g_reserved;
    pthread_mutex_unlock(&g_lock);
}

/* Unmaps every block waiting in BigCache; returns the bytes released. */
size_t _hak_large_trim(void) {
    size_t bytes = 0;
    hak_lock(&g_lock);
    age_list_t *lists[] = {&g_hot, &g_pending, &g_cold};
    for (unsigned i = 0; i < 3; i++) {
        while (lists[i]->head != NULL) {
            hak_large_t *e = lists[i]->head;
            bytes += e->map_size;
            cache_remove(e);
            unmap_block(e);
        }
    }
    pthread_mutex_unlock(&g_lock);
    return bytes;
}

/* ACE's scavenger: blocks idle in BigCache (hot, oldest first, then those
 * pending a batch) are advised away until the deadline; they stay cached
 * as cold blocks. */
size_t _hak_large_scavenge(uint64_t deadline_ns) {
    size_t bytes = 0;
    hak_lock(&g_lock);
    while (g_hot.head != NULL && _hak_now_ns() < deadline_ns) {
        hak_large_t *e = g_hot.head;
        age_remove(&g_hot, e);
        e->state = L_PENDING;
        age_push(&g_pending, e);
        bytes += e->map_size - _hak_page_size;
        flush_pending();
    }
    if (g_pending.head != NULL && _hak_now_ns() < deadline_ns) {
        bytes += g_pending.bytes - g_pending.count * _hak_page_size;
        flush_pending();
    }
    pthread_mutex_unlock(&g_lock);
    return bytes;
}

/* Resident bytes waiting in BigCache. */
size_t _hak_large_idle_bytes(void) {
    hak_lock(&g_lock);
    size_t bytes = g_hot.bytes + g_pending.bytes;
    pthread_mutex_unlock(&g_lock);
    return bytes;
}

void _hak_large_lock(void) { hak_lock(&g_lock); }
void _hak_large_unlock(void) { pthread_mutex_unlock(&g_lock); }
