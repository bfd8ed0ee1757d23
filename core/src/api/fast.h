/* The fast paths, inlined into every entry point that allocates or frees
 * small blocks: malloc's family (alloc.c) and C++'s operators new and
 * delete (cxx.c). An allocation pops from the current slab of the size's
 * class; when the slab runs dry the entry point's own slow path runs
 * (malloc's returns NULL with ENOMEM when no memory is left, operator
 * new's calls the new-handler or throws). A free pushes onto the block's
 * slab, checking what a sized free states. */
#ifndef HAKMEM_API_FAST_H
#define HAKMEM_API_FAST_H

#include "api.h"

/* An entry point's slow path of small blocks (the current slab ran dry). */
typedef void *(*hak_slow_fn)(size_t size);

/* malloc's slow paths (alloc.c): small sizes (the heap's, or the hardened
 * path; 0 bytes always come here), and the sizes past the mid tier. */
void *_hak_small_slow(size_t size);
void *_hak_big_alloc(size_t size, bool zero);
/* free of a block outside every segment: large ones, NULL, foreign pointers
 * (the arguments in the order that leaves a sized delete's where they are) */
void _hak_free_other(void *p, size_t size, bool sized, const char *call);
/* free of a pointer into a slab's first unit that is not its first block:
 * a span's block, which starts a colour into the unit (alloc.c) */
void _hak_free_head(void *p, size_t size, bool sized, const char *call);
/* _hak_size_fail (sized.c), not declared noreturn so that the fast path
 * jumps to it: a call would make every free save a register for it. */
__attribute__((cold)) void _hak_size_fail_jump(const void *p, size_t size, size_t usable,
                                               const char *call);

/* The list head is an index, taken only below the slab's carved count;
 * the list's end (HAK_NO_BLOCK), a slab with nothing (the empty heap's),
 * and a corrupted link all fail that one compare and go to the slow path,
 * which tells them apart. A thread without a heap sees the empty heap, so
 * its first call goes to the slow path, which gives it a heap. */
HAK_INLINE void *hak_slab_pop(hak_slab_t *s, size_t size, hak_slow_fn slow) {
    uint32_t i = s->free;
    if (unlikely(i >= s->carved)) return slow(size);
    return hak_slab_take(s, i);
}

#define HAK_DIRECT_SHIFT 4 /* malloc's table has a slot per 16 bytes of size */

/* The hot stack first (heap.h): the class's last frees to slabs that are
 * not current, still in cache (4 instructions more on a pop from the
 * current slab: the class from its slab, the stack's count). */
HAK_INLINE void *hak_tiny_alloc(size_t size, hak_slow_fn slow) { /* size <= HAK_TINY_MAX */
    hak_heap_t *h = _hak_tl_heap;
    hak_slab_t *s = h->direct[(size + (1u << HAK_DIRECT_SHIFT) - 1) >> HAK_DIRECT_SHIFT];
    void *p = hak_hot_pop(h, s->cls);
    if (p != NULL) return p;
    return hak_slab_pop(s, size, slow);
}

HAK_INLINE void *hak_small_alloc(size_t size, hak_slow_fn slow) { /* size <= HAK_MID_MAX */
    if (likely(size <= HAK_TINY_MAX)) return hak_tiny_alloc(size, slow);
    hak_heap_t *h = _hak_tl_heap;
    unsigned cls = hak_size_class(size);
    void *p = hak_hot_pop(h, cls);
    if (p != NULL) return p;
    return hak_slab_pop(h->fast[cls], size, slow);
}

/* Any size: `big` serves those past the mid tier (out of line, so the fast
 * path saves no register). */
HAK_INLINE void *hak_alloc(size_t size, hak_slow_fn slow, hak_slow_fn big) {
    if (likely(size <= HAK_TINY_MAX)) return hak_tiny_alloc(size, slow);
    if (likely(size <= HAK_MID_MAX)) return hak_small_alloc(size, slow);
    return big(size);
}

/* free's fast path: the block's slab from its address, the checks (a
 * pointer hakmem handed out, not an interior one, not free already, and
 * with `sized` a stated size that fits the block: a larger one cannot be
 * true, a smaller one can, as size classes round up and realloc shrinks
 * in place), then a push onto one of the slab's lists. Anything else —
 * another thread's block, an emptied or full slab, large blocks, foreign
 * pointers — goes to a slow path, which tells them apart. */
HAK_INLINE void hak_free_block(void *p, bool sized, size_t size, const char *call) {
    uintptr_t a = (uintptr_t)p;
    if (unlikely(hak_pagemap_get(a) != PM_SEGMENT)) {
        _hak_free_other(p, size, sized, call);
        return;
    }
    hak_slab_t *s = hak_slab_at(a);
    uint32_t i = hak_block_index(s, a & (HAK_UNIT_SIZE - 1));
    if (unlikely(i >= hak_load_racy32(&s->carved))) {
        /* a block in a later unit of a mid slab: its head's descriptor */
        if (s->kind != SLAB_TAIL) { /* a span's block (a colour into its unit), or no block */
            _hak_free_head(p, size, sized, call);
            return;
        }
        s -= s->span;
        i = hak_block_index(s, a - s->start);
        if (i >= hak_load_racy32(&s->carved)) {
            _hak_free_slow(p);
            return;
        }
    }
    if (sized && unlikely(size > s->usable)) {
        _hak_size_fail_jump(p, size, s->usable, call);
        return;
    }
    hak_block_t *b = p;
    uintptr_t mark = _hak_keys.free ^ a;
    if (unlikely(b->mark == mark)) { /* a double free: the slow path says so */
        _hak_free_slow(p);
        return;
    }
    if (unlikely(atomic_load_explicit(&s->owner, memory_order_relaxed) != hak_thread_id())) {
        _hak_free_remote(b, s); /* checked already: straight to the owner's batch */
        return;
    }
    b->mark = mark;
    hak_free_owned(s, b, i, mark);
}

#endif
