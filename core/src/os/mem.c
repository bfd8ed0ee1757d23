/* The OS boundary: every mmap, munmap, mremap and madvise hakmem makes is
 * here, and each is counted by kind. */
#include "os.h"

#include <errno.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

/* aarch64 kernels use 4, 16 or 64 KiB pages: the page size is read at
 * start-up; until then (and if nothing answers) the common 4 KiB. */
#define PAGE_GUESS 4096
size_t _hak_page_size = PAGE_GUESS;

static _Atomic uint64_t g_calls[HAK_SYS_COUNT];
static _Atomic uint64_t g_mapped, g_peak, g_madvised;
static _Atomic uint64_t g_failures; /* OS calls that failed and were survived */
static _Atomic uintptr_t g_hint; /* next aligned address to try */
static uintptr_t g_ceiling = UINTPTR_MAX; /* mappings end below it: the page map's reach */

static pthread_mutex_t g_meta_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *g_meta_cur, *g_meta_end;

void _hak_os_init(void) {
    unsigned long ps = getauxval(AT_PAGESZ);
    if (ps == 0) ps = (unsigned long)sysconf(_SC_PAGESIZE);
    _hak_page_size = ps ? ps : PAGE_GUESS;
}

static void count(hak_syscall_t kind) {
    atomic_fetch_add_explicit(&g_calls[kind], 1, memory_order_relaxed);
}

static void account_map(size_t size) {
    uint64_t now = atomic_fetch_add_explicit(&g_mapped, size, memory_order_relaxed) + size;
    uint64_t peak = atomic_load_explicit(&g_peak, memory_order_relaxed);
    while (now > peak &&
           !atomic_compare_exchange_weak_explicit(&g_peak, &peak, now, memory_order_relaxed,
                                                  memory_order_relaxed)) {
    }
}

static void *map(void *hint, size_t size) {
    count(HAK_SYS_MMAP);
    void *p = mmap(hint, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void *_hak_os_reserve(size_t size) {
    count(HAK_SYS_MMAP);
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* Where mmap would place mappings above the page map's reach (a process
 * under RLIMIT_AS gets a smaller map), they start low instead. */
#define HINT_BELOW_CEILING 4 /* first hint: a quarter of the way up */
void _hak_os_set_ceiling(uintptr_t ceiling) {
    g_ceiling = ceiling;
    if (ceiling < ((uintptr_t)1 << 47))
        atomic_store_explicit(&g_hint, ceiling / HINT_BELOW_CEILING, memory_order_relaxed);
}

static bool below_ceiling(uintptr_t start, size_t size) { return start + size <= g_ceiling; }

/* The aligned `size` bytes of a mapping of size + align at raw, the rest
 * unmapped; 0 (all unmapped) when they would lie above the ceiling. */
static uintptr_t trim_aligned(uint8_t *raw, size_t size, size_t align) {
    uintptr_t start = hak_align_up((uintptr_t)raw, align);
    size_t lead = start - (uintptr_t)raw, trail = align - lead;
    if (!below_ceiling(start, size)) {
        count(HAK_SYS_MUNMAP);
        munmap(raw, size + align);
        return 0;
    }
    if (lead) {
        count(HAK_SYS_MUNMAP);
        munmap(raw, lead);
    }
    if (trail) {
        count(HAK_SYS_MUNMAP);
        munmap((void *)(start + size), trail);
    }
    return start;
}

/* Address space for the large tier's arenas, aligned, its pages counted
 * as mapped only as the tier hands them out (_hak_os_account). */
void *_hak_os_reserve_aligned(size_t size, size_t align) {
    uint8_t *raw = _hak_os_reserve(size + align);
    return raw != NULL ? (void *)trim_aligned(raw, size, align) : NULL;
}

/* A reservation given up (not counted as mapped). */
void _hak_os_release(void *p, size_t size) {
    count(HAK_SYS_MUNMAP);
    munmap(p, size);
}

/* Maps fresh pages over [p, p + size) of a reservation (a hole that
 * mremap left). */
bool _hak_os_refill(void *p, size_t size) {
    count(HAK_SYS_MMAP);
    void *q = mmap(p, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
    if (q == MAP_FAILED) {
        atomic_fetch_add_explicit(&g_failures, 1, memory_order_relaxed);
        return false;
    }
    return true;
}

void _hak_os_account(size_t bytes, bool mapped) {
    if (mapped) account_map(bytes);
    else atomic_fetch_sub_explicit(&g_mapped, bytes, memory_order_relaxed);
}


void _hak_os_unmap(void *p, size_t size) {
    count(HAK_SYS_MUNMAP);
    munmap(p, size);
    atomic_fetch_sub_explicit(&g_mapped, size, memory_order_relaxed);
}

/* A mapping of `size` bytes aligned to `align` (a power of two >= page).
 * Tries the address after the last aligned mapping first (one syscall);
 * otherwise over-maps and trims. */
void *_hak_os_map_aligned(size_t size, size_t align) {
    if (size == 0 || size > HAK_MAP_MAX) {
        errno = ENOMEM;
        return NULL;
    }
    uintptr_t hint = atomic_load_explicit(&g_hint, memory_order_relaxed);
    if (hint != 0 && (hint & (align - 1)) == 0) {
        void *p = map((void *)hint, size);
        if (p == NULL) goto fail;
        if (((uintptr_t)p & (align - 1)) == 0 && below_ceiling((uintptr_t)p, size)) {
            atomic_store_explicit(&g_hint, (uintptr_t)p + hak_align_up(size, align),
                                  memory_order_relaxed);
            account_map(size);
            return p;
        }
        count(HAK_SYS_MUNMAP);
        munmap(p, size);
    }
    if (size + align < size) goto fail;
    uint8_t *raw = map(NULL, size + align);
    if (raw == NULL) goto fail;
    uintptr_t start = trim_aligned(raw, size, align);
    if (start == 0) goto fail;
    atomic_store_explicit(&g_hint, start + hak_align_up(size, align),
                          memory_order_relaxed);
    account_map(size);
    return (void *)start;
fail:
    errno = ENOMEM;
    return NULL;
}

bool _hak_os_noaccess(void *p, size_t size) {
    count(HAK_SYS_MMAP);
    void *q = mmap(p, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
                   -1, 0);
    if (q == MAP_FAILED) {
        atomic_fetch_add_explicit(&g_failures, 1, memory_order_relaxed);
        return false;
    }
    return true;
}

/* Counted with the mappings: it changes what a mapping allows. */
bool _hak_os_protect(void *p, size_t size, bool access) {
    count(HAK_SYS_MMAP);
    if (mprotect(p, size, access ? PROT_READ | PROT_WRITE : PROT_NONE) != 0) {
        atomic_fetch_add_explicit(&g_failures, 1, memory_order_relaxed);
        return false;
    }
    return true;
}

/* Extends a mapping without moving it, when the pages after it are free. */
bool _hak_os_grow_in_place(void *p, size_t old_size, size_t new_size) {
    count(HAK_SYS_MREMAP);
    void *q = mremap(p, old_size, new_size, 0);
    if (q == MAP_FAILED) return false; /* the neighbour is taken: expected, not a failure */
    account_map(new_size - old_size);
    return true;
}

void *_hak_os_relocate(void *p, size_t old_size, size_t new_size, size_t align) {
    void *dst = _hak_os_map_aligned(new_size, align);
    if (dst == NULL) return NULL;
    count(HAK_SYS_MREMAP);
    void *q = mremap(p, old_size, new_size, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
    if (q == MAP_FAILED) {
        atomic_fetch_add_explicit(&g_failures, 1, memory_order_relaxed);
        _hak_os_unmap(dst, new_size);
        return NULL;
    }
    atomic_fetch_sub_explicit(&g_mapped, old_size, memory_order_relaxed);
    return q;
}

/* The mapping touched to time page faults (16 pages of 4 KiB; it shows in
 * peak RSS, where 1 MiB added 40 % to a small program's 1.7 MB), mapped
 * and touched this many times: the cheapest pass is the cost (the first
 * fault of a process may also build its page tables). */
#define FAULT_PROBE_BYTES ((size_t)64 << 10)
#define FAULT_PROBE_PASSES 3

uint64_t _hak_os_fault_cost(void) {
    uint64_t best = UINT64_MAX;
    for (unsigned k = 0; k < FAULT_PROBE_PASSES; k++) {
        uint8_t *p = map(NULL, FAULT_PROBE_BYTES);
        if (p == NULL) break;
        uint64_t t0 = _hak_now_ns();
        for (size_t i = 0; i < FAULT_PROBE_BYTES; i += _hak_page_size) ((volatile uint8_t *)p)[i] = 1;
        uint64_t ns = _hak_now_ns() - t0;
        count(HAK_SYS_MUNMAP);
        munmap(p, FAULT_PROBE_BYTES);
        if (ns < best) best = ns;
    }
    return best == UINT64_MAX ? 0 : best * HAK_MIB / FAULT_PROBE_BYTES;
}

bool _hak_os_dontneed(void *p, size_t size) {
    count(HAK_SYS_MADVISE);
    if (madvise(p, size, MADV_DONTNEED) != 0) {
        atomic_fetch_add_explicit(&g_failures, 1, memory_order_relaxed);
        return false;
    }
    atomic_fetch_add_explicit(&g_madvised, size, memory_order_relaxed);
    return true;
}

uint64_t _hak_os_failures(void) { return atomic_load_explicit(&g_failures, memory_order_relaxed); }

void _hak_os_hugepage(void *p, size_t size, bool huge) {
#if defined(MADV_HUGEPAGE) && defined(MADV_NOHUGEPAGE)
    count(HAK_SYS_MADVISE);
    madvise(p, size, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
#else
    (void)p;
    (void)size;
    (void)huge;
#endif
}

#define META_ALIGN HAK_CACHE_LINE /* heaps of two threads never share a line */
#define META_CHUNK HAK_UNIT_SIZE /* mapped at a time: a few heaps' worth */

/* Metadata (heaps, the large tier's records) comes from mappings carved by a bump
 * pointer. */
void *_hak_os_meta_alloc(size_t size) {
    size = hak_align_up(size, META_ALIGN);
    void *r = NULL;
    HAK_LOCKED(&g_meta_lock) {
        if (g_meta_cur == NULL || (size_t)(g_meta_end - g_meta_cur) < size) {
            size_t chunk = hak_align_up(size > META_CHUNK ? size : META_CHUNK, _hak_page_size);
            uint8_t *p = map(NULL, chunk);
            if (p == NULL) break;
            account_map(chunk);
            g_meta_cur = p;
            g_meta_end = p + chunk;
        }
        r = g_meta_cur;
        g_meta_cur += size;
    }
    if (r == NULL) errno = ENOMEM;
    return r;
}

/* The perf control page of a counter (pmu.c): a kernel interface page,
 * not memory hakmem hands out, so it is counted but not accounted. */
void *_hak_os_map_counter_page(int fd) {
    count(HAK_SYS_MMAP);
    void *p = mmap(NULL, _hak_page_size, PROT_READ, MAP_SHARED, fd, 0);
    return p == MAP_FAILED ? NULL : p;
}

void _hak_os_counts(uint64_t calls[HAK_SYS_COUNT], uint64_t *mapped, uint64_t *peak,
                    uint64_t *madvised) {
    for (int i = 0; i < HAK_SYS_COUNT; i++)
        calls[i] = atomic_load_explicit(&g_calls[i], memory_order_relaxed);
    *mapped = atomic_load_explicit(&g_mapped, memory_order_relaxed);
    *peak = atomic_load_explicit(&g_peak, memory_order_relaxed);
    *madvised = atomic_load_explicit(&g_madvised, memory_order_relaxed);
}

void _hak_os_lock(void) { pthread_mutex_lock(&g_meta_lock); }
void _hak_os_unlock(void) { hak_unlock(&g_meta_lock); }
