/* Guarded blocks, hardened mode's (HAKMEM_HARDEN=1, the debug flavour)
 * blocks past the mid tier and 0-byte blocks, each region marked
 * PM_GUARD in the page map (guard.c). Self-contained: the large tier and
 * the spans serve none of these blocks. */
#ifndef HAKMEM_GUARD_H
#define HAKMEM_GUARD_H

#include "pagemap/pagemap.h"

/* A block of `size` bytes, `align`-aligned (0: 16), in a mapping of its
 * own whose next page is a no-access guard page: the block ends as close
 * to it as its alignment allows, so an overflow faults. Zeroed when asked.
 * NULL + ENOMEM when the OS refuses. */
void *_hak_guard_alloc(size_t size, size_t align, bool zero);
/* A unique pointer into a no-access region: any read or write faults. */
void *_hak_guard_zero_alloc(void);
/* Frees a guarded or 0-byte block: its pages become no-access (a read or
 * write after the free faults) and its address range serves no block
 * until GUARD_QUARANTINE later frees; a pointer that is not a live block's
 * start stops the process. */
void _hak_guard_free(void *p);
/* the same checks, naming `call` (as _hak_large_usable); 0 for a 0-byte block */
size_t _hak_guard_usable(const void *p, const char *call);
/* Trim and memory pressure: the freed ranges waiting are unmapped (a
 * process under RLIMIT_AS needs their address space); returns their bytes. */
size_t _hak_guard_trim(void);
/* Decay: the freed ranges waiting for at least delay_ms give back their
 * pages (they stay no-access and reserved); returns the bytes. */
size_t _hak_guard_decay(uint32_t now_ms, uint32_t delay_ms);
/* Guarded blocks count as the large tier, 0-byte ones as the tiny tier. */
void _hak_guard_stats(hak_tier_stats_t *tiny, hak_tier_stats_t *large);
void _hak_guard_lock(void);
void _hak_guard_unlock(void);

#endif
