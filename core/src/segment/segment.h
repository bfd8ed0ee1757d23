/* Segments and slabs: 2 MiB-aligned chunks of 1 or 2 MiB, each owned by one
 * thread heap, cut into 64 KiB units; a slab is a run of units carved into
 * blocks of one size class. Also the size classes and the free-block mark.
 * Calls the page map and the OS layer; under memory pressure, the hook the
 * API layer registered (_hak_on_pressure). */
#ifndef HAKMEM_SEGMENT_H
#define HAKMEM_SEGMENT_H

#include "pagemap/pagemap.h"

/* ---- size classes (classes.c) ---- */
extern uint32_t _hak_class_size[HAK_CLASSES];
/* The distance between two blocks of a class's slabs: its size, or a little
 * more where blocks of a page or more would all start at a few offsets
 * into their pages (classes.c). The room past the size is no one's: a
 * block's usable size is its class's. */
extern uint32_t _hak_class_stride[HAK_CLASSES];
/* Tiny classes come from a table with an entry per 8 bytes; mid classes
 * are four per power of two above 1 KiB (2^10). */
#define HAK_TINY_STEP_SHIFT 3
#define HAK_MID_BASE_SHIFT 10
#define HAK_MID_STEPS_SHIFT 2
extern uint8_t _hak_tiny_class[(HAK_TINY_MAX >> HAK_TINY_STEP_SHIFT) + 1];
void _hak_classes_init(void);
/* A class's slabs come in sizes, one per level: level 0 for sparse classes,
 * each level up twice the blocks (up to 512 KiB). Units and blocks per
 * slab of each class at each level, from start-up on. */
#define HAK_SLAB_LEVELS 4
extern uint8_t _hak_slab_units[HAK_SLAB_LEVELS][HAK_CLASSES];
extern uint32_t _hak_slab_blocks[HAK_SLAB_LEVELS][HAK_CLASSES];

HAK_INLINE unsigned hak_size_class(size_t size) { /* size <= HAK_MID_MAX */
    if (likely(size <= HAK_TINY_MAX))
        return _hak_tiny_class[(size + (1u << HAK_TINY_STEP_SHIFT) - 1) >> HAK_TINY_STEP_SHIFT];
    size_t s = size - 1;
    /* 10..15; written out: through hak_log2 clang gives malloc's mid path
     * one instruction more */
    unsigned k = 63u - (unsigned)__builtin_clzll(s);
    return HAK_TINY_CLASSES + ((k - HAK_MID_BASE_SHIFT) << HAK_MID_STEPS_SHIFT) +
           (unsigned)((s >> (k - HAK_MID_STEPS_SHIFT)) & ((1u << HAK_MID_STEPS_SHIFT) - 1));
}

/* The class of spans (one-block slabs of whole units, sizes past the mid
 * tier up to HAK_SPAN_MAX): each slab keeps its own block size. */
#define HAK_SPAN_CLASS HAK_CLASSES

HAK_INLINE hak_tier_t hak_class_tier(unsigned cls) {
    return cls < HAK_TINY_CLASSES ? HAK_TIER_TINY : (cls < HAK_CLASSES ? HAK_TIER_MID : HAK_TIER_LARGE);
}

/* ---- blocks ----
 * A free block holds its link in its first word and a keyed mark in its
 * second. Links are never plain addresses, so a write after free cannot
 * steer malloc and a read of a block reveals no address:
 *  - a slab's lists link blocks by their index in the slab, stored xor the
 *    low half of (secret ^ the block's own address); malloc takes only an
 *    index below the slab's carved count, so a corrupted link can name at
 *    most another block of the same slab (a block boundary), never memory
 *    outside it, and an index past the carved blocks stops the process;
 *  - a block freed by another thread than its owner's waits in a batch
 *    that lists addresses apart from the blocks; its link holds a seal (a
 *    second secret xor its address), and the owner checks each block it
 *    takes back (a block start of a live slab of its own heap, sealed and
 *    marked free) before it links it. */
typedef struct hak_block {
    uint64_t link;
    uintptr_t mark; /* _hak_keys.free ^ address while free */
} hak_block_t;

/* The secrets, random, set at start-up and read by every malloc and free:
 * a cache line of their own, so that no write to a neighbour (a lock, a
 * counter) takes the line away from the cores that read them. */
typedef struct hak_keys {
    uintptr_t free;   /* odd: free blocks' marks and slab links */
    uintptr_t chain;  /* the seal of blocks in remote batches */
    uintptr_t canary; /* hardened mode's canaries */
} __attribute__((aligned(HAK_CACHE_LINE))) hak_keys_t;
extern hak_keys_t _hak_keys HAK_HIDDEN;
void _hak_keys_init(void); /* at start-up, before any block is carved */
#define HAK_NO_BLOCK 0xFFFFFFFFu /* the end of a slab list: past any carved block */

/* Every free block carries a keyed mark in its second word, so freeing it
 * again is caught with one compare; malloc clears it. */
HAK_INLINE void hak_mark_free(hak_block_t *b) { b->mark = _hak_keys.free ^ (uintptr_t)b; }

HAK_INLINE bool hak_is_marked_free(const hak_block_t *b) {
    return b->mark == (_hak_keys.free ^ (uintptr_t)b);
}

/* A slab-list link: the next block's index, keyed with the secret and the
 * holder's address (the free fast path has the key in hand: the mark). */
HAK_INLINE void hak_link_set(hak_block_t *b, uint32_t next) {
    b->link = next ^ (uint32_t)(_hak_keys.free ^ (uintptr_t)b);
}

HAK_INLINE uint32_t hak_link_get(const hak_block_t *b) {
    return (uint32_t)b->link ^ (uint32_t)(_hak_keys.free ^ (uintptr_t)b);
}

/* The link of a block waiting in a remote batch: a write after its free
 * breaks the seal, and its owner stops the process rather than link it. */
HAK_INLINE void hak_seal(hak_block_t *b) { b->link = _hak_keys.chain ^ (uintptr_t)b; }

HAK_INLINE bool hak_is_sealed(const hak_block_t *b) {
    return b->link == (_hak_keys.chain ^ (uintptr_t)b);
}

/* ---- hardened blocks (HAKMEM_HARDEN=1, the debug flavour) ----
 * A small block ends with an 8-byte canary (a secret ^ its address),
 * written when it is handed out and checked when it is freed; its usable
 * size is the block's less the canary. The largest class has no room to
 * spare (a 64 KiB request fills it) and carries none. A freed block is
 * filled (zeros in release, HAK_POISON in debug) from its third word on,
 * and the filling is checked when it is handed out again. */
#define HAK_CANARY_BYTES 8u
#define HAK_POISON 0xDF

HAK_INLINE uint32_t hak_canary_room(unsigned cls) {
    return hak_hardened() && cls < HAK_CLASSES - 1 ? HAK_CANARY_BYTES : 0;
}

/* The class malloc(size) takes (size <= HAK_MID_MAX): in hardened mode the
 * smallest with room for the block and its canary. */
HAK_INLINE unsigned hak_class_for(size_t size) {
    unsigned cls = hak_size_class(size);
    while (cls < HAK_CLASSES - 1 && _hak_class_size[cls] - hak_canary_room(cls) < size) cls++;
    return cls;
}

HAK_INLINE uint64_t hak_canary_of(const void *b) { return _hak_keys.canary ^ (uintptr_t)b; }

HAK_INLINE uint64_t hak_fill_word(void) {
#ifdef HAK_DEBUG
    return 0x0101010101010101ull * HAK_POISON;
#else
    return 0;
#endif
}

/* The owner a hardened heap's slabs carry: never a thread's pointer, so
 * free's fast path passes every block to the hardened path. */
#define HAK_OWNER_HARDENED 1u
HAK_INLINE uintptr_t hak_owner_tag(uintptr_t tp) {
    return tp != 0 && hak_hardened() ? tp ^ HAK_OWNER_HARDENED : tp;
}

/* ---- slabs ---- */
enum hak_slab_kind { SLAB_FREE = 0, SLAB_HEAD = 1, SLAB_TAIL = 2 };
/* The list of its heap a slab is on (the heap layer's lists). */
enum hak_slab_list { SLAB_IN_NONE = 0, SLAB_IN_QUEUE = 1, SLAB_IN_EMPTY = 2 };
#define HAK_SLAB_MAX_PAGES 128 /* OS pages of a slab its released-page mask covers */

/* One descriptor per 64 KiB unit, in the segment's first unit. Its first
 * cache line holds what the owner rarely writes (set when the slab is made,
 * carved, or changes lists) and every free reads: another thread's free
 * reads only that line, so it does not pull the line the owner writes on
 * every malloc and free (free, local_free, used: the second) away from
 * the owner's cache. malloc reads free, carved, bsize and start and writes
 * free; free reads carved, inv, shift, kind and owner and writes
 * local_free and used.
 *
 * Counting: malloc's fast path counts nothing. The blocks joining the list
 * malloc pops of a current slab count as handed out at once (`used` and
 * `allocs` grow by their number), and so do the local frees of a slab
 * that becomes current (they follow that list); the census subtracts what
 * is still on the two, and a slab that stops being current gives its rest
 * back. */
typedef struct hak_slab {
    /* ---- read by every free; written by the owner's slow paths ---- */
    uint32_t carved;            /* blocks carved so far; 0 in tail and free units */
    uint32_t inv;               /* inverse of bsize's odd part mod 2^32 */
    uint8_t shift;              /* trailing zero bits of bsize */
    uint8_t cls;                /* size class */
    uint8_t kind;               /* enum hak_slab_kind */
    uint8_t current;            /* its heap allocates from it */
    uint32_t bsize;             /* block size */
    _Atomic uintptr_t owner;    /* thread pointer of its heap's thread; 0: none */
    uintptr_t start;            /* first block */
    struct hak_heap *heap;      /* owner; never looked into here */
    uint32_t capacity;          /* blocks the slab holds */
    uint32_t usable;            /* bytes a block gives its user: bsize less the canary (a sized
                                 * free checks it) */
    uint16_t span;              /* HEAD: units spanned; TAIL: units back to the head */
    uint8_t list;               /* enum hak_slab_list */
    uint8_t purged;             /* FREE unit: its pages were advised away */
    uint32_t released;          /* blocks out of every list: a page of theirs was released */
    /* A slab whose every block is out is full: off every list, its `used`
     * counts down the frees it waits for before it is worth queueing
     * again, so a class whose slabs are nearly full does not switch slabs
     * on every malloc. Blocks out = used + capacity - requeue. */
    uint32_t requeue;
    uint8_t full;
    uint8_t settled; /* decay looked at its free list, which has not grown since */
    uint16_t heap_slot; /* set by the heap layer: its heap's slot in a freeing thread's batches */
    /* ---- written by the owner on every malloc and free ---- */
    uint32_t free;              /* index of the first block malloc hands out (the owner's
                                 * thread only); >= carved: none */
    uint32_t local_free;        /* the owner's frees while not current, by index; become `free`
                                 * when it runs dry (while current, counted with it) */
    int32_t used;               /* blocks out (+ the list malloc pops and 1 while current);
                                 * while full, see `full` */
    union {
        int32_t lifo_left;      /* while current: frees onto `free` before the owner's next
                                 * heartbeat (heap.h) */
        uint32_t local_seen;    /* while not: the head of `local_free` the owner's last decay
                                 * pass saw (heap/decay.c) */
    };
    struct hak_slab *next, *prev; /* its heap's list */
    uint64_t page_mask[HAK_SLAB_MAX_PAGES / 64]; /* OS pages released while in use */
    uint64_t stamp;             /* ns: idle since (queued, emptied, or a free unit) */
    uint64_t allocs;            /* blocks handed out in the slab's life (statistics); its top
                                 * bit is the heap layer's (HAK_ALLOCS_UNSORTED) */
} hak_slab_t;

_Static_assert(sizeof(hak_slab_t) == (1u << HAK_DESC_SHIFT), "a slab descriptor is 128 bytes");
_Static_assert(offsetof(hak_slab_t, free) == HAK_CACHE_LINE,
               "what the owner writes on every call starts the second cache line");

/* Index of the block at byte offset `off` of a slab, or a number >= the
 * slab's capacity when `off` is not a multiple of the block size: with
 * bsize = m * 2^k (m odd), rotr(off * m^-1, k) is off / bsize exactly for
 * multiples and exceeds (2^32 - 1) / bsize otherwise. */
HAK_INLINE uint32_t hak_block_index(const hak_slab_t *s, uintptr_t off) {
    uint32_t x = (uint32_t)off * s->inv;
    unsigned k = s->shift;
    return (x >> k) | (x << ((32 - k) & 31)); /* a rotate; k = 0 gives x | x */
}

/* Block i of a slab (i < carved: the slab's own blocks only). */
HAK_INLINE hak_block_t *hak_block_at(const hak_slab_t *s, uint32_t i) {
    return (hak_block_t *)(s->start + (uint32_t)(i * s->bsize));
}

/* ---- segments (segment.c) ----
 * A segment is one 2 MiB-aligned chunk (1 or 2 MiB) owned by one heap.
 * Its first unit holds the segment header and the units' descriptors;
 * every chunk describes itself, so free finds a block's descriptor with a
 * mask and a shift. */
struct hak_heap; /* the owner: a thread heap, never looked into here */

typedef struct hak_segment {
    uint32_t zero_;              /* where a descriptor has `carved`: the header is no block */
    uint32_t inv_, kind_;        /* where a descriptor has inv, shift and kind: 0 */
    uint32_t units;              /* units in the segment, the header unit included */
    struct hak_heap *heap;       /* owner */
    size_t size;                 /* bytes mapped */
    uint32_t free_units;
    /* Bit u: unit u is free (free_map), and its pages were advised away
     * (purged_map, a subset): a new slab finds a run of free units from
     * these words, without reading every unit's descriptor. */
    uint32_t free_map;
    struct hak_segment *next, *prev; /* owner's segment list, or the cache */
    uint32_t purged_map;
} hak_segment_t;

_Static_assert(HAK_CHUNK_UNITS <= 32, "a segment's unit maps are 32-bit words");

_Static_assert(offsetof(hak_segment_t, zero_) == offsetof(hak_slab_t, carved) &&
                   offsetof(hak_segment_t, kind_) == offsetof(hak_slab_t, shift),
               "a pointer into the header unit fails the free path's check");

/* The segments of one owner, which keeps this list in itself. */
typedef struct hak_seglist {
    hak_segment_t *head;
    unsigned level; /* growth step: the first segment may be smaller */
} hak_seglist_t;

HAK_INLINE hak_segment_t *hak_segment_base(uintptr_t a) {
    return (hak_segment_t *)hak_align_down(a, HAK_CHUNK_SIZE);
}

/* Descriptor of the unit holding `a` (the segment header for unit 0). */
HAK_INLINE hak_slab_t *hak_slab_at(uintptr_t a) {
    return (hak_slab_t *)(hak_align_down(a, HAK_CHUNK_SIZE) |
                          ((a >> (HAK_UNIT_SHIFT - HAK_DESC_SHIFT)) &
                           ((uintptr_t)(HAK_CHUNK_UNITS - 1) << HAK_DESC_SHIFT)));
}

HAK_INLINE hak_slab_t *hak_seg_slab(hak_segment_t *seg, unsigned u) {
    return (hak_slab_t *)((uintptr_t)seg + ((uintptr_t)u << HAK_DESC_SHIFT));
}

HAK_INLINE unsigned hak_slab_unit(const hak_slab_t *s) {
    return (unsigned)(((uintptr_t)s & (HAK_CHUNK_SIZE - 1)) >> HAK_DESC_SHIFT);
}

HAK_INLINE unsigned hak_unit_of(uintptr_t a) {
    return (unsigned)((a >> HAK_UNIT_SHIFT) & (HAK_CHUNK_UNITS - 1));
}

/* The slab a live block at `a` belongs to: its unit's descriptor, or for
 * a later unit of a multi-unit slab the head's (no bounds checked). */
HAK_INLINE hak_slab_t *hak_slab_head_at(uintptr_t a) {
    hak_slab_t *s = hak_slab_at(a);
    return s->kind == SLAB_TAIL ? s - s->span : s;
}

/* The head slab of a small block, or NULL when `a` is not the start of a
 * block that was handed out (the caller names the failure). */
HAK_INLINE hak_slab_t *hak_small_locate(uintptr_t a) {
    hak_slab_t *s = hak_slab_at(a);
    if (s->kind == SLAB_TAIL) s -= s->span;
    else if (s->kind != SLAB_HEAD || hak_unit_of(a) == 0) return NULL;
    if (hak_block_index(s, a - s->start) >= hak_load_relaxed32(&s->carved)) return NULL;
    return s;
}

/* A new slab of `units` units for class cls, of blocks of bsize bytes,
 * from the owner's segments (resident free units first; with `grow`, a new
 * segment when none has room), its descriptor set up, nothing carved; NULL
 * when the OS refuses memory, or without `grow` when no segment has room.
 * `owner_tp` is the owning thread's pointer (0: none). *fresh says whether
 * every unit was untouched memory (reads as zeros). */
hak_slab_t *_hak_slab_new(hak_seglist_t *list, struct hak_heap *heap, uintptr_t owner_tp,
                          unsigned cls, uint32_t units, uint32_t bsize, bool grow, bool *fresh);
/* Grows a slab in place by the free units that follow it in its segment,
 * to `units`; false when they are not all free. */
bool _hak_slab_extend(hak_slab_t *slab, uint32_t units, uint32_t bsize);
void _hak_slab_set_bsize(hak_slab_t *slab, uint32_t bsize);
/* An empty slab's units go back to its segment, dated `now` for decay. */
void _hak_slab_free_units(hak_slab_t *slab, uint64_t now);
/* A segment without a slab leaves its list for the cache or the OS. */
void _hak_segment_release(hak_seglist_t *list, hak_segment_t *seg);
/* Free units freed at or before `older_than` (ns) advised away; returns the
 * bytes. The caller owns the list or holds its owner's lock. */
size_t _hak_segment_purge(hak_segment_t *seg, uint64_t older_than);
/* Every unit of the segment free and advised away: idle for a decay delay
 * at least (or never used). */
bool _hak_segment_idle(hak_segment_t *seg);
size_t _hak_segment_cache_trim(void); /* cached empty segments unmapped: bytes */
void _hak_segment_lock(void);
void _hak_segment_unlock(void);
/* Purged memory handed out again (the page faults decay caused), bytes. */
extern _Atomic uint64_t _hak_refault_bytes;

/* ---- what the statistics read ---- */
extern _Atomic uint64_t _hak_tier_reserved[HAK_TIER_COUNT]; /* slab bytes per tier */
extern _Atomic uint64_t _hak_segments_live;

/* ---- memory pressure (an upward hook) ----
 * When the OS refuses a mapping, the segment and large tiers call what the
 * API layer registered at start-up (it empties the caches of idle memory)
 * and try once more: _hak_map_aligned does both. */
void _hak_on_pressure(size_t (*release)(void));
/* _hak_os_map_aligned, tried once more after the caches are released when
 * the OS refuses (out of memory or address space). */
void *_hak_map_aligned(size_t size, size_t align);

#endif
