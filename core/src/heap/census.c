/* What the heaps hold, for statistics and ACE: each heap's counters plus
 * those its live slabs keep themselves (the fast paths count per slab, so
 * nothing is counted twice). Slab counters are read without the owner's
 * cooperation: exact for the calling thread, an estimate for others. */
#include "heap_internal.h"

#include <string.h>

#ifdef HAK_TSAN
/* the owner's fast paths count without atomics; a racy read is the point */
#define HAK_RACY_READ __attribute__((no_sanitize("thread")))
#else
#define HAK_RACY_READ
#endif

/* Blocks on a slab list from `head`: a walk, bounded by the carved blocks. */
HAK_RACY_READ static uint32_t list_count(const hak_slab_t *s, uint32_t head, uint32_t carved) {
    uint32_t n = 0;
    for (uint32_t i = head; i < carved && n < carved; n++) i = hak_link_get(hak_block_at(s, i));
    return n;
}

/* What is left on a current slab's malloc list and its local frees, which
 * counted as handed out when they joined. Exact on the calling thread's
 * own heap; another thread's lists change under it. */
HAK_RACY_READ static uint32_t list_rest(const hak_slab_t *s) {
    if (!*(volatile const uint8_t *)&s->current) return 0;
    uint32_t carved = *(volatile const uint32_t *)&s->carved;
    return list_count(s, *(volatile const uint32_t *)&s->free, carved) +
           list_count(s, *(volatile const uint32_t *)&s->local_free, carved);
}

/* Blocks of a live slab handed out and not yet freed. */
HAK_RACY_READ static uint64_t slab_out(const hak_slab_t *s, uint32_t rest) {
    int32_t used = *(volatile const int32_t *)&s->used;
    if (*(volatile const uint8_t *)&s->full) return (uint64_t)(s->capacity - s->requeue) + (uint64_t)used;
    int32_t cur = *(volatile const uint8_t *)&s->current + (int32_t)rest;
    return used > cur ? (uint64_t)(used - cur) : 0;
}

HAK_RACY_READ static uint64_t slab_allocs(const hak_slab_t *s, uint32_t rest) {
    uint64_t allocs = *(volatile const uint64_t *)&s->allocs & ~HAK_ALLOCS_UNSORTED;
    if (*(volatile const uint8_t *)&s->current)
        allocs += (uint32_t)(HAK_LIFO_PERIOD - *(volatile const int32_t *)&s->lifo_left);
    return allocs > rest ? allocs - rest : 0;
}

/* Blocks on a heap's hot stack of class c, which its owner pushes and
 * pops without a lock (and empties at its exit). */
HAK_RACY_READ static uint32_t hot_count(const hak_heap_t *h, unsigned c) {
    return *(volatile const uint8_t *)&h->hot_n[c];
}

static void add_heap(hak_counters_t *out, hak_heap_t *h) {
    out->span_allocs += hak_ctr_get(&h->ctr.span_allocs);
    out->span_frees += hak_ctr_get(&h->ctr.span_frees);
    out->remote_frees[HAK_SPAN_CLASS] += hak_ctr_get(&h->ctr.remote_frees[HAK_SPAN_CLASS]);
    out->remote_batches += hak_ctr_get(&h->ctr.remote_batches);
    for (unsigned c = 0; c < HAK_CLASSES; c++) {
        out->allocs[c] += hak_ctr_get(&h->ctr.allocs[c]);
        /* a block held in quarantine is freed, though still out of its slab */
        out->frees[c] += hak_ctr_get(&h->ctr.frees[c]) + hak_ctr_get(&h->ctr.held[c]);
        out->held[c] += hak_ctr_get(&h->ctr.held[c]);
        out->misses[c] += hak_ctr_get(&h->ctr.misses[c]);
        /* a hot stack's blocks are freed, though still out of their slabs,
         * and what malloc took from it the slabs never saw */
        uint64_t pops = hak_ctr_get(&h->hot_pops[c]);
        out->allocs[c] += pops;
        out->frees[c] += pops + hot_count(h, c);
        out->remote_frees[c] += hak_ctr_get(&h->ctr.remote_frees[c]);
        out->flushes[c] += hak_ctr_get(&h->ctr.flushes[c]);
    }
    if (atomic_load_explicit(&h->state, memory_order_relaxed) == HEAP_DEAD) return;
    HAK_LOCKED(&h->lock) { /* the segment list and slab tables stay put */
        for (hak_segment_t *seg = h->segs.head; seg != NULL; seg = seg->next) {
            for (uint32_t u = 1; u < seg->units; u++) {
                const hak_slab_t *s = hak_seg_slab(seg, u);
                if (s->kind != SLAB_HEAD) continue;
                uint32_t rest = s->cls == HAK_SPAN_CLASS ? 0 : list_rest(s);
                uint64_t allocs = slab_allocs(s, rest), out_now = slab_out(s, rest);
                if (s->cls == HAK_SPAN_CLASS) {
                    out->span_allocs += allocs;
                    out->span_frees += allocs - out_now;
                    out->span_bytes_in_use += out_now * s->bsize;
                    u += s->span - 1u;
                    continue;
                }
                out->allocs[s->cls] += allocs;
                out->frees[s->cls] += allocs > out_now ? allocs - out_now : 0;
                u += s->span - 1u;
            }
        }
    }
}

void _hak_heaps_sum(hak_counters_t *out, uint64_t *created, uint64_t *reused, uint64_t *live) {
    memset(out, 0, sizeof(*out));
    /* The registry only grows at its head and heaps are never freed: it is
     * walked without the registry lock, so no heap's lock is waited for under
     * it (an owner may hold its own and want the registry lock). */
    hak_heap_t *head = NULL;
    HAK_LOCKED(&_hak_heaps_lock_) {
        head = _hak_heaps_all;
        _hak_heaps_counts(created, reused, live);
    }
    for (hak_heap_t *h = head; h != NULL; h = h->next_all) add_heap(out, h);
}

/* Bytes idle in empty slabs the heaps keep, remote frees queued, heaps with
 * a thread; read racily: an estimate is all ACE needs. */
void _hak_heaps_probe(uint64_t *cached_bytes, uint64_t *backlog, uint64_t *live) {
    uint64_t bytes = 0, queued = 0, created, reused;
    HAK_LOCKED(&_hak_heaps_lock_) {
        for (hak_heap_t *h = _hak_heaps_all; h != NULL; h = h->next_all) {
            if (atomic_load_explicit(&h->state, memory_order_relaxed) != HEAP_OWNED) continue;
            for (unsigned c = 0; c < HAK_CLASSES; c++)
                bytes += (uint64_t)hak_load_relaxed32(&h->empty_count[c]) *
                         ((uint64_t)_hak_slab_units[hak_load_relaxed32(&h->sizing[c].level)][c]
                          << HAK_UNIT_SHIFT);
            int32_t q = (int32_t)atomic_load_explicit(&h->remote_count, memory_order_relaxed);
            queued += q > 0 ? (uint64_t)q : 0;
        }
        _hak_heaps_counts(&created, &reused, live);
    }
    *cached_bytes = bytes;
    *backlog = queued;
}
