/* Segments (2 MiB-aligned regions of 1-32 MiB owned by one thread heap)
 * and the slabs carved from their 64 KiB units. Only the owning thread
 * touches a segment's slab table, so nothing here takes a lock except the
 * small cache of empty segments. */
#include "internal.h"

#include <string.h>

_Atomic uint64_t _hak_segments_live;

static pthread_mutex_t g_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static hak_segment_t *g_cache; /* empty segments kept mapped */
static unsigned g_cache_count;

static size_t chunks_of(size_t size) { return (size + HAK_CHUNK_SIZE - 1) >> HAK_CHUNK_SHIFT; }

static hak_segment_t *cache_take(size_t size) {
    hak_lock(&g_cache_lock);
    hak_segment_t *seg = g_cache, *prev = NULL;
    while (seg != NULL && seg->size != size) {
        prev = seg;
        seg = seg->next;
    }
    if (seg != NULL) {
        if (prev) prev->next = seg->next;
        else g_cache = seg->next;
        g_cache_count--;
    }
    pthread_mutex_unlock(&g_cache_lock);
    return seg;
}

hak_segment_t *_hak_segment_new(hak_heap_t *heap, size_t size) {
    hak_segment_t *seg = cache_take(size);
    if (seg == NULL) {
        seg = _hak_os_map_aligned(size, HAK_CHUNK_SIZE);
        /* Out of address space or memory: give back what the caches hold
         * and try once more before failing. */
        if (seg == NULL && _hak_release_caches() != 0)
            seg = _hak_os_map_aligned(size, HAK_CHUNK_SIZE);
        if (seg == NULL) return NULL;
        if (!_hak_pagemap_set((uintptr_t)seg, chunks_of(size), PM_SEGMENT)) {
            _hak_os_unmap(seg, size);
            return NULL;
        }
        if (hak_opt(OPT_THP) == THP_ON) _hak_os_hugepage(seg, size);
    }
    uint32_t units = (uint32_t)(size >> HAK_UNIT_SHIFT);
    uint32_t entries = units > HAK_CHUNK_UNITS ? units : (uint32_t)HAK_CHUNK_UNITS;
    memset(seg, 0, sizeof(hak_segment_t) + entries * sizeof(hak_slab_t));
    seg->heap = heap;
    seg->size = size;
    seg->units = units;
    seg->free_units = units - 1;
    seg->slab[0].kind = SLAB_META;
    seg->next = heap->segments;
    if (heap->segments) heap->segments->prev = seg;
    heap->segments = seg;
    atomic_fetch_add_explicit(&_hak_segments_live, 1, memory_order_relaxed);
    return seg;
}

void _hak_segment_release(hak_segment_t *seg) {
    hak_heap_t *heap = seg->heap;
    if (seg->prev) seg->prev->next = seg->next;
    else heap->segments = seg->next;
    if (seg->next) seg->next->prev = seg->prev;
    atomic_fetch_sub_explicit(&_hak_segments_live, 1, memory_order_relaxed);
    seg->heap = NULL;
    hak_lock(&g_cache_lock);
    if (g_cache_count < (unsigned)hak_opt(OPT_SEGMENT_CACHE)) {
        /* Cached segments keep their address space, not their pages: the
         * header unit stays, the rest is advised away. */
        _hak_os_dontneed((uint8_t *)seg + HAK_UNIT_SIZE, seg->size - HAK_UNIT_SIZE);
        seg->next = g_cache;
        g_cache = seg;
        g_cache_count++;
        pthread_mutex_unlock(&g_cache_lock);
        return;
    }
    pthread_mutex_unlock(&g_cache_lock);
    _hak_pagemap_clear((uintptr_t)seg, chunks_of(seg->size));
    _hak_os_unmap(seg, seg->size);
}

/* Next segment size of a heap: ARENA_MB_INIT doubled per growth level up
 * to ARENA_MB_MAX (1 -> 2 -> 4 -> 8 MiB by default). */
static size_t next_segment_size(hak_heap_t *heap) {
    size_t mb = (size_t)hak_opt(OPT_ARENA_MB_INIT);
    unsigned levels = (unsigned)hak_opt(OPT_ARENA_GROWTH_LEVELS);
    unsigned level = heap->seg_level < levels ? heap->seg_level : levels;
    mb <<= level;
    size_t max = (size_t)hak_opt(OPT_ARENA_MB_MAX);
    if (mb > max) mb = max;
    if (mb < 1) mb = 1;
    return mb << 20;
}

static int find_run(hak_segment_t *seg, unsigned want) {
    unsigned run = 0;
    for (unsigned u = 1; u < seg->units; u++) {
        if (seg->slab[u].kind == SLAB_FREE) {
            if (++run == want) return (int)(u + 1 - want);
        } else {
            run = 0;
            if (seg->slab[u].kind == SLAB_HEAD) u += seg->slab[u].span - 1u;
        }
    }
    return -1;
}

static uint32_t odd_inverse(uint32_t odd) {
    uint32_t x = odd; /* Newton's iteration doubles the correct low bits */
    for (int i = 0; i < 5; i++) x *= 2u - odd * x;
    return x;
}

hak_slab_t *_hak_slab_new(hak_heap_t *heap, unsigned cls) {
    unsigned want = _hak_class_units(cls);
    hak_segment_t *seg;
    int u = -1;
    for (seg = heap->segments; seg != NULL; seg = seg->next) {
        if (seg->free_units >= want && (u = find_run(seg, want)) >= 0) break;
    }
    if (seg == NULL) {
        seg = _hak_segment_new(heap, next_segment_size(heap));
        if (seg == NULL) return NULL;
        heap->seg_level++;
        u = 1;
    }
    hak_slab_t *slab = &seg->slab[u];
    uint32_t bsize = _hak_class_size[cls];
    memset(slab, 0, sizeof(*slab));
    slab->kind = SLAB_HEAD;
    slab->span = (uint16_t)want;
    slab->cls = (uint8_t)cls;
    slab->bsize = bsize;
    slab->shift = (uint8_t)__builtin_ctz(bsize);
    uint32_t odd = bsize >> slab->shift;
    slab->inv = odd_inverse(odd);
    slab->capacity = (uint32_t)(((size_t)want << HAK_UNIT_SHIFT) / bsize);
    slab->start = (uintptr_t)seg + ((uintptr_t)u << HAK_UNIT_SHIFT);
    for (unsigned i = 1; i < want; i++) {
        seg->slab[u + i].kind = SLAB_TAIL;
        seg->slab[u + i].span = (uint16_t)i;
        seg->slab[u + i].purged = 0;
    }
    seg->free_units -= want;
    atomic_fetch_add_explicit(&_hak_tier_reserved[cls < HAK_TINY_CLASSES ? HAK_TIER_TINY
                                                                          : HAK_TIER_MID],
                              (uint64_t)want << HAK_UNIT_SHIFT, memory_order_relaxed);
    return slab;
}

/* Returns an empty slab's units to its segment, and the segment to the
 * cache or the OS once it is empty and not its heap's last one. */
void _hak_slab_release(hak_slab_t *slab) {
    hak_segment_t *seg = hak_segment_of((uintptr_t)slab);
    unsigned span = slab->span;
    atomic_fetch_sub_explicit(&_hak_tier_reserved[slab->cls < HAK_TINY_CLASSES ? HAK_TIER_TINY
                                                                                : HAK_TIER_MID],
                              (uint64_t)span << HAK_UNIT_SHIFT, memory_order_relaxed);
    for (unsigned i = 0; i < span; i++) slab[i].kind = SLAB_FREE;
    seg->free_units += span;
    hak_heap_t *heap = seg->heap;
    if (seg->free_units == seg->units - 1 && (heap->segments != seg || seg->next != NULL))
        _hak_segment_release(seg);
}

/* Unmaps every cached empty segment; returns the bytes released. */
size_t _hak_segment_cache_trim(void) {
    hak_lock(&g_cache_lock);
    hak_segment_t *seg = g_cache;
    g_cache = NULL;
    g_cache_count = 0;
    pthread_mutex_unlock(&g_cache_lock);
    size_t bytes = 0;
    while (seg != NULL) {
        hak_segment_t *next = seg->next;
        bytes += seg->size;
        _hak_pagemap_clear((uintptr_t)seg, chunks_of(seg->size));
        _hak_os_unmap(seg, seg->size);
        seg = next;
    }
    return bytes;
}

/* Advises away runs of free units of a segment (its owner's, or under its
 * owner's segment lock), at most max_units of them, until the deadline
 * (0: none); units already advised are skipped. */
size_t _hak_segment_purge(hak_segment_t *seg, uint32_t max_units, uint64_t deadline_ns) {
    size_t bytes = 0;
    for (uint32_t u = 1; u < seg->units && max_units > 0;) {
        if (deadline_ns != 0 && bytes != 0 && _hak_now_ns() >= deadline_ns) break;
        if (seg->slab[u].kind != SLAB_FREE || seg->slab[u].purged) {
            u += seg->slab[u].kind == SLAB_HEAD ? seg->slab[u].span : 1u;
            continue;
        }
        uint32_t end = u;
        while (end < seg->units && end - u < max_units && seg->slab[end].kind == SLAB_FREE &&
               !seg->slab[end].purged)
            seg->slab[end++].purged = 1;
        size_t len = (size_t)(end - u) << HAK_UNIT_SHIFT;
        _hak_os_dontneed((uint8_t *)seg + ((size_t)u << HAK_UNIT_SHIFT), len);
        bytes += len;
        max_units -= end - u;
        u = end;
    }
    return bytes;
}

void _hak_segment_lock(void) { hak_lock(&g_cache_lock); }
void _hak_segment_unlock(void) { pthread_mutex_unlock(&g_cache_lock); }
