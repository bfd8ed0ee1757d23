/* C23's sized frees (free_sized, free_aligned_sized; glibc 2.43 exports
 * them) and the checks of what their callers state. The caller states the
 * size (and alignment) it allocated with; hakmem finds a block's owner and
 * size from its address anyway, so a statement that cannot be true is a
 * misuse — freeing with another type's size, a pointer from another
 * allocation — and stops the process with one line: a size larger than
 * the block's usable size, an alignment that is not a power of two or
 * that the pointer lacks. (A smaller size than the block's is always
 * possible: size classes round up, and realloc shrinks in place.) C++'s
 * sized and aligned deletes go through the same two functions. */
#include "fast.h"

void _hak_size_fail(const char *call, const void *p, size_t size, size_t usable) {
    char what[160];
    snprintf(what, sizeof(what), "%s: size %zu is larger than the block (%zu usable bytes)", call,
             size, usable);
    _hak_fail(what, p);
}

void _hak_size_fail_jump(const void *p, size_t size, size_t usable, const char *call) {
    _hak_size_fail(call, p, size, usable);
}

void _hak_free_aligned_sized_as(void *p, size_t alignment, size_t size, const char *call) {
    if (p != NULL) {
        char what[160];
        if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
            snprintf(what, sizeof(what), "%s: alignment %zu is not a power of two", call,
                     alignment);
            _hak_fail(what, p);
        }
        if (((uintptr_t)p & (alignment - 1)) != 0) {
            snprintf(what, sizeof(what), "%s: the pointer is not aligned to %zu", call, alignment);
            _hak_fail(what, p);
        }
    }
    _hak_free_sized_as(p, size, call);
}

void hak_free_sized(void *p, size_t size) { _hak_free_sized_as(p, size, "free_sized"); }

void hak_free_aligned_sized(void *p, size_t alignment, size_t size) {
    _hak_free_aligned_sized_as(p, alignment, size, "free_aligned_sized");
}
