/* The large tier: blocks above the mid tier have a 64-byte header at a
 * 2 MiB boundary, the block a colour past it (colour_of). Those of 1–64
 * MiB under the cache threshold a strategy chose for them at allocation
 * (ELO's, or the fixed one) are carved from arenas (arena.c), whose freed
 * chunks stay resident for the next block of any size; the others get a
 * mapping of their own, and go to BigCache (bigcache.c) when freed if
 * under the threshold. Before that, each thread keeps the last two
 * cacheable blocks (up to 4 MiB) it freed in its stash: a program that
 * allocates and frees buffers in a loop takes no lock at all, which
 * matters most once it has several threads. */
#include "block.h"
#include "guard.h"

#include <errno.h>
#include <string.h>

#define STASH_SLOTS 2
#define STASH_MAX ((size_t)4 << 20) /* largest block a thread keeps for itself */
#define STASH_SLACK 4 /* a stashed block serves requests down to 1/4 smaller: no more idle */
/* HAKMEM_THP=auto: huge pages for blocks from 4 MiB, where fewer TLB misses
 * outweigh faulting in 2 MiB at a time. */
#define THP_MIN_BYTES ((size_t)4 << 20)
#define SHRINK_IN_PLACE 2 /* realloc to at least 1/2 of the block keeps it where it is */

/* The tier's per-thread state, kept in the thread heap's tier_local room. */
typedef struct large_local {
    hak_large_t *stash[STASH_SLOTS]; /* freed blocks kept for this thread */
    /* blocks that went through the stash (no lock), written by the owner */
    uint64_t allocs, frees, bytes_in, bytes_out;
} large_local_t;

_Static_assert(sizeof(large_local_t) <= sizeof(((hak_heap_t *)0)->tier_local),
               "the large tier's per-thread state fits the heap's room for it");

static large_local_t *local_of(hak_heap_t *h) { return (large_local_t *)(void *)h->tier_local; }

static const hak_large_strategy_t *g_strategy;
static _Atomic uint32_t g_nth; /* large allocations, for latency sampling */

void _hak_large_set_strategy(const hak_large_strategy_t *s) { g_strategy = s; }

size_t _hak_large_threshold(unsigned strategy) {
    if (g_strategy == NULL) return (size_t)hak_opt(OPT_BIGCACHE_MAX_BLOCK_MB) * HAK_MIB;
    return g_strategy->threshold(strategy);
}


/* Mapping sizes come in steps of an eighth of a power of two, so blocks of
 * nearby sizes share BigCache buckets; returns 0 on overflow. */
static size_t map_size_for(size_t offset, size_t size) {
    size_t need;
    if (__builtin_add_overflow(offset, size, &need) || need > HAK_MAP_MAX) return 0;
    unsigned k = hak_log2(need - 1);
    size_t gran = (size_t)1 << (k >= LARGE_STEPS_SHIFT ? k - LARGE_STEPS_SHIFT : 0);
    if (gran < _hak_page_size) gran = _hak_page_size;
    return hak_align_up(need, gran);
}

/* Maps a block whose user pointer (header + offset) is `align`-aligned. */
static hak_large_t *map_block(size_t map_size, size_t offset, size_t align) {
    if (align <= HAK_CHUNK_SIZE) return _hak_map_aligned(map_size, HAK_CHUNK_SIZE);
    /* Larger alignments: map align + size aligned, keep the part whose
     * header sits one chunk before an aligned address. */
    uint8_t *raw = _hak_map_aligned(align + map_size, align);
    if (raw == NULL) return NULL;
    uint8_t *base = raw + align - offset;
    _hak_os_unmap(raw, (size_t)(base - raw));
    _hak_os_unmap(base + map_size, offset);
    return (hak_large_t *)base;
}

/* A block of the calling thread's stash that fits map_size closely. */
static hak_large_t *stash_take(large_local_t *l, size_t map_size) {
    for (unsigned i = 0; i < STASH_SLOTS; i++) {
        hak_large_t *e = l->stash[i];
        if (e == NULL || e->map_size < map_size || e->map_size > map_size + map_size / STASH_SLACK)
            continue;
        l->stash[i] = NULL;
        return e;
    }
    return NULL;
}

static hak_large_t **stash_slot(large_local_t *l) {
    for (unsigned i = 0; i < STASH_SLOTS; i++)
        if (l->stash[i] == NULL) return &l->stash[i];
    return NULL;
}

/* Whether a block of map_size may come from and go back to BigCache: the
 * strategy chooses the threshold here, before the allocation it steers. */
static bool cache_decision(size_t map_size, size_t align, unsigned *strategy, bool *measure) {
    *strategy = 0;
    *measure = false;
    if (!hak_opt(OPT_BIGCACHE) || align > HAK_CHUNK_SIZE) return false;
    if (g_strategy != NULL) *strategy = g_strategy->choose(measure);
    return map_size <= _hak_large_threshold(*strategy);
}

/* A resident cached block of another size made to hold map_size: a larger
 * one is cut at the first chunk boundary past map_size and its tail goes
 * back to BigCache as a block of its own; a smaller one grows (in place,
 * or moved with its pages), so only the part it grows by faults in.
 * NULL when it could not grow (it is unmapped then). */
static hak_large_t *fit(hak_large_t *e, size_t map_size) {
    if (e->map_size >= map_size) {
        size_t cut = hak_align_up(map_size, HAK_CHUNK_SIZE);
        if (cut >= e->map_size) return e;
        hak_large_t *tail = (hak_large_t *)((uint8_t *)e + cut);
        tail->magic = 0;
        tail->map_size = e->map_size - cut;
        tail->offset = HAK_LARGE_HEADER;
        tail->chunks = 1;
        tail->strategy = e->strategy;
        tail->cacheable = 1;
        tail->in_arena = 0;
        tail->aligned = 0;
        e->map_size = cut;
        /* the head keeps only its own chunks in the page map (a block once
         * aligned past a chunk had marked two) */
        if (e->chunks > (cut >> HAK_CHUNK_SHIFT)) e->chunks = (uint16_t)(cut >> HAK_CHUNK_SHIFT);
        HAK_LOCKED(&_hak_large_mutex) {
            if (_hak_pagemap_set((uintptr_t)tail, 1, PM_LARGE)) _hak_bigcache_put(tail);
            else e->map_size += tail->map_size; /* out of the map's reach: cannot happen */
        }
        return e;
    }
    size_t old = e->map_size;
    if (_hak_os_grow_in_place(e, old, map_size)) {
        e->map_size = map_size;
    } else {
        _hak_pagemap_clear((uintptr_t)e, e->chunks);
        hak_large_t *n = _hak_os_relocate(e, old, map_size, HAK_CHUNK_SIZE);
        if (n == NULL) {
            _hak_pagemap_set((uintptr_t)e, e->chunks, PM_LARGE);
            HAK_LOCKED(&_hak_large_mutex) {
                _hak_large_unmap(e);
            }
            return NULL;
        }
        _hak_pagemap_set((uintptr_t)n, n->chunks, PM_LARGE);
        n->map_size = map_size;
        e = n;
    }
    HAK_LOCKED(&_hak_large_mutex) {
        _hak_large_totals.reserved += map_size - old;
    }
    return e;
}

/* A block of whole chunks from an arena, marked in the page map; NULL when
 * the arenas have no room (a mapping of its own then). */
static hak_large_t *arena_take(size_t map_size, uint16_t chunks, uint64_t *resident, bool zero) {
    hak_large_t *e = NULL;
    HAK_LOCKED(&_hak_large_mutex) {
        e = _hak_arena_alloc(map_size, resident, zero);
        if (e != NULL && !_hak_pagemap_set((uintptr_t)e, chunks, PM_LARGE)) {
            _hak_arena_free(e); /* out of the map's reach: cannot happen */
            e = NULL;
        }
        if (e != NULL) {
            e->chunks = chunks;
            if (*resident != 0) _hak_large_totals.hits++;
            else _hak_large_totals.misses++;
        }
    }
    return e;
}

/* The latency sample's start, for the calls ACE samples (0: not sampled). */
static uint64_t sample_begin(void) {
    if (hak_sampling() == NULL) return 0;
    /* a racy count is enough to pick which calls to sample */
    uint32_t nth = atomic_load_explicit(&g_nth, memory_order_relaxed);
    atomic_store_explicit(&g_nth, nth + 1, memory_order_relaxed);
    return hak_lat_begin(nth);
}

/* take_cached's end, under the mutex: any block of map_size when e is NULL
 * (one whose pages were given back too), then the hit or miss counted. */
static hak_large_t *take_counted(hak_large_t *e, size_t map_size, bool cacheable, uint32_t *was) {
    if (e == NULL && cacheable) e = _hak_bigcache_take(map_size, false);
    if (e != NULL) {
        *was = e->state;
        _hak_large_totals.hits++;
        if (e->state == L_COLD) /* its pages were given back: they fault in again */
            atomic_fetch_add_explicit(&_hak_refault_bytes, e->map_size - _hak_page_size,
                                      memory_order_relaxed);
    } else {
        _hak_large_totals.misses++;
    }
    return e;
}

/* A block of BigCache for map_size when it may take one: resident memory
 * first, of this size or cut from a larger block or grown from a smaller
 * one (only the growth faults in); a block whose pages were given back
 * faults them all in again. *was: its state; NULL (a miss) when none. */
static hak_large_t *take_cached(size_t map_size, size_t offset, bool cacheable, uint32_t *was) {
    hak_large_t *e = NULL;
    bool fitting = false; /* fit() runs unlocked, between two critical sections */
    HAK_LOCKED(&_hak_large_mutex) {
        e = cacheable ? _hak_bigcache_take(map_size, true) : NULL;
        fitting = e == NULL && cacheable && offset == HAK_LARGE_HEADER &&
                  (e = _hak_bigcache_take_fit(map_size)) != NULL;
        if (!fitting) e = take_counted(e, map_size, cacheable, was);
    }
    if (fitting) {
        e = fit(e, map_size); /* resident: hot */
        HAK_LOCKED(&_hak_large_mutex) {
            e = take_counted(e, map_size, cacheable, was);
        }
    }
    return e;
}

/* A mapping of its own, marked in the page map; NULL with errno set. */
static hak_large_t *map_fresh(size_t map_size, size_t offset, size_t align, uint16_t chunks) {
    hak_large_t *e = map_block(map_size, offset, align);
    if (e == NULL) return NULL;
    if (!_hak_pagemap_set((uintptr_t)e, chunks, PM_LARGE)) {
        _hak_os_unmap(e, map_size);
        errno = ENOMEM;
        return NULL;
    }
    e->in_arena = 0;
    e->map_size = map_size;
    e->chunks = chunks;
    if (hak_opt(OPT_THP) != THP_OFF && map_size >= THP_MIN_BYTES) _hak_os_hugepage(e, map_size, true);
    HAK_LOCKED(&_hak_large_mutex) {
        _hak_large_totals.reserved += map_size;
    }
    return e;
}

/* calloc's clearing of a block's first `size` user bytes: an arena block's
 * chunks that held an earlier block (`resident`: bit per chunk); of a
 * cached block all of them if hot, the header page if cold (the rest was
 * given back and reads zero); nothing of a fresh mapping. */
static void clear_block(hak_large_t *e, size_t size, uint32_t was, uint64_t resident) {
    size_t offset = e->offset, end = offset + size;
    if (e->in_arena) {
        for (size_t c = 0; c < (e->map_size >> HAK_CHUNK_SHIFT); c++) {
            size_t lo = c == 0 ? offset : (c << HAK_CHUNK_SHIFT), hi = (c + 1) << HAK_CHUNK_SHIFT;
            if (hi > end) hi = end;
            if (((resident >> c) & 1) && hi > lo) memset((uint8_t *)e + lo, 0, hi - lo);
        }
        return;
    }
    if (was == L_GONE) return;
    size_t dirty = size;
    if (was == L_COLD) {
        size_t head = offset < _hak_page_size ? _hak_page_size - offset : 0;
        dirty = size < head ? size : head;
    }
    memset((uint8_t *)e + offset, 0, dirty);
}

/* A block without an alignment of its own starts a colour past its header
 * (hak_colour_fit: its chunk's number), within the room its mapping has
 * past `size`, as spans do (heap/span.c): a loop over the first word of 64
 * live blocks of 64 KiB-4 MiB took 3.7 ns an access, 0.51 with spans and
 * large blocks coloured (jemalloc 0.49, which colours its large blocks
 * too). */
static size_t colour_of(const hak_large_t *e, size_t size) {
    return hak_colour_fit((uintptr_t)e >> HAK_CHUNK_SHIFT, e->map_size - HAK_LARGE_HEADER - size);
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
    hak_slow_path_seen();
    uint64_t t0 = sample_begin();
    unsigned strategy;
    bool measure;
    bool cacheable = cache_decision(map_size, align, &strategy, &measure);
    uint16_t chunks = (uint16_t)((offset >> HAK_CHUNK_SHIFT) + 1);
    hak_large_t *e = NULL;
    uint32_t was = L_GONE;
    uint64_t resident = 0; /* an arena block's chunks that held an earlier block */
    bool plain = cacheable && offset == HAK_LARGE_HEADER; /* cached and reused */
    /* A thread that has allocated no small block yet gets its heap now, as
     * its first small malloc would, when the block is one it may stash:
     * without a heap it has no stash, and each of its large mallocs and
     * frees took the tier's lock, searched the arenas and went through
     * BigCache (a loop of 2 MiB buffers ran 650 instructions a cycle more). */
    hak_heap_t *h = plain && map_size <= STASH_MAX ? _hak_heap_mine() : _hak_tl_heap;
    large_local_t *l = hak_heap_owned(h) ? local_of(h) : NULL;
    size_t whole = hak_align_up(map_size, HAK_CHUNK_SIZE);
    bool arena = plain && map_size >= ARENA_MIN_BYTES && whole <= ARENA_MAX_BYTES;
    if (arena) map_size = whole;
    bool stashed = plain && l != NULL && (e = stash_take(l, map_size)) != NULL;
    if (stashed) {
        was = L_HOT;
        resident = UINT64_MAX;
    } else if (arena) {
        e = arena_take(map_size, chunks, &resident, zero);
    }
    if (e == NULL) e = take_cached(map_size, offset, cacheable, &was);
    if (e == NULL) {
        if ((e = map_fresh(map_size, offset, align, chunks)) == NULL) return NULL;
    } else if (chunks > e->chunks) {
        if (!_hak_pagemap_set((uintptr_t)e, chunks, PM_LARGE)) {
            HAK_LOCKED(&_hak_large_mutex) {
                _hak_large_unmap(e);
            }
            errno = ENOMEM;
            return NULL;
        }
        e->chunks = chunks;
    }
    e->magic = LARGE_MAGIC ^ (uintptr_t)e;
    e->aligned = align > HAK_LARGE_HEADER;
    if (!e->aligned) offset += colour_of(e, size);
    e->offset = (uint32_t)offset;
    e->state = L_USED;
    e->strategy = (uint8_t)strategy;
    e->cacheable = cacheable;
    hak_lat_end(t0); /* the allocator's latency, not calloc's clearing below */
    if (zero) clear_block(e, size, was, resident);
    if (stashed) {
        hak_ctr_inc(&l->allocs);
        hak_ctr_add(&l->bytes_in, e->map_size - offset);
    } else {
        HAK_LOCKED(&_hak_large_mutex) {
            _hak_large_totals.allocs++;
            _hak_large_totals.in_use += e->map_size - offset;
        }
    }
    if (measure) g_strategy->alloc_done(strategy);
    return (uint8_t *)e + offset;
}

/* Stops the process naming the call ("free", "realloc", ...) and what is
 * wrong with p: a freed block (a free of one is a double free), or a
 * pointer that is no large block's start. */
__attribute__((noreturn, cold)) static void large_failed(const void *p, const char *call,
                                                         bool freed) {
    char what[112];
    if (freed && strcmp(call, "free") == 0) snprintf(what, sizeof(what), "double free (large tier)");
    else
        snprintf(what, sizeof(what), "%s of %s (large tier)", call,
                 freed ? "a freed block" : "an interior or invalid pointer");
    _hak_fail(what, p);
}

/* The header of a live large block, or the process stops naming `call`. */
static hak_large_t *header_of(const void *p, const char *call) {
    uintptr_t a = (uintptr_t)p;
    uintptr_t base = hak_region_base(a, hak_pagemap_get(a));
    hak_large_t *e = (hak_large_t *)base;
    if (e->magic != (LARGE_MAGIC ^ base) || base + e->offset != a)
        large_failed(p, call, false);
    if (e->state != L_USED) large_failed(p, call, true);
    return e;
}

/* Realloc may have grown a block past the threshold it was chosen for. */
bool _hak_large_cache_eligible(const hak_large_t *e) {
    return e->cacheable && hak_opt(OPT_BIGCACHE) && e->map_size <= _hak_large_threshold(e->strategy);
}

void _hak_large_free(void *p) {
    hak_large_t *e = header_of(p, "free");
    bool measure = g_strategy != NULL && g_strategy->measuring();
    uint64_t t0 = measure ? _hak_now_ns() : 0;
    unsigned strategy = e->strategy;
    hak_heap_t *h = _hak_tl_heap;
    large_local_t *l = hak_heap_owned(h) ? local_of(h) : NULL;
    hak_large_t **slot = l != NULL ? stash_slot(l) : NULL;
    if (slot != NULL && !e->aligned && e->map_size <= STASH_MAX &&
        _hak_large_cache_eligible(e)) {
        e->state = L_STASHED;
        e->idle_ms = hak_ms_now();
        *slot = e;
        hak_ctr_inc(&l->frees);
        hak_ctr_add(&l->bytes_out, e->map_size - e->offset);
    } else {
        HAK_LOCKED(&_hak_large_mutex) {
            _hak_large_totals.frees++;
            _hak_large_totals.in_use -= e->map_size - e->offset;
            _hak_bigcache_put(e);
        }
    }
    if (measure) g_strategy->free_done(strategy, _hak_now_ns() - t0);
}

/* A heap's stashed blocks idle since `older_ms` or before go to BigCache;
 * they were counted as freed when stashed. */
static void unstash_older(hak_heap_t *h, uint32_t now_ms, uint32_t delay_ms) {
    large_local_t *l = local_of(h);
    for (unsigned i = 0; i < STASH_SLOTS; i++) {
        hak_large_t *e = l->stash[i];
        if (e == NULL || (uint32_t)(now_ms - e->idle_ms) < delay_ms) continue;
        l->stash[i] = NULL;
        HAK_LOCKED(&_hak_large_mutex) {
            _hak_bigcache_put(e);
        }
    }
}

/* Thread exit, flush, trim: the whole stash goes. */
static void unstash(hak_heap_t *h) { unstash_older(h, 0, 0); }

/* The heaps' decay (an owner's slow path with its own heap, or a pass over
 * every heap with NULL): the owner's stash, BigCache's idle blocks and
 * the pages of hardened mode's waiting guarded ranges. */
static size_t decay(hak_heap_t *h, uint64_t delay_ns) {
    uint32_t now = hak_ms_now(), delay = (uint32_t)(delay_ns / 1000000u);
    if (h != NULL) unstash_older(h, now, delay);
    size_t bytes = 0;
    HAK_LOCKED(&_hak_large_mutex) {
        bytes = _hak_bigcache_decay(now, delay);
    }
    return bytes + _hak_guard_decay(now, delay);
}

void _hak_large_init(void) {
    _hak_heap_on_flush(unstash);
    _hak_heap_on_decay(decay);
}

size_t _hak_large_usable(const void *p, const char *call) {
    hak_large_t *e = header_of(p, call);
    return e->map_size - e->offset;
}

/* Blocks from this size on grow by moving their pages to a larger mapping
 * (mremap) instead of being copied: the kernel moves page-table entries,
 * and the copy's page faults on the new block are not taken either. */
#define RELOCATE_MIN ((size_t)128 << 10)
#define GROWTH_HEADROOM 2 /* a block that grows gets half its size more: it grows again */

static void grew(hak_large_t *e, size_t map_size) {
    HAK_LOCKED(&_hak_large_mutex) {
        _hak_large_totals.reserved += map_size - e->map_size;
        _hak_large_totals.in_use += map_size - e->map_size;
    }
    e->map_size = map_size;
}

/* A live block moved to a new mapping of map_size bytes; NULL when it
 * cannot be (its old place is then untouched). */
static void *relocate(hak_large_t *e, size_t map_size) {
    if (e->aligned || e->map_size - e->offset < RELOCATE_MIN) return NULL;
    uint32_t chunks = e->chunks;
    /* the old chunks leave the page map first: once the pages are gone,
     * another mapping may take their place and register itself */
    _hak_pagemap_clear((uintptr_t)e, chunks);
    size_t old_size = e->map_size;
    hak_large_t *n = _hak_os_relocate(e, old_size, map_size, HAK_CHUNK_SIZE);
    if (n == NULL) {
        _hak_pagemap_set((uintptr_t)e, chunks, PM_LARGE);
        return NULL;
    }
    _hak_pagemap_set((uintptr_t)n, chunks, PM_LARGE); /* the OS maps within the map's reach */
    if (n->in_arena) { /* a mapping of its own from now on */
        HAK_LOCKED(&_hak_large_mutex) {
            _hak_arena_moved(e, old_size);
        }
        n->in_arena = 0;
    }
    n->magic = LARGE_MAGIC ^ (uintptr_t)n;
    grew(n, map_size);
    return (uint8_t *)n + n->offset;
}

void *_hak_large_resize(void *p, size_t size, size_t *usable) {
    hak_large_t *e = header_of(p, "realloc");
    *usable = e->map_size - e->offset;
    if (size > HAK_MID_MAX && size <= *usable && size >= *usable / SHRINK_IN_PLACE) return p;
    if (size > *usable) {
        size_t roomy = *usable + *usable / GROWTH_HEADROOM;
        size_t grown = map_size_for(e->offset, roomy > size ? roomy : size);
        if (grown == 0) return NULL;
        if (e->in_arena) {
            size_t whole = hak_align_up(grown, HAK_CHUNK_SIZE);
            bool in_place = false;
            HAK_LOCKED(&_hak_large_mutex) {
                in_place = whole <= ARENA_MAX_BYTES && _hak_arena_grow(e, whole);
                if (in_place) _hak_large_totals.in_use += whole - (*usable + e->offset);
            }
            if (in_place) return p;
            return relocate(e, grown);
        }
        if (_hak_os_grow_in_place(e, e->map_size, grown)) {
            grew(e, grown);
            return p;
        }
        return relocate(e, grown);
    }
    return NULL;
}

static void add_local(hak_heap_t *h, void *arg) {
    hak_tier_stats_t *out = arg;
    large_local_t *l = local_of(h);
    uint64_t allocs = hak_ctr_get(&l->allocs);
    out->allocs += allocs;
    out->hits += allocs; /* a stash is a cache */
    out->frees += hak_ctr_get(&l->frees);
    out->bytes_in_use += hak_ctr_get(&l->bytes_in) - hak_ctr_get(&l->bytes_out);
}

void _hak_large_stats(hak_tier_stats_t *out) {
    HAK_LOCKED(&_hak_large_mutex) {
        out->allocs = _hak_large_totals.allocs;
        out->frees = _hak_large_totals.frees;
        out->hits = _hak_large_totals.hits;
        out->misses = _hak_large_totals.misses;
        out->remote_frees = 0;
        out->bytes_in_use = _hak_large_totals.in_use;
        out->bytes_reserved = _hak_large_totals.reserved;
    }
    _hak_heaps_each(add_local, out);
}
