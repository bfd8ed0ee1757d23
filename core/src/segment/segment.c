/* Segments (2 MiB-aligned chunks of 1 or 2 MiB owned by one thread heap)
 * and the slabs carved from their 64 KiB units. A segment's descriptors
 * are changed by its owner, or by another thread under the owner's lock;
 * the only lock here guards the small cache of empty segments. */
#include "segment.h"

#include <string.h>

hak_keys_t _hak_keys;
_Atomic uint64_t _hak_tier_reserved[HAK_TIER_COUNT];
_Atomic uint64_t _hak_segments_live;
_Atomic uint64_t _hak_refault_bytes;
static size_t (*g_pressure)(void);

/* splitmix64's finaliser: keys that share no bits with one another. */
static uint64_t mix(uint64_t x) {
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

void _hak_keys_init(void) {
    uint64_t seed = _hak_os_random();
    _hak_keys.free = (uintptr_t)mix(seed) | 1;
    _hak_keys.chain = (uintptr_t)mix(seed + 0x9e3779b97f4a7c15ull);
    _hak_keys.canary = (uintptr_t)mix(seed + 2 * 0x9e3779b97f4a7c15ull);
}

void _hak_on_pressure(size_t (*release)(void)) { g_pressure = release; }

void *_hak_map_aligned(size_t size, size_t align) {
    void *p = _hak_os_map_aligned(size, align);
    if (p == NULL && g_pressure != NULL && g_pressure() != 0) p = _hak_os_map_aligned(size, align);
    return p;
}

static pthread_mutex_t g_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static hak_segment_t *g_cache; /* empty segments kept mapped, pages advised away */
static unsigned g_cache_count;

/* Units [u, u + n) of a segment as bits of its maps. */
static uint32_t unit_bits(unsigned u, unsigned n) {
    return (uint32_t)((((uint64_t)1 << n) - 1) << u);
}

static hak_segment_t *cache_take(size_t size) {
    hak_segment_t *seg = NULL;
    HAK_LOCKED(&g_cache_lock) {
        hak_segment_t *prev = NULL;
        for (seg = g_cache; seg != NULL && seg->size != size; seg = seg->next) prev = seg;
        if (seg != NULL) {
            if (prev) prev->next = seg->next;
            else g_cache = seg->next;
            g_cache_count--;
        }
    }
    return seg;
}

static hak_segment_t *segment_new(hak_seglist_t *list, struct hak_heap *heap, size_t size) {
    hak_segment_t *seg = cache_take(size);
    if (seg == NULL) {
        seg = _hak_map_aligned(size, HAK_CHUNK_SIZE);
        if (seg == NULL) return NULL;
        if (!_hak_pagemap_set((uintptr_t)seg, 1, PM_SEGMENT)) {
            _hak_os_unmap(seg, size);
            return NULL;
        }
        if (hak_opt(OPT_THP) == THP_ON) _hak_os_hugepage(seg, size, true);
    }
    uint32_t units = (uint32_t)(size >> HAK_UNIT_SHIFT);
    /* every descriptor of the chunk, so a pointer anywhere in it finds one */
    memset(seg, 0, (size_t)HAK_CHUNK_UNITS << HAK_DESC_SHIFT);
    seg->heap = heap;
    seg->size = size;
    seg->units = units;
    seg->free_units = units - 1;
    seg->free_map = seg->purged_map = unit_bits(1, units - 1);
    for (uint32_t u = 1; u < units; u++) hak_seg_slab(seg, u)->purged = 1; /* never touched */
    HAK_DLIST_PUSH(list->head, seg, prev, next);
    atomic_fetch_add_explicit(&_hak_segments_live, 1, memory_order_relaxed);
    return seg;
}

void _hak_segment_release(hak_seglist_t *list, hak_segment_t *seg) {
    HAK_DLIST_REMOVE(list->head, seg, prev, next);
    atomic_fetch_sub_explicit(&_hak_segments_live, 1, memory_order_relaxed);
    seg->heap = NULL;
    bool cached = false;
    HAK_LOCKED(&g_cache_lock) {
        cached = g_cache_count < (unsigned)hak_opt(OPT_SEGMENT_CACHE);
        if (cached) {
            /* cached segments keep their address space, not their pages */
            _hak_segment_purge(seg, UINT64_MAX);
            seg->next = g_cache;
            g_cache = seg;
            g_cache_count++;
        }
    }
    if (cached) return;
    _hak_pagemap_clear((uintptr_t)seg, 1);
    _hak_os_unmap(seg, seg->size);
}

/* Size of an owner's next segment: HAKMEM_POOL_TLS_ARENA_MB_INIT for the
 * first, doubling per growth level up to ARENA_MB_MAX; a segment is one
 * page-map chunk, so between 1 MiB and 2 MiB. */
#define SEGMENT_MIN HAK_MIB
static size_t next_segment_size(const hak_seglist_t *list) {
    size_t mb = (size_t)hak_opt(OPT_ARENA_MB_INIT);
    unsigned levels = (unsigned)hak_opt(OPT_ARENA_GROWTH_LEVELS);
    unsigned level = list->level < levels ? list->level : levels;
    mb <<= level;
    size_t max = (size_t)hak_opt(OPT_ARENA_MB_MAX);
    size_t bytes = (mb > max ? max : mb) * HAK_MIB;
    return bytes < SEGMENT_MIN ? SEGMENT_MIN : (bytes > HAK_CHUNK_SIZE ? HAK_CHUNK_SIZE : bytes);
}

/* First unit of a run of `want` units whose bits are set in `map`, or -1:
 * bit u of m stays set while units u .. u + i are all in the map. */
static int first_run(uint32_t map, unsigned want) {
    uint32_t m = map;
    for (unsigned i = 1; i < want && m != 0; i++) m &= map >> i;
    return m != 0 ? __builtin_ctz(m) : -1;
}

/* The maps say what the descriptors of units [u, u + n) say: free, and
 * purged or not (debug builds check each run they hand out; unused in
 * release builds). */
__attribute__((unused)) static bool maps_agree(hak_segment_t *seg, unsigned u, unsigned n) {
    for (unsigned i = u; i < u + n; i++) {
        const hak_slab_t *d = hak_seg_slab(seg, i);
        if (d->kind != SLAB_FREE || (d->purged != 0) != (bool)(seg->purged_map >> i & 1u))
            return false;
    }
    return true;
}

static uint32_t odd_inverse(uint32_t odd) {
    uint32_t x = odd; /* Newton's iteration doubles the correct low bits */
    for (int i = 0; i < 5; i++) x *= 2u - odd * x;
    return x;
}

void _hak_slab_set_bsize(hak_slab_t *slab, uint32_t bsize) {
    slab->bsize = bsize;
    /* a class's blocks give their user the class's size, not its stride */
    uint32_t size = slab->cls < HAK_CLASSES ? _hak_class_size[slab->cls] : bsize;
    slab->usable = size - hak_canary_room(slab->cls);
    slab->shift = (uint8_t)__builtin_ctz(bsize);
    slab->inv = odd_inverse(bsize >> slab->shift);
    slab->capacity = (uint32_t)(((size_t)slab->span << HAK_UNIT_SHIFT) / bsize);
}

/* Units [u, u + n) of a segment become part of the slab whose head is
 * `head` units before u (idle units reused: recorded, refaults counted). */
static bool claim(hak_slab_t *first, unsigned n, unsigned back, uint64_t now) {
    hak_segment_t *seg = hak_segment_base((uintptr_t)first);
    uint32_t bits = unit_bits(hak_slab_unit(first), n);
    seg->free_map &= ~bits;
    seg->purged_map &= ~bits;
    bool fresh = true;
    size_t refault = 0;
    for (unsigned i = 0; i < n; i++) {
        hak_slab_t *d = first + i;
        if (d->stamp != 0) {
            HAK_REUSE_RECORD(HAK_UNIT_SIZE, now - d->stamp); /* idle since */
            if (d->purged) refault += HAK_UNIT_SIZE;      /* advised away after use */
        }
        fresh &= d->purged != 0;
        memset(d, 0, sizeof(*d));
        d->kind = SLAB_TAIL;
        d->span = (uint16_t)(back + i);
    }
    if (refault) atomic_fetch_add_explicit(&_hak_refault_bytes, refault, memory_order_relaxed);
    return fresh;
}

bool _hak_slab_extend(hak_slab_t *slab, uint32_t units, uint32_t bsize) {
    hak_segment_t *seg = hak_segment_base((uintptr_t)slab);
    unsigned u = hak_slab_unit(slab) + slab->span, more = units - slab->span;
    if (u + more > seg->units) return false;
    uint32_t bits = unit_bits(u, more);
    if ((seg->free_map & bits) != bits) return false;
    HAK_ASSERT(maps_agree(seg, u, more), "a segment's unit maps disagree with its units", slab);
    claim(hak_seg_slab(seg, u), more, slab->span, _hak_coarse_ns());
    seg->free_units -= more;
    atomic_fetch_add_explicit(&_hak_tier_reserved[hak_class_tier(slab->cls)],
                              (uint64_t)more << HAK_UNIT_SHIFT, memory_order_relaxed);
    slab->span = (uint16_t)units;
    _hak_slab_set_bsize(slab, bsize);
    return true;
}

hak_slab_t *_hak_slab_new(hak_seglist_t *list, struct hak_heap *heap, uintptr_t owner_tp,
                          unsigned cls, uint32_t units, uint32_t bsize, bool grow, bool *fresh) {
    hak_segment_t *seg = NULL, *any_seg = NULL;
    int u = -1, any = -1;
    /* resident free units first: reusing them costs no page faults */
    for (seg = list->head; seg != NULL; seg = seg->next) {
        if (seg->free_units < units) continue;
        if ((u = first_run(seg->free_map & ~seg->purged_map, units)) >= 0) break;
        if (any < 0 && (any = first_run(seg->free_map, units)) >= 0) any_seg = seg;
    }
    if (u < 0 && any >= 0) {
        seg = any_seg;
        u = any;
    }
    if (u < 0) {
        if (!grow) return NULL;
        size_t size = next_segment_size(list);
        if (((size_t)units + 1) << HAK_UNIT_SHIFT > size) size = HAK_CHUNK_SIZE; /* a big span */
        seg = segment_new(list, heap, size);
        if (seg == NULL) return NULL;
        list->level++;
        u = 1;
    }
    hak_slab_t *slab = hak_seg_slab(seg, (unsigned)u);
    HAK_ASSERT(maps_agree(seg, (unsigned)u, units), "a segment's unit maps disagree with its units",
               slab);
    *fresh = claim(slab, units, 0, _hak_coarse_ns());
    slab->kind = SLAB_HEAD;
    slab->span = (uint16_t)units;
    slab->cls = (uint8_t)cls;
    _hak_slab_set_bsize(slab, bsize);
    slab->start = (uintptr_t)seg + ((uintptr_t)u << HAK_UNIT_SHIFT);
    slab->heap = heap;
    slab->free = slab->local_free = HAK_NO_BLOCK;
    atomic_store_explicit(&slab->owner, hak_owner_tag(owner_tp), memory_order_relaxed);
    seg->free_units -= units;
    atomic_fetch_add_explicit(&_hak_tier_reserved[hak_class_tier(cls)],
                              (uint64_t)units << HAK_UNIT_SHIFT, memory_order_relaxed);
    return slab;
}

void _hak_slab_free_units(hak_slab_t *slab, uint64_t now) {
    hak_segment_t *seg = hak_segment_base((uintptr_t)slab);
    unsigned span = slab->span;
    atomic_fetch_sub_explicit(&_hak_tier_reserved[hak_class_tier(slab->cls)],
                              (uint64_t)span << HAK_UNIT_SHIFT, memory_order_relaxed);
    for (unsigned i = 0; i < span; i++) {
        memset(slab + i, 0, sizeof(*slab));
        slab[i].stamp = now;
    }
    seg->free_units += span;
    seg->free_map |= unit_bits(hak_slab_unit(slab), span);
}

size_t _hak_segment_cache_trim(void) {
    hak_segment_t *seg = NULL;
    HAK_LOCKED(&g_cache_lock) {
        seg = g_cache;
        g_cache = NULL;
        g_cache_count = 0;
    }
    size_t bytes = 0;
    while (seg != NULL) {
        hak_segment_t *next = seg->next;
        bytes += seg->size;
        _hak_pagemap_clear((uintptr_t)seg, 1);
        _hak_os_unmap(seg, seg->size);
        seg = next;
    }
    return bytes;
}

size_t _hak_segment_purge(hak_segment_t *seg, uint64_t older_than) {
    size_t bytes = 0;
    /* the free units still resident, from the maps: a segment full of
     * slabs costs one load, not a read of every descriptor */
    uint32_t todo = seg->free_map & ~seg->purged_map;
    while (todo != 0) {
        unsigned u = (unsigned)__builtin_ctz(todo), end = u;
        while (end < seg->units && (todo >> end & 1u) && hak_seg_slab(seg, end)->stamp <= older_than)
            end++;
        if (end == u) { /* freed too recently */
            todo &= ~unit_bits(u, 1);
            continue;
        }
        todo &= ~unit_bits(u, end - u);
        size_t len = (size_t)(end - u) << HAK_UNIT_SHIFT;
        if (_hak_os_dontneed((uint8_t *)seg + ((size_t)u << HAK_UNIT_SHIFT), len)) {
            for (unsigned k = u; k < end; k++) hak_seg_slab(seg, k)->purged = 1;
            seg->purged_map |= unit_bits(u, end - u);
            bytes += len;
        }
    }
    return bytes;
}

bool _hak_segment_idle(hak_segment_t *seg) {
    return seg->purged_map == unit_bits(1, seg->units - 1);
}

void _hak_segment_lock(void) { hak_lock(&g_cache_lock); }
void _hak_segment_unlock(void) { hak_unlock(&g_cache_lock); }
