/* The page map: the owner of an address, read without a lock. One byte per
 * 2 MiB chunk hakmem maps: the low bits say what the chunk belongs to (a
 * segment or a large block), the high bits how many chunks back its region
 * starts, since regions may span several chunks. Calls only the OS layer. */
#ifndef HAKMEM_PAGEMAP_H
#define HAKMEM_PAGEMAP_H

#include "os/os.h"

enum hak_pm_kind { PM_NONE = 0, PM_SEGMENT = 1, PM_LARGE = 2 };
#define PM_KIND_BITS 2
#define PM_KIND_MASK ((1u << PM_KIND_BITS) - 1)
#define PM_BACK_MAX 63 /* chunks back one byte can say: the 6 bits left */
#define PM_TOP_BITS 13  /* top level: 8192 pointers, 64 KiB, in the library's data */
#define PM_LEAF_BITS 14 /* a leaf: 16 Ki chunks (32 GiB of addresses), mapped on first use */

extern _Atomic(uint8_t *) _hak_pagemap_top[1u << PM_TOP_BITS];
bool _hak_pagemap_set(uintptr_t base, size_t chunks, unsigned kind);
void _hak_pagemap_clear(uintptr_t base, size_t chunks);

/* The page-map byte of an address (PM_NONE outside hakmem's chunks). */
HAK_INLINE unsigned hak_pagemap_get(uintptr_t a) {
    if (unlikely(a >> (HAK_CHUNK_SHIFT + PM_TOP_BITS + PM_LEAF_BITS))) return PM_NONE;
    uint8_t *leaf = atomic_load_explicit(
        &_hak_pagemap_top[a >> (HAK_CHUNK_SHIFT + PM_LEAF_BITS)], memory_order_acquire);
    if (unlikely(leaf == NULL)) return PM_NONE;
    return atomic_load_explicit(
        (_Atomic uint8_t *)&leaf[(a >> HAK_CHUNK_SHIFT) & ((1u << PM_LEAF_BITS) - 1)],
        memory_order_relaxed);
}

/* What a page-map byte says the chunk belongs to (enum hak_pm_kind). */
HAK_INLINE unsigned hak_pm_kind(unsigned pm) { return pm & PM_KIND_MASK; }

/* Start of the region holding `a`, given its page-map byte. */
HAK_INLINE uintptr_t hak_region_base(uintptr_t a, unsigned pm) {
    return (a & ~(HAK_CHUNK_SIZE - 1)) - ((uintptr_t)(pm >> PM_KIND_BITS) << HAK_CHUNK_SHIFT);
}

#endif
