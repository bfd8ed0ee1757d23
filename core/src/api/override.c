/* The standard allocation symbols, so that LD_PRELOAD or static linking
 * makes hakmem serve a whole program. C++ new/delete reach these through
 * libstdc++. HAK_NO_OVERRIDE leaves them out, for test binaries whose
 * sanitizer owns malloc and that call hak_* directly. */
#include "api.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#ifndef HAK_NO_OVERRIDE
#define HAK_EXPORT __attribute__((visibility("default")))

HAK_EXPORT void *calloc(size_t n, size_t size) { return hak_calloc(n, size); }
HAK_EXPORT void *realloc(void *p, size_t size) { return hak_realloc(p, size); }
HAK_EXPORT void *reallocarray(void *p, size_t n, size_t size) {
    return hak_reallocarray(p, n, size);
}
HAK_EXPORT int posix_memalign(void **out, size_t align, size_t size) {
    return hak_posix_memalign(out, align, size);
}
HAK_EXPORT void *aligned_alloc(size_t align, size_t size) { return hak_aligned_alloc(align, size); }
HAK_EXPORT void *memalign(size_t align, size_t size) { return hak_memalign(align, size); }
HAK_EXPORT void *valloc(size_t size) {
    hak_ensure_init();
    return hak_memalign(_hak_page_size, size);
}
HAK_EXPORT void *pvalloc(size_t size) {
    hak_ensure_init();
    size_t page = _hak_page_size, rounded;
    if (__builtin_add_overflow(size, page - 1, &rounded)) {
        errno = ENOMEM;
        return NULL;
    }
    rounded &= ~(page - 1);
    return hak_memalign(page, rounded ? rounded : page);
}
HAK_EXPORT size_t malloc_usable_size(void *p) { return hak_usable_size(p); }
/* C23, glibc 2.43: declared here, the headers of the glibc 2.17 floor have
 * no prototypes for them. */
HAK_EXPORT void free_sized(void *p, size_t size);
HAK_EXPORT void free_aligned_sized(void *p, size_t alignment, size_t size);
HAK_EXPORT void free_sized(void *p, size_t size) { hak_free_sized(p, size); }
HAK_EXPORT void free_aligned_sized(void *p, size_t alignment, size_t size) {
    hak_free_aligned_sized(p, alignment, size);
}
HAK_EXPORT int malloc_trim(size_t pad) {
    (void)pad; /* everything releasable is released */
    return hak_trim();
}

/* glibc's introspection calls, with hakmem's figures (mallinfo.c). */
HAK_EXPORT struct mallinfo2 mallinfo2(void) { return _hak_mallinfo(); }

/* The int fields of the old call stop at INT_MAX (glibc's wrap around). */
#define HAK_MALLINFO_INT_FIELD_(f) int f;
struct mallinfo {
    HAK_MALLINFO_FIELDS(HAK_MALLINFO_INT_FIELD_)
};
#define HAK_MALLINFO_SATURATE_(f) r.f = m.f > INT_MAX ? INT_MAX : (int)m.f;
HAK_EXPORT struct mallinfo mallinfo(void) {
    struct mallinfo2 m = _hak_mallinfo();
    struct mallinfo r;
    HAK_MALLINFO_FIELDS(HAK_MALLINFO_SATURATE_)
    return r;
}

HAK_EXPORT void malloc_stats(void) { _hak_stats_fprint(stderr); }
HAK_EXPORT int malloc_info(int options, FILE *fp) { return _hak_malloc_info(options, fp); }
#endif
