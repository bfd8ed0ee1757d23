/* Force-included (-include) into test programs built with hakmem compiled in
 * under a sanitizer (-DHAK_NO_OVERRIDE=1): the sanitizer owns malloc and
 * free, so the test's own allocation calls are renamed to hakmem's. The libc
 * headers are included first, with the real names, so their declarations are
 * untouched; only the test's code below sees the macros. libc's internal
 * allocations (stdio buffers, thread stacks) stay the sanitizer's. */
#ifndef HAK_SANITIZE_NAMES_H
#define HAK_SANITIZE_NAMES_H

#include <malloc.h>
#include <stdlib.h>

#include <hakmem.h>

#ifndef HAK_NO_OVERRIDE
#error "hak_names.h is for programs that compile hakmem in with -DHAK_NO_OVERRIDE=1"
#endif

#define malloc(n) hak_malloc(n)
#define free(p) hak_free(p)
#define calloc(n, s) hak_calloc(n, s)
#define realloc(p, n) hak_realloc(p, n)
#define reallocarray(p, n, s) hak_reallocarray(p, n, s)
#define aligned_alloc(a, n) hak_aligned_alloc(a, n)
#define posix_memalign(o, a, n) hak_posix_memalign(o, a, n)
#define memalign(a, n) hak_memalign(a, n)
#define malloc_usable_size(p) hak_usable_size(p)
#define malloc_trim(pad) ((void)(pad), hak_trim())

#endif
