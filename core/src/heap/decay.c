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
 * the same lock. The owner itself, and anyone releasing a heap without an
 * owner (its thread exited: frees reach it only under its lock), also
 * moves a slab's local frees onto its free list, so that their pages can
 * go too. Blocks in released pages leave the free list; when the
 * slab runs dry they come back (recarve), after a check that nothing
 * wrote to those pages meanwhile. */
#include "heap_internal.h"

#include <string.h>

_Atomic uint64_t _hak_decay_runs, _hak_decay_bytes;

/* Shortest period between two decay passes of one heap, and between two
 * passes over the other heaps. */
#define DECAY_MIN_PERIOD_NS 20000000ull
/* Time a pass over a thread's own heap, or over the other heaps, may take
 * from a program's slow path (a malloc waits that long at most); a pass cut
 * short goes on after this many times its budget, so a backlog (hundreds of
 * MiB freed at once, threads that freed and exited) costs a working thread
 * at most a third of its time until it is gone (~0.2 ms per MiB here). */
#define DECAY_PASS_BUDGET_NS 2000000ull
#define DECAY_BACKLOG_GAP 2

static pthread_mutex_t g_release_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic uint64_t g_next_global;

static uint64_t delay_ns(void) { return (uint64_t)hak_opt(OPT_DECAY_MS) * 1000000ull; }

/* A pass's deadline passed (UINT64_MAX: none); read after the steps that
 * may make system calls. */
static bool past(uint64_t deadline) { return deadline != UINT64_MAX && _hak_now_ns() > deadline; }

/* Byte offsets to pages: a shift, the page size a power of two (a division
 * by it took 25-40 cycles, twice per free block of a slab whose pages go
 * back). */
static unsigned page_shift(void) { return hak_log2(_hak_page_size); }

/* Pages [first, last] of block i of a slab. */
static void block_pages(const hak_slab_t *s, uint32_t i, uint32_t *first, uint32_t *last) {
    size_t lo = (size_t)i * s->bsize;
    *first = (uint32_t)(lo >> page_shift());
    *last = (uint32_t)((lo + s->bsize - 1) >> page_shift());
}

static bool mask_any(const uint64_t *mask, uint32_t first, uint32_t last) {
    return hak_bit_next(mask, first, (size_t)last + 1, true) <= last;
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
        hak_link_set(hak_block_at(s, i), s->free);
        s->free = i;
        s->released--;
    }
    s->settled = 0;
}

/* Releases the pages of a slab (not current) whose carved blocks are all on
 * its free list; returns the bytes released. */
static size_t release_pages(hak_slab_t *s) {
    uint32_t pages = slab_pages(s), carved = s->carved;
    if (pages <= 1 || pages > HAK_SLAB_MAX_PAGES || s->free == HAK_NO_BLOCK ||
        s->capacity > HAK_LIST_BITS_MAX)
        return 0;
    uint64_t freebits[HAK_LIST_BITS_MAX / 64];
    uint32_t bad;
    if (!_hak_list_bits(s, freebits, &bad))
        _hak_list_corrupt(s, bad == HAK_NO_BLOCK ? (void *)s->start : hak_block_at(s, bad));
    uint64_t rel[HAK_SLAB_MAX_PAGES / 64] = {0};
    size_t carved_end = (size_t)carved * s->bsize;
    bool any = false;
    for (uint32_t p = 0; p < pages && (size_t)p * _hak_page_size < carved_end; p++) {
        if (hak_bit_get(s->page_mask, p)) continue;
        uint32_t first = (uint32_t)(((size_t)p * _hak_page_size) / s->bsize);
        uint32_t last = (uint32_t)(((size_t)(p + 1) * _hak_page_size - 1) / s->bsize);
        bool all = true;
        for (uint32_t i = first; i <= last && i < carved && all; i++)
            all = hak_bit_get(freebits, i);
        if (all) {
            hak_bit_set(rel, p);
            any = true;
        }
    }
    if (!any) return 0;
    /* the blocks in those pages leave the free list (relinked in order) */
    uint32_t head = HAK_NO_BLOCK;
    hak_block_t *tail = NULL;
    for (uint32_t i = s->free; i != HAK_NO_BLOCK;) {
        hak_block_t *b = hak_block_at(s, i);
        uint32_t next = hak_link_get(b), first, last;
        block_pages(s, i, &first, &last);
        if (mask_any(rel, first, last)) {
            s->released++;
        } else {
            if (tail != NULL) hak_link_set(tail, i);
            else head = i;
            tail = b;
        }
        i = next;
    }
    if (tail != NULL) hak_link_set(tail, HAK_NO_BLOCK);
    s->free = head;
    size_t bytes = 0;
    bool refused = false;
    for (uint32_t p = 0; p < pages;) {
        if (!hak_bit_get(rel, p)) {
            p++;
            continue;
        }
        uint32_t end = p;
        while (end < pages && hak_bit_get(rel, end)) end++;
        size_t len = (size_t)(end - p) * _hak_page_size;
        if (_hak_os_dontneed((uint8_t *)s->start + (size_t)p * _hak_page_size, len)) {
            for (uint32_t k = p; k < end; k++) hak_bit_set(s->page_mask, k);
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
 * means a block in it was freed twice (or written after its free). The
 * words of block b from word `from` on that lie on released pages are
 * checked. */
static void check_untouched(const hak_slab_t *s, const hak_block_t *b, size_t from) {
    unsigned shift = page_shift();
    uintptr_t end = (uintptr_t)b + s->bsize;
    for (uintptr_t a = (uintptr_t)b + from * sizeof(uint64_t); a < end;) {
        uint32_t p = (uint32_t)((a - s->start) >> shift);
        uintptr_t stop = s->start + ((uintptr_t)(p + 1) << shift);
        if (stop > end) stop = end;
        if (hak_bit_get(s->page_mask, p)) {
            uint64_t any = 0;
            for (const uint64_t *w = (const uint64_t *)a; (uintptr_t)w < stop; w++) any |= *w;
            if (any != 0)
                _hak_fail("double free or write after free in a page hakmem released", (void *)a);
        }
        a = stop;
    }
}

uint32_t _hak_slab_recarve(hak_slab_t *s) {
    uint32_t pages = slab_pages(s);
    bool fill = hak_hardened() && hak_fill_word() != 0;
    /* The blocks on released pages, page by page from the last, each block
     * once (one on two released pages goes with the later), linked in
     * front: in address order. Block by block, every carved block of the
     * slab cost two divisions, 13,000 instructions a recarve in larson.
     * Each is checked untouched first, but for the first block linked on a
     * released page: that one is linked, then checked past its link and
     * mark. Reading a released page maps the zero page, and the first write
     * then faults again: two faults a page, where the write alone takes one
     * (survivors with HAKMEM_DECAY_MS=0: 30 % fewer faults, 3.6 -> 4.9 M
     * ops/s). */
    uint32_t n = 0, head = s->free, below = s->carved; /* blocks from `below` on are done */
    uint32_t linked_on = UINT32_MAX; /* the released page a block was last linked on */
    for (uint32_t p = pages; p-- > 0 && below > 0;) {
        if (!hak_bit_get(s->page_mask, p)) continue;
        uint32_t lo = (uint32_t)(((size_t)p * _hak_page_size) / s->bsize);
        uint32_t hi = (uint32_t)(((size_t)(p + 1) * _hak_page_size - 1) / s->bsize) + 1;
        if (hi > below) hi = below;
        for (uint32_t i = hi; i-- > lo;) {
            hak_block_t *b = hak_block_at(s, i);
            uint32_t q, last; /* its pages */
            block_pages(s, i, &q, &last);
            bool first = q != linked_on && hak_bit_get(s->page_mask, q);
            if (first) {
                hak_link_set(b, head);
                hak_mark_free(b);
                linked_on = q;
            }
            check_untouched(s, b, first ? 2 : 0);
            if (fill) _hak_harden_fill(b, s->bsize); /* from its third word on */
            if (!first) {
                hak_mark_free(b);
                hak_link_set(b, head);
            }
            head = i;
            n++;
        }
        if (lo < below) below = lo;
    }
    if (n != s->released) _hak_fail("released blocks of a slab do not add up", s);
    s->free = head;
    s->released = 0;
    memset(s->page_mask, 0, sizeof(s->page_mask));
    atomic_fetch_add_explicit(&_hak_refault_bytes, (uint64_t)n * s->bsize, memory_order_relaxed);
    return n;
}

/* The slab's local frees join its free list (which release_pages reads):
 * for the owner, or for a heap without one. */
static bool merge_local(hak_slab_t *s) {
    uint32_t first = s->local_free;
    if (first == HAK_NO_BLOCK) return false;
    uint32_t last = first;
    for (uint32_t n = 0;; n++) { /* a list longer than the slab loops: written after free */
        if (last >= s->carved || n > s->carved) _hak_list_corrupt(s, (void *)s->start);
        uint32_t next = hak_link_get(hak_block_at(s, last));
        if (next == HAK_NO_BLOCK) break;
        last = next;
    }
    hak_link_set(hak_block_at(s, last), s->free);
    s->free = first;
    s->local_free = HAK_NO_BLOCK;
    s->settled = 0;
    return true;
}

/* A queued slab's free pages idle since `older_than` go; with `lists`, its
 * local frees join its free list first, idle as long as the slab (all of
 * them at once when everything goes). A slab that had local frees since
 * the last pass (its list's head moved) is idle from now on, its list not
 * walked: a walk reads every block freed since, a cache miss each, for
 * memory that stays (survivors, 10 rounds: 10.5 -> 11.9 M ops/s; under
 * cachegrind 9 % fewer L1 misses). A free list looked at once is not
 * walked again until it grows. Returns whether it was walked. */
static bool decay_slab(hak_slab_t *s, uint64_t older_than, uint64_t now, bool lists,
                       size_t *bytes) {
    if (s->stamp == 0) s->stamp = now; /* queued since the last pass */
    if (lists && older_than != UINT64_MAX && s->local_free != s->local_seen) {
        s->local_seen = s->local_free;
        s->stamp = now;
        return false;
    }
    if (s->stamp > older_than) return false;
    if (lists && merge_local(s)) s->local_seen = HAK_NO_BLOCK;
    if (s->settled) return false;
    s->settled = 1;
    *bytes += release_pages(s);
    if (!s->settled) s->stamp = now; /* refused: tried again a delay later */
    return true;
}

/* The block on top of class cls's hot stack (NULL: empty): every push and pop changes it. */
static const hak_block_t *hot_top(const hak_heap_t *h, unsigned cls) {
    uint32_t n = h->hot_n[cls];
    return n == 0 ? NULL : h->hot[cls][n - 1];
}

/* The owner's pass (heap lock held): a class whose current slab and hot
 * stack gave out nothing for the delay — no block popped or freed onto
 * them, no refill — gives them up, dated idle since the class was last
 * used, so that this pass treats the slabs like any other and their free
 * pages go back. A thread that had a burst of one size and went on with
 * others kept that burst's last slab, its free blocks resident, for as
 * long as it lived (at most a few hundred KiB per class, for each such
 * class and thread). Only the owner may: malloc pops from its current
 * slabs and hot stacks without a lock. */
static void idle_classes(hak_heap_t *h, uint64_t now, uint64_t delay) {
    for (unsigned cls = 0; cls < HAK_CLASSES; cls++) {
        hak_slab_t *s = h->cur[cls];
        hak_class_watch_t *w = &h->watch[cls];
        if (s != &_hak_no_slab) hak_slab_lifo_settle(s); /* its count moves with its frees */
        _hak_hot_pass(h, cls);
        const hak_block_t *hot = hot_top(h, cls);
        uint64_t pops = h->hot_pops[cls];
        if (w->slab != s || w->free != s->free || w->allocs != s->allocs || w->hot != hot ||
            w->hot_pops != pops) {
            *w = (hak_class_watch_t){.slab = s,
                                     .allocs = s->allocs,
                                     .free = s->free,
                                     .hot = hot,
                                     .hot_pops = pops,
                                     .since = now};
            continue;
        }
        if (now - w->since < delay ||
            (hot == NULL && (s == &_hak_no_slab ||
                             (s->free == HAK_NO_BLOCK && s->local_free == HAK_NO_BLOCK))))
            continue;
        h->drain_since = w->since;
        _hak_class_uncurrent(h, cls);
        h->drain_since = 0;
        if (s->list == SLAB_IN_QUEUE) merge_local(s); /* its local frees idle as long */
    }
}

/* One heap's idle memory, idle since `older_than` or before (heap lock
 * held; the owner's, or another thread's for a heap it does not own), until
 * the deadline: what is left waits for the next pass. `lists`: the caller
 * may move the slabs' local frees (it is the owner, or the heap has none). */
static size_t decay_heap(hak_heap_t *h, uint64_t older_than, uint64_t now, bool lists,
                         uint64_t deadline) {
    size_t bytes = 0;
    _hak_spans_decay(h, older_than, now);
    for (unsigned cls = 0; cls < HAK_CLASSES; cls++) {
        /* what the class gave back before this pass no longer asks for
         * more kept slabs; a kept slab idle for the delay asks for one less */
        hak_slab_sizing_t *z = &h->sizing[cls];
        z->given = 0;
        hak_slab_t *s = h->empty[cls];
        while (s != NULL) {
            hak_slab_t *next = s->next;
            if (s->stamp <= older_than) {
                _hak_kept_remove(h, s);
                _hak_slab_retire(h, s, s->stamp);
                if (z->keep > 0) z->keep--;
            }
            s = next;
        }
    }
    /* free units first: the most bytes for the time (whole runs of pages) */
    hak_segment_t *seg = h->segs.head;
    while (seg != NULL) {
        hak_segment_t *next = seg->next;
        bytes += _hak_segment_purge(seg, older_than);
        /* a segment without a slab goes once its units were idle for the
         * delay (the program may be between two bursts of the same work),
         * unless it is the heap's only one */
        if (seg->free_units == seg->units - 1 && (seg != h->segs.head || seg->next != NULL) &&
            _hak_segment_idle(seg))
            _hak_segment_release(&h->segs, seg);
        seg = next;
        if (past(deadline)) goto out;
    }
    /* then the free pages of slabs in use, whose free lists are walked */
    for (unsigned cls = 0; cls < HAK_CLASSES; cls++)
        for (hak_slab_t *s = h->queue[cls]; s != NULL; s = s->next)
            if (!s->current && decay_slab(s, older_than, now, lists, &bytes) && past(deadline))
                goto out;
out:
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
    HAK_LOCKED(&g_release_lock) {
        hak_heap_t *head = NULL;
        HAK_LOCKED(&_hak_heaps_lock_) {
            head = _hak_heaps_all;
        }
        uint64_t now = _hak_coarse_ns();
        uint64_t older = delay == 0 ? UINT64_MAX : (now > delay ? now - delay : 0);
        for (hak_heap_t *h = head; h != NULL && !past(deadline_ns); h = h->next_all) {
            int state = atomic_load_explicit(&h->state, memory_order_acquire);
            if (state == HEAP_DEAD) continue;
            if (state == HEAP_ABANDONED) {
                HAK_LOCKED(&_hak_heaps_lock_) { /* no owner: the registry lock guards it */
                    if (atomic_load_explicit(&h->state, memory_order_relaxed) == HEAP_ABANDONED) {
                        HAK_LOCKED(&h->lock) {
                            _hak_remote_drain(h);
                            bytes += decay_heap(h, older, now, true, deadline_ns);
                        }
                    }
                }
                continue;
            }
            if (!hak_spin_trylock(&h->lock)) continue;
            /* a live thread's local frees are its own; the shared heap's arrive under its lock */
            bytes += decay_heap(h, older, now, state == HEAP_SHARED, deadline_ns);
            hak_spin_unlock(&h->lock);
        }
    }
    bytes += decay_hook(NULL, delay);
    return bytes;
}

/* From a heap's slow paths: its own decay when due, and now and then (one
 * thread at a time) the other heaps', whose threads may be idle or gone. */
void _hak_heap_tick_due(hak_heap_t *h) {
    h->slow_events = 0;
    uint64_t now = _hak_coarse_ns(), delay = delay_ns(), deadline;
    uint64_t period = delay / 2 > DECAY_MIN_PERIOD_NS ? delay / 2 : DECAY_MIN_PERIOD_NS;
    const uint64_t gap = DECAY_BACKLOG_GAP * DECAY_PASS_BUDGET_NS;
    if (now >= h->next_decay) {
        deadline = _hak_now_ns() + DECAY_PASS_BUDGET_NS;
        HAK_LOCKED(&h->lock) {
            idle_classes(h, now, delay);
            decay_heap(h, now > delay ? now - delay : 0, now, true, deadline);
        }
        h->next_decay = now + (past(deadline) ? gap : period);
        decay_hook(h, delay);
    }
    uint64_t due = atomic_load_explicit(&g_next_global, memory_order_relaxed);
    if (now >= due && atomic_compare_exchange_strong(&g_next_global, &due, now + period)) {
        deadline = _hak_now_ns() + DECAY_PASS_BUDGET_NS;
        _hak_heaps_release(deadline, delay);
        if (past(deadline)) atomic_store_explicit(&g_next_global, now + gap, memory_order_relaxed);
    }
}

/* Out of memory or address space: everything the heap holds without a
 * block in use goes, now (its lock held by the caller). */
size_t _hak_heap_release_unused(hak_heap_t *h) {
    return decay_heap(h, UINT64_MAX, _hak_coarse_ns(), true, UINT64_MAX);
}

/* hak_trim: the caller's heap flushed, then everything idle released now. */
size_t _hak_heaps_trim(void) {
    hak_heap_t *me = _hak_tl_heap;
    size_t bytes = 0;
    if (hak_heap_owned(me)) {
        _hak_thread_flush();
        HAK_LOCKED(&me->lock) {
            bytes += decay_heap(me, UINT64_MAX, _hak_coarse_ns(), true, UINT64_MAX);
        }
    }
    return bytes + _hak_heaps_release(UINT64_MAX, 0);
}

void _hak_release_lock(void) { hak_lock(&g_release_lock); }
void _hak_release_unlock(void) { hak_unlock(&g_release_lock); }
