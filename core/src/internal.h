/* Internal declarations shared by the allocator's files. Nothing here is
 * exported: every function is hidden (-fvisibility=hidden) and carries the
 * _hak_ prefix. */
#ifndef HAKMEM_INTERNAL_H
#define HAKMEM_INTERNAL_H

#include "hakmem.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define HAK_INLINE static inline __attribute__((always_inline))

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
#define HAK_TINY_MAX 1024u
#define HAK_MID_MAX 65536u
#define HAK_CLASSES 44
#define HAK_TINY_CLASSES 20
#define HAK_LARGE_HEADER 64u /* large blocks: user pointer >= base + 64 */
#define HAK_MAX_ALIGN_SMALL HAK_UNIT_SIZE /* slab starts are unit aligned */

/* ---- size classes (classes.c) ---- */
extern uint32_t _hak_class_size[HAK_CLASSES];
extern uint8_t _hak_tiny_class[(HAK_TINY_MAX >> 3) + 1];
void _hak_classes_init(void);
unsigned _hak_class_units(unsigned cls);

HAK_INLINE unsigned hak_size_class(size_t size) { /* size <= HAK_MID_MAX */
    if (likely(size <= HAK_TINY_MAX)) return _hak_tiny_class[(size + 7) >> 3];
    size_t s = size - 1;
    unsigned k = 63u - (unsigned)__builtin_clzll(s); /* 10..15 */
    return HAK_TINY_CLASSES + (k - 10) * 4 + (unsigned)((s >> (k - 2)) & 3);
}

/* ---- options (options.def, options.c) ---- */
typedef enum hak_opt_id {
#define HAK_OPTION(id, env, type, choices, min, max, d_min, d_fast, d_bal, d_learn, d_res, rt, desc) \
    OPT_##id,
#include "os/options.def"
#undef HAK_OPTION
    OPT_COUNT
} hak_opt_id_t;

/* Each option's choices as an enumeration (MODE_BALANCED, THP_OFF, ...)
 * ending with OPT_<id>_CHOICES, how many there are (0: not enumerated). */
#define HAK_CHOICE_ENUMERATOR(id, name) id,
#define HAK_OPTION(id, env, type, choices, min, max, d_min, d_fast, d_bal, d_learn, d_res, rt, desc) \
    enum { choices(HAK_CHOICE_ENUMERATOR) OPT_##id##_CHOICES };
#include "os/options.def"
#undef HAK_OPTION

enum {
    HAK_CLASS_KNOBS = 0 /* per-class knobs (hak_class_knob_t) */
#define HAK_CLASS_KNOB(id, name, min, max, desc) +1
#include "os/options.def"
#undef HAK_CLASS_KNOB
};

extern _Atomic int64_t _hak_opt[OPT_COUNT];
extern _Atomic uint32_t _hak_tcache_cap[HAK_CLASSES];
extern _Atomic uint32_t _hak_prewarm[HAK_CLASSES];
const char *_hak_opt_str(hak_opt_id_t id); /* text options: "" when unset */
#define HAK_PATH_MAX 544
void _hak_expand_pid(char *out, size_t cap, const char *in); /* "%p" -> pid */
void _hak_options_init(void);
size_t _hak_options_json(char *buf, size_t cap);
bool _hak_class_knob_valid(unsigned knob);
bool _hak_class_knob_in_range(unsigned knob, int64_t value);
const char *_hak_mode_name(void);

/* Appends to a JSON or text buffer snprintf-style: `n` (a size_t in scope)
 * counts what the whole text needs even once `buf` (of `cap` bytes) is full. */
#define HAK_PUT(...) \
    n += (size_t)snprintf(n < cap ? buf + n : NULL, n < cap ? cap - n : 0, __VA_ARGS__)

#define HAK_COUNT(a) (sizeof(a) / sizeof((a)[0])) /* elements of an array */

HAK_INLINE int64_t hak_opt(hak_opt_id_t id) {
    return atomic_load_explicit(&_hak_opt[id], memory_order_relaxed);
}

/* ---- OS boundary (os.c): the only file that maps, unmaps or advises ---- */
extern size_t _hak_page_size;
void _hak_os_init(void);
void *_hak_os_map_aligned(size_t size, size_t align); /* NULL + ENOMEM */
void _hak_os_unmap(void *p, size_t size);
bool _hak_os_grow_in_place(void *p, size_t old_size, size_t new_size);
void _hak_os_dontneed(void *p, size_t size);
void _hak_os_hugepage(void *p, size_t size);
void *_hak_os_meta_alloc(size_t size); /* zeroed, never freed */
void *_hak_os_map_counter_page(int fd);
void _hak_os_counts(uint64_t calls[HAK_SYS_COUNT], uint64_t *mapped, uint64_t *peak,
                    uint64_t *madvised);
void _hak_os_lock(void);
void _hak_os_unlock(void);

/* ---- process services (proc.c) ---- */
uint64_t _hak_now_ns(void);        /* CLOCK_MONOTONIC */
uint64_t _hak_thread_cpu_ns(void); /* CPU time of the calling thread */
bool _hak_os_faults(uint64_t *minor, uint64_t *major); /* page faults of the process */
uint64_t _hak_os_rss_bytes(void);  /* resident set; 0 when unknown */
size_t _hak_os_llc_bytes(void);    /* last-level cache size */
void _hak_write_all(int fd, const char *s, size_t n);
int _hak_os_create(const char *path, bool append); /* an fd, or -1 with errno */
void _hak_os_close(int fd);
int _hak_os_pid(void);
void _hak_os_sleep_ms(uint64_t ms);
bool _hak_os_thread_start(void *(*fn)(void *), size_t stack_bytes); /* detached, signals blocked */
uint64_t _hak_os_random(void);     /* random per process, the same on every call */

/* ---- page map (pagemap.c): owner of an address, lock-free reads ----
 * One byte per 2 MiB chunk: low 2 bits the kind, high 6 bits how many
 * chunks back the region starts. */
enum { PM_NONE = 0, PM_SEGMENT = 1, PM_LARGE = 2 };
#define PM_TOP_BITS 13
#define PM_LEAF_BITS 14
extern _Atomic(uint8_t *) _hak_pagemap_top[1u << PM_TOP_BITS];
bool _hak_pagemap_set(uintptr_t base, size_t chunks, unsigned kind);
void _hak_pagemap_clear(uintptr_t base, size_t chunks);

HAK_INLINE unsigned hak_pagemap_get(uintptr_t a) {
    if (unlikely(a >> (HAK_CHUNK_SHIFT + PM_TOP_BITS + PM_LEAF_BITS))) return PM_NONE;
    uint8_t *leaf = atomic_load_explicit(
        &_hak_pagemap_top[a >> (HAK_CHUNK_SHIFT + PM_LEAF_BITS)], memory_order_acquire);
    if (unlikely(leaf == NULL)) return PM_NONE;
    return atomic_load_explicit(
        (_Atomic uint8_t *)&leaf[(a >> HAK_CHUNK_SHIFT) & ((1u << PM_LEAF_BITS) - 1)],
        memory_order_relaxed);
}

/* ---- segments and slabs (segment.c) ---- */
typedef struct hak_block {
    struct hak_block *next;
    uintptr_t mark; /* _hak_free_key ^ address while free */
} hak_block_t;

enum { SLAB_FREE = 0, SLAB_HEAD = 1, SLAB_TAIL = 2, SLAB_META = 3 };

typedef struct hak_slab {
    hak_block_t *free;      /* blocks returned to the slab */
    uint32_t used;          /* blocks out: in use or in a thread cache */
    uint32_t carved;        /* blocks carved so far (owner writes, any thread reads) */
    uint32_t capacity;      /* blocks the slab holds */
    uint32_t bsize;         /* block size */
    uint32_t inv;           /* inverse of bsize's odd part mod 2^32 */
    uint8_t shift;          /* trailing zero bits of bsize */
    uint8_t cls;            /* size class */
    uint8_t kind;           /* SLAB_* */
    uint8_t listed;         /* on its heap's partial list */
    uint16_t span;          /* HEAD: units spanned; TAIL: units back to head */
    uint16_t purged;        /* FREE units: pages already advised away */
    uintptr_t start;        /* first block */
    struct hak_slab *next, *prev; /* heap partial list of the class */
} hak_slab_t;

struct hak_heap;

typedef struct hak_segment {
    struct hak_heap *heap; /* owner */
    size_t size;           /* bytes mapped */
    uint32_t units;        /* units in the segment, the header unit included */
    uint32_t free_units;
    struct hak_segment *next, *prev; /* owner's segment list, or the cache */
    hak_slab_t slab[];     /* one per unit, and at least a chunk's worth */
} hak_segment_t;

/* Index of the block at byte offset `off` of a slab, or a number >= the
 * slab's capacity when `off` is not a multiple of the block size: with
 * bsize = m * 2^k (m odd), rotr(off * m^-1, k) is off / bsize exactly for
 * multiples and exceeds (2^32 - 1) / bsize otherwise. */
HAK_INLINE uint32_t hak_block_index(const hak_slab_t *s, uintptr_t off) {
    uint32_t x = (uint32_t)off * s->inv;
    unsigned k = s->shift;
    return (x >> k) | (x << ((32 - k) & 31)); /* a rotate; k = 0 gives x | x */
}

/* Slab-table entries: every unit of the first chunk has one (unused ones
 * stay SLAB_FREE), so the free path indexes it without a bounds check. */
#define HAK_CHUNK_UNITS (HAK_CHUNK_SIZE >> HAK_UNIT_SHIFT)

hak_segment_t *_hak_segment_new(struct hak_heap *heap, size_t size);
void _hak_segment_release(hak_segment_t *seg);
hak_slab_t *_hak_slab_new(struct hak_heap *heap, unsigned cls);
void _hak_slab_release(hak_slab_t *slab);
size_t _hak_segment_cache_trim(void);
size_t _hak_segment_purge(hak_segment_t *seg, uint32_t max_units, uint64_t deadline_ns);
void _hak_segment_lock(void);
void _hak_segment_unlock(void);

/* Start of the region holding `a`, given its page-map entry: segments and
 * large blocks may span several chunks. */
HAK_INLINE uintptr_t hak_region_base(uintptr_t a, unsigned pm) {
    return (a & ~(HAK_CHUNK_SIZE - 1)) - ((uintptr_t)(pm >> 2) << HAK_CHUNK_SHIFT);
}

/* The segment of a block known to be in one (any of its chunks). */
HAK_INLINE hak_segment_t *hak_segment_of(uintptr_t a) {
    return (hak_segment_t *)hak_region_base(a, hak_pagemap_get(a));
}

/* ---- thread heaps (heap.c) ---- */
typedef struct hak_bin {
    hak_block_t *head;
    uint32_t count;
    uint32_t pad_;
} hak_bin_t;

typedef struct hak_counters {
    uint64_t allocs[HAK_CLASSES];
    uint64_t frees[HAK_CLASSES];
    uint64_t misses[HAK_CLASSES];
    uint64_t remote_frees[HAK_CLASSES];
    uint64_t flushes[HAK_CLASSES]; /* bin overflows: a bundle went back to slabs */
    /* large blocks that went through the thread's stash (no lock) */
    uint64_t large_allocs, large_frees, large_bytes_in, large_bytes_out;
} hak_counters_t;

enum { HEAP_OWNED = 0, HEAP_ABANDONED = 1, HEAP_SHARED = 2, HEAP_DEAD = 3 };

typedef struct hak_heap {
    hak_bin_t bin[HAK_CLASSES];           /* the thread cache */
    hak_slab_t *partial[HAK_CLASSES];     /* slabs with free or uncarved blocks */
    _Atomic(hak_block_t *) remote;        /* frees from other threads */
    _Atomic uint32_t remote_count;
    _Atomic int state;                    /* HEAP_* */
    hak_segment_t *segments;
    unsigned seg_level;                   /* arena growth step */
    struct hak_heap *next_all;            /* registry of every heap */
    struct hak_heap *next_pool;           /* pool of abandoned heaps */
    /* Held by the owner while it changes its slab tables and segment list
     * (slow paths only), and by ACE while it advises free units away. */
    pthread_mutex_t seg_lock;
#define HAK_STASH_SLOTS 2
    void *large_stash[HAK_STASH_SLOTS];   /* freed large blocks kept for this thread */
    hak_counters_t ctr;                   /* written by the owner only */
} hak_heap_t;

extern uintptr_t _hak_free_key;

/* Slab fields the owner writes while other threads may read them (carved):
 * relaxed atomic accesses, plain moves on x86_64 and aarch64. */
HAK_INLINE uint32_t hak_load_relaxed32(const uint32_t *p) {
    return atomic_load_explicit((_Atomic uint32_t *)p, memory_order_relaxed);
}

HAK_INLINE void hak_store_relaxed32(uint32_t *p, uint32_t v) {
    atomic_store_explicit((_Atomic uint32_t *)p, v, memory_order_relaxed);
}

/* Counters are written by one thread (or under a lock) and read by any:
 * relaxed load and store, no read-modify-write. */
HAK_INLINE void hak_ctr_inc(uint64_t *c) {
    _Atomic uint64_t *a = (_Atomic uint64_t *)c;
    atomic_store_explicit(a, atomic_load_explicit(a, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

HAK_INLINE void hak_ctr_add(uint64_t *c, uint64_t v) {
    _Atomic uint64_t *a = (_Atomic uint64_t *)c;
    atomic_store_explicit(a, atomic_load_explicit(a, memory_order_relaxed) + v,
                          memory_order_relaxed);
}

HAK_INLINE uint64_t hak_ctr_get(const uint64_t *c) {
    return atomic_load_explicit((_Atomic uint64_t *)c, memory_order_relaxed);
}

#define HAK_POISON 0xDF

/* Every free block carries a keyed mark in its second word, so freeing it
 * again is caught with one compare. Debug builds also poison the rest and
 * check it when the block is handed out again. */
HAK_INLINE void hak_mark_free(hak_block_t *b, uint32_t bsize) {
    b->mark = _hak_free_key ^ (uintptr_t)b;
#ifdef HAK_DEBUG
    if (bsize > 16) __builtin_memset((uint8_t *)b + 16, HAK_POISON, bsize - 16);
#else
    (void)bsize;
#endif
}

HAK_INLINE bool hak_is_marked_free(const hak_block_t *b) {
    return b->mark == (_hak_free_key ^ (uintptr_t)b);
}

#define HAK_HEAP_EXITED ((hak_heap_t *)(uintptr_t)1)

extern __thread hak_heap_t *_hak_tl_heap __attribute__((tls_model("initial-exec")));

void *_hak_small_alloc_slow(size_t size, unsigned cls);
void _hak_small_free_slow(hak_segment_t *seg, hak_slab_t *slab, hak_block_t *b);
void _hak_bin_flush(hak_heap_t *h, unsigned cls);
void _hak_heaps_init(void);
void _hak_heap_thread_exit(void *heap);
void _hak_heaps_lock(void);
void _hak_heaps_unlock(void);
void _hak_heaps_child_reset(void);
void _hak_heaps_sum(hak_counters_t *out, uint64_t *created, uint64_t *reused, uint64_t *live);
void _hak_thread_flush(void);
size_t _hak_heaps_trim(void);
size_t _hak_release_caches(void);
/* Partial release: free units of every heap's segments advised away, at
 * most `units` per segment, until the deadline; heaps whose owner is busy
 * changing its segments are skipped. */
size_t _hak_heaps_release(uint64_t deadline_ns, uint32_t units);
/* Bytes idle in thread caches, remote frees queued, heaps with a thread. */
void _hak_heaps_probe(uint64_t *cached_bytes, uint64_t *backlog, uint64_t *live);
extern _Atomic uint64_t _hak_tier_reserved[HAK_TIER_COUNT];
extern _Atomic uint64_t _hak_segments_live;

/* ---- large tier with BigCache (large.c) ---- */
void *_hak_large_alloc(size_t size, size_t align, bool zero);
void _hak_large_free(void *p);
size_t _hak_large_usable(const void *p);
void *_hak_large_realloc(void *p, size_t size);
size_t _hak_large_trim(void);
size_t _hak_large_scavenge(uint64_t deadline_ns); /* idle BigCache blocks advised away */
size_t _hak_large_idle_bytes(void);
void _hak_large_unstash(struct hak_heap *h); /* the stashed blocks go to BigCache */
void _hak_large_lock(void);
void _hak_large_unlock(void);
void _hak_large_stats(hak_tier_stats_t *out);

/* ---- checks and failures (check.c) ---- */
extern _Atomic int _hak_aborting;
__attribute__((noreturn, cold)) void _hak_fail(const char *what, const void *ptr);
void _hak_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void _hak_crash_handlers_install(void);

#ifdef HAK_DEBUG
void _hak_debug_check_block(const struct hak_heap *h, const void *b, unsigned cls);
#define HAK_ASSERT(cond, what, ptr) \
    do { if (unlikely(!(cond))) _hak_fail(what, ptr); } while (0)
#else
#define HAK_ASSERT(cond, what, ptr) ((void)0)
#endif

/* ---- measurements for the learning layer (metrics.c) ----
 * While ACE runs, lock waits are timed when the lock is contended and
 * slow-path latency is sampled into a log2 histogram. */
extern _Atomic uint64_t _hak_lock_wait_ns;
extern _Atomic int _hak_sampling;
#define HAK_LAT_BUCKETS 40
extern _Atomic uint64_t _hak_lat_hist[HAK_LAT_BUCKETS];
void _hak_lock_slow(pthread_mutex_t *m);
void _hak_lat_record(uint64_t ns);

/* Waits are timed only while ACE runs: glibc's pthread_mutex_lock skips
 * the bus lock in a single-threaded process, and trylock does not. */
HAK_INLINE void hak_lock(pthread_mutex_t *m) {
    if (likely(!atomic_load_explicit(&_hak_sampling, memory_order_relaxed)))
        pthread_mutex_lock(m);
    else if (unlikely(pthread_mutex_trylock(m) != 0))
        _hak_lock_slow(m);
}

/* Start of a sampled slow-path operation, the n-th of its kind: one in 64
 * is timed while ACE runs (two clock reads on every refill would cost more
 * than the fast path); 0 when not sampled. */
HAK_INLINE uint64_t hak_lat_begin(uint64_t n) {
    if ((n & 63) != 0 || !atomic_load_explicit(&_hak_sampling, memory_order_relaxed)) return 0;
    return _hak_now_ns();
}

HAK_INLINE void hak_lat_end(uint64_t t0) {
    if (t0 != 0) _hak_lat_record(_hak_now_ns() - t0);
}

/* ---- arithmetic of the learning layer, without libm (a static link of
 * libhakmem.a then needs no -lm) ---- */
double _hak_ln(double x);  /* x > 0 */
double _hak_exp(double x); /* |x| < 700 */
double _hak_sqrt(double x); /* x >= 0 */

/* ---- ELO choice of the large-block cache threshold (elo.c) ---- */
#define HAK_ELO_CANDIDATES 4 /* a power of two: header values are masked with it */
void _hak_elo_init(void);
/* Chosen before the allocation it steers: the strategy (candidate index)
 * and whether this allocation is measured. */
unsigned _hak_elo_choose(bool *measure);
/* The cache threshold in force for a strategy: HAKMEM_BIGCACHE_MAX_BLOCK_MB
 * when ELO is off. */
size_t _hak_elo_threshold(unsigned strategy);
const char *_hak_elo_state_name(int state);
void _hak_elo_alloc_done(unsigned strategy, uint64_t ns);
void _hak_elo_free_done(unsigned strategy, uint64_t ns);
bool _hak_elo_measuring(void); /* LEARN or CANARY: frees are timed */
size_t _hak_elo_trace_json(char *buf, size_t cap);
void _hak_elo_lock(void);
void _hak_elo_unlock(void);

/* ---- ACE, the adaptive control engine (ace.c) ---- */
void _hak_ace_init(void);
bool _hak_ace_wanted(void);
void _hak_ace_start(void);
void _hak_ace_lock(void);
void _hak_ace_unlock(void);
void _hak_ace_child(void); /* unlocks */
size_t _hak_learn_summary(char *buf, size_t cap);
_Static_assert(HAK_ACE_CLASSES == HAK_CLASSES, "public class count");
_Static_assert(HAK_ELO_CANDIDATE_COUNT == HAK_ELO_CANDIDATES, "public candidate count");

/* ---- PMU (pmu.c) ---- */
void _hak_pmu_init(void);
uint64_t _hak_pmu_read(uint32_t *source);

/* ---- init (init.c) ---- */
extern _Atomic int _hak_init_state; /* 0 none, 1 in progress, 2 ready */
void _hak_init(void);
bool _hak_init_in_progress_here(void);

HAK_INLINE void hak_ensure_init(void) {
    if (unlikely(atomic_load_explicit(&_hak_init_state, memory_order_acquire) != 2)) _hak_init();
}

#endif
