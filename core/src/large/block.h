/* What the large tier's files share (private to the layer): the block
 * header, the tier's lock and totals, and BigCache's calls. */
#ifndef HAKMEM_LARGE_BLOCK_H
#define HAKMEM_LARGE_BLOCK_H

#include "large.h"

#define LARGE_MAGIC ((uintptr_t)0x6c617267656b6168ull) /* "hakegral": a live header */
/* Mapping sizes come in 2^3 steps per power of two (large.c), and BigCache
 * has a bucket per step (bigcache.c): nearby sizes share buckets. */
#define LARGE_STEPS_SHIFT 3

/* A block's life: handed out (USED); then, once freed, in a thread's stash
 * (STASHED) or in BigCache, resident (HOT), waiting for a batched advice
 * (PENDING) or advised away (COLD); GONE when unmapped. USED is not 0 so
 * that a stray pointer into zeroed memory does not read as a live block. */
enum large_state { L_GONE = 0, L_USED = 0x55, L_HOT, L_PENDING, L_COLD, L_STASHED };

typedef struct hak_large {
    uintptr_t magic;                /* LARGE_MAGIC ^ own address */
    size_t map_size;                /* bytes mapped from the header on */
    uint32_t offset;                /* user pointer - header (at most a chunk) */
    uint32_t idle_ms;               /* freed at (hak_ms_now): decay's clock */
    uint16_t chunks;                /* chunks marked in the page map */
    uint8_t state;                  /* enum large_state */
    uint8_t strategy;               /* the strategy that chose its threshold */
    uint8_t cacheable;              /* goes to BigCache when freed (chosen at allocation) */
    uint8_t in_arena;               /* carved from an arena (arena.c), not a mapping of its own */
    uint8_t aligned;                /* its offset is an alignment asked for, not a colour */
    struct hak_large *bnext, *bprev; /* bucket of its size */
    struct hak_large *anext, *aprev; /* age list of its state, oldest first */
} hak_large_t;

_Static_assert(sizeof(hak_large_t) <= HAK_LARGE_HEADER, "large header must fit 64 bytes");

/* The tier's lock guards BigCache and these totals (the stashes keep their
 * own counters, per thread). */
extern pthread_mutex_t _hak_large_mutex;
typedef struct large_totals {
    uint64_t allocs, frees, hits, misses;
    uint64_t in_use;   /* bytes handed out */
    uint64_t reserved; /* bytes mapped */
} large_totals_t;
extern large_totals_t _hak_large_totals;

/* Whether a freed block may be cached (large.c). */
bool _hak_large_cache_eligible(const hak_large_t *e);

/* Decay's clock for large blocks: milliseconds, wrapping (intervals up to
 * 49 days compare right). */
HAK_INLINE uint32_t hak_ms_now(void) { return (uint32_t)(_hak_coarse_ns() / 1000000u); }

/* BigCache (bigcache.c), with the lock held. */
/* A cached block of at least map_size (within a few size steps); with
 * `resident`, only one whose pages are still there. */
hak_large_t *_hak_bigcache_take(size_t map_size, bool resident);
hak_large_t *_hak_bigcache_take_fit(size_t map_size); /* a resident one of another size */
void _hak_bigcache_put(hak_large_t *e);           /* a freed block: cached, or unmapped */
/* Blocks idle in BigCache for delay_ms or more advised away (they stay
 * cached, cold), cold ones idle COLD_AGE times as long unmapped; returns
 * the bytes advised. */
size_t _hak_bigcache_decay(uint32_t now_ms, uint32_t delay_ms);
void _hak_large_unmap(hak_large_t *e);

/* Arenas (arena.c), with the lock held: blocks of ARENA_MIN_BYTES to
 * ARENA_MAX_BYTES, whole chunks. */
#define ARENA_MIN_BYTES ((size_t)1 << 20)
#define ARENA_MAX_BYTES ((size_t)64 << 20)
/* A block of map_size (whole chunks) with its map_size and in_arena set, or
 * NULL; `resident`: bit i set when chunk i holds pages of an earlier block;
 * `zeroed`: calloc's (its fresh chunks fault in small pages). */
hak_large_t *_hak_arena_alloc(size_t map_size, uint64_t *resident, bool zeroed);
void _hak_arena_free(hak_large_t *e); /* its chunks stay resident, within the budget */
bool _hak_arena_grow(hak_large_t *e, size_t map_size); /* over free chunks after it */
void _hak_arena_moved(void *old, size_t map_size);      /* mremap took its pages away */
/* Resident free chunks over the budget (at least HAKMEM_BIGCACHE_MB, up to
 * twice the most bytes handed out within the last delay), or idle
 * delay_ms, advised away;
 * returns the bytes. */
size_t _hak_arena_decay(uint32_t now_ms, uint32_t delay_ms);
size_t _hak_arena_trim(void);       /* every resident free chunk advised away: bytes */
size_t _hak_arena_idle_bytes(void); /* resident free chunks: bytes */

#endif
