/* Segments (2 MiB-aligned regions of 1-32 MiB owned by one thread heap)
 * and the slabs carved from their 64 KiB units. Only the owning thread
 * touches a segment's slab table (or another under the owner's segment
 * lock), so nothing here takes a lock except the small cache of empty
 * segments. */
#include "segment.h"

#include <string.h>

uintptr_t _hak_free_key;
_Atomic uint64_t _hak_tier_reserved[HAK_TIER_COUNT];
_Atomic uint64_t _hak_segments_live;
static size_t (*g_pressure)(void);

void _hak_on_pressure(size_t (*release)(void)) { g_pressure = release; }

size_t _hak_pressure_release(void) { return g_pressure != NULL ? g_pressure() : 0; }

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

static hak_segment_t *segment_new(hak_seglist_t *list, struct hak_heap *owner, size_t size) {
    hak_segment_t *seg = cache_take(size);
    if (seg == NULL) {
        seg = _hak_os_map_aligned(size, HAK_CHUNK_SIZE);
        /* Out of address space or memory: give back what the caches hold
         * and try once more before failing. */
        if (seg == NULL && _hak_pressure_release() != 0)
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
    seg->heap = owner;
    seg->size = size;
    seg->units = units;
    seg->free_units = units - 1;
    seg->slab[0].kind = SLAB_META;
    seg->next = list->head;
    if (list->head) list->head->prev = seg;
    list->head = seg;
    atomic_fetch_add_explicit(&_hak_segments_live, 1, memory_order_relaxed);
    return seg;
}

static void segment_release(hak_seglist_t *list, hak_segment_t *seg) {
    if (seg->prev) seg->prev->next = seg->next;
    else list->head = seg->next;
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

/* Next segment size of an owner: ARENA_MB_INIT doubled per growth level up
 * to ARENA_MB_MAX (1 -> 2 -> 4 -> 8 MiB by default). */
static size_t next_segment_size(const hak_seglist_t *list) {
    size_t mb = (size_t)hak_opt(OPT_ARENA_MB_INIT);
    unsigned levels = (unsigned)hak_opt(OPT_ARENA_GROWTH_LEVELS);
    unsigned level = list->level < levels ? list->level : levels;
    mb <<= level;
    size_t max = (size_t)hak_opt(OPT_ARENA_MB_MAX);
    if (mb > max) mb = max;
    if (mb < 1) mb = 1;
    return mb * HAK_MIB;
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

/* Newton's iteration x = x (2 - odd x) doubles the correct low bits of
 * the inverse mod 2^32; odd is its own inverse mod 8 (3 bits): 5 steps give
 * 3 * 2^5 = 96 >= 32. */
#define NEWTON_STEPS 5

static uint32_t odd_inverse(uint32_t odd) {
    uint32_t x = odd;
    for (int i = 0; i < NEWTON_STEPS; i++) x *= 2u - odd * x;
    return x;
}

hak_slab_t *_hak_slab_new(hak_seglist_t *list, struct hak_heap *owner, unsigned cls) {
    unsigned want = _hak_class_units(cls);
    hak_segment_t *seg;
    int u = -1;
    for (seg = list->head; seg != NULL; seg = seg->next) {
        if (seg->free_units >= want && (u = find_run(seg, want)) >= 0) break;
    }
    if (seg == NULL) {
        seg = segment_new(list, owner, next_segment_size(list));
        if (seg == NULL) return NULL;
        list->level++;
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
    atomic_fetch_add_explicit(&_hak_tier_reserved[hak_class_tier(cls)],
                              (uint64_t)want << HAK_UNIT_SHIFT, memory_order_relaxed);
    return slab;
}

static bool segment_empty(const hak_segment_t *seg) { return seg->free_units == seg->units - 1; }

void _hak_slab_release(hak_seglist_t *list, hak_slab_t *slab) {
    hak_segment_t *seg = hak_segment_of((uintptr_t)slab);
    unsigned span = slab->span;
    atomic_fetch_sub_explicit(&_hak_tier_reserved[hak_class_tier(slab->cls)],
                              (uint64_t)span << HAK_UNIT_SHIFT, memory_order_relaxed);
    for (unsigned i = 0; i < span; i++) slab[i].kind = SLAB_FREE;
    seg->free_units += span;
    if (segment_empty(seg) && (list->head != seg || seg->next != NULL))
        segment_release(list, seg);
}

void _hak_segments_release_empty(hak_seglist_t *list) {
    hak_segment_t *seg = list->head;
    while (seg != NULL) {
        hak_segment_t *next = seg->next;
        if (segment_empty(seg)) segment_release(list, seg);
        seg = next;
    }
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

/* Advises away runs of free units of a segment, at most max_units of them,
 * until the deadline (0: none); units already advised are skipped. */
static size_t segment_purge(hak_segment_t *seg, uint32_t max_units, uint64_t deadline_ns) {
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

size_t _hak_segments_purge(hak_seglist_t *list, uint32_t units, uint64_t deadline_ns) {
    size_t bytes = 0;
    for (hak_segment_t *seg = list->head; seg != NULL; seg = seg->next) {
        if (deadline_ns != 0 && _hak_now_ns() >= deadline_ns) break;
        bytes += segment_purge(seg, units, deadline_ns);
    }
    return bytes;
}

void _hak_segment_lock(void) { hak_lock(&g_cache_lock); }
void _hak_segment_unlock(void) { pthread_mutex_unlock(&g_cache_lock); }
