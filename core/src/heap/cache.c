/* The thread cache: a bin of free blocks per class that malloc pops and
 * free pushes (api/alloc.c inlines both), its refill from the class's
 * slabs and its flush back to them a bundle at a time, the pre-warm of a
 * new thread's cache, and the per-class knobs that bound it. The owner
 * touches its bins and slabs without locks or atomic read-modify-writes. */
#include "heap.h"

#include <errno.h>

_Atomic uint32_t _hak_tcache_cap[HAK_CLASSES];
_Atomic uint32_t _hak_prewarm[HAK_CLASSES];

uint32_t _hak_class_cap_limit(unsigned cls) {
    uint32_t limit = (uint32_t)(HAK_CLASS_CACHE_BYTES / _hak_class_size[cls]);
    return limit < HAK_CLASS_CACHE_MIN ? HAK_CLASS_CACHE_MIN : limit;
}

void _hak_class_knobs_derive(void) {
    uint32_t cap = hak_opt(OPT_TCACHE) ? (uint32_t)hak_opt(OPT_TCACHE_CAP) : 0;
    for (unsigned c = 0; c < HAK_CLASSES; c++) {
        uint32_t limit = _hak_class_cap_limit(c);
        atomic_store_explicit(&_hak_tcache_cap[c], cap < limit ? cap : limit,
                              memory_order_relaxed);
    }
#define HAK_PREWARM_ROW(size, blocks) \
    atomic_store_explicit(&_hak_prewarm[hak_size_class(size)], blocks, memory_order_relaxed);
#include "os/options.def"
#undef HAK_PREWARM_ROW
}

#ifdef HAK_DEBUG
/* Debug builds check every block leaving a free list: it must be the start
 * of a block of the expected class in a live slab of the expected heap, so
 * a corrupted next pointer stops the process where it is first used. */
void _hak_debug_check_block(const hak_heap_t *h, const void *b, unsigned cls) {
    uintptr_t a = (uintptr_t)b;
    unsigned pm = hak_pagemap_get(a);
    if (hak_pm_kind(pm) != PM_SEGMENT) _hak_fail("free list points outside every segment", b);
    hak_segment_t *seg = (hak_segment_t *)hak_region_base(a, pm);
    if (seg->heap != h) _hak_fail("free list holds a block of another heap", b);
    hak_slab_t *s = hak_slab_of(a);
    if (s->kind != SLAB_HEAD || s->cls != cls) _hak_fail("free list holds a block of another class", b);
    if (hak_block_index(s, a - s->start) >= s->carved)
        _hak_fail("free list holds a pointer that is not a block", b);
}
#endif

static void partial_push(hak_heap_t *h, hak_slab_t *s) {
    s->prev = NULL;
    s->next = h->partial[s->cls];
    if (s->next) s->next->prev = s;
    h->partial[s->cls] = s;
    s->listed = 1;
}

static void partial_remove(hak_heap_t *h, hak_slab_t *s) {
    if (s->prev) s->prev->next = s->next;
    else h->partial[s->cls] = s->next;
    if (s->next) s->next->prev = s->prev;
    s->next = s->prev = NULL;
    s->listed = 0;
}

/* A chain first..tail of n blocks goes back to its slab `s`; an emptied
 * slab goes back to its segment. */
static void slab_put_chain(hak_heap_t *h, hak_slab_t *s, hak_block_t *first, hak_block_t *tail,
                           uint32_t n) {
    HAK_ASSERT(s->kind == SLAB_HEAD && s->used >= n, "free list holds a block of no live slab",
               first);
    tail->next = s->free;
    s->free = first;
    s->used -= n;
    if (s->used == 0) {
        if (s->listed) partial_remove(h, s);
        hak_lock(&h->seg_lock);
        _hak_slab_release(&h->segs, s);
        pthread_mutex_unlock(&h->seg_lock);
    } else if (!s->listed) {
        partial_push(h, s);
    }
}

void _hak_heap_slab_put(hak_heap_t *h, hak_block_t *b) {
    slab_put_chain(h, hak_slab_of((uintptr_t)b), b, b, 1);
}

static uint32_t bundle(void) { return (uint32_t)hak_opt(OPT_BUNDLE); }

void _hak_bin_flush(hak_heap_t *h, unsigned cls) {
    hak_bin_t *bin = &h->bin[cls];
    uint32_t cap = atomic_load_explicit(&_hak_tcache_cap[cls], memory_order_relaxed);
    uint32_t n = bundle();
    uint32_t target = cap > n ? cap - n : 0;
    hak_ctr_inc(&h->ctr.flushes[cls]);
    /* Blocks of one bin mostly come from the same slab: each run of blocks
     * of one slab goes back as one spliced chain. */
    uintptr_t lo = 0, hi = 0; /* empty range: the first block looks its slab up */
    hak_slab_t *s = NULL;
    while (bin->count > target) {
        hak_block_t *first = bin->head, *tail = first;
        uintptr_t a = (uintptr_t)first;
        if (a - lo >= hi - lo) {
            s = hak_slab_of(a);
            lo = s->start;
            hi = lo + ((uintptr_t)s->span << HAK_UNIT_SHIFT);
        }
        uint32_t run = 1;
        while (bin->count - run > target && (uintptr_t)tail->next - lo < hi - lo) {
            tail = tail->next;
            run++;
        }
        bin->head = tail->next;
        bin->count -= run;
        if (s->used == run) hi = lo; /* the slab is about to be released */
        slab_put_chain(h, s, first, tail, run);
    }
}

/* Takes up to a bundle of blocks from the class's slabs into the bin and
 * returns one more; NULL when the OS refuses memory. */
static hak_block_t *refill_from_slabs(hak_heap_t *h, unsigned cls) {
    if (atomic_load_explicit(&h->remote_count, memory_order_relaxed) >=
        (uint32_t)hak_opt(OPT_REMOTE_DRAIN_THRESHOLD))
        _hak_heap_drain_remote(h);
    hak_slab_t *s = h->partial[cls];
    if (s == NULL) {
        _hak_heap_drain_remote(h);
        s = h->partial[cls];
        if (s == NULL) {
            hak_lock(&h->seg_lock);
            s = _hak_slab_new(&h->segs, h, cls);
            pthread_mutex_unlock(&h->seg_lock);
            if (s == NULL) return NULL;
            partial_push(h, s);
        }
    }
    uint32_t cap = atomic_load_explicit(&_hak_tcache_cap[cls], memory_order_relaxed);
    hak_bin_t *bin = &h->bin[cls];
    uint32_t room = cap > bin->count ? cap - bin->count : 0, n = bundle();
    uint32_t want = 1 + (room < n ? room : n);
    uint32_t got = 1;
    hak_block_t *first = s->free;
    if (first != NULL) {
        /* Blocks on the slab's free list are already marked: the first
         * `want` of them move to the bin as one chain. */
        hak_block_t *tail = first;
        while (got < want && tail->next != NULL) {
            HAK_ASSERT(hak_slab_of((uintptr_t)tail->next) == s,
                       "slab free list points outside its slab", tail->next);
            tail = tail->next;
            got++;
        }
        s->free = tail->next;
        if (tail != first) {
            tail->next = bin->head;
            bin->head = first->next;
            bin->count += got - 1;
        }
    } else {
        uint32_t bsize = s->bsize, left = s->capacity - s->carved;
        uintptr_t p = s->start + (uintptr_t)s->carved * bsize;
        if (want > left) want = left;
        first = (hak_block_t *)p;
        for (got = 1; got < want; got++) {
            hak_block_t *b = (hak_block_t *)(p + (uintptr_t)got * bsize);
            hak_mark_free(b, bsize);
            b->next = bin->head;
            bin->head = b;
        }
        bin->count += got - 1;
        hak_store_relaxed32(&s->carved, s->carved + got);
    }
    s->used += got;
    if (s->free == NULL && s->carved == s->capacity) partial_remove(h, s);
    return first;
}

/* The refill, of which ACE samples the latency. */
static hak_block_t *refill(hak_heap_t *h, unsigned cls) {
    hak_ctr_inc(&h->ctr.misses[cls]);
    uint64_t t0 = hak_lat_begin(h->ctr.misses[cls]);
    hak_block_t *b = refill_from_slabs(h, cls);
    hak_lat_end(t0);
    return b;
}

HAK_INLINE void *bin_pop(hak_heap_t *h, unsigned cls) {
    hak_bin_t *bin = &h->bin[cls];
    hak_block_t *b = bin->head;
    if (b == NULL) {
        b = refill(h, cls);
        if (b == NULL) return NULL;
    } else {
#ifdef HAK_DEBUG
        _hak_debug_check_block(h, b, cls);
#endif
        bin->head = b->next;
        bin->count--;
    }
    b->mark = 0;
    hak_ctr_inc(&h->ctr.allocs[cls]);
    return b;
}

/* The allocation's slow path: start-up, the slow-path hook, a heap for a
 * thread that has none, and the refill of an empty bin. */
void *_hak_small_alloc_slow(size_t size, unsigned cls) {
    hak_ensure_init();
    hak_slow_path_seen();
    cls = hak_size_class(size); /* the class table may have been empty before start-up */
    hak_heap_t *h = _hak_tl_heap;
    if (h == NULL && !_hak_init_in_progress_here()) h = _hak_heap_acquire();
    void *p;
    if (hak_heap_owned(h)) {
        p = bin_pop(h, cls);
    } else {
        _hak_heaps_lock();
        p = bin_pop(_hak_heap_shared(), cls);
        _hak_heaps_unlock();
    }
    if (p == NULL) errno = ENOMEM;
    return p;
}

void _hak_heap_prewarm(hak_heap_t *h) {
    for (unsigned cls = 0; cls < HAK_CLASSES; cls++) {
        uint32_t want = atomic_load_explicit(&_hak_prewarm[cls], memory_order_relaxed);
        uint32_t cap = atomic_load_explicit(&_hak_tcache_cap[cls], memory_order_relaxed);
        if (want > cap) want = cap;
        hak_bin_t *bin = &h->bin[cls];
        while (bin->count < want) {
            hak_block_t *b = refill(h, cls);
            if (b == NULL) return;
            hak_mark_free(b, _hak_class_size[cls]);
            b->next = bin->head;
            bin->head = b;
            bin->count++;
        }
    }
}
