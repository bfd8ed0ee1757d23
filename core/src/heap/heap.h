/* Thread heaps: each thread's cache of free tiny and mid blocks (a bin per
 * class), its refill from slabs and flush back to them, frees from other
 * threads (the remote queue), and the life of a heap (acquired by a
 * thread, abandoned at thread exit, adopted by a new thread): cache.c and
 * heap.c. Calls the
 * segment layer and those below; upward only through the hooks here (the
 * slow-path hook, the flush hook), which upper layers set at start-up. */
#ifndef HAKMEM_HEAP_H
#define HAKMEM_HEAP_H

#include "segment/segment.h"

typedef struct hak_bin {
    hak_block_t *head;
    uint32_t count;
    uint32_t pad_;
} hak_bin_t;

typedef struct hak_counters {
    uint64_t allocs[HAK_CLASSES];
    uint64_t frees[HAK_CLASSES];
    uint64_t misses[HAK_CLASSES];
    uint64_t remote_frees[HAK_CLASSES];
    uint64_t flushes[HAK_CLASSES]; /* bin overflows: a bundle went back to slabs */
} hak_counters_t;

/* Who may touch a heap: its thread (OWNED); anyone holding the registry
 * lock (ABANDONED: its thread exited, SHARED: the heap of threads without
 * one); nobody (DEAD: its thread did not survive a fork). */
enum hak_heap_state { HEAP_OWNED = 0, HEAP_ABANDONED = 1, HEAP_SHARED = 2, HEAP_DEAD = 3 };

/* Room the heap keeps for the large tier's per-thread state (large.c: its
 * stash of freed blocks and their counters), so that one TLS pointer
 * reaches both; this layer never reads it. */
#define HAK_HEAP_TIER_WORDS 6

typedef struct hak_heap {
    hak_bin_t bin[HAK_CLASSES];           /* the thread cache */
    hak_slab_t *partial[HAK_CLASSES];     /* slabs with free or uncarved blocks */
    _Atomic(hak_block_t *) remote;        /* frees from other threads */
    _Atomic uint32_t remote_count;
    _Atomic int state;                    /* enum hak_heap_state */
    hak_seglist_t segs;                   /* the heap's segments */
    struct hak_heap *next_all;            /* registry of every heap */
    struct hak_heap *next_pool;           /* pool of abandoned heaps */
    /* Held by the owner while it changes its slab tables and segment list
     * (slow paths only), and by ACE while it advises free units away. */
    pthread_mutex_t seg_lock;
    void *tier_local[HAK_HEAP_TIER_WORDS]; /* the large tier's; opaque here */
    hak_counters_t ctr;                    /* written by the owner only */
} hak_heap_t;

/* The calling thread's heap: NULL before its first allocation,
 * HAK_HEAP_EXITED once its exit hook ran. */
extern __thread hak_heap_t *_hak_tl_heap __attribute__((tls_model("initial-exec")));
#define HAK_HEAP_EXITED ((hak_heap_t *)(uintptr_t)1)

/* A heap the thread owns: neither NULL nor HAK_HEAP_EXITED. */
HAK_INLINE bool hak_heap_owned(const hak_heap_t *h) {
    return (uintptr_t)h > (uintptr_t)HAK_HEAP_EXITED;
}

/* ---- per-class knobs (cache.c): runtime variables ACE and
 * hak_class_knob_set change ---- */
extern _Atomic uint32_t _hak_tcache_cap[HAK_CLASSES];
extern _Atomic uint32_t _hak_prewarm[HAK_CLASSES];
/* Mid classes cache at most 1 MiB of blocks per thread (and 4 blocks at
 * least): the most a capacity of the class may be. */
#define HAK_CLASS_CACHE_BYTES HAK_MIB
#define HAK_CLASS_CACHE_MIN 4
uint32_t _hak_class_cap_limit(unsigned cls);
/* Capacities from HAKMEM_TCACHE(_CAP), pre-warm counts from the table's
 * rows: at start-up and when HAKMEM_TCACHE_CAP changes. */
void _hak_class_knobs_derive(void);

/* ---- the thread cache (cache.c) ---- */
void *_hak_small_alloc_slow(size_t size, unsigned cls); /* NULL + ENOMEM: no memory */
void _hak_bin_flush(hak_heap_t *h, unsigned cls);
void _hak_heap_prewarm(hak_heap_t *h);
void _hak_heap_slab_put(hak_heap_t *h, hak_block_t *b); /* one block back to its slab */
#ifdef HAK_DEBUG
void _hak_debug_check_block(const hak_heap_t *h, const void *b, unsigned cls);
#endif

/* ---- heaps and remote frees (heap.c) ---- */
hak_heap_t *_hak_heap_acquire(void); /* for the calling thread; NULL: no memory */
void _hak_heap_drain_remote(hak_heap_t *h);
/* Frees a block of a heap that is not the caller's. */
void _hak_small_free_slow(hak_segment_t *seg, hak_slab_t *slab, hak_block_t *b);
void _hak_heaps_init(void);
void _hak_heap_thread_exit(void *heap);
void _hak_heaps_lock(void);
void _hak_heaps_unlock(void);
void _hak_heaps_child_reset(void);
hak_heap_t *_hak_heap_shared(void); /* threads without a heap: guarded by the registry lock */
void _hak_heaps_sum(hak_counters_t *out, uint64_t *created, uint64_t *reused, uint64_t *live);
/* Calls fn on every heap under the registry lock (the large tier sums its
 * per-thread counters so). */
void _hak_heaps_each(void (*fn)(hak_heap_t *h, void *arg), void *arg);
void _hak_thread_flush(void);
size_t _hak_heaps_trim(void);
/* Partial release: free units of every heap's segments advised away, at
 * most `units` per segment, until the deadline; heaps whose owner is busy
 * changing its segments are skipped. */
size_t _hak_heaps_release(uint64_t deadline_ns, uint32_t units);
/* Bytes idle in thread caches, remote frees queued, heaps with a thread. */
void _hak_heaps_probe(uint64_t *cached_bytes, uint64_t *backlog, uint64_t *live);

/* ---- upward hooks, set at start-up ---- */
/* Called on the tiers' slow paths (a refill, a large allocation) while
 * set: ACE sets it while it waits to start, so that its thread starts from
 * an allocation and never from inside start-up. */
typedef void (*hak_hook_fn)(void);
extern _Atomic(hak_hook_fn) _hak_slow_path_hook;
void _hak_on_slow_path(hak_hook_fn fn); /* NULL: none */

HAK_INLINE void hak_slow_path_seen(void) {
    hak_hook_fn hook = atomic_load_explicit(&_hak_slow_path_hook, memory_order_relaxed);
    if (unlikely(hook != NULL)) hook();
}

/* Called with every heap that flushes its caches (thread exit,
 * hak_thread_flush, trim): the large tier empties its stash so. */
void _hak_heap_on_flush(void (*fn)(hak_heap_t *h));

#endif
