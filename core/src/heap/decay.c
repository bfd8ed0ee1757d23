/* Memory back to the OS, at page granularity, once it has been idle for
 * the decay delay (HAKMEM_DECAY_MS): empty slabs a heap kept, free units of
 * segments, segments without a slab, and the pages of partly used slabs
 * whose blocks are all free. The owner does it for its own heap from its
 * slow paths (no background thread needed), any thread's slow path now and
 * then for the heaps of idle and exited threads, and ACE's thread in the
 * learning mode.
 *
 * Another thread may release a live heap's memory because of what the
 * owner's fast paths touch: the current slab of each class (malloc) and any
 * slab's local list and `used` count (free). A release under the heap's
 * lock touches free units and, of the other slabs, only their
 * `free` list and released-page mask, which the owner changes only under
 * the same lock. Blocks in released pages leave the free list; when the
 * slab runs dry they come back (recarve), after a check that nothing
 * wrote to those pages meanwhile. */
#include "heap_internal.h"

#include <string.h>

_Atomic uint64_t _hak_decay_runs, _hak_decay_bytes;

/* Shortest period between two decay passes of one heap, and between two
 * passes over the other heaps. */
#define DECAY_MIN_PERIOD_NS 20000000ull
/* Time one pass over the other heaps may take, from a program's slow path. */
#define DECAY_PASS_BUDGET_NS 1000000ull
/* Largest slab (blocks) whose free blocks a release maps: 64 KiB of 16 B. */
#define RELEASE_MAX_BLOCKS 4096u

static pthread_mutex_t g_release_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic uint64_t g_next_global;

static uint64_t delay_ns(void) { return (uint64_t)hak_opt(OPT_DECAY_MS) * 1000000ull; }

/* Pages [first, last] of block i of a slab. */
static void block_pages(const hak_slab_t *s, uint32_t i, uint32_t *first, uint32_t *last) {
    size_t lo = (size_t)i * s->bsize;
    *first = (uint32_t)(lo / _hak_page_size);
    *last = (uint32_t)((lo + s->bsize - 1) / _hak_page_size);
}

static bool mask_any(const uint64_t *mask, uint32_t first, uint32_t last) {
    for (uint32_t p = first; p <= last; p++)
        if (mask[p >> 6] & ((uint64_t)1 << (p & 63))) return true;
    return false;
}

static uint32_t slab_pages(const hak_slab_t *s) {
    return (uint32_t)(((size_t)s->span << HAK_UNIT_SHIFT) / _hak_page_size);
}

/* The OS refused to release some of the pages `rel` named: their blocks,
 * untouched, go back on the free list, but for those that also lie on a
 * page it did release (they wait for the recarve). */
static void restore_refused(hak_slab_t *s, const uint64_t *rel) {
    for (uint32_t i = 0; i < s->carved; i++) {
        uint32_t first, last;
        block_pages(s, i, &first, &last);
        if (!mask_any(rel, first, last) || mask_any(s->page_mask, first, last)) continue;
        hak_block_t *b = (hak_block_t *)(s->start + (size_t)i * s->bsize);
        b->next = s->free;
        s->free = b;
        s->released--;
    }
}

/* Releases the pages of a slab (not current) whose carved blocks are all on
 * its free list; returns the bytes released. */
static size_t release_pages(hak_slab_t *s) {
    uint32_t pages = slab_pages(s), carved = s->carved;
    if (pages <= 1 || pages > HAK_SLAB_MAX_PAGES || s->free == NULL ||
        s->capacity > RELEASE_MAX_BLOCKS)
        return 0;
    uint64_t freebits[RELEASE_MAX_BLOCKS / 64];
    memset(freebits, 0, ((carved + 63) / 64) * sizeof(uint64_t));
    for (hak_block_t *b = s->free; b != NULL; b = b->next) {
        uint32_t i = hak_block_index(s, (uintptr_t)b - s->start);
        if (i >= carved || (freebits[i >> 6] & ((uint64_t)1 << (i & 63))))
            _hak_fail("free list of a slab is corrupt", b);
        freebits[i >> 6] |= (uint64_t)1 << (i & 63);
    }
    uint64_t rel[HAK_SLAB_MAX_PAGES / 64] = {0};
    size_t carved_end = (size_t)carved * s->bsize;
    bool any = false;
    for (uint32_t p = 0; p < pages && (size_t)p * _hak_page_size < carved_end; p++) {
        if (s->page_mask[p >> 6] & ((uint64_t)1 << (p & 63))) continue;
        uint32_t first = (uint32_t)(((size_t)p * _hak_page_size) / s->bsize);
        uint32_t last = (uint32_t)(((size_t)(p + 1) * _hak_page_size - 1) / s->bsize);
        bool all = true;
        for (uint32_t i = first; i <= last && i < carved && all; i++)
            all = (freebits[i >> 6] >> (i & 63)) & 1;
        if (all) {
            rel[p >> 6] |= (uint64_t)1 << (p & 63);
            any = true;
        }
    }
    if (!any) return 0;
    /* the blocks in those pages leave the free list */
    hak_block_t **link = &s->free;
    while (*link != NULL) {
        hak_block_t *b = *link;
        uint32_t first, last;
        block_pages(s, hak_block_index(s, (uintptr_t)b - s->start), &first, &last);
        if (mask_any(rel, first, last)) {
            *link = b->next;
            s->released++;
        } else {
            link = &b->next;
        }
    }
    size_t bytes = 0;
    bool refused = false;
    for (uint32_t p = 0; p < pages;) {
        if (!((rel[p >> 6] >> (p & 63)) & 1)) {
            p++;
            continue;
        }
        uint32_t end = p;
        while (end < pages && ((rel[end >> 6] >> (end & 63)) & 1)) end++;
        size_t len = (size_t)(end - p) * _hak_page_size;
        if (_hak_os_dontneed((uint8_t *)s->start + (size_t)p * _hak_page_size, len)) {
            for (uint32_t k = p; k < end; k++) s->page_mask[k >> 6] |= (uint64_t)1 << (k & 63);
            bytes += len;
        } else {
            refused = true;
        }
        p = end;
    }
    if (refused) restore_refused(s, rel);
    return bytes;
}

/* A released page reads as zeros until something writes it: anything else
 * means a block in it was freed twice (or written after its free). */
static void check_untouched(const hak_slab_t *s, uint32_t p) {
    const uint64_t *w = (const uint64_t *)(s->start + (size_t)p * _hak_page_size);
    size_t n = _hak_page_size / sizeof(uint64_t);
    uint64_t any = 0;
    for (size_t i = 0; i < n; i++) any |= w[i];
    if (any != 0) _hak_fail("double free or write after free in a page hakmem released", w);
}

void _hak_slab_recarve(hak_slab_t *s) {
    uint32_t pages = slab_pages(s);
    for (uint32_t p = 0; p < pages; p++)
        if ((s->page_mask[p >> 6] >> (p & 63)) & 1) check_untouched(s, p);
    hak_block_t *head = NULL, **tail = &head;
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->carved; i++) {
        uint32_t first, last;
        block_pages(s, i, &first, &last);
        if (!mask_any(s->page_mask, first, last)) continue;
        hak_block_t *b = (hak_block_t *)(s->start + (size_t)i * s->bsize);
        hak_mark_free(b, s->bsize);
        *tail = b;
        tail = &b->next;
        n++;
    }
    if (n != s->released) _hak_fail("released blocks of a slab do not add up", s);
    *tail = s->free;
    s->free = head;
    s->released = 0;
    memset(s->page_mask, 0, sizeof(s->page_mask));
    atomic_fetch_add_explicit(&_hak_refault_bytes, (uint64_t)n * s->bsize, memory_order_relaxed);
}

/* One heap's idle memory, idle since `older_than` or before (heap lock
 * held; the owner's, or another thread's for a heap it does not own). */
static size_t decay_heap(hak_heap_t *h, uint64_t older_than, uint64_t now) {
    size_t bytes = 0;
    _hak_spans_decay(h, older_than);
    for (unsigned cls = 0; cls < HAK_CLASSES; cls++) {
        hak_slab_t *s = h->empty[cls];
        while (s != NULL) {
            hak_slab_t *next = s->next;
            if (s->stamp <= older_than) {
                _hak_list_remove(&h->empty[cls], s);
                s->list = SLAB_IN_NONE;
                h->empty_count[cls]--;
                _hak_slab_retire(h, s, s->stamp);
            }
            s = next;
        }
        for (s = h->queue[cls]; s != NULL; s = s->next) {
            if (s->stamp == 0) s->stamp = now; /* queued since the last pass */
            if (s->stamp > older_than || s->current) continue;
            bytes += release_pages(s);
            s->stamp = now; /* looked at: not again before another delay */
        }
    }
    hak_segment_t *seg = h->segs.head;
    while (seg != NULL) {
        hak_segment_t *next = seg->next;
        bytes += _hak_segment_purge(seg, older_than);
        /* a segment without a slab goes, unless it is the heap's only one */
        if (seg->free_units == seg->units - 1 && (seg != h->segs.head || seg->next != NULL))
            _hak_segment_release(&h->segs, seg);
        seg = next;
    }
    atomic_fetch_add_explicit(&_hak_decay_runs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&_hak_decay_bytes, bytes, memory_order_relaxed);
    return bytes;
}

/* The tiers above decay with the heaps (the large tier: stash, BigCache). */
static size_t decay_hook(hak_heap_t *h, uint64_t delay) {
    if (_hak_heap_decay_hook == NULL) return 0;
    size_t bytes = _hak_heap_decay_hook(h, delay);
    atomic_fetch_add_explicit(&_hak_decay_bytes, bytes, memory_order_relaxed);
    return bytes;
}

size_t _hak_heaps_release(uint64_t deadline_ns, uint64_t delay) {
    size_t bytes = 0;
    hak_lock(&g_release_lock);
    hak_lock(&_hak_heaps_lock_);
    hak_heap_t *head = _hak_heaps_all;
    pthread_mutex_unlock(&_hak_heaps_lock_);
    uint64_t now = _hak_coarse_ns();
    uint64_t older = delay == 0 ? UINT64_MAX : (now > delay ? now - delay : 0);
    for (hak_heap_t *h = head; h != NULL && _hak_coarse_ns() <= deadline_ns; h = h->next_all) {
        int state = atomic_load_explicit(&h->state, memory_order_acquire);
        if (state == HEAP_DEAD) continue;
        if (state == HEAP_ABANDONED) {
            hak_lock(&_hak_heaps_lock_); /* no owner: guarded by g_lock */
            if (atomic_load_explicit(&h->state, memory_order_relaxed) == HEAP_ABANDONED) {
                hak_spin_lock(&h->lock);
                _hak_remote_drain(h);
                bytes += decay_heap(h, older, now);
                hak_spin_unlock(&h->lock);
            }
            pthread_mutex_unlock(&_hak_heaps_lock_);
            continue;
        }
        if (!hak_spin_trylock(&h->lock)) continue;
        bytes += decay_heap(h, older, now);
        hak_spin_unlock(&h->lock);
    }
    pthread_mutex_unlock(&g_release_lock);
    bytes += decay_hook(NULL, delay);
    return bytes;
}

/* From a heap's slow paths: its own decay when due, and now and then (one
 * thread at a time) the other heaps', whose threads may be idle or gone. */
void _hak_heap_tick_due(hak_heap_t *h) {
    h->slow_events = 0;
    uint64_t now = _hak_coarse_ns(), delay = delay_ns();
    if (now < h->next_decay) return;
    uint64_t period = delay / 2 > DECAY_MIN_PERIOD_NS ? delay / 2 : DECAY_MIN_PERIOD_NS;
    h->next_decay = now + period;
    hak_spin_lock(&h->lock);
    decay_heap(h, now > delay ? now - delay : 0, now);
    hak_spin_unlock(&h->lock);
    decay_hook(h, delay);
    uint64_t due = atomic_load_explicit(&g_next_global, memory_order_relaxed);
    if (now >= due && atomic_compare_exchange_strong(&g_next_global, &due, now + period))
        _hak_heaps_release(now + DECAY_PASS_BUDGET_NS, delay);
}

/* Out of memory or address space: everything the heap holds without a
 * block in use goes, now (its lock held by the caller). */
size_t _hak_heap_release_unused(hak_heap_t *h) {
    return decay_heap(h, UINT64_MAX, _hak_coarse_ns());
}

/* hak_trim: the caller's heap flushed, then everything idle released now. */
size_t _hak_heaps_trim(void) {
    hak_heap_t *me = _hak_tl_heap;
    size_t bytes = 0;
    if (hak_heap_owned(me)) {
        _hak_thread_flush();
        hak_spin_lock(&me->lock);
        bytes += decay_heap(me, UINT64_MAX, _hak_coarse_ns());
        hak_spin_unlock(&me->lock);
    }
    return bytes + _hak_heaps_release(UINT64_MAX, 0);
}

void _hak_release_lock(void) { hak_lock(&g_release_lock); }
void _hak_release_unlock(void) { pthread_mutex_unlock(&g_release_lock); }
