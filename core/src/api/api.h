/* The API layer: the hak_* calls of hakmem.h and the standard allocation
 * symbols (alloc.c, override.c), the statistics (stats.c), configuration
 * (config.c), and what the learning layer may do to the tiers (tiers.c).
 * Calls every tier below; upward only through the summary hook here,
 * which the learning layer sets at start-up. */
#ifndef HAKMEM_API_H
#define HAKMEM_API_H

#include "large/guard.h"
#include "large/large.h"

/* ---- sized frees (alloc.c, sized.c) ----
 * free_sized, free_aligned_sized and C++'s sized and aligned deletes: the
 * free fast path with the stated size checked against the block; a
 * statement that cannot be true stops the process with one line naming
 * `call` ("free_sized", "operator delete", ...), the problem and the
 * pointer. NULL does nothing. */
void _hak_free_sized_as(void *p, size_t size, const char *call);
void _hak_free_aligned_sized_as(void *p, size_t alignment, size_t size, const char *call);
/* A stated size larger than the block's `usable` bytes: one line, abort. */
__attribute__((noreturn, cold)) void _hak_size_fail(const char *call, const void *p, size_t size,
                                                    size_t usable);

/* What is mapped but not in use: BigCache and the empty-segment cache;
 * also the last resort before an allocation reports ENOMEM (the tiers'
 * pressure hook). Returns the bytes released. */
size_t _hak_release_caches(void);
void _hak_api_init(void); /* registers the pressure hook, starts the statistics */

/* ---- statistics (stats.c) ---- */
void _hak_stats_collect(hak_stats_t *s);
/* Keeps the stderr of the start for HAKMEM_STATS=1 (at start-up). */
void _hak_stats_init(void);
/* The text of hak_stats_print written to a stream (malloc_stats). */
void _hak_stats_fprint(FILE *f);
const char *_hak_tier_name(unsigned tier); /* "tiny", "mid", "large" */

/* ---- glibc's introspection calls, answered with the statistics (mallinfo.c) ----
 * glibc's struct mallinfo2 (glibc 2.33; the headers of the 2.17 floor
 * lack it), field for field; override.c exports the libc names. */
#define HAK_MALLINFO_FIELDS(X)                                                                     \
    X(arena) X(ordblks) X(smblks) X(hblks) X(hblkhd) X(usmblks) X(fsmblks) X(uordblks) X(fordblks) \
    X(keepcost)
#define HAK_MALLINFO_SIZE_FIELD_(f) size_t f;
struct mallinfo2 {
    HAK_MALLINFO_FIELDS(HAK_MALLINFO_SIZE_FIELD_)
};
#undef HAK_MALLINFO_SIZE_FIELD_
struct mallinfo2 _hak_mallinfo(void);
/* malloc_info: the XML document of glibc's shape with hakmem's figures. */
int _hak_malloc_info(int options, FILE *fp);
/* One more line for the printed statistics (HAKMEM_STATS=1): the learning
 * layer's summary, set at start-up. */
void _hak_stats_on_summary(size_t (*line)(char *buf, size_t cap));

/* ---- the tiers as the learning layer sees them (tiers.c) ----
 * What to observe and how to give idle memory back within a time budget:
 * learning acts on the allocator through this table and the runtime knobs
 * (hak_opt_store), and reaches into no tier. */
typedef struct hak_tier_ops {
    /* per-class counters summed over every heap */
    void (*counters)(hak_counters_t *out);
    /* bytes idle in thread caches, remote frees queued, heaps with a thread */
    void (*caches)(uint64_t *cached_bytes, uint64_t *backlog, uint64_t *live);
    /* heaps made or adopted so far: it moves when a thread starts to
     * allocate (a racy read, no lock) */
    uint64_t (*heaps_made)(void);
    /* bytes handed out and not yet freed, all tiers */
    uint64_t (*in_use)(void);
    /* resident bytes waiting in BigCache */
    size_t (*large_idle)(void);
    /* bytes of BigCache blocks reused after their pages were given back */
    uint64_t (*large_cold_hits)(void);
    /* idle memory given back until the deadline: BigCache's resident blocks,
     * then what the heaps hold without a block in use; bytes released */
    size_t (*release)(uint64_t deadline_ns);
    /* the decay the program's slow paths do, for every heap (idle threads'
     * too): memory idle for HAKMEM_DECAY_MS given back until the deadline */
    size_t (*decay)(uint64_t deadline_ns);
    /* a class's thread-cache capacity, and the most it may be */
    uint32_t (*class_cap)(unsigned cls);
    uint32_t (*class_cap_limit)(unsigned cls);
    void (*set_class_cap)(unsigned cls, uint32_t cap);
    /* bytes given back by decay so far, and bytes of it faulted in again */
    void (*given_back)(uint64_t *released, uint64_t *refaulted);
    /* the hook every heap slow path calls (NULL: none) */
    void (*on_slow_path)(hak_hook_fn fn);
    /* the large tier's cache-threshold strategy, and a strategy's threshold */
    void (*set_large_strategy)(const hak_large_strategy_t *s);
    size_t (*large_threshold)(unsigned strategy);
} hak_tier_ops_t;

extern const hak_tier_ops_t _hak_tiers;

#endif
