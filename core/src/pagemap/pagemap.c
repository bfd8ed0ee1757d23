/* The page map: which 2 MiB chunks hakmem owns and where their region
 * starts. Two levels so it costs nothing until used; leaves are installed
 * with a compare-and-swap and never freed, so readers take no lock. */
#include "pagemap.h"

_Atomic(uint8_t *) _hak_pagemap_top[1u << PM_TOP_BITS];

static uint8_t *leaf_for(uintptr_t chunk_addr) {
    _Atomic(uint8_t *) *slot = &_hak_pagemap_top[chunk_addr >> (HAK_CHUNK_SHIFT + PM_LEAF_BITS)];
    uint8_t *leaf = atomic_load_explicit(slot, memory_order_acquire);
    if (leaf != NULL) return leaf;
    uint8_t *fresh = _hak_os_meta_alloc(1u << PM_LEAF_BITS);
    if (fresh == NULL) return NULL;
    /* A lost race leaks one 16 KiB leaf: rare and bounded by the top size. */
    if (atomic_compare_exchange_strong_explicit(slot, &leaf, fresh, memory_order_acq_rel,
                                                memory_order_acquire))
        return fresh;
    return leaf;
}

bool _hak_pagemap_set(uintptr_t base, size_t chunks, unsigned kind) {
    if ((base + (chunks << HAK_CHUNK_SHIFT)) >> (HAK_CHUNK_SHIFT + PM_TOP_BITS + PM_LEAF_BITS))
        return false;
    for (size_t i = 0; i < chunks; i++) {
        uintptr_t a = base + (i << HAK_CHUNK_SHIFT);
        uint8_t *leaf = leaf_for(a);
        if (leaf == NULL) {
            _hak_pagemap_clear(base, i);
            return false;
        }
        size_t back = i < PM_BACK_MAX ? i : PM_BACK_MAX;
        atomic_store_explicit(
            (_Atomic uint8_t *)&leaf[(a >> HAK_CHUNK_SHIFT) & ((1u << PM_LEAF_BITS) - 1)],
            (uint8_t)(kind | (back << PM_KIND_BITS)), memory_order_relaxed);
    }
    return true;
}

void _hak_pagemap_clear(uintptr_t base, size_t chunks) {
    for (size_t i = 0; i < chunks; i++) {
        uintptr_t a = base + (i << HAK_CHUNK_SHIFT);
        uint8_t *leaf = atomic_load_explicit(
            &_hak_pagemap_top[a >> (HAK_CHUNK_SHIFT + PM_LEAF_BITS)], memory_order_acquire);
        if (leaf)
            atomic_store_explicit(
                (_Atomic uint8_t *)&leaf[(a >> HAK_CHUNK_SHIFT) & ((1u << PM_LEAF_BITS) - 1)], 0,
                memory_order_relaxed);
    }
}
