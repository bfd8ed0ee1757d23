/* Segments and slabs: 2 MiB-aligned regions of 1-32 MiB, each owned by one
 * thread heap, cut into 64 KiB units; a slab is a run of units carved into
 * blocks of one size class. Also the size classes and the free-block mark.
 * Calls the page map and the OS layer; under memory pressure, the hook the
 * API layer registered (_hak_on_pressure). */
#ifndef HAKMEM_SEGMENT_H
#define HAKMEM_SEGMENT_H

#include "pagemap/pagemap.h"

/* ---- size classes (classes.c) ---- */
extern uint32_t _hak_class_size[HAK_CLASSES];
/* Tiny classes come from a table with an entry per 8 bytes; mid classes
 * are four per power of two above 1 KiB (2^10). */
#define HAK_TINY_STEP_SHIFT 3
#define HAK_MID_BASE_SHIFT 10
#define HAK_MID_STEPS_SHIFT 2
extern uint8_t _hak_tiny_class[(HAK_TINY_MAX >> HAK_TINY_STEP_SHIFT) + 1];
void _hak_classes_init(void);
unsigned _hak_class_units(unsigned cls);

HAK_INLINE unsigned hak_size_class(size_t size) { /* size <= HAK_MID_MAX */
    if (likely(size <= HAK_TINY_MAX))
        return _hak_tiny_class[(size + (1u << HAK_TINY_STEP_SHIFT) - 1) >> HAK_TINY_STEP_SHIFT];
    size_t s = size - 1;
    unsigned k = 63u - (unsigned)__builtin_clzll(s); /* 10..15 */
    return HAK_TINY_CLASSES + ((k - HAK_MID_BASE_SHIFT) << HAK_MID_STEPS_SHIFT) +
           (unsigned)((s >> (k - HAK_MID_STEPS_SHIFT)) & ((1u << HAK_MID_STEPS_SHIFT) - 1));
}

HAK_INLINE hak_tier_t hak_class_tier(unsigned cls) {
    return cls < HAK_TINY_CLASSES ? HAK_TIER_TINY : HAK_TIER_MID;
}

/* ---- blocks ---- */
typedef struct hak_block {
    struct hak_block *next;
    uintptr_t mark; /* _hak_free_key ^ address while free */
} hak_block_t;

extern uintptr_t _hak_free_key; /* random, odd: set at start-up */
#define HAK_POISON 0xDF

/* Every free block carries a keyed mark in its second word, so freeing it
 * again is caught with one compare. Debug builds also poison the rest and
 * check it when the block is handed out again. */
HAK_INLINE void hak_mark_free(hak_block_t *b, uint32_t bsize) {
    b->mark = _hak_free_key ^ (uintptr_t)b;
#ifdef HAK_DEBUG
    if (bsize > sizeof(hak_block_t))
        __builtin_memset((uint8_t *)b + sizeof(hak_block_t), HAK_POISON, bsize - sizeof(hak_block_t));
#else
    (void)bsize;
#endif
}

HAK_INLINE bool hak_is_marked_free(const hak_block_t *b) {
    return b->mark == (_hak_free_key ^ (uintptr_t)b);
}

/* ---- slabs ---- */
enum hak_slab_kind { SLAB_FREE = 0, SLAB_HEAD = 1, SLAB_TAIL = 2, SLAB_META = 3 };

typedef struct hak_slab {
    hak_block_t *free;      /* blocks returned to the slab */
    uint32_t used;          /* blocks out: in use or in a thread cache */
    uint32_t carved;        /* blocks carved so far (owner writes, any thread reads) */
    uint32_t capacity;      /* blocks the slab holds */
    uint32_t bsize;         /* block size */
    uint32_t inv;           /* inverse of bsize's odd part mod 2^32 */
    uint8_t shift;          /* trailing zero bits of bsize */
    uint8_t cls;            /* size class */
    uint8_t kind;           /* enum hak_slab_kind */
    uint8_t listed;         /* on its heap's partial list */
    uint16_t span;          /* HEAD: units spanned; TAIL: units back to head */
    uint16_t purged;        /* FREE units: pages already advised away */
    uintptr_t start;        /* first block */
    struct hak_slab *next, *prev; /* heap partial list of the class */
} hak_slab_t;

/* Index of the block at byte offset `off` of a slab, or a number >= the
 * slab's capacity when `off` is not a multiple of the block size: with
 * bsize = m * 2^k (m odd), rotr(off * m^-1, k) is off / bsize exactly for
 * multiples and exceeds (2^32 - 1) / bsize otherwise. */
HAK_INLINE uint32_t hak_block_index(const hak_slab_t *s, uintptr_t off) {
    uint32_t x = (uint32_t)off * s->inv;
    unsigned k = s->shift;
    return (x >> k) | (x << ((32 - k) & 31)); /* a rotate; k = 0 gives x | x */
}

/* ---- segments (segment.c) ---- */
struct hak_heap; /* the owner: a thread heap, never looked into here */

typedef struct hak_segment {
    struct hak_heap *heap; /* owner */
    size_t size;           /* bytes mapped */
    uint32_t units;        /* units in the segment, the header unit included */
    uint32_t free_units;
    struct hak_segment *next, *prev; /* owner's segment list, or the cache */
    /* Slab-table entries, one per unit: every unit of the first chunk has
     * one (unused ones stay SLAB_FREE), so the free path indexes it without
     * a bounds check. */
    hak_slab_t slab[];
} hak_segment_t;

/* The segments of one owner, which keeps this list in itself. */
typedef struct hak_seglist {
    hak_segment_t *head;
    unsigned level; /* growth step: each new segment is larger, up to the arena maximum */
} hak_seglist_t;

/* The segment of a block known to be in one (any of its chunks). */
HAK_INLINE hak_segment_t *hak_segment_of(uintptr_t a) {
    return (hak_segment_t *)hak_region_base(a, hak_pagemap_get(a));
}

/* The slab (its head entry) of a block known to be in a segment. */
static inline hak_slab_t *hak_slab_of(uintptr_t a) {
    hak_segment_t *seg = hak_segment_of(a);
    hak_slab_t *slab = &seg->slab[(a - (uintptr_t)seg) >> HAK_UNIT_SHIFT];
    return slab->kind == SLAB_TAIL ? slab - slab->span : slab;
}

/* A slab of class `cls` from the owner's segments (a new segment when none
 * has room); NULL when the OS refuses memory. */
hak_slab_t *_hak_slab_new(hak_seglist_t *list, struct hak_heap *owner, unsigned cls);
/* An empty slab's units go back to its segment, and the segment to the
 * cache or the OS once it is empty and not the owner's last. */
void _hak_slab_release(hak_seglist_t *list, hak_slab_t *slab);
/* Every empty segment of the list goes to the cache or the OS. */
void _hak_segments_release_empty(hak_seglist_t *list);
/* Runs of free units advised away, at most `units` per segment, until the
 * deadline (0: none); the caller holds the owner's segment lock. */
size_t _hak_segments_purge(hak_seglist_t *list, uint32_t units, uint64_t deadline_ns);
size_t _hak_segment_cache_trim(void); /* cached empty segments unmapped: bytes */
void _hak_segment_lock(void);
void _hak_segment_unlock(void);

/* ---- what the statistics read ---- */
extern _Atomic uint64_t _hak_tier_reserved[HAK_TIER_COUNT]; /* slab bytes per tier */
extern _Atomic uint64_t _hak_segments_live;

/* ---- memory pressure (an upward hook) ----
 * When the OS refuses a mapping, the segment and large tiers call what the
 * API layer registered at start-up (it empties the caches of idle memory)
 * and try once more. Returns the bytes released; 0 without a hook. */
void _hak_on_pressure(size_t (*release)(void));
size_t _hak_pressure_release(void);

#endif
