/* hakmem — a learning memory allocator for Linux. Public API.
 *
 * libhakmem.so also exports the standard allocation symbols (malloc, free,
 * calloc, realloc, reallocarray, posix_memalign, aligned_alloc, memalign,
 * valloc, pvalloc, malloc_usable_size, free_sized, free_aligned_sized), so
 * LD_PRELOAD or linking libhakmem.a makes hakmem serve every allocation of
 * a program, and glibc's introspection calls (mallinfo, mallinfo2,
 * malloc_stats, malloc_info, malloc_trim) answer with hakmem's figures. The hak_*
 * calls below are the same allocator under names that never clash, plus
 * statistics and configuration. */
#ifndef HAKMEM_H
#define HAKMEM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define HAK_API __attribute__((visibility("default")))
#else
#define HAK_API
#endif

#define HAKMEM_VERSION_MAJOR 1
#define HAKMEM_VERSION_MINOR 0
#define HAKMEM_VERSION_PATCH 0

/* ---- allocation (same semantics as the libc calls of the same name) ---- */
HAK_API void *hak_malloc(size_t size);
HAK_API void hak_free(void *ptr);
HAK_API void *hak_calloc(size_t count, size_t size);
HAK_API void *hak_realloc(void *ptr, size_t size);
HAK_API void *hak_reallocarray(void *ptr, size_t count, size_t size);
HAK_API void *hak_aligned_alloc(size_t alignment, size_t size);
HAK_API int hak_posix_memalign(void **out, size_t alignment, size_t size);
HAK_API void *hak_memalign(size_t alignment, size_t size);
HAK_API size_t hak_usable_size(const void *ptr);

/* Returns the calling thread's cached blocks to their slabs, drains its
 * remote-free queue and releases empty slabs and segments. */
HAK_API void hak_thread_flush(void);
/* hak_thread_flush, then gives memory back to the OS: every large block
 * waiting in BigCache and every cached empty segment is unmapped, and the
 * free units of the calling thread's segments are advised away. Returns 1
 * when memory was released, else 0 (malloc_trim calls it). */
HAK_API int hak_trim(void);

/* ---- C23 sized frees ----
 * Exported as free_sized and free_aligned_sized too (C23; glibc 2.43 has
 * them). Free ptr, allocated with `size` bytes (and, for the aligned one,
 * by aligned_alloc with `alignment`); NULL does nothing. What the caller
 * states is checked first, and a statement that cannot be true aborts
 * with one line naming the problem: size larger than
 * hak_usable_size(ptr); for hak_free_aligned_sized also an alignment that
 * is not a power of two, or ptr not a multiple of it. */
HAK_API void hak_free_sized(void *ptr, size_t size);
HAK_API void hak_free_aligned_sized(void *ptr, size_t alignment, size_t size);

/* ---- size classes ---- */
/* Number of small/mid size classes (tiny and mid tiers). */
HAK_API unsigned hak_class_count(void);
/* Block size of class `cls`, or 0 when cls >= hak_class_count(). */
HAK_API size_t hak_class_size(unsigned cls);
/* Class serving a request of `size` bytes, or -1 when it goes to the large
 * tier. */
HAK_API int hak_class_of(size_t size);
/* Largest size served by the tiny tier (1024) and by the mid tier. */
HAK_API size_t hak_tiny_max(void);
HAK_API size_t hak_mid_max(void);

/* ---- statistics ----
 * Listed once: the lists below generate the enumerations and hak_stats_t,
 * and the library writes the JSON of hak_stats_json and the layout of
 * hak_stats_layout_json from the same lists, so bindings decode the struct
 * without a copy of it. */
#define HAK_STATS_VERSION 4u

/* X(enumerator suffix, JSON name) */
#define HAK_TIER_LIST(X) X(TINY, "tiny") X(MID, "mid") X(LARGE, "large")
#define HAK_SYSCALL_LIST(X)                                                                        \
    X(MMAP, "mmap") X(MUNMAP, "munmap") X(MADVISE, "madvise") X(MREMAP, "mremap")
/* X(enumerator suffix, JSON name, meaning): where llc_misses come from */
#define HAK_PMU_SOURCE_LIST(X)                                                                     \
    X(COMPILED_OUT, "compiled-out", "built without the PMU reader")                               \
    X(OFF, "off", "not requested (HAKMEM_PMU=off)")                                                \
    X(UNAVAILABLE, "unavailable", "perf_event_open refused: no count")                             \
    X(READ, "read", "counter read with read(2)")                                                   \
    X(RDPMC, "rdpmc", "counter read in user space with rdpmc")
/* X(field, meaning): the counters of each tier */
#define HAK_TIER_FIELD_LIST(X)                                                                     \
    X(allocs, "successful allocations")                                                            \
    X(frees, "frees")                                                                              \
    X(hits, "served from a cache (thread cache, BigCache)")                                        \
    X(misses, "had to refill from slabs, segments or the OS")                                      \
    X(remote_frees, "frees by a thread that does not own the block")                               \
    X(bytes_in_use, "block bytes handed out and not yet freed")                                    \
    X(bytes_reserved, "bytes mapped for this tier")
/* X(field, meaning): the process-wide counters */
#define HAK_COUNTER_LIST(X)                                                                        \
    X(bytes_mapped, "currently mapped by hakmem, metadata included")                               \
    X(peak_mapped, "high-water mark of bytes_mapped")                                              \
    X(madvised_bytes, "bytes given back with MADV_DONTNEED")                                       \
    X(minor_faults, "process page faults (getrusage)")                                             \
    X(major_faults, "process major page faults (getrusage)")                                       \
    X(heaps_created, "thread heaps made")                                                          \
    X(heaps_reused, "thread heaps adopted from exited threads")                                    \
    X(remote_batches, "batches of remote frees sent to their owners")                              \
    X(threads_live, "threads currently owning a heap")                                             \
    X(segments, "live segments (superslabs and arenas)")                                           \
    X(llc_misses, "last-level cache misses (see pmu_source)")                                      \
    X(decay_runs, "passes of decay: idle memory given back (HAKMEM_DECAY_MS)")                     \
    X(decay_bytes, "bytes decay gave back to the OS (slabs, units, pages, BigCache blocks)")      \
    X(refault_bytes, "bytes given back that were handed out again (page faults decay caused)")    \
    X(os_failures,                                                                                 \
      "madvise and mremap calls the OS refused (survived: the memory stays as it was)")            \
    X(hot_grown_bytes, "room the hot stacks grew beyond their first, every thread")

#define HAK_ENUMERATOR_(id, name) HAK_TIER_##id,
typedef enum hak_tier { HAK_TIER_LIST(HAK_ENUMERATOR_) HAK_TIER_COUNT } hak_tier_t;
#undef HAK_ENUMERATOR_
#define HAK_ENUMERATOR_(id, name) HAK_SYS_##id,
typedef enum hak_syscall { HAK_SYSCALL_LIST(HAK_ENUMERATOR_) HAK_SYS_COUNT } hak_syscall_t;
#undef HAK_ENUMERATOR_
#define HAK_ENUMERATOR_(id, name, meaning) HAK_PMU_##id,
typedef enum hak_pmu_source { HAK_PMU_SOURCE_LIST(HAK_ENUMERATOR_) HAK_PMU_SOURCE_COUNT }
hak_pmu_source_t;
#undef HAK_ENUMERATOR_

#define HAK_U64_FIELD_(field, meaning) uint64_t field;
typedef struct hak_tier_stats {
    HAK_TIER_FIELD_LIST(HAK_U64_FIELD_)
} hak_tier_stats_t;

typedef struct hak_stats {
    uint32_t version;         /* HAK_STATS_VERSION */
    uint32_t size;            /* sizeof(hak_stats_t) of the library */
    hak_tier_stats_t tier[HAK_TIER_COUNT];
    uint64_t syscalls[HAK_SYS_COUNT]; /* OS calls by kind */
    HAK_COUNTER_LIST(HAK_U64_FIELD_)
    uint32_t pmu_source;      /* hak_pmu_source_t */
    uint32_t reserved_;
} hak_stats_t;
#undef HAK_U64_FIELD_

/* Fills `out` (whose size the caller passes) with a consistent-enough
 * snapshot. Returns 0, or -1 with errno EINVAL when out is NULL or
 * out_size < sizeof(hak_stats_t). */
HAK_API int hak_stats_get(hak_stats_t *out, size_t out_size);
/* Writes the statistics as one JSON object into buf (NUL-terminated when
 * cap > 0). Returns the length the full text needs, like snprintf. */
HAK_API size_t hak_stats_json(char *buf, size_t cap);
/* Prints the human-readable statistics to file descriptor fd. */
HAK_API void hak_stats_print(int fd);
/* Where each field of hak_stats_t lies, as JSON (same convention as
 * hak_stats_json): {"version", "size", "head": [{name, offset, type}],
 * "tiers": {offset, stride, names, fields: [{name, offset, description}]},
 * "syscalls": {offset, names}, "counters": [{name, offset, description}],
 * "pmu_source": {offset, names}}; tier fields, syscalls and counters are
 * u64, the others u32. Bindings decode the struct and check the JSON of
 * hak_stats_json with it. */
HAK_API size_t hak_stats_layout_json(char *buf, size_t cap);

/* ---- configuration ----
 * Options are read once from the environment at start (HAKMEM_MODE picks a
 * preset, individual HAKMEM_* variables override it). Knobs marked runtime
 * can be changed while the program runs. */

/* Effective mode name: "minimal", "fast", "balanced", "learning",
 * "research". */
HAK_API const char *hak_mode(void);
/* Library version "1.0.0" followed by the flavour, e.g. "1.0.0 release". */
HAK_API const char *hak_version(void);

/* Value of an option by its environment variable name (e.g.
 * "HAKMEM_BIGCACHE_MB"). Returns 0, or -1 with errno ENOENT for an unknown
 * name. Enumerations are returned as their index. */
HAK_API int hak_option_get(const char *name, int64_t *value);
/* Sets a runtime knob. Returns 0; -1 with errno ENOENT (unknown name),
 * EPERM (read at start only) or ERANGE (outside the accepted range). */
HAK_API int hak_option_set(const char *name, int64_t value);
/* The effective configuration as JSON (same convention as hak_stats_json). */
HAK_API size_t hak_config_json(char *buf, size_t cap);
/* The options table itself as JSON (same convention): "modes" (the
 * HAKMEM_MODE presets in order), "default_mode" (when HAKMEM_MODE is
 * unset), "options" (each with name, type, choices,
 * min, max, defaults per mode, runtime, description), "class_knobs"
 * (hak_class_knob_t ids, names, ranges) and "prewarm" (block size and
 * blocks placed in a new thread's cache). Tools read this instead of
 * re-typing the table. */
HAK_API size_t hak_options_table_json(char *buf, size_t cap);

/* Per-class runtime knobs. */
typedef enum hak_class_knob {
    HAK_KNOB_TCACHE_CAP = 0, /* blocks a thread may cache for the class */
    HAK_KNOB_PREWARM = 1     /* blocks placed in a new thread's cache */
} hak_class_knob_t;
/* Returns 0, or -1 with errno EINVAL (bad knob or class) or ERANGE. */
HAK_API int hak_class_knob_set(hak_class_knob_t knob, unsigned cls, int64_t value);
/* Returns the value, or -1 with errno EINVAL. */
HAK_API int64_t hak_class_knob_get(hak_class_knob_t knob, unsigned cls);

/* ---- learning layer: ELO strategy selection and ACE ----
 * See README "Learning". The arithmetic is exported so that it can be
 * checked on its own; the hak_*_test_* hooks reset the process-wide
 * controllers and drive them with synthetic inputs: for tests only. */

/* ELO: expected score of a player rated ra against one rated rb. */
HAK_API double hak_elo_expected(double ra, double rb);
/* ELO: both ratings after a match in which a scored score_a (1 win,
 * 0.5 draw, 0 loss), with factor k. */
HAK_API void hak_elo_update(double *ra, double *rb, double score_a, double k);
/* UCB1 index mean + c * sqrt(ln(total) / n); +infinity when n == 0. */
HAK_API double hak_ucb1_score(double mean, uint64_t n, uint64_t total, double c);

typedef enum hak_elo_state {
    HAK_ELO_STATE_OFF = 0,    /* HAKMEM_ELO=off: the fixed threshold */
    HAK_ELO_STATE_LEARN = 1,  /* epsilon-greedy, every window measured */
    HAK_ELO_STATE_FROZEN = 2, /* the confirmed choice, nothing measured */
    HAK_ELO_STATE_CANARY = 3  /* the confirmed choice, 5 % of windows try another */
} hak_elo_state_t;

/* Number of ELO candidates (thresholds 1, 4, 16, 64 MiB). */
#define HAK_ELO_CANDIDATE_COUNT 4
HAK_API int hak_elo_state(void);
/* The large-block cache threshold now in force, bytes: large blocks up to
 * it go through BigCache, larger ones are mapped and unmapped directly. */
HAK_API size_t hak_elo_threshold(void);
/* The selector as JSON: state, allocations seen, ratings, plays, costs. */
HAK_API size_t hak_elo_json(char *buf, size_t cap);
/* Restarts the selector in LEARN (learn != 0) or FROZEN with this seed. */
HAK_API void hak_elo_test_reset(int learn, uint64_t seed);
/* Plays one window: the strategy is chosen first, then charged
 * cost[strategy] ns per allocation. Returns the strategy played. */
HAK_API int hak_elo_test_step(const double cost[HAK_ELO_CANDIDATE_COUNT]);

/* What ACE observes in one tick (all doubles, so bindings can fill it as
 * an array). frag_ratio and in_use_mb are measured on slow ticks only (0
 * otherwise). reuse_mb[k]: MiB of idle memory reused this tick after it
 * sat idle [2^k, 2^(k+1)) ms (k = 0 also under 1 ms, the last beyond). */
#define HAK_ACE_CLASSES 44
#define HAK_ACE_REUSE_BUCKETS 18
typedef struct hak_ace_metrics {
    double interval_s;
    double ops_per_s;         /* allocations + frees per second */
    double llc_miss_rate;     /* PMU: LLC misses per operation; else the estimate */
    double llc_from_pmu;      /* 1 when llc_miss_rate came from the PMU */
    double lock_wait_frac;    /* share of time threads waited on hakmem's locks */
    double remote_backlog;    /* remote frees queued per thread heap */
    double p99_lat_ns;        /* 99th percentile of sampled slow-path latencies */
    double ace_cpu_percent;   /* CPU used by the ACE thread */
    double frag_ratio;        /* bytes in use / resident bytes */
    double rss_mb;            /* resident set */
    double in_use_mb;         /* bytes in use */
    double remote_free_rate;  /* share of frees made by another thread than the owner */
    double idle_in_mb;        /* memory that went idle (empty slabs, BigCache blocks) */
    double large_cold_mb;     /* BigCache blocks reused after their pages were given back */
    double large_idle_mb;     /* resident memory idle in BigCache now */
    double released_mb;       /* memory decay gave back (idle past the delay) */
    double refault_mb;        /* memory handed out again after decay gave it back */
    double cpu_ns_per_op;     /* the process's CPU time per operation, ACE's own left out
                               * (idle time is no CPU time) */
    double cls_ops[HAK_ACE_CLASSES];        /* allocations + frees per class */
    double cls_underflows[HAK_ACE_CLASSES]; /* slow-path refills */
    double cls_overflows[HAK_ACE_CLASSES];  /* empty slabs given back */
    double reuse_mb[HAK_ACE_REUSE_BUCKETS]; /* idle memory reused, by how long it was idle */
} hak_ace_metrics_t;

/* 1 while the ACE thread runs (not stopped by a guard). */
HAK_API int hak_ace_running(void);
/* The controller as JSON: run state, guard reason, knobs, bandit arms,
 * scavenger totals. */
HAK_API size_t hak_ace_json(char *buf, size_t cap);
/* Stops the ACE thread if any, restores the defaults, resets the
 * controller and leaves it to be ticked by hand. */
HAK_API void hak_ace_test_reset(void);
/* One fast (slow == 0) or slow tick on the given metrics, decisions
 * applied. Returns the knob changes made, or -1 when ACE is stopped. */
HAK_API int hak_ace_test_tick(const hak_ace_metrics_t *m, int slow);

#ifdef __cplusplus
}
#endif
#endif
