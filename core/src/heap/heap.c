/* Heaps: the registry of every heap, a heap's life (acquired by a thread,
 * abandoned at thread exit, adopted by the next thread), frees into
 * another thread's heap (its remote queue), and what trim, ACE and the
 * statistics ask of all heaps. */
#include "heap.h"

#include <string.h>

__thread hak_heap_t *_hak_tl_heap __attribute__((tls_model("initial-exec")));
_Atomic(hak_hook_fn) _hak_slow_path_hook;
static void (*g_on_flush)(hak_heap_t *h);

/* g_lock guards the heap registry, the pool of abandoned heaps, and every
 * heap that has no owner thread (abandoned ones and g_shared). */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static hak_heap_t *g_all;
static hak_heap_t *g_pool;
static hak_heap_t g_shared; /* for threads without a heap: during start-up and after exit */
static pthread_key_t g_key;
static uint64_t g_created, g_reused, g_live;

/* The frees other threads queued go back to their slabs. */
void _hak_heap_drain_remote(hak_heap_t *h) {
    if (atomic_load_explicit(&h->remote, memory_order_relaxed) == NULL) return;
    hak_block_t *b = atomic_exchange_explicit(&h->remote, NULL, memory_order_acquire);
    atomic_store_explicit(&h->remote_count, 0, memory_order_relaxed);
    while (b != NULL) {
        hak_block_t *next = b->next;
#ifdef HAK_DEBUG
        _hak_debug_check_block(h, b, hak_slab_of((uintptr_t)b)->cls);
#endif
        _hak_heap_slab_put(h, b);
        b = next;
    }
}

hak_heap_t *_hak_heap_acquire(void) {
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
    _hak_heap_drain_remote(h);
    /* Registers the exit hook; may allocate, which the heap now serves. */
    pthread_setspecific(g_key, h);
    if (fresh && hak_opt(OPT_PREWARM)) _hak_heap_prewarm(h);
    return h;
}

static void release_empty_segments(hak_heap_t *h) {
    hak_lock(&h->seg_lock);
    _hak_segments_release_empty(&h->segs);
    pthread_mutex_unlock(&h->seg_lock);
}

static void flush_all(hak_heap_t *h) {
    for (unsigned cls = 0; cls < HAK_CLASSES; cls++) {
        hak_bin_t *bin = &h->bin[cls];
        while (bin->head != NULL) {
            hak_block_t *b = bin->head;
            bin->head = b->next;
            _hak_heap_slab_put(h, b);
        }
        bin->count = 0;
    }
    if (g_on_flush != NULL) g_on_flush(h);
    _hak_heap_drain_remote(h);
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
    _hak_heap_drain_remote(h); /* frees pushed while the state still said owned */
    h->next_pool = g_pool;
    g_pool = h;
    g_live--;
    pthread_mutex_unlock(&g_lock);
}

void _hak_thread_flush(void) {
    hak_heap_t *h = _hak_tl_heap;
    if (hak_heap_owned(h)) flush_all(h);
}

static size_t purge_locked(hak_heap_t *h, uint32_t units) {
    hak_lock(&h->seg_lock);
    size_t bytes = _hak_segments_purge(&h->segs, units, 0);
    pthread_mutex_unlock(&h->seg_lock);
    return bytes;
}

/* The caller's heap, then every heap whose thread has exited (they are
 * guarded by the lock): caches flushed, remote frees drained, empty
 * segments released, free units advised away. */
size_t _hak_heaps_trim(void) {
    size_t bytes = 0;
    hak_heap_t *me = _hak_tl_heap;
    if (hak_heap_owned(me)) {
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
                _hak_heap_drain_remote(h);
                release_empty_segments(h);
            }
            pthread_mutex_unlock(&g_lock);
        }
        if (pthread_mutex_trylock(&h->seg_lock) != 0) continue;
        bytes += _hak_segments_purge(&h->segs, units, deadline_ns);
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

/* Frees a block of a heap that is not the caller's. */
void _hak_small_free_slow(hak_segment_t *seg, hak_slab_t *slab, hak_block_t *b) {
    hak_heap_t *owner = seg->heap, *me = _hak_tl_heap;
    unsigned cls = slab->cls;
    if (hak_heap_owned(me)) {
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
                _hak_heap_drain_remote(owner);
                _hak_heap_slab_put(owner, b);
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
hak_heap_t *_hak_heap_shared(void) { return &g_shared; }
void _hak_heap_on_flush(void (*fn)(hak_heap_t *h)) { g_on_flush = fn; }

void _hak_on_slow_path(hak_hook_fn fn) {
    atomic_store_explicit(&_hak_slow_path_hook, fn, memory_order_relaxed);
}
void _hak_heaps_unlock(void) { pthread_mutex_unlock(&g_lock); }

/* In a forked child only the forking thread lives on: the other threads'
 * heaps are marked dead, since they may have been mid-update. Called with
 * g_lock held (fork_prepare). */
void _hak_heaps_child_reset(void) {
    hak_heap_t *me = _hak_tl_heap;
    g_live = hak_heap_owned(me) ? 1 : 0;
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
    }
    *created = g_created;
    *reused = g_reused;
    *live = g_live;
    pthread_mutex_unlock(&g_lock);
}

void _hak_heaps_each(void (*fn)(hak_heap_t *h, void *arg), void *arg) {
    hak_lock(&g_lock);
    for (hak_heap_t *h = g_all; h != NULL; h = h->next_all) fn(h, arg);
    pthread_mutex_unlock(&g_lock);
}
