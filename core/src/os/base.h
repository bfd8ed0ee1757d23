/* What every layer shares: compiler helpers, the build flavour, the
 * allocator's geometry, relaxed counters and the append-to-buffer macro.
 * Nothing here calls anything. Every internal function is hidden
 * (-fvisibility=hidden) and carries the _hak_ prefix; inline helpers are
 * hak_*. */
#ifndef HAKMEM_BASE_H
#define HAKMEM_BASE_H

#include "hakmem.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Internal variables the fast paths read: hidden, so they are addressed
 * directly and not through the GOT (functions are hidden by the flag). */
#define HAK_HIDDEN __attribute__((visibility("hidden")))

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define HAK_INLINE static inline __attribute__((always_inline))

/* Asks for the line at p to be written soon: its owner's copy moves here
 * whole, where a read prefetch shares it and the write that follows takes
 * it again (a block another thread freed, malloc's next). x86_64 without
 * -mprfchw compiles __builtin_prefetch(p, 1) to a read prefetch; its
 * PREFETCHW runs as a no-op on cores that predate it (0F 0D is a NOP
 * encoding on every x86_64). */
HAK_INLINE void hak_prefetch_write(const void *p) {
#if defined(__x86_64__)
    __asm__ volatile("prefetchw %0" : : "m"(*(const char *)p));
#else
    __builtin_prefetch(p, 1);
#endif
}

#ifdef HAK_DEBUG
#define HAK_FLAVOUR "debug"
#else
#define HAK_FLAVOUR "release"
#endif

/* ---- geometry ---- */
#define HAK_CHUNK_SHIFT 21 /* segments and large blocks start 2 MiB aligned */
#define HAK_CHUNK_SIZE ((uintptr_t)1 << HAK_CHUNK_SHIFT)
#define HAK_UNIT_SHIFT 16 /* slabs are made of 64 KiB units */
#define HAK_UNIT_SIZE ((uintptr_t)1 << HAK_UNIT_SHIFT)
#define HAK_CHUNK_UNITS (HAK_CHUNK_SIZE >> HAK_UNIT_SHIFT) /* units per segment (32) */
#define HAK_DESC_SHIFT 7 /* slab descriptors are 128 bytes, one per unit, in unit 0 */
#define HAK_CACHE_LINE 64 /* bytes: what one thread writing pulls from the others */
/* malloc and free start on a cache line: the same instructions ran 3-15 %
 * apart (tiny_hot, 8.5 against 8.8-9.8 ns a pair) as the code before them
 * moved them to other offsets within their lines. */
#define HAK_ENTRY_ALIGN __attribute__((aligned(HAK_CACHE_LINE)))
/* Cache colours (spans, large blocks): a block starts a whole number of
 * lines into its memory, below HAK_COLOUR_RANGE (a 1 MiB 16-way second
 * level cache's way), colour k HAK_COLOUR_STEP lines after colour k - 1
 * (37 shares no factor with the range's 1024 lines, so every line comes
 * round). Blocks that all start at one offset from a boundary put their
 * first lines, which programs touch most (headers), into one set of every
 * cache level. */
#define HAK_COLOUR_RANGE ((size_t)1 << 16)
#define HAK_COLOUR_STEP 37u
/* Colour k in bytes, within the `room` bytes a block has past its size. */
HAK_INLINE size_t hak_colour_fit(size_t k, size_t room) {
    size_t line = k * HAK_COLOUR_STEP % (HAK_COLOUR_RANGE / HAK_CACHE_LINE);
    return line % (room / HAK_CACHE_LINE + 1) * HAK_CACHE_LINE;
}
#define HAK_TINY_MAX 1024u
#define HAK_MID_MAX 65536u
/* Blocks up to 1 MiB are spans: one-block slabs of whole units carved from
 * the thread's own segments, so they cost no syscall and their memory stays
 * resident for reuse until decay; larger blocks get mappings of their own. */
#define HAK_SPAN_MAX ((size_t)1 << 20)
#define HAK_CLASSES 44
#define HAK_TINY_CLASSES 20
#define HAK_LARGE_HEADER 64u /* large blocks: user pointer >= base + 64 */
#define HAK_MAX_ALIGN_SMALL HAK_UNIT_SIZE /* slab starts are unit aligned */
/* Largest mapping asked of the OS: 64 TiB, beyond any user address space
 * of today (47 bits), so sizes near SIZE_MAX fail early without overflow. */
#define HAK_MAP_MAX ((size_t)1 << 46)
#define HAK_MIB ((size_t)1 << 20)
#define HAK_PATH_MAX 544 /* paths of the trace and stats files, "%p" expanded */

/* Appends to a JSON or text buffer snprintf-style: `n` (a size_t in scope)
 * counts what the whole text needs even once `buf` (of `cap` bytes) is full. */
#define HAK_PUT(...) \
    n += (size_t)snprintf(n < cap ? buf + n : NULL, n < cap ? cap - n : 0, __VA_ARGS__)

/* The end of a public JSON call: the text NUL-terminated where it was cut,
 * and the length the whole text needs returned, as snprintf does. */
HAK_INLINE size_t hak_text_done(char *buf, size_t cap, size_t n) {
    if (cap > 0 && n >= cap) buf[cap - 1] = '\0';
    return n;
}

#define HAK_COUNT(a) (sizeof(a) / sizeof((a)[0])) /* elements of an array */

/* Bit i of a bitmap of 64-bit words. */
HAK_INLINE bool hak_bit_get(const uint64_t *m, size_t i) { return (m[i >> 6] >> (i & 63)) & 1; }
HAK_INLINE void hak_bit_set(uint64_t *m, size_t i) { m[i >> 6] |= (uint64_t)1 << (i & 63); }
HAK_INLINE void hak_bit_clear(uint64_t *m, size_t i) { m[i >> 6] &= ~((uint64_t)1 << (i & 63)); }

/* The first bit at or after i, and before end, that reads `value`; end
 * when there is none. A word at a time: a scan over a big, mostly empty
 * bitmap costs a few instructions per 64 bits, not per bit. */
HAK_INLINE size_t hak_bit_next(const uint64_t *m, size_t i, size_t end, bool value) {
    uint64_t flip = value ? 0 : ~(uint64_t)0;
    while (i < end) {
        uint64_t w = (m[i >> 6] ^ flip) >> (i & 63);
        if (w != 0) {
            i += (size_t)__builtin_ctzll(w);
            return i < end ? i : end;
        }
        i = (i | 63) + 1;
    }
    return end;
}

/* The bits set in [start, end). */
HAK_INLINE size_t hak_bit_count(const uint64_t *m, size_t start, size_t end) {
    size_t n = 0;
    while (start < end) {
        size_t bits = 64 - (start & 63);
        uint64_t w = m[start >> 6] >> (start & 63);
        if (bits > end - start) {
            bits = end - start;
            w &= ((uint64_t)1 << bits) - 1;
        }
        n += (size_t)__builtin_popcountll(w);
        start += bits;
    }
    return n;
}

/* The index of x's highest set bit (x > 0): floor(log2 x). */
HAK_INLINE unsigned hak_log2(uint64_t x) { return 63u - (unsigned)__builtin_clzll(x); }

/* Intrusive doubly linked lists, NULL-terminated, of any node type: the
 * caller names the node's two link fields, so a node can sit on two lists
 * at once. `head` (and `tail` for a queue) are lvalues of the list. */
#define HAK_DLIST_PUSH(head, n, prev, next) \
    do { \
        (n)->prev = NULL; \
        (n)->next = (head); \
        if ((head) != NULL) (head)->prev = (n); \
        (head) = (n); \
    } while (0)

#define HAK_DLIST_REMOVE(head, n, prev, next) \
    do { \
        if ((n)->prev != NULL) (n)->prev->next = (n)->next; \
        else (head) = (n)->next; \
        if ((n)->next != NULL) (n)->next->prev = (n)->prev; \
    } while (0)

/* The same for a list that also keeps its last node: appends, and removes. */
#define HAK_DQUEUE_APPEND(head, tail, n, prev, next) \
    do { \
        (n)->next = NULL; \
        (n)->prev = (tail); \
        if ((tail) != NULL) (tail)->next = (n); \
        else (head) = (n); \
        (tail) = (n); \
    } while (0)

#define HAK_DQUEUE_REMOVE(head, tail, n, prev, next) \
    do { \
        if ((n)->next == NULL) (tail) = (n)->prev; \
        HAK_DLIST_REMOVE(head, n, prev, next); \
    } while (0)

/* x rounded down, or up, to a multiple of `to`, a power of two. */
HAK_INLINE uintptr_t hak_align_down(uintptr_t x, uintptr_t to) { return x & ~(to - 1); }
HAK_INLINE uintptr_t hak_align_up(uintptr_t x, uintptr_t to) {
    return hak_align_down(x + to - 1, to);
}

/* Fields one thread writes while others may read them: relaxed atomic
 * accesses, plain moves on x86_64 and aarch64. */
HAK_INLINE uint32_t hak_load_relaxed32(const uint32_t *p) {
    return atomic_load_explicit((_Atomic uint32_t *)p, memory_order_relaxed);
}

HAK_INLINE void hak_store_relaxed32(uint32_t *p, uint32_t v) {
    atomic_store_explicit((_Atomic uint32_t *)p, v, memory_order_relaxed);
}

/* Loads on the free fast path that must fold into a compare (a slab's
 * `carved` bound, the page-map byte): a plain load of an aligned word or
 * byte, which the hardware makes single-copy atomic (what a relaxed load
 * is), volatile for the word; clang folds no volatile byte load, and the
 * byte, read once where it is compared, needs none. An atomic load, which
 * compilers do not fold, where ThreadSanitizer checks. */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define HAK_TSAN 1
#endif
#endif
#ifdef HAK_TSAN
#define hak_load_racy32(p) hak_load_relaxed32(p)
#define hak_load_racy8(p) atomic_load_explicit((_Atomic uint8_t *)(p), memory_order_relaxed)
#else
#define hak_load_racy32(p) (*(const volatile uint32_t *)(p))
#define hak_load_racy8(p) (*(const uint8_t *)(p))
#endif

/* Counters are written by one thread (or under a lock) and read by any:
 * relaxed load and store, no read-modify-write. Returns the new count. */
HAK_INLINE uint64_t hak_ctr_inc(uint64_t *c) {
    _Atomic uint64_t *a = (_Atomic uint64_t *)c;
    uint64_t v = atomic_load_explicit(a, memory_order_relaxed) + 1;
    atomic_store_explicit(a, v, memory_order_relaxed);
    return v;
}

HAK_INLINE void hak_ctr_add(uint64_t *c, uint64_t v) {
    _Atomic uint64_t *a = (_Atomic uint64_t *)c;
    atomic_store_explicit(a, atomic_load_explicit(a, memory_order_relaxed) + v,
                          memory_order_relaxed);
}

HAK_INLINE uint64_t hak_ctr_get(const uint64_t *c) {
    return atomic_load_explicit((_Atomic uint64_t *)c, memory_order_relaxed);
}

#endif
