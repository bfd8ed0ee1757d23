/* The allocation API: size dispatch, the fast paths (a pop from the
 * current slab, a push onto the block's slab), pointer validation, and the libc semantics
 * (errno, overflow, alignment rules, realloc). */
#include "fast.h"

#include <errno.h>
#include <string.h>

/* The slow path of small sizes: the heap's, or the hardened path. A
 * 0-byte block always comes here (malloc's table shows no slab for it)
 * and is a unique pointer into a no-access region: reading or writing it
 * faults. */
__attribute__((noinline)) void *_hak_small_slow(size_t size) {
    hak_ensure_init(); /* the class table and the mode are set at start-up */
    if (likely(size != 0 && !hak_hardened())) return _hak_class_alloc(hak_size_class(size));
    if (size == 0) return _hak_guard_zero_alloc();
    return _hak_harden_alloc(hak_class_for(size));
}

HAK_INLINE void *small_alloc(size_t size) { return hak_small_alloc(size, _hak_small_slow); }

__attribute__((noinline)) void _hak_free_other(void *p, size_t size, bool sized, const char *call) {
    if (p == NULL) return;
    unsigned kind = hak_pm_kind(hak_pagemap_get((uintptr_t)p));
    if (kind == PM_LARGE || kind == PM_GUARD) {
        if (sized) {
            size_t usable = kind == PM_LARGE ? _hak_large_usable(p, call) : _hak_guard_usable(p, call);
            if (size > usable) _hak_size_fail(call, p, size, usable);
        }
        if (kind == PM_LARGE) _hak_large_free(p);
        else _hak_guard_free(p);
        return;
    }
    _hak_fail("free of a pointer hakmem did not allocate", p);
}

/* A span's block starts a colour into its unit, where free's fast path
 * looks for the slab's first block: it comes here, as does any pointer
 * into a head unit that is no block (the slow path names those). */
__attribute__((noinline)) void _hak_free_head(void *p, size_t size, bool sized, const char *call) {
    hak_slab_t *s = _hak_small_locate_or_fail((uintptr_t)p, sized ? call : "free");
    if (sized && size > s->usable) _hak_size_fail(call, p, size, s->usable);
    _hak_free_located(p, s);
}

HAK_ENTRY_ALIGN void hak_free(void *p) { hak_free_block(p, false, 0, NULL); }

void _hak_free_sized_as(void *p, size_t size, const char *call) {
    hak_free_block(p, true, size, call);
}

/* Past the mid tier: out of line, so malloc's fast path saves no register.
 * Hardened mode guards every such block. */
__attribute__((noinline)) void *_hak_big_alloc(size_t size, bool zero) {
    hak_ensure_init();
    if (hak_hardened()) return _hak_guard_alloc(size, 0, zero);
    if (size <= HAK_SPAN_MAX) return _hak_span_alloc(size, zero, false);
    return _hak_large_alloc(size, 0, zero);
}

static void *big_malloc(size_t size) { return _hak_big_alloc(size, false); }

HAK_ENTRY_ALIGN void *hak_malloc(size_t size) { return hak_alloc(size, _hak_small_slow, big_malloc); }

void *hak_calloc(size_t count, size_t size) {
    size_t total;
    if (unlikely(__builtin_mul_overflow(count, size, &total))) {
        errno = ENOMEM;
        return NULL;
    }
    if (total > HAK_MID_MAX) return _hak_big_alloc(total, true);
    void *p = small_alloc(total);
    if (p != NULL) memset(p, 0, total);
    return p;
}

size_t hak_usable_size(const void *p) {
    if (p == NULL) return 0;
    uintptr_t a = (uintptr_t)p;
    unsigned pm = hak_pagemap_get(a);
    if (hak_pm_kind(pm) == PM_SEGMENT) {
        hak_slab_t *s = _hak_small_locate_or_fail(a, "usable size");
        if (hak_is_marked_free(p)) _hak_fail("usable size of a freed block", p);
        return s->usable;
    }
    if (hak_pm_kind(pm) == PM_LARGE) return _hak_large_usable(p, "usable size");
    if (hak_pm_kind(pm) == PM_GUARD) return _hak_guard_usable(p, "usable size");
    _hak_fail("usable size of a pointer hakmem did not allocate", p);
}

/* Smallest class whose blocks are all `align`-aligned and hold `size`
 * (and a canary in hardened mode): slabs start unit-aligned, so a stride
 * that is a multiple of align keeps every block aligned. */
static int aligned_class(size_t size, size_t align) {
    size_t want = size > align ? size : align;
    if (want > HAK_MID_MAX || align > HAK_MAX_ALIGN_SMALL) return -1;
    unsigned cls = hak_size_class(want);
    while (cls < HAK_CLASSES && ((_hak_class_stride[cls] & (align - 1)) != 0 ||
                                 _hak_class_size[cls] - hak_canary_room(cls) < size))
        cls++;
    return cls < HAK_CLASSES ? (int)cls : -1;
}

#define PLAIN_ALIGN 8 /* alignment every malloc result has anyway */
#define ALIGN_MAX ((size_t)1 << 62) /* memalign rounds up to a power of two: no further */

static void *aligned_alloc_pow2(size_t align, size_t size) {
    if (align <= PLAIN_ALIGN) return hak_malloc(size);
    hak_ensure_init();
    int cls = aligned_class(size, align);
    if (hak_hardened()) return cls >= 0 ? _hak_harden_alloc((unsigned)cls) : _hak_guard_alloc(size, align, false);
    if (cls >= 0) return small_alloc(_hak_class_size[cls]);
    /* a span aligned past a line starts its unit, not a colour into it */
    if (size <= HAK_SPAN_MAX && align <= HAK_UNIT_SIZE) return _hak_span_alloc(size, false, align > HAK_CACHE_LINE);
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

/* A block that grows is likely to grow again (string builders append a
 * little at a time): it moves to at least 1.5 times its size, so moves and
 * copies stay logarithmic in its final size. */
#define GROWTH_HEADROOM 2 /* old / 2 more */
static size_t grown(size_t size, size_t old) {
    size_t roomy = old + old / GROWTH_HEADROOM;
    return size > old && roomy > size ? roomy : size;
}

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
    unsigned kind = hak_pm_kind(hak_pagemap_get(a));
    if (likely(kind == PM_SEGMENT)) {
        hak_slab_t *s = _hak_small_locate_or_fail(a, "realloc");
        size_t old = s->usable;
        hak_block_t *b = p;
        if (hak_is_marked_free(b)) _hak_fail("realloc of a freed block", p);
        if (size <= old && (size >= old / SHRINK_IN_PLACE || old <= SHRINK_KEEP_BYTES)) return p;
        size_t want = grown(size, old);
        if (size > old && size <= HAK_SPAN_MAX &&
            _hak_span_grow(s, want <= HAK_SPAN_MAX ? want : HAK_SPAN_MAX))
            return p;
        return moved(p, want, old, hak_free);
    }
    if (kind == PM_LARGE) {
        size_t usable;
        void *r = _hak_large_resize(p, size, &usable);
        return r != NULL ? r : moved(p, grown(size, usable), usable, _hak_large_free);
    }
    if (kind == PM_GUARD) {
        size_t usable = _hak_guard_usable(p, "realloc");
        if (size <= usable && size >= usable / SHRINK_IN_PLACE) return p;
        return moved(p, grown(size, usable), usable, hak_free);
    }
    _hak_fail("realloc of a pointer hakmem did not allocate", p);
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

#ifndef HAK_NO_OVERRIDE
/* The libc names of the two hottest calls are these functions themselves
 * (no extra jump); the other names are in override.c. */
__attribute__((visibility("default"), alias("hak_malloc"))) void *malloc(size_t size);
__attribute__((visibility("default"), alias("hak_free"))) void free(void *p);
#endif
