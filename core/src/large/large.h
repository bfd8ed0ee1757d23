/* The large tier: blocks above the mid tier, carved from arenas (1–64
 * MiB) or each in its own 2 MiB-aligned mapping, which BigCache keeps for
 * reuse once freed; each thread keeps its last two in a stash. Calls the heap layer (for the thread's heap, which
 * carries the stash) and those below; upward only through the strategy
 * table ELO registers (the cache threshold) and the hooks of the layers
 * below. */
#ifndef HAKMEM_LARGE_H
#define HAKMEM_LARGE_H

#include "heap/heap.h"

/* The strategy that picks the cache threshold of each large allocation:
 * ELO registers one at start-up unless HAKMEM_ELO=off; without one the
 * threshold is HAKMEM_BIGCACHE_MAX_BLOCK_MB. A strategy is a small number,
 * kept in the block's header for its free. */
typedef struct hak_large_strategy {
    unsigned (*choose)(bool *measure);      /* before the allocation it steers */
    size_t (*threshold)(unsigned strategy); /* largest cacheable block under it */
    void (*alloc_done)(unsigned strategy);  /* a measured allocation ended */
    void (*free_done)(unsigned strategy, uint64_t ns);  /* a timed free took ns */
    bool (*measuring)(void);                /* frees are timed */
} hak_large_strategy_t;

void _hak_large_set_strategy(const hak_large_strategy_t *s);
/* The cache threshold in force for a strategy, bytes. */
size_t _hak_large_threshold(unsigned strategy);

void _hak_large_init(void); /* registers the heap flush hook (the stash) */
void *_hak_large_alloc(size_t size, size_t align, bool zero);
void _hak_large_free(void *p);
/* A live block's usable bytes, or the process stops naming `call` ("usable size", a sized
 * free's name). */
size_t _hak_large_usable(const void *p, const char *call);
/* Resizes a block where it lies when it can: returns p (kept or grown),
 * or NULL when the caller must move it (allocate, copy `*usable` bytes at
 * most, free). */
void *_hak_large_resize(void *p, size_t size, size_t *usable);
size_t _hak_large_trim(void);                     /* BigCache unmapped: bytes */
size_t _hak_large_scavenge(uint64_t deadline_ns); /* idle BigCache blocks advised away: bytes */
size_t _hak_large_idle_bytes(void);               /* resident bytes waiting in BigCache */
uint64_t _hak_large_cold_hits(void); /* bytes of blocks reused after being advised away */
void _hak_large_stats(hak_tier_stats_t *out);     /* the tier's counters, stashes included */
void _hak_large_lock(void);
void _hak_large_unlock(void);

#endif
