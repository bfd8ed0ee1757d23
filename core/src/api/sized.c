/* C23's sized frees (free_sized, free_aligned_sized; glibc 2.43 exports
 * them). The caller states the size (and alignment) it allocated with;
 * hakmem finds a block's owner and size from its address anyway, so a
 * release build just frees. A debug build first checks the statement
 * against the block and aborts with one line when it cannot be true: the
 * size is larger than the block's usable size, or for free_aligned_sized
 * the alignment is not a power of two or the pointer is not a multiple of
 * it. (A smaller size than the block's is always possible: size classes
 * round up, and realloc shrinks in place.) */
#include "api.h"

#ifdef HAK_DEBUG
/* The block's usable size, or 0 when the free that follows will reject the
 * pointer (foreign, interior) with its own message. */
static size_t usable(const void *p) {
    uintptr_t a = (uintptr_t)p;
    unsigned pm = hak_pagemap_get(a);
    if (hak_pm_kind(pm) == PM_LARGE) return _hak_large_usable(p);
    if (hak_pm_kind(pm) != PM_SEGMENT) return 0;
    hak_slab_t *s = hak_small_locate(a);
    return s != NULL ? s->bsize : 0;
}

static void check_size(const char *call, const void *p, size_t size) {
    size_t have = usable(p);
    if (have == 0 || size <= have) return;
    char what[160];
    snprintf(what, sizeof(what), "%s: size %zu is larger than the block (%zu usable bytes)", call,
             size, have);
    _hak_fail(what, p);
}
#endif

void hak_free_sized(void *p, size_t size) {
#ifdef HAK_DEBUG
    if (p != NULL) check_size("free_sized", p, size);
#else
    (void)size;
#endif
    hak_free(p);
}

void hak_free_aligned_sized(void *p, size_t alignment, size_t size) {
#ifdef HAK_DEBUG
    if (p != NULL) {
        char what[160];
        if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
            snprintf(what, sizeof(what),
                     "free_aligned_sized: alignment %zu is not a power of two", alignment);
            _hak_fail(what, p);
        }
        if (((uintptr_t)p & (alignment - 1)) != 0) {
            snprintf(what, sizeof(what), "free_aligned_sized: the pointer is not aligned to %zu",
                     alignment);
            _hak_fail(what, p);
        }
        check_size("free_aligned_sized", p, size);
    }
#else
    (void)alignment;
    (void)size;
#endif
    hak_free(p);
}
