/* What the heap layer's files share and nobody else uses. */
#ifndef HAKMEM_HEAP_INTERNAL_H
#define HAKMEM_HEAP_INTERNAL_H

#include "heap.h"

extern hak_slab_t _hak_no_slab;         /* holds nothing: malloc through it goes slow */
extern hak_heap_t _hak_empty_heap;      /* a thread's heap before it has one */
extern hak_heap_t _hak_exited_heap;     /* after its exit hook ran */
extern hak_heap_t *_hak_heaps_all;      /* registry: grows at its head, heaps never freed */
extern pthread_mutex_t _hak_heaps_lock_;

/* refill.c */
/* Blocks on the slab list starting at index `head` (a walk); a link past
 * the carved blocks or a cycle stops the process (a write after free). */
uint32_t _hak_list_length(const hak_slab_t *s, uint32_t head);
__attribute__((noreturn, cold)) void _hak_list_corrupt(const hak_slab_t *s, const void *holder);
/* Blocks of a slab whose malloc list a bitmap on the stack can map (64 KiB
 * of 16 B blocks: a tiny slab). */
#define HAK_LIST_BITS_MAX 4096u
/* Sets a bit in `bits` ((carved + 63) / 64 words, cleared here) for every
 * block on s's malloc list (s->carved <= HAK_LIST_BITS_MAX). False when a
 * link leads past the carved blocks or back to a block already seen;
 * `bad` is then the block whose link it is (HAK_NO_BLOCK: the list's head). */
bool _hak_list_bits(const hak_slab_t *s, uint64_t *bits, uint32_t *bad);
void _hak_list_push(hak_slab_t **head, hak_slab_t *s);
void _hak_list_remove(hak_slab_t **head, hak_slab_t *s);
void _hak_slab_queue(hak_heap_t *h, hak_slab_t *s);
void _hak_slab_retire(hak_heap_t *h, hak_slab_t *s, uint64_t now);
/* An empty slab a heap kept (a class's, or a kept span) leaves its list. */
void _hak_kept_remove(hak_heap_t *h, hak_slab_t *s);
/* A new slab for cls (heap lock held), NULL when the OS refuses memory.
 * What the heap's segments hold goes first: their free units (resident
 * ones first), then the empty slabs the classes keep, idlest first, until
 * a run of `units` is free; only then a new segment. A program whose sizes
 * drift (a burst of one size band, then of another) would otherwise map
 * new memory for each band while the last band's empty slabs sit resident
 * in their classes' lists. A kept slab goes after the segments' untouched
 * units: while it is kept, a second free of its blocks is caught. */
hak_slab_t *_hak_heap_slab_new(hak_heap_t *h, unsigned cls, uint32_t units, uint32_t bsize,
                               bool *fresh);
void _hak_slab_event_locked(hak_heap_t *h, hak_slab_t *s);
/* The current slab of cls stops being current (heap lock held, by its
 * owner): queued, or emptied when none of its blocks is out; the blocks of
 * the class's hot stack go back to their slabs first. */
void _hak_class_uncurrent(hak_heap_t *h, unsigned cls);
void _hak_heap_uncurrent(hak_heap_t *h);  /* every current slab queued or emptied */
void _hak_heap_prewarm(hak_heap_t *h);
void _hak_refill_init(void);                /* malloc's size-indexed table, hot stacks' room */
void _hak_hot_reset(hak_heap_t *h);         /* every hot stack's first room (they are empty) */
/* The owner's decay pass for class cls's hot stack (heap lock held): its
 * grown room halves unless a free found it full since the last pass. */
void _hak_hot_pass(hak_heap_t *h, unsigned cls);

/* harden.c */
void _hak_quarantine_flush(hak_heap_t *h); /* every held block freed (flush, exit) */

/* span.c */
void _hak_span_keep(hak_heap_t *h, hak_slab_t *s);        /* a freed span, kept or given back */
/* The owner's free of span s (used 0), parked in h's slot without the
 * heap's lock when the slot is empty: the next span of its size takes it
 * back at once, and a decay pass (any thread's, with the lock) keeps it as
 * its free would have. False: not parked. */
bool _hak_span_park(hak_heap_t *h, hak_slab_t *s);
/* Kept spans idle since older_than go; undated ones are dated `now`. */
void _hak_spans_decay(hak_heap_t *h, uint64_t older_than, uint64_t now);

/* remote.c */
void _hak_remote_drain(hak_heap_t *h);      /* heap lock held */
void _hak_remote_flush_all(hak_heap_t *h);  /* the thread's batches sent */
void _hak_remote_flush_some(hak_heap_t *h); /* those that waited long enough */

/* decay.c */
uint32_t _hak_slab_recarve(hak_slab_t *s);  /* blocks of released pages back on the list: how many */
void _hak_heap_tick_due(hak_heap_t *h);     /* the clock is looked at: maybe time to decay */
size_t _hak_heap_release_unused(hak_heap_t *h); /* all idle memory now; heap lock held */

/* heap.c */
extern hak_decay_fn _hak_heap_decay_hook;
void _hak_heaps_counts(uint64_t *created, uint64_t *reused, uint64_t *live);
hak_heap_t *_hak_heap_acquire(void);

/* Slow paths of a heap between two looks at the clock. */
#define HAK_DECAY_CHECK_EVENTS 16

/* A slow path ran: every HAK_DECAY_CHECK_EVENTS of them the heap looks at
 * the clock (decay.c); inline, so the others cost an increment. */
HAK_INLINE void _hak_heap_tick(hak_heap_t *h) {
    if (unlikely(++h->slow_events >= HAK_DECAY_CHECK_EVENTS)) _hak_heap_tick_due(h);
}

/* The heap a slow path allocates from: the thread's, which its first
 * allocation creates (the shared heap while hakmem starts up, or without
 * thread caches). */
HAK_INLINE hak_heap_t *_hak_heap_for_alloc(void) {
    hak_heap_t *h = _hak_tl_heap;
    if (h == &_hak_empty_heap && hak_opt(OPT_TCACHE) && !_hak_init_in_progress_here()) {
        hak_heap_t *mine = _hak_heap_acquire();
        if (mine != NULL) h = mine;
    }
    return h;
}

/* When memory a free just gave back went idle: now, or for a drain of
 * other threads' frees, when they were sent (for an idle class's slab,
 * when it was last used). */
HAK_INLINE uint64_t _hak_idle_stamp(const hak_heap_t *h) {
    return h->drain_since != 0 ? h->drain_since : _hak_coarse_ns();
}

#endif
