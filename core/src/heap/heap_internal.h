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
void _hak_list_push(hak_slab_t **head, hak_slab_t *s);
void _hak_list_remove(hak_slab_t **head, hak_slab_t *s);
void _hak_slab_queue(hak_heap_t *h, hak_slab_t *s);
void _hak_slab_retire(hak_heap_t *h, hak_slab_t *s, uint64_t now);
void _hak_slab_event_locked(hak_heap_t *h, hak_slab_t *s);
void *_hak_heap_alloc(hak_heap_t *h, unsigned cls);
void _hak_heap_uncurrent(hak_heap_t *h);  /* every current slab queued or emptied */
void _hak_heap_prewarm(hak_heap_t *h);
void _hak_refill_init(void);                /* malloc's size-indexed table */

/* span.c */
void _hak_span_keep(hak_heap_t *h, hak_slab_t *s);        /* a freed span, kept or given back */
void _hak_spans_decay(hak_heap_t *h, uint64_t older_than); /* kept spans idle since then go */

/* remote.c */
void _hak_remote_drain(hak_heap_t *h);      /* heap lock held */
void _hak_remote_flush_all(hak_heap_t *h);  /* the thread's batches sent */
void _hak_remote_flush_some(hak_heap_t *h); /* those that waited long enough */

/* decay.c */
void _hak_slab_recarve(hak_slab_t *s);      /* blocks of released pages back on the list */
void _hak_heap_tick(hak_heap_t *h);         /* a slow path ran: maybe time to decay */
size_t _hak_heap_release_unused(hak_heap_t *h); /* all idle memory now; heap lock held */

/* heap.c */
extern hak_decay_fn _hak_heap_decay_hook;
void _hak_heaps_counts(uint64_t *created, uint64_t *reused, uint64_t *live);
hak_heap_t *_hak_heap_acquire(void);

#endif
