/* The OS layer, the lowest: every syscall and process service hakmem uses
 * (memory mappings, clocks, CPU time, page faults, resident memory, files,
 * the pid, sleeping, a background thread, the random seed, the page size,
 * the cache-miss counter, signals), the start-up state, failures and
 * warnings, the lock-wait and latency measurements, and the options (the
 * process's environment, read by every layer). Layers above call these;
 * this layer calls only the C library and the kernel. */
#ifndef HAKMEM_OS_H
#define HAKMEM_OS_H

#include "base.h"
#include "options.h"

#include <pthread.h>

/* ---- memory mappings (mem.c): counted by kind for the statistics ---- */
extern size_t _hak_page_size;
void _hak_os_init(void);
void *_hak_os_map_aligned(size_t size, size_t align); /* NULL + ENOMEM */
void _hak_os_unmap(void *p, size_t size);
bool _hak_os_grow_in_place(void *p, size_t old_size, size_t new_size);
/* Pages of a mapping replaced by no-access ones (their memory goes back;
 * any access faults); they stay part of the mapping. false when the OS
 * refused (counted in _hak_os_failures), the pages then as they were. */
bool _hak_os_noaccess(void *p, size_t size);
/* Pages made no-access (their contents kept) or readable and writable
 * again (no-access pages read as zeros then); false when refused. */
bool _hak_os_protect(void *p, size_t size, bool access);
/* Moves a mapping, pages and all, to a new `align`-aligned range of
 * new_size bytes; NULL when it cannot (the old one is then untouched). */
void *_hak_os_relocate(void *p, size_t old_size, size_t new_size, size_t align);
void *_hak_os_reserve(size_t size); /* address space only (the page map) */
void *_hak_os_reserve_aligned(size_t size, size_t align); /* the large tier's arenas */
bool _hak_os_refill(void *p, size_t size); /* fresh pages over part of a reservation */
void _hak_os_release(void *p, size_t size); /* a reservation given up */
void _hak_os_account(size_t bytes, bool mapped); /* pages of a reservation in use, or no more */
/* What faulting in fresh memory costs here, ns per MiB (measured on a
 * small mapping); 0 when it cannot be measured. */
uint64_t _hak_os_fault_cost(void);
/* Mappings must end below `ceiling` (the page map's reach). */
void _hak_os_set_ceiling(uintptr_t ceiling);
/* Pages advised away (they read as zeros afterwards); false when madvise
 * refused, the memory then as it was (counted in _hak_os_failures). */
bool _hak_os_dontneed(void *p, size_t size);
uint64_t _hak_os_failures(void); /* OS calls that failed and were survived */
void _hak_os_hugepage(void *p, size_t size, bool huge); /* advice for later faults */
void *_hak_os_meta_alloc(size_t size); /* zeroed, never freed */
void *_hak_os_map_counter_page(int fd);
void _hak_os_counts(uint64_t calls[HAK_SYS_COUNT], uint64_t *mapped, uint64_t *peak,
                    uint64_t *madvised);
void _hak_os_lock(void);
void _hak_os_unlock(void);

/* ---- process services (proc.c) ---- */
uint64_t _hak_now_ns(void);        /* CLOCK_MONOTONIC */
uint64_t _hak_coarse_ns(void);     /* CLOCK_MONOTONIC_COARSE: a few ms resolution, cheaper */
uint64_t _hak_thread_cpu_ns(void); /* CPU time of the calling thread */
uint64_t _hak_process_cpu_ns(void); /* CPU time of the process, all threads, system time included */
bool _hak_os_faults(uint64_t *minor, uint64_t *major); /* page faults of the process */
uint64_t _hak_os_rss_bytes(void);  /* resident set; 0 when unknown */
unsigned _hak_os_live_threads(void); /* threads not yet ended (zombies not counted); 0: unknown */
size_t _hak_os_llc_bytes(void);    /* last-level cache size */
/* false with errno when a write fails; never dies of SIGPIPE */
bool _hak_write_all(int fd, const char *s, size_t n);
int _hak_os_pid(void);
void _hak_os_sleep_ms(uint64_t ms);
void _hak_os_yield(void);          /* sched_yield */
void _hak_os_cpu_relax(void);      /* a spin-wait hint to the CPU */
bool _hak_os_thread_start(void *(*fn)(void *), size_t stack_bytes); /* detached, signals blocked */
uint64_t _hak_os_random(void);     /* random per process, the same on every call */
/* A function of an object the program has loaded: the first definition in
 * the global scope, else in any loaded object (those loaded RTLD_LOCAL
 * too); with `after_self` the first one after hakmem's own (RTLD_NEXT).
 * NULL when none. Never loads anything. */
void *_hak_os_symbol(const char *name, bool after_self);

/* ---- the files hakmem writes (out.c) ----
 * HAKMEM_STATS_FILE, HAKMEM_ACE_TRACE and the stderr kept for HAKMEM_STATS:
 * a close-on-exec descriptor numbered high, written only while it is still
 * the file it was opened on; the first failure warns (naming the variable,
 * the path and the errno text) and ends the writing. */
typedef struct hak_out {
    int fd;            /* -1: not open, or given up */
    bool known;        /* dev and ino say which file it was opened on */
    uint64_t dev, ino;
    const char *var;   /* the variable that named it; NULL: no warnings */
    const char *what;  /* what it holds, for warnings: "trace", "statistics" */
    char path[HAK_PATH_MAX];
} hak_out_t;
#define HAK_OUT_CLOSED {.fd = -1}

/* Opens (truncates) the path of text option `var` ("%p" becomes the pid),
 * with O_APPEND when append; false after a warning ("... cannot be opened
 * (reason); no <what> written") when it cannot. */
bool _hak_out_open(hak_out_t *o, hak_opt_id_t var, bool append, const char *what);
/* A duplicate of descriptor fd kept the same way, without warnings; which
 * file fd is is remembered even when no duplicate can be made. */
bool _hak_out_keep(hak_out_t *o, int fd);
bool _hak_out_write(hak_out_t *o, const char *s, size_t n);
bool _hak_out_same(const hak_out_t *o, int fd); /* fd is the file o was opened on */
void _hak_out_close(hak_out_t *o);

/* ---- last-level cache misses (pmu.c) ---- */
void _hak_pmu_init(void);
uint64_t _hak_pmu_read(uint32_t *source); /* source: hak_pmu_source_t */

/* ---- failures and warnings (check.c) ---- */
extern _Atomic int _hak_aborting;
__attribute__((noreturn, cold)) void _hak_fail(const char *what, const void *ptr);
/* The same for a failure that concerns no pointer. */
__attribute__((noreturn, cold)) void _hak_fatal(const char *what);
void _hak_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void _hak_crash_handlers_install(void);

#ifdef HAK_DEBUG
#define HAK_ASSERT(cond, what, ptr) \
    do { if (unlikely(!(cond))) _hak_fail(what, ptr); } while (0)
#else
#define HAK_ASSERT(cond, what, ptr) ((void)0)
#endif

/* ---- start-up, once (start.c) ----
 * Lazily on the first call, or from the library constructor, whichever
 * comes first; other threads wait until it is done. */
enum hak_init_state { HAK_INIT_NONE, HAK_INIT_RUNNING, HAK_INIT_DONE };
extern _Atomic int _hak_init_state;
void _hak_init(void);
bool _hak_init_in_progress_here(void);
/* Starts every layer, lowest first. Defined by init/init.c, the top layer:
 * the one call that goes up, as a C runtime calls main. */
void _hak_start(void);

HAK_INLINE void hak_ensure_init(void) {
    if (unlikely(atomic_load_explicit(&_hak_init_state, memory_order_acquire) != HAK_INIT_DONE))
        _hak_init();
}

HAK_INLINE bool hak_init_done(void) {
    return atomic_load_explicit(&_hak_init_state, memory_order_acquire) == HAK_INIT_DONE;
}

/* ---- samples for the learning layer (metrics.c) ----
 * While learning runs it installs these hooks and slow paths report to
 * them; what the samples mean, and where they are kept, is learn/'s. NULL
 * (learning not running) costs a load. The table is a constant object, so
 * a relaxed load of its address sees it whole. */
typedef struct hak_sample_hooks {
    void (*latency)(uint64_t ns);                    /* a sampled slow path took ns */
    void (*reuse)(uint64_t bytes, uint64_t idle_ns); /* idle memory handed out again */
    void (*idle)(uint64_t bytes);                    /* memory became idle */
    void (*lock_wait)(uint64_t ns);                  /* a thread waited on a lock */
} hak_sample_hooks_t;

extern const hak_sample_hooks_t *_Atomic _hak_sample_hooks;

#define HAK_LAT_SAMPLE_EVERY 64 /* one slow path in 64 is timed: two clock reads cost a refill */

HAK_INLINE const hak_sample_hooks_t *hak_sampling(void) {
    return atomic_load_explicit(&_hak_sample_hooks, memory_order_relaxed);
}

/* Memory that sat idle idle_ns (a free unit, an empty slab, a BigCache
 * block) is handed out again. A macro so that the arguments, which read
 * the clock, are evaluated only while learning samples: a 256 KiB span
 * taken from the kept ones read it for nothing on every malloc. */
#define HAK_REUSE_RECORD(bytes, idle_ns)                           \
    do {                                                           \
        const hak_sample_hooks_t *hooks_ = hak_sampling();         \
        if (hooks_ != NULL) hooks_->reuse((bytes), (idle_ns));     \
    } while (0)

HAK_INLINE void hak_idle_record(uint64_t bytes) {
    const hak_sample_hooks_t *h = hak_sampling();
    if (h != NULL) h->idle(bytes);
}

void _hak_lock_slow(pthread_mutex_t *m);

/* A heap's lock: its owner takes it on slow paths that change its slab
 * lists; threads that release its idle memory or read its slabs take it
 * too. One exchange when it is free, which is nearly always. */
typedef struct hak_spin {
    _Atomic uint32_t v;
} hak_spin_t;

void _hak_spin_wait(hak_spin_t *l); /* spins, then yields; timed while learning samples */

HAK_INLINE void hak_spin_lock(hak_spin_t *l) {
    if (likely(atomic_exchange_explicit(&l->v, 1, memory_order_acquire) == 0)) return;
    _hak_spin_wait(l);
}

HAK_INLINE bool hak_spin_trylock(hak_spin_t *l) {
    return atomic_load_explicit(&l->v, memory_order_relaxed) == 0 &&
           atomic_exchange_explicit(&l->v, 1, memory_order_acquire) == 0;
}

HAK_INLINE void hak_spin_unlock(hak_spin_t *l) {
    atomic_store_explicit(&l->v, 0, memory_order_release);
}

/* Waits are timed only while learning samples: glibc's pthread_mutex_lock
 * skips the bus lock in a single-threaded process, and trylock does not. */
HAK_INLINE void hak_lock(pthread_mutex_t *m) {
    if (likely(hak_sampling() == NULL))
        pthread_mutex_lock(m);
    else if (unlikely(pthread_mutex_trylock(m) != 0))
        _hak_lock_slow(m);
}

/* hak_lock's pair: every lock of the core is taken and released through
 * these two, by HAK_LOCKED below but where a lock is handed over (fork's
 * handlers take them in one function and release them in another). */
HAK_INLINE void hak_unlock(pthread_mutex_t *m) { pthread_mutex_unlock(m); }

/* Either kind of lock: a mutex (hak_lock) or a spin lock (hak_spin_lock). */
#define hak_acquire(l) _Generic((l), pthread_mutex_t *: hak_lock, hak_spin_t *: hak_spin_lock)(l)
#define hak_release(l) _Generic((l), pthread_mutex_t *: hak_unlock, hak_spin_t *: hak_spin_unlock)(l)

/* HAK_LOCKED(&lock) { ... } runs the block with the lock (either kind)
 * held and releases it when the block ends, at its end or by break or
 * continue (which leave the block, not a loop around it: the inner loop
 * runs once, the outer one releases). A return or goto out of it would
 * keep the lock: none is allowed (tests/core/locks.test.ts). Not the
 * cleanup attribute: under -fexceptions it makes an unwinding landing pad
 * that needs libgcc_s. A variable set in the block and read after it
 * starts with a value: gcc cannot always tell that the block runs. */
#define HAK_LOCKED(lock) \
    for (__typeof__(lock) hak_held_ = (hak_acquire(lock), (lock)); hak_held_ != NULL; \
         hak_release(hak_held_), hak_held_ = NULL) \
        for (int hak_once_ = 1; hak_once_; hak_once_ = 0)

/* Start of a sampled slow-path operation, the n-th of its kind: 0 when not
 * sampled. */
HAK_INLINE uint64_t hak_lat_begin(uint64_t n) {
    if ((n & (HAK_LAT_SAMPLE_EVERY - 1)) != 0 || hak_sampling() == NULL) return 0;
    return _hak_now_ns();
}

HAK_INLINE void hak_lat_end(uint64_t t0) {
    if (t0 == 0) return;
    const hak_sample_hooks_t *h = hak_sampling();
    if (h != NULL) h->latency(_hak_now_ns() - t0);
}

#endif
