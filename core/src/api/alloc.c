/* The allocation API: size dispatch, the fast paths (a pop from or push to
 * the calling thread's bin), pointer validation, and the libc semantics
 * (errno, overflow, alignment rules, realloc). */
#include "api.h"

#include <errno.h>
#include <string.h>

#ifdef HAK_DEBUG
static void check_poison(hak_block_t *b, uint32_t bsize) {
    const uint8_t *p = (const uint8_t *)b;
    for (uint32_t i = sizeof(hak_block_t); i < bsize; i++)
        if (p[i] != HAK_POISON) _hak_fail("block written after it was freed", b);
}
#endif

HAK_INLINE void *small_alloc(size_t size) {
    unsigned cls = hak_size_class(size);
    hak_heap_t *h = _hak_tl_heap;
    if (likely(hak_heap_owned(h))) {
        hak_bin_t *bin = &h->bin[cls];
        hak_block_t *b = bin->head;
        if (likely(b != NULL)) {
            bin->head = b->next;
            bin->count--;
#ifdef HAK_DEBUG
            _hak_debug_check_block(h, b, cls);
            check_poison(b, _hak_class_size[cls]);
#endif
            b->mark = 0;
            hak_ctr_inc(&h->ctr.allocs[cls]);
            return b;
        }
    }
    return _hak_small_alloc_slow(size, cls);
}

/* Locates the slab of a small block, or fails: the pointer must lie in a
 * live slab at the start of a block that was handed out. */
HAK_INLINE hak_slab_t *small_locate(uintptr_t a, hak_segment_t *seg) {
    uintptr_t unit = (a - (uintptr_t)seg) >> HAK_UNIT_SHIFT;
    if (unlikely(unit >= HAK_CHUNK_UNITS && unit >= seg->units))
        _hak_fail("free of a pointer hakmem did not allocate", (void *)a);
    hak_slab_t *slab = &seg->slab[unit];
    if (slab->kind != SLAB_HEAD) {
        if (unlikely(slab->kind != SLAB_TAIL))
            _hak_fail("free of a pointer hakmem did not allocate (no live slab)", (void *)a);
        slab -= slab->span;
    }
    /* Handed-out blocks are the first `carved`; anything else is interior. */
    if (unlikely(hak_block_index(slab, a - slab->start) >= hak_load_relaxed32(&slab->carved)))
        _hak_fail("free of an interior or invalid pointer", (void *)a);
    return slab;
}

static void free_other(void *p, unsigned pm);

void hak_free(void *p) {
    if (unlikely(p == NULL)) return;
    uintptr_t a = (uintptr_t)p;
    unsigned pm = hak_pagemap_get(a);
    if (unlikely(pm != PM_SEGMENT)) {
        free_other(p, pm);
        return;
    }
    hak_segment_t *seg = (hak_segment_t *)(a & ~(HAK_CHUNK_SIZE - 1));
    hak_slab_t *slab = small_locate(a, seg);
    hak_block_t *b = p;
    uint32_t bsize = slab->bsize;
    if (unlikely(hak_is_marked_free(b))) _hak_fail("double free", p);
    hak_heap_t *h = _hak_tl_heap;
    if (likely(seg->heap == h)) {
        unsigned cls = slab->cls;
        hak_bin_t *bin = &h->bin[cls];
        hak_mark_free(b, bsize);
        b->next = bin->head;
        bin->head = b;
        hak_ctr_inc(&h->ctr.frees[cls]);
        if (unlikely(++bin->count >
                     atomic_load_explicit(&_hak_tcache_cap[cls], memory_order_relaxed)))
            _hak_bin_flush(h, cls);
        return;
    }
    _hak_small_free_slow(seg, slab, b);
}

/* Pointers in a segment's later chunks, large blocks, and foreign ones. */
static void free_other(void *p, unsigned pm) {
    uintptr_t a = (uintptr_t)p;
    uintptr_t base = hak_region_base(a, pm);
    switch (hak_pm_kind(pm)) {
    case PM_SEGMENT: {
        hak_segment_t *seg = (hak_segment_t *)base;
        hak_slab_t *slab = small_locate(a, seg);
        hak_block_t *b = p;
        if (hak_is_marked_free(b)) _hak_fail("double free", p);
        if (seg->heap == _hak_tl_heap) {
            hak_heap_t *h = seg->heap;
            unsigned cls = slab->cls;
            hak_mark_free(b, slab->bsize);
            b->next = h->bin[cls].head;
            h->bin[cls].head = b;
            hak_ctr_inc(&h->ctr.frees[cls]);
            if (++h->bin[cls].count >
                atomic_load_explicit(&_hak_tcache_cap[cls], memory_order_relaxed))
                _hak_bin_flush(h, cls);
        } else {
            _hak_small_free_slow(seg, slab, b);
        }
        return;
    }
    case PM_LARGE:
        _hak_large_free(p);
        return;
    default:
        _hak_fail("free of a pointer hakmem did not allocate", p);
    }
}

void *hak_malloc(size_t size) {
    if (likely(size <= HAK_MID_MAX)) return small_alloc(size);
    hak_ensure_init();
    return _hak_large_alloc(size, 0, false);
}

void *hak_calloc(size_t count, size_t size) {
    size_t total;
    if (unlikely(__builtin_mul_overflow(count, size, &total))) {
        errno = ENOMEM;
        return NULL;
    }
    if (total > HAK_MID_MAX) {
        hak_ensure_init();
        return _hak_large_alloc(total, 0, true);
    }
    void *p = small_alloc(total);
    if (p != NULL) memset(p, 0, total);
    return p;
}

static size_t small_usable(uintptr_t a, unsigned pm) {
    uintptr_t base = hak_region_base(a, pm);
    return small_locate(a, (hak_segment_t *)base)->bsize;
}

size_t hak_usable_size(const void *p) {
    if (p == NULL) return 0;
    uintptr_t a = (uintptr_t)p;
    unsigned pm = hak_pagemap_get(a);
    if (hak_pm_kind(pm) == PM_SEGMENT) return small_usable(a, pm);
    if (hak_pm_kind(pm) == PM_LARGE) return _hak_large_usable(p);
    _hak_fail("usable size of a pointer hakmem did not allocate", p);
}

/* Smallest class whose blocks are all `align`-aligned and hold `size`:
 * slabs start unit-aligned, so a block size that is a multiple of align
 * keeps every block aligned. */
static int aligned_class(size_t size, size_t align) {
    size_t want = size > align ? size : align;
    if (want > HAK_MID_MAX || align > HAK_MAX_ALIGN_SMALL) return -1;
    unsigned cls = hak_size_class(want);
    while (cls < HAK_CLASSES && (_hak_class_size[cls] & (align - 1)) != 0) cls++;
    return cls < HAK_CLASSES ? (int)cls : -1;
}

#define PLAIN_ALIGN 8 /* alignment every malloc result has anyway */
#define ALIGN_MAX ((size_t)1 << 62) /* memalign rounds up to a power of two: no further */

static void *aligned_alloc_pow2(size_t align, size_t size) {
    if (align <= PLAIN_ALIGN) return hak_malloc(size);
    hak_ensure_init();
    int cls = aligned_class(size, align);
    if (cls >= 0) return small_alloc(_hak_class_size[cls]);
    return _hak_large_alloc(size, align, false);
}

void *hak_aligned_alloc(size_t alignment, size_t size) {
    if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
        errno = EINVAL;
        return NULL;
    }
    return aligned_alloc_pow2(alignment, size);
}

int hak_posix_memalign(void **out, size_t alignment, size_t size) {
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) return EINVAL;
    int saved = errno;
    void *p = aligned_alloc_pow2(alignment, size);
    if (p == NULL) {
        errno = saved;
        return ENOMEM;
    }
    *out = p;
    return 0;
}

void *hak_memalign(size_t alignment, size_t size) {
    if (alignment > ALIGN_MAX) {
        errno = EINVAL;
        return NULL;
    }
    size_t a = 1;
    while (a < alignment) a <<= 1; /* glibc rounds up to a power of two */
    return aligned_alloc_pow2(a, size);
}

/* A small block shrunk to half its size or more stays where it is, and so
 * does any block of 64 bytes or less: moving would save too little. */
#define SHRINK_IN_PLACE 2
#define SHRINK_KEEP_BYTES 64

/* The block moves: a new one, the contents, the old one freed. */
static void *moved(void *p, size_t size, size_t old, void (*free_old)(void *)) {
    void *q = hak_malloc(size);
    if (q == NULL) return NULL;
    memcpy(q, p, size < old ? size : old);
    free_old(p);
    return q;
}

void *hak_realloc(void *p, size_t size) {
    if (p == NULL) return hak_malloc(size);
    if (size == 0) { /* glibc: frees and returns NULL */
        hak_free(p);
        return NULL;
    }
    uintptr_t a = (uintptr_t)p;
    unsigned pm = hak_pagemap_get(a);
    if (hak_pm_kind(pm) == PM_LARGE) {
        size_t usable;
        void *r = _hak_large_resize(p, size, &usable);
        return r != NULL ? r : moved(p, size, usable, _hak_large_free);
    }
    if (hak_pm_kind(pm) != PM_SEGMENT) _hak_fail("realloc of a pointer hakmem did not allocate", p);
    size_t old = small_usable(a, pm);
    hak_block_t *b = p;
    if (hak_is_marked_free(b)) _hak_fail("realloc of a freed block", p);
    if (size <= old && (size >= old / SHRINK_IN_PLACE || old <= SHRINK_KEEP_BYTES)) return p;
    return moved(p, size, old, hak_free);
}

void *hak_reallocarray(void *p, size_t count, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(count, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return hak_realloc(p, total);
}

void hak_thread_flush(void) { _hak_thread_flush(); }

int hak_trim(void) {
    hak_ensure_init();
    size_t bytes = _hak_heaps_trim() + _hak_release_caches();
    return bytes != 0;
}
