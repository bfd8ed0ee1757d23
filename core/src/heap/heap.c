/* Thread heaps: the per-thread cache of free blocks (bins), its refill
 * from slabs and flush back to them, remote frees, and the life cycle of a
 * heap (acquired by a thread, abandoned at thread exit, adopted by a new
 * thread). The owner touches its heap without locks or atomic
 * read-modify-writes; other threads only push onto its remote queue. */
#include "internal.h"

#include <errno.h>
#include <string.h>

__thread hak_heap_t *_hak_tl_heap __attribute__((tls_model("initial-exec")));
uintptr_t _hak_free_key;
_Atomic uint64_t _hak_tier_reserved[HAK_TIER_COUNT];

/* g_lock guards the heap registry, the pool of abandoned heaps, and every
 * heap that has no owner thread (abandoned ones and g_shared). */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static hak_heap_t *g_all;
static hak_heap_t *g_pool;
static hak_heap_t g_shared; /* for threads without a heap: during start-up and after exit */
static pthread_key_t g_key;
static uint64_t g_created, g_reused, g_live;


static hak_slab_t *slab_of(uintptr_t a) {
    hak_segment_t *seg = hak_segment_of(a);
    hak_slab_t *slab = &seg->slab[(a - (uintptr_t)seg) >> HAK_UNIT_SHIFT];
    return slab->kind == SLAB_TAIL ? slab - slab->span : slab;
}

#ifdef HAK_DEBUG
/* Debug builds check every block leaving a free list: it must be the start
 * of a block of the expected class in a live slab of the expected heap, so
 * a corrupted next pointer stops the process where it is first used. */
void _hak_debug_check_block(const hak_heap_t *h, const void *b, unsigned cls) {
    uintptr_t a = (uintptr_t)b;
    unsigned pm = hak_pagemap_get(a);
    if ((pm & 3) != PM_SEGMENT) _hak_fail("free list points outside every segment", b);
    hak_segment_t *seg = (hak_segment_t *)hak_region_base(a, pm);
    if (seg->heap != h) _hak_fail("free list holds a block of another heap", b);
    hak_slab_t *s = slab_of(a);
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
        _hak_slab_release(s);
        pthread_mutex_unlock(&h->seg_lock);
    } else if (!s->listed) {
        partial_push(h, s);
    }
}

static void slab_put(hak_heap_t *h, hak_block_t *b) {
    slab_put_chain(h, slab_of((uintptr_t)b), b, b, 1);
}

static void drain_remote(hak_heap_t *h) {
    if (atomic_load_explicit(&h->remote, memory_order_relaxed) == NULL) return;
    hak_block_t *b = atomic_exchange_explicit(&h->remote, NULL, memory_order_acquire);
    atomic_store_explicit(&h->remote_count, 0, memory_order_relaxed);
    while (b != NULL) {
        hak_block_t *next = b->next;
#ifdef HAK_DEBUG
        _hak_debug_check_block(h, b, slab_of((uintptr_t)b)->cls);
#endif
        slab_put(h, b);
        b = next;
    }
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
            s = slab_of(a);
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
        drain_remote(h);
    hak_slab_t *s = h->partial[cls];
    if (s == NULL) {
        drain_remote(h);
        s = h->partial[cls];
        if (s == NULL) {
            hak_lock(&h->seg_lock);
            s = _hak_slab_new(h, cls);
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
            HAK_ASSERT(slab_of((uintptr_t)tail->next) == s, "slab free list points outside its slab",
                       tail->next);
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

static void prewarm(hak_heap_t *h) {
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

static hak_heap_t *heap_acquire(void) {
    hak_lock(&g_lock);
    hak_heap_t *h = g_pool;
    bool fresh = h == NULL;
    if (!fresh) {
        g_pool = h->next_pool;
        g_reused++;
    } else {
        h = _hak_os_meta_alloc(sizeof(hak_heap_t));
        if (h == NULL) {
            pthread_mutex_unlock(&g_lock);
            return NULL;
        }
        h->next_all = g_all;
        g_all = h;
        g_created++;
    }
    atomic_store_explicit(&h->state, HEAP_OWNED, memory_order_release);
    g_live++;
    pthread_mutex_unlock(&g_lock);
    _hak_tl_heap = h;
    drain_remote(h);
    /* Registers the exit hook; may allocate, which the heap now serves. */
    pthread_setspecific(g_key, h);
    if (fresh && hak_opt(OPT_PREWARM)) prewarm(h);
    return h;
}

static void release_empty_segments(hak_heap_t *h) {
    hak_lock(&h->seg_lock);
    hak_segment_t *seg = h->segments;
    while (seg != NULL) {
        hak_segment_t *next = seg->next;
        if (seg->free_units == seg->units - 1) _hak_segment_release(seg);
        seg = next;
    }
    pthread_mutex_unlock(&h->seg_lock);
}

static void flush_all(hak_heap_t *h) {
    for (unsigned cls = 0; cls < HAK_CLASSES; cls++) {
        hak_bin_t *bin = &h->bin[cls];
        while (bin->head != NULL) {
            hak_block_t *b = bin->head;
            bin->head = b->next;
            slab_put(h, b);
        }
        bin->count = 0;
    }
    _hak_large_unstash(h);
    drain_remote(h);
    release_empty_segments(h);
}

/* pthread key destructor: the thread's caches go back to their slabs and
 * the heap waits in the pool for a new thread. */
void _hak_heap_thread_exit(void *arg) {
    hak_heap_t *h = arg;
    _hak_tl_heap = HAK_HEAP_EXITED;
    flush_all(h);
    hak_lock(&g_lock);
    atomic_store_explicit(&h->state, HEAP_ABANDONED, memory_order_release);
    drain_remote(h); /* frees pushed while the state still said owned */
    h->next_pool = g_pool;
    g_pool = h;
    g_live--;
    pthread_mutex_unlock(&g_lock);
}

void _hak_thread_flush(void) {
    hak_heap_t *h = _hak_tl_heap;
    if ((uintptr_t)h > 1) flush_all(h);
}

/* Called with h->seg_lock held; deadline 0: none. */
static size_t purge_segments(hak_heap_t *h, uint32_t units, uint64_t deadline_ns) {
    size_t bytes = 0;
    for (hak_segment_t *seg = h->segments; seg != NULL; seg = seg->next) {
        if (deadline_ns != 0 && _hak_now_ns() >= deadline_ns) break;
        bytes += _hak_segment_purge(seg, units, deadline_ns);
    }
    return bytes;
}

static size_t purge_locked(hak_heap_t *h, uint32_t units) {
    hak_lock(&h->seg_lock);
    size_t bytes = purge_segments(h, units, 0);
    pthread_mutex_unlock(&h->seg_lock);
    return bytes;
}

/* The caller's heap, then every heap whose thread has exited (they are
 * guarded by the lock): caches flushed, remote frees drained, empty
 * segments released, free units advised away. */
size_t _hak_heaps_trim(void) {
    size_t bytes = 0;
    hak_heap_t *me = _hak_tl_heap;
    if ((uintptr_t)me > 1) {
        flush_all(me);
        bytes += purge_locked(me, UINT32_MAX);
    }
    hak_lock(&g_lock);
    for (hak_heap_t *h = g_pool; h != NULL; h = h->next_pool) {
        flush_all(h);
        bytes += purge_locked(h, UINT32_MAX);
    }
    pthread_mutex_unlock(&g_lock);
    return bytes;
}

/* The registry only grows at its head and heaps are never freed, so it is
 * walked from a head read under g_lock without holding it: threads start,
 * exit and free into exited threads' heaps while ACE scavenges. */
size_t _hak_heaps_release(uint64_t deadline_ns, uint32_t units) {
    size_t bytes = 0;
    hak_lock(&g_lock);
    hak_heap_t *head = g_all;
    pthread_mutex_unlock(&g_lock);
    for (hak_heap_t *h = head; h != NULL && _hak_now_ns() < deadline_ns; h = h->next_all) {
        int state = atomic_load_explicit(&h->state, memory_order_acquire);
        if (state == HEAP_DEAD) continue;
        if (state == HEAP_ABANDONED) {
            hak_lock(&g_lock); /* no owner: guarded by g_lock */
            if (atomic_load_explicit(&h->state, memory_order_relaxed) == HEAP_ABANDONED) {
                drain_remote(h);
                release_empty_segments(h);
            }
            pthread_mutex_unlock(&g_lock);
        }
        if (pthread_mutex_trylock(&h->seg_lock) != 0) continue;
        bytes += purge_segments(h, units, deadline_ns);
        pthread_mutex_unlock(&h->seg_lock);
    }
    return bytes;
}

/* Bin counts of other threads are read racily (relaxed): an estimate is
 * all ACE needs. */
void _hak_heaps_probe(uint64_t *cached_bytes, uint64_t *backlog, uint64_t *live) {
    uint64_t bytes = 0, queued = 0;
    hak_lock(&g_lock);
    for (hak_heap_t *h = g_all; h != NULL; h = h->next_all) {
        if (atomic_load_explicit(&h->state, memory_order_relaxed) != HEAP_OWNED) continue;
        for (unsigned c = 0; c < HAK_CLASSES; c++)
            bytes += (uint64_t)hak_load_relaxed32(&h->bin[c].count) * _hak_class_size[c];
        queued += atomic_load_explicit(&h->remote_count, memory_order_relaxed);
    }
    *live = g_live;
    pthread_mutex_unlock(&g_lock);
    *cached_bytes = bytes;
    *backlog = queued;
}

void *_hak_small_alloc_slow(size_t size, unsigned cls) {
    hak_ensure_init();
    if (unlikely(_hak_ace_wanted()) && !_hak_init_in_progress_here()) _hak_ace_start();
    cls = hak_size_class(size); /* the class table may have been empty before init */
    hak_heap_t *h = _hak_tl_heap;
    if (h == NULL && !_hak_init_in_progress_here()) h = heap_acquire();
    void *p;
    if ((uintptr_t)h > 1) {
        p = bin_pop(h, cls);
    } else {
        hak_lock(&g_lock);
        p = bin_pop(&g_shared, cls);
        pthread_mutex_unlock(&g_lock);
    }
    if (p == NULL) errno = ENOMEM;
    return p;
}

/* Frees a block of a heap that is not the caller's. */
void _hak_small_free_slow(hak_segment_t *seg, hak_slab_t *slab, hak_block_t *b) {
    hak_heap_t *owner = seg->heap, *me = _hak_tl_heap;
    unsigned cls = slab->cls;
    if ((uintptr_t)me > 1) {
        hak_ctr_inc(&me->ctr.frees[cls]);
        hak_ctr_inc(&me->ctr.remote_frees[cls]);
    } else {
        /* A thread without a heap: counted on the shared heap, atomically
         * since any number of such threads may free at once. */
        atomic_fetch_add_explicit((_Atomic uint64_t *)&g_shared.ctr.frees[cls], 1,
                                  memory_order_relaxed);
        if (owner != &g_shared)
            atomic_fetch_add_explicit((_Atomic uint64_t *)&g_shared.ctr.remote_frees[cls], 1,
                                      memory_order_relaxed);
    }
    hak_mark_free(b, slab->bsize);
    if (atomic_load_explicit(&owner->state, memory_order_acquire) != HEAP_OWNED) {
        hak_lock(&g_lock);
        int state = atomic_load_explicit(&owner->state, memory_order_acquire);
        if (state != HEAP_OWNED) {
            /* A dead heap (another thread's, in a forked child) may be
             * mid-update: its blocks are left alone. */
            if (state != HEAP_DEAD) {
                drain_remote(owner);
                slab_put(owner, b);
            }
            pthread_mutex_unlock(&g_lock);
            return;
        }
        pthread_mutex_unlock(&g_lock);
    }
    hak_block_t *head = atomic_load_explicit(&owner->remote, memory_order_relaxed);
    do {
        b->next = head;
    } while (!atomic_compare_exchange_weak_explicit(&owner->remote, &head, b,
                                                    memory_order_release,
                                                    memory_order_relaxed));
    atomic_fetch_add_explicit(&owner->remote_count, 1, memory_order_relaxed);
}

void _hak_heaps_init(void) {
    atomic_store_explicit(&g_shared.state, HEAP_SHARED, memory_order_relaxed);
    g_shared.next_all = NULL;
    g_all = &g_shared;
    pthread_key_create(&g_key, _hak_heap_thread_exit);
}

void _hak_heaps_lock(void) { hak_lock(&g_lock); }
void _hak_heaps_unlock(void) { pthread_mutex_unlock(&g_lock); }

/* In a forked child only the forking thread lives on: the other threads'
 * heaps are marked dead, since they may have been mid-update. Called with
 * g_lock held (fork_prepare). */
void _hak_heaps_child_reset(void) {
    hak_heap_t *me = _hak_tl_heap;
    g_live = (uintptr_t)me > 1 ? 1 : 0;
    for (hak_heap_t *h = g_all; h != NULL; h = h->next_all) {
        if (h != me && atomic_load_explicit(&h->state, memory_order_relaxed) == HEAP_OWNED)
            atomic_store_explicit(&h->state, HEAP_DEAD, memory_order_relaxed);
    }
}

void _hak_heaps_sum(hak_counters_t *out, uint64_t *created, uint64_t *reused, uint64_t *live) {
    memset(out, 0, sizeof(*out));
    hak_lock(&g_lock);
    for (hak_heap_t *h = g_all; h != NULL; h = h->next_all) {
        for (unsigned c = 0; c < HAK_CLASSES; c++) {
            out->allocs[c] += hak_ctr_get(&h->ctr.allocs[c]);
            out->frees[c] += hak_ctr_get(&h->ctr.frees[c]);
            out->misses[c] += hak_ctr_get(&h->ctr.misses[c]);
            out->remote_frees[c] += hak_ctr_get(&h->ctr.remote_frees[c]);
            out->flushes[c] += hak_ctr_get(&h->ctr.flushes[c]);
        }
        out->large_allocs += hak_ctr_get(&h->ctr.large_allocs);
        out->large_frees += hak_ctr_get(&h->ctr.large_frees);
        out->large_bytes_in += hak_ctr_get(&h->ctr.large_bytes_in);
        out->large_bytes_out += hak_ctr_get(&h->ctr.large_bytes_out);
    }
    *created = g_created;
    *reused = g_reused;
    *live = g_live;
    pthread_mutex_unlock(&g_lock);
}
