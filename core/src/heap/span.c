/* Spans: blocks past the mid tier up to HAK_SPAN_MAX, each a one-block
 * slab of whole units carved from its thread's segments. They need no
 * syscall, free like any small block (their descriptor says one block of
 * their size), go back to their segment when freed — resident until the
 * decay delay, so the next span of any size reuses them without faulting
 * pages in — and grow in place into free units that follow them. */
#include "heap_internal.h"

#include <errno.h>
#include <string.h>

/* A span's block starts a colour into its first unit (hak_colour_fit: the
 * heap's count of new spans), within the room its units have past its
 * size. A loop over the first word of live spans: 64 of 256 KiB, 14.5 ns
 * an access at offset 0, 0.8-1.2 with colours below 4 KiB; 256 of 64 KiB-1
 * MiB, 5.0 ns with colours below 4 KiB, 0.75 below 64 KiB (jemalloc 1.08,
 * which offsets its large blocks too). A span keeps SPAN_COLOUR_ROOM at
 * least for its colour, so a size that fills its units takes one unit
 * more: address space, and the one page the block reaches into. */
#define SPAN_COLOUR_ROOM 4096u
_Static_assert(HAK_COLOUR_RANGE <= HAK_UNIT_SIZE, "a span's colour lies in its first unit");

/* Units of a span of `size`; one `aligned` starts its unit and needs no
 * room for a colour (aligned mid-sized requests come here: api/alloc.c),
 * but takes a unit at least (an aligned request of 0 bytes). */
static uint32_t units_for(size_t size, bool aligned) {
    size_t room = aligned ? 0 : SPAN_COLOUR_ROOM;
    return (uint32_t)(((size ? size : 1) + room + HAK_UNIT_SIZE - 1) >> HAK_UNIT_SHIFT);
}

static uint32_t colour_of(const hak_slab_t *s) {
    return (uint32_t)(s->start & (HAK_UNIT_SIZE - 1));
}

/* Freed spans a heap keeps, at most this many units (2 MiB): a span freed
 * and taken again at once costs no descriptor work, and while kept its
 * block stays marked free, so a second free of it is caught. */
#define SPAN_KEEP_UNITS 32

void _hak_span_keep(hak_heap_t *h, hak_slab_t *s) {
    while (h->span_empty_units + s->span > SPAN_KEEP_UNITS && h->span_empty != NULL) {
        hak_slab_t *old = h->span_empty; /* the oldest is at the end of the list */
        while (old->next != NULL) old = old->next;
        _hak_kept_remove(h, old);
        _hak_slab_retire(h, old, old->stamp != 0 ? old->stamp : _hak_coarse_ns());
    }
    if (s->span > SPAN_KEEP_UNITS) {
        _hak_slab_retire(h, s, _hak_idle_stamp(h));
        return;
    }
    _hak_list_push(&h->span_empty, s);
    s->list = SLAB_IN_EMPTY;
    /* undated, unless a drain dates it: the heap's next decay pass dates
     * it, so it goes one pass later at most; reading the clock here was a
     * quarter of a span's free */
    s->stamp = h->drain_since;
    h->span_empty_units += s->span;
}

/* Every span is small enough to keep, so any may be parked. */
_Static_assert(((HAK_SPAN_MAX + SPAN_COLOUR_ROOM + HAK_UNIT_SIZE - 1) >> HAK_UNIT_SHIFT) <=
                   SPAN_KEEP_UNITS,
               "a span larger than the kept spans' room");

bool _hak_span_park(hak_heap_t *h, hak_slab_t *s) {
    if (atomic_load_explicit(&h->span_parked, memory_order_relaxed) != NULL) return false;
    atomic_store_explicit(&h->span_parked, s, memory_order_release);
    return true;
}

/* The parked span, taken off its slot (NULL: none). */
static hak_slab_t *unpark(hak_heap_t *h) {
    if (atomic_load_explicit(&h->span_parked, memory_order_relaxed) == NULL) return NULL;
    return atomic_exchange_explicit(&h->span_parked, NULL, memory_order_acquire);
}

void _hak_spans_decay(hak_heap_t *h, uint64_t older_than, uint64_t now) {
    hak_slab_t *parked = unpark(h);
    if (parked != NULL) _hak_slab_event_locked(h, parked); /* kept, dated below */
    hak_slab_t *s = h->span_empty;
    while (s != NULL) {
        hak_slab_t *next = s->next;
        if (s->stamp == 0) s->stamp = now;
        if (s->stamp <= older_than) {
            _hak_kept_remove(h, s);
            _hak_slab_retire(h, s, s->stamp);
        }
        s = next;
    }
}

/* Whether freed span s serves a block of `size` in `units` (with
 * `aligned`, only of colour 0: its block starts its unit). */
static bool serves(const hak_slab_t *s, uint32_t units, size_t size, bool aligned) {
    uint32_t colour = colour_of(s);
    return s->span == units && ((size_t)units << HAK_UNIT_SHIFT) - colour >= size &&
           (!aligned || colour == 0);
}

/* A kept span that serves `units` (and `aligned`), taken off the list. */
static hak_slab_t *take_kept(hak_heap_t *h, uint32_t units, size_t size, bool aligned) {
    for (hak_slab_t *s = h->span_empty; s != NULL; s = s->next) {
        if (!serves(s, units, size, aligned)) continue;
        _hak_kept_remove(h, s);
        /* undated: kept since the last decay pass, reused at once */
        HAK_REUSE_RECORD((uint64_t)units << HAK_UNIT_SHIFT,
                         s->stamp != 0 ? _hak_coarse_ns() - s->stamp : 0);
        return s;
    }
    return NULL;
}

/* Span s's block, handed out: cleared when asked (memory that does not read
 * zero). */
static void *hand_out(hak_slab_t *s, size_t size, bool clear) {
    void *p = (void *)s->start;
    ((hak_block_t *)p)->mark = 0; /* a stale mark in reused memory is not a free block */
    if (clear) memset(p, 0, size);
    return p;
}

static void *span_from(hak_heap_t *h, size_t size, bool zero, bool aligned) {
    uint32_t units = units_for(size, aligned);
    bool fresh = false;
    hak_slab_t *s = NULL;
    HAK_LOCKED(&h->lock) {
        s = take_kept(h, units, size, aligned);
        if (s != NULL) { /* kept: fresh stays false, so it is zeroed below if asked */
            s->used = 1;
            s->allocs++;
            break;
        }
        uint32_t colour = 0;
        if (!aligned) {
            size_t room = ((size_t)units << HAK_UNIT_SHIFT) - size;
            colour = (uint32_t)hak_colour_fit(++h->span_colour, room);
        }
        s = _hak_heap_slab_new(h, HAK_SPAN_CLASS, units, (units << HAK_UNIT_SHIFT) - colour,
                               &fresh);
        if (s != NULL) {
            s->start += colour;
            /* one block, handed out at once */
            hak_store_relaxed32(&s->carved, 1);
            s->used = 1;
            s->allocs = 1;
        }
    }
    if (s == NULL) return NULL;
    return hand_out(s, size, zero && !fresh);
}

/* The owner's parked span when it has `units` (and colour 0 when
 * `aligned`), handed out again without the heap's lock (it is on no list:
 * only the slot reached it); any other is kept as its free would have kept
 * it. */
static void *from_parked(hak_heap_t *h, uint32_t units, size_t size, bool zero, bool aligned) {
    hak_slab_t *s = unpark(h);
    if (s == NULL) return NULL;
    if (!serves(s, units, size, aligned)) {
        HAK_LOCKED(&h->lock) {
            _hak_slab_event_locked(h, s);
        }
        return NULL;
    }
    s->used = 1;
    s->allocs++;
    HAK_REUSE_RECORD((uint64_t)units << HAK_UNIT_SHIFT, 0);
    return hand_out(s, size, zero);
}

void *_hak_span_alloc(size_t size, bool zero, bool aligned) {
    hak_ensure_init();
    hak_slow_path_seen();
    hak_heap_t *h = _hak_heap_for_alloc();
    void *p = NULL;
    if (hak_heap_owned(h)) {
        p = from_parked(h, units_for(size, aligned), size, zero, aligned);
        if (p == NULL) p = span_from(h, size, zero, aligned);
        _hak_heap_tick(h);
    } else {
        HAK_LOCKED(&_hak_heaps_lock_) {
            p = span_from(_hak_heap_shared(), size, zero, aligned);
        }
    }
    if (p == NULL) errno = ENOMEM;
    return p;
}

bool _hak_span_grow(hak_slab_t *s, size_t size) {
    if (s->cls != HAK_SPAN_CLASS || size > HAK_SPAN_MAX ||
        atomic_load_explicit(&s->owner, memory_order_relaxed) != hak_thread_id())
        return false;
    hak_heap_t *h = s->heap;
    uint32_t units = (uint32_t)((size + colour_of(s) + HAK_UNIT_SIZE - 1) >> HAK_UNIT_SHIFT);
    bool grown = false;
    HAK_LOCKED(&h->lock) {
        grown = _hak_slab_extend(s, units, (units << HAK_UNIT_SHIFT) - colour_of(s));
    }
    return grown;
}
