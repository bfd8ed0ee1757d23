/* Heaps: the registry of every heap, a heap's life (acquired by a thread,
 * abandoned at thread exit, adopted by the next thread), the heaps a
 * thread sees without one of its own, and the hooks of the layer. */
#include "heap_internal.h"

#include <string.h>

#define NO_SLABS(n) [0 ... (n) - 1] = &_hak_no_slab
#define NO_CURRENT_SLABS                                                                      \
    .direct = {NO_SLABS(HAK_DIRECT_SLOTS)}, .fast = {NO_SLABS(HAK_CLASSES)},                  \
    .cur = {NO_SLABS(HAK_CLASSES)}
hak_heap_t _hak_empty_heap = {NO_CURRENT_SLABS, .state = HEAP_EMPTY};
hak_heap_t _hak_exited_heap = {NO_CURRENT_SLABS, .state = HEAP_EMPTY};
/* for threads without a heap of their own: during start-up, after exit,
 * and all of them with HAKMEM_TCACHE=0 */
static hak_heap_t g_shared = {NO_CURRENT_SLABS, .state = HEAP_SHARED};

__thread hak_heap_t *_hak_tl_heap __attribute__((tls_model("initial-exec"))) = &_hak_empty_heap;
_Atomic(hak_hook_fn) _hak_slow_path_hook;
static void (*g_on_flush)(hak_heap_t *h);

/* The registry lock guards the heap registry, the pool of abandoned heaps, and every
 * heap that has no owner thread (abandoned ones and g_shared). */
pthread_mutex_t _hak_heaps_lock_ = PTHREAD_MUTEX_INITIALIZER;
hak_heap_t *_hak_heaps_all;
static hak_heap_t *g_pool;
static pthread_key_t g_key;
static uint64_t g_created, g_reused, g_live;

/* Every slab of the heap gets its new thread's pointer (0: none): the
 * segments cannot change meanwhile (the registry lock for an abandoned heap, the
 * heap's lock for an exiting one). */
static void set_owner(hak_heap_t *h, uintptr_t tp) {
    h->owner = tp;
    for (hak_segment_t *seg = h->segs.head; seg != NULL; seg = seg->next)
        for (uint32_t u = 1; u < seg->units; u++) {
            hak_slab_t *d = hak_seg_slab(seg, u);
            if (d->kind == SLAB_HEAD)
                atomic_store_explicit(&d->owner, hak_owner_tag(tp), memory_order_relaxed);
        }
}

hak_heap_t *_hak_heap_acquire(void) {
    hak_heap_t *h = NULL;
    bool fresh = false;
    HAK_LOCKED(&_hak_heaps_lock_) {
        h = g_pool;
        fresh = h == NULL;
        if (!fresh) {
            g_pool = h->next_pool;
            g_reused++;
            for (unsigned c = 0; c < HAK_CLASSES; c++) { /* a new thread's classes start small */
                h->sizing[c].level = 0;
                h->sizing[c].switches = h->sizing[c].yield = 0;
                h->sizing[c].keep = h->sizing[c].given = 0;
            }
        } else {
            h = _hak_os_meta_alloc(sizeof(hak_heap_t));
            if (h == NULL) break;
            for (unsigned k = 0; k < HAK_DIRECT_SLOTS; k++) h->direct[k] = &_hak_no_slab;
            for (unsigned c = 0; c < HAK_CLASSES; c++) h->fast[c] = h->cur[c] = &_hak_no_slab;
            h->next_all = _hak_heaps_all;
            _hak_heaps_all = h;
            h->slot = (uint16_t)(g_created++ % HAK_REMOTE_SLOTS);
            _hak_hot_reset(h); /* a pooled heap's was reset at its thread's exit */
        }
        set_owner(h, hak_thread_id());
        atomic_store_explicit(&h->state, HEAP_OWNED, memory_order_release);
        g_live++;
    }
    if (h == NULL) return NULL;
    _hak_tl_heap = h;
    HAK_LOCKED(&h->lock) {
        _hak_remote_drain(h);
    }
    /* Registers the exit hook; may allocate, which the heap now serves. */
    pthread_setspecific(g_key, h);
    if (fresh && hak_opt(OPT_PREWARM)) _hak_heap_prewarm(h);
    return h;
}

/* Empty slabs kept and segments without a slab go back (flush, exit). Heap
 * lock held. */
static void release_idle(hak_heap_t *h) {
    uint64_t now = _hak_coarse_ns();
    _hak_spans_decay(h, UINT64_MAX, now);
    for (unsigned cls = 0; cls < HAK_CLASSES; cls++) {
        hak_slab_t *s;
        while ((s = h->empty[cls]) != NULL) {
            _hak_kept_remove(h, s);
            _hak_slab_retire(h, s, now);
        }
    }
    hak_segment_t *seg = h->segs.head;
    while (seg != NULL) {
        hak_segment_t *next = seg->next;
        if (seg->free_units == seg->units - 1) _hak_segment_release(&h->segs, seg);
        seg = next;
    }
}

static void flush_all(hak_heap_t *h) {
    _hak_quarantine_flush(h);
    _hak_remote_flush_all(h);
    if (g_on_flush != NULL) g_on_flush(h);
    HAK_LOCKED(&h->lock) {
        _hak_remote_drain(h);
        _hak_heap_uncurrent(h);
        release_idle(h);
    }
}

/* A heap whose segments span more than this has its free pages given back
 * when its thread exits; a smaller one waits whole for the next thread, as
 * short-lived threads come and go (their next one takes the heap at once,
 * and giving back and faulting in its pages would cost each one ~0.3 ms). */
#define EXIT_KEEP_BYTES ((size_t)8 << 20)

static bool spans_more_than(const hak_heap_t *h, size_t bytes) {
    size_t n = 0;
    for (const hak_segment_t *seg = h->segs.head; seg != NULL; seg = seg->next)
        if ((n += (size_t)seg->units << HAK_UNIT_SHIFT) > bytes) return true;
    return false;
}

/* What a big heap without a thread holds free goes now rather than a decay
 * delay later: no thread is about to reuse it (a pool that shrinks, a batch
 * job's workers), and no thread may call the allocator for a while to run
 * the decay passes. Both locks held. */
static void release_ownerless(hak_heap_t *h) {
    if (spans_more_than(h, EXIT_KEEP_BYTES)) _hak_heap_release_unused(h);
    h->freed_ownerless = 0;
}

/* pthread key destructor: the heap waits in the pool for a new thread.
 * Its free pages go back if it is big, and those of big heaps in the pool
 * that this thread's last frees reached (their threads exited first). */
void _hak_heap_thread_exit(void *arg) {
    hak_heap_t *h = arg;
    _hak_tl_heap = &_hak_exited_heap;
    flush_all(h);
    _hak_hot_reset(h); /* its stacks are empty: their grown room is free for other threads */
    HAK_LOCKED(&_hak_heaps_lock_) {
        HAK_LOCKED(&h->lock) { /* a release by another thread may be walking it */
            set_owner(h, 0);
            atomic_store_explicit(&h->state, HEAP_ABANDONED, memory_order_release);
            _hak_remote_drain(h); /* frees pushed while the state still said owned */
            release_ownerless(h);
        }
        for (hak_heap_t *p = g_pool; p != NULL; p = p->next_pool) {
            if (p->freed_ownerless == 0) continue;
            HAK_LOCKED(&p->lock) {
                release_ownerless(p);
            }
        }
        h->next_pool = g_pool;
        g_pool = h;
        g_live--;
    }
}

void _hak_thread_flush(void) {
    hak_heap_t *h = _hak_tl_heap;
    if (hak_heap_owned(h)) flush_all(h);
}

void _hak_heaps_init(void) {
    _hak_refill_init();
    g_shared.next_all = NULL;
    _hak_heaps_all = &g_shared;
    pthread_key_create(&g_key, _hak_heap_thread_exit);
}

void _hak_heaps_lock(void) { hak_lock(&_hak_heaps_lock_); }
void _hak_heaps_unlock(void) { hak_unlock(&_hak_heaps_lock_); }
hak_heap_t *_hak_heap_shared(void) { return &g_shared; }
hak_heap_t *_hak_heap_mine(void) { return _hak_heap_for_alloc(); }
void _hak_heap_on_flush(void (*fn)(hak_heap_t *h)) { g_on_flush = fn; }
hak_decay_fn _hak_heap_decay_hook;
void _hak_heap_on_decay(hak_decay_fn fn) { _hak_heap_decay_hook = fn; }

void _hak_on_slow_path(hak_hook_fn fn) {
    atomic_store_explicit(&_hak_slow_path_hook, fn, memory_order_relaxed);
}

/* In a forked child only the forking thread lives on: the other threads'
 * heaps are marked dead, since they may have been mid-update, and every
 * heap's lock, which a thread of the parent may have held, is reset: the
 * forking thread's own too, which a census (a statistics read, walking the
 * heaps without the registry lock) may have held at the fork; the child
 * then waited for it on its first slow path, for ever. Called with the
 * registry lock held (fork_prepare). */
void _hak_heaps_child_reset(void) {
    hak_heap_t *me = _hak_tl_heap;
    g_live = hak_heap_owned(me) ? 1 : 0;
    for (hak_heap_t *h = _hak_heaps_all; h != NULL; h = h->next_all) {
        atomic_store_explicit(&h->lock.v, 0, memory_order_relaxed);
        if (h == me) continue;
        if (atomic_load_explicit(&h->state, memory_order_relaxed) == HEAP_OWNED) {
            atomic_store_explicit(&h->state, HEAP_DEAD, memory_order_relaxed);
            _hak_hot_reset(h); /* its stacks are never used again: their grown room is free */
        }
    }
}

void _hak_heaps_counts(uint64_t *created, uint64_t *reused, uint64_t *live) {
    *created = g_created;
    *reused = g_reused;
    *live = g_live;
}

uint64_t _hak_heaps_made(void) { return g_created + g_reused; }

void _hak_heaps_each(void (*fn)(hak_heap_t *h, void *arg), void *arg) {
    HAK_LOCKED(&_hak_heaps_lock_) {
        for (hak_heap_t *h = _hak_heaps_all; h != NULL; h = h->next_all) fn(h, arg);
    }
}
