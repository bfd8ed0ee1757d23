/* The flat page map. Entries are written by the thread that maps a chunk
 * (after mapping it) or unmaps it (before unmapping it) and read by anyone
 * without a lock. */
#include "pagemap.h"

uint8_t *_hak_pagemap;
uintptr_t _hak_pagemap_chunks;

/* User address bits: 47 on x86_64 (4-level paging, what mmap returns
 * without a hint above it), 48 on aarch64. */
#if defined(__x86_64__)
#define PM_ADDRESS_BITS 47
#else
#define PM_ADDRESS_BITS 48
#endif
/* A process whose address space is limited (RLIMIT_AS) gets a map of the
 * lower part only, down to this many address bits; the OS layer then
 * keeps its mappings below it. */
#define PM_MIN_ADDRESS_BITS 40

void _hak_pagemap_init(void) {
    for (unsigned bits = PM_ADDRESS_BITS; bits >= PM_MIN_ADDRESS_BITS; bits--) {
        uintptr_t chunks = (uintptr_t)1 << (bits - HAK_CHUNK_SHIFT);
        uint8_t *map = _hak_os_reserve(chunks);
        if (map == NULL) continue;
        _hak_pagemap = map;
        atomic_store_explicit((_Atomic uintptr_t *)&_hak_pagemap_chunks, chunks,
                              memory_order_release);
        _hak_os_set_ceiling(chunks << HAK_CHUNK_SHIFT);
        return;
    }
}

bool _hak_pagemap_set(uintptr_t base, size_t chunks, unsigned kind) {
    uintptr_t first = base >> HAK_CHUNK_SHIFT;
    if (chunks == 0 || first + chunks > _hak_pagemap_chunks) return false;
    for (size_t i = 0; i < chunks; i++) {
        size_t back = i < PM_BACK_MAX ? i : PM_BACK_MAX;
        atomic_store_explicit((_Atomic uint8_t *)&_hak_pagemap[first + i],
                              (uint8_t)(kind | (back << PM_KIND_BITS)), memory_order_relaxed);
    }
    return true;
}

void _hak_pagemap_clear(uintptr_t base, size_t chunks) {
    uintptr_t first = base >> HAK_CHUNK_SHIFT;
    for (size_t i = 0; i < chunks && first + i < _hak_pagemap_chunks; i++)
        atomic_store_explicit((_Atomic uint8_t *)&_hak_pagemap[first + i], 0, memory_order_relaxed);
}
