/* The standard allocation symbols, so that LD_PRELOAD or static linking
 * makes hakmem serve a whole program. C++ new/delete reach these through
 * libstdc++. HAK_NO_OVERRIDE leaves them out, for test binaries whose
 * sanitizer owns malloc and that call hak_* directly. */
#include "api.h"

#include <errno.h>
#include <stdint.h>

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
HAK_EXPORT int malloc_trim(size_t pad) {
    (void)pad; /* everything releasable is released */
    return hak_trim();
}
#endif
