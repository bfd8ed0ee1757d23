/* The page map: the owner of an address, read without a lock. One byte per
 * 2 MiB chunk in a flat array over the whole user address space, reserved
 * (address space only) at start-up, so a lookup is one load: the low bits
 * say what the chunk belongs to (a segment or a large block), the high bits
 * how many chunks back its region starts. Calls only the OS layer. */
#ifndef HAKMEM_PAGEMAP_H
#define HAKMEM_PAGEMAP_H

#include "os/os.h"

/* PM_GUARD: hardened mode's guarded and 0-byte blocks (large/guard.c). */
enum hak_pm_kind { PM_NONE = 0, PM_SEGMENT = 1, PM_LARGE = 2, PM_GUARD = 3 };
#define PM_KIND_BITS 2
#define PM_KIND_MASK ((1u << PM_KIND_BITS) - 1)
#define PM_BACK_MAX 63 /* chunks back one byte can say: the 6 bits left */

extern uint8_t *_hak_pagemap HAK_HIDDEN;
extern uintptr_t _hak_pagemap_chunks HAK_HIDDEN; /* chunks covered; 0 before start-up */
void _hak_pagemap_init(void);
bool _hak_pagemap_set(uintptr_t base, size_t chunks, unsigned kind);
void _hak_pagemap_clear(uintptr_t base, size_t chunks);

/* The page-map byte of an address (PM_NONE outside hakmem's chunks). */
HAK_INLINE unsigned hak_pagemap_get(uintptr_t a) {
    uintptr_t i = a >> HAK_CHUNK_SHIFT;
    if (unlikely(i >= _hak_pagemap_chunks)) return PM_NONE;
    return hak_load_racy8(&_hak_pagemap[i]);
}

/* What a page-map byte says the chunk belongs to (enum hak_pm_kind). */
HAK_INLINE unsigned hak_pm_kind(unsigned pm) { return pm & PM_KIND_MASK; }

/* Start of the region holding `a`, given its page-map byte. */
HAK_INLINE uintptr_t hak_region_base(uintptr_t a, unsigned pm) {
    return hak_align_down(a, HAK_CHUNK_SIZE) - ((uintptr_t)(pm >> PM_KIND_BITS) << HAK_CHUNK_SHIFT);
}

#endif
