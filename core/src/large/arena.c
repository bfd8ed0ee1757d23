/* Arenas: large blocks from 1 MiB carved from big reserved mappings, in
 * 2 MiB chunks handed out by a bitmap. A freed block's chunks stay
 * resident and join their free neighbours at once, so the next block of
 * any size reuses those pages without a fault or a system call, where a
 * mapping per block could only be reused at its own size (or cut, or grown
 * by faulting the growth in). Free resident chunks beyond the budget
 * (BigCache's: HAKMEM_BIGCACHE_MB, up to twice the large bytes in use),
 * and those idle for the decay delay, are advised away and read zero when
 * they are handed out again. Everything here runs under the tier's lock. */
#include "block.h"

#include <string.h>

#define ARENA_SHIFT 30 /* 1 GiB of address space each, taken when needed */
#define ARENA_CHUNKS ((size_t)1 << (ARENA_SHIFT - HAK_CHUNK_SHIFT))
#define ARENA_WORDS (ARENA_CHUNKS / 64)
#define ARENAS_MAX 64 /* beyond 64 GiB in arenas, blocks get mappings of their own */
/* Resident free chunks kept: at least HAKMEM_BIGCACHE_MB, up to this many
 * times the most bytes the arenas had handed out at once within the last
 * decay delay; a program that replaces its blocks by others of random
 * sizes needs that room to find resident runs for them (with twice the
 * bytes handed out at that moment, a third of large_mix's chunks faulted
 * in afresh). Idle chunks go after the delay whatever the budget. */
#define USED_SHARE 2
/* A window with a chunk to fault in costs this many chunks of waste:
 * resident memory of a free run is preferred to the best fit. */
#define COLD_CHUNK_WEIGHT 4

typedef struct arena {
    uint8_t *base;
    uint64_t used[ARENA_WORDS];     /* chunk handed out */
    uint64_t resident[ARENA_WORDS]; /* free chunk whose pages were not given back */
    uint64_t small_pages[ARENA_WORDS]; /* advised to fault 4 KiB pages while the rest has huge */
    uint32_t idle_ms[ARENA_CHUNKS]; /* when a resident free chunk was freed */
} arena_t;

static arena_t *g_arenas[ARENAS_MAX];
static unsigned g_count;
static size_t g_resident_free; /* bytes of resident free chunks */
static size_t g_used, g_used_peak; /* bytes handed out: now, most since g_peak_ms */
static uint32_t g_peak_ms;

/* The arena holding p (a block carved from one) and p's chunk there. */
static arena_t *arena_of(const void *p, size_t *chunk) {
    *chunk = 0;
    for (unsigned k = 0; k < g_count; k++) {
        arena_t *a = g_arenas[k];
        if ((const uint8_t *)p >= a->base && (const uint8_t *)p < a->base + ((size_t)1 << ARENA_SHIFT)) {
            *chunk = (size_t)((const uint8_t *)p - a->base) >> HAK_CHUNK_SHIFT;
            return a;
        }
    }
    return NULL;
}

/* Huge pages for the arenas where a huge page is a chunk (4 KiB pages: 2 MiB
 * ones); with 16 or 64 KiB pages they would be 32 or 512 MiB, each fault
 * making far more resident than a block asked for. */
#define HUGE_PAGE_BASE 4096u

static bool huge_wanted(void) {
    return hak_opt(OPT_THP) != THP_OFF && _hak_page_size == HUGE_PAGE_BASE;
}

/* Huge pages as the first faults find them. A huge page's first fault
 * zeroes 2 MiB (about 0.2 ms); on a virtual machine whose host takes back
 * the pages the guest frees (free page reporting), the host faults each one
 * in again and one costs several ms, where 4 KiB faults reuse pages the
 * guest freed lately (0.8 ms per 2 MiB). A block's header write faults its
 * first chunk in: when that was a huge page slower than HAKMEM_THP_SLOW_US,
 * the arenas take 4 KiB pages for the next HUGE_RETRY_CHUNKS fresh chunks,
 * then try huge pages again. */
#define HUGE_RETRY_CHUNKS 256 /* 512 MiB faulted in */
static size_t g_huge_retry; /* fresh chunks before huge pages are tried again */

static bool huge_now(void) { return huge_wanted() && g_huge_retry == 0; }

/* Arena memory [p, p + size) advised as the arenas are now. */
static void advise(void *p, size_t size) {
    if (huge_wanted()) _hak_os_hugepage(p, size, g_huge_retry == 0);
}

static void advise_arenas(void) {
    for (unsigned k = 0; k < g_count; k++) {
        advise(g_arenas[k]->base, (size_t)1 << ARENA_SHIFT);
        memset(g_arenas[k]->small_pages, 0, sizeof(g_arenas[k]->small_pages));
    }
}

/* While the arenas take huge pages, a calloc's fresh chunks fault in 4 KiB
 * pages: they read zero untouched, and a program that allocates a big
 * zeroed table and touches little of it (a hash table, a bitmap, an array
 * sized for the worst case) gets the pages it touches, not 2 MiB for each
 * chunk it touches at all (a 6 MiB calloc'd array using 200 KiB held 2 MiB,
 * resident until freed, whatever malloc_trim did). Every other block's
 * fresh chunks take huge pages again; a resident chunk keeps the pages it
 * has (calloc clears it whole). n chunks from `at`, `resident` by bit. */
static void pages_for(arena_t *a, size_t at, size_t n, uint64_t resident, bool small) {
    size_t run = 0; /* chunks before i whose advice changes */
    for (size_t i = 0; i <= n; i++) {
        if (i < n && !((resident >> i) & 1) && hak_bit_get(a->small_pages, at + i) != small) {
            if (small) hak_bit_set(a->small_pages, at + i);
            else hak_bit_clear(a->small_pages, at + i);
            run++;
        } else if (run != 0) {
            _hak_os_hugepage(a->base + ((at + i - run) << HAK_CHUNK_SHIFT), run << HAK_CHUNK_SHIFT,
                             !small);
            run = 0;
        }
    }
}

/* A block whose first chunk was fresh: `ns` is its fault when timed (huge
 * pages now), else 0; `fresh` chunks faulted in. */
static void fault_seen(uint64_t ns, size_t fresh) {
    if (ns > (uint64_t)hak_opt(OPT_THP_SLOW_US) * 1000) {
        g_huge_retry = HUGE_RETRY_CHUNKS;
        advise_arenas();
    } else if (g_huge_retry != 0) {
        g_huge_retry -= fresh < g_huge_retry ? fresh : g_huge_retry;
        if (g_huge_retry == 0) advise_arenas();
    }
}

/* A new arena; NULL at the limit, or for good once the OS refused one (a
 * process under RLIMIT_AS): its blocks get mappings of their own then. */
static arena_t *arena_new(void) {
    static bool refused;
    if (g_count == ARENAS_MAX || refused) return NULL;
    uint8_t *base = _hak_os_reserve_aligned((size_t)1 << ARENA_SHIFT, HAK_CHUNK_SIZE);
    arena_t *a = base != NULL ? _hak_os_meta_alloc(sizeof(arena_t)) : NULL;
    if (a == NULL) {
        if (base != NULL) _hak_os_release(base, (size_t)1 << ARENA_SHIFT);
        refused = true;
        return NULL;
    }
    a->base = base;
    advise(base, (size_t)1 << ARENA_SHIFT);
    g_arenas[g_count++] = a;
    return a;
}

/* The best window of n chunks in a free run [start, end): the one with
 * the fewest chunks to fault in (the first of those); returns its cost,
 * the run's waste (best fit) and what faulting in costs. No window faults
 * in fewer than n less the run's resident chunks: the slide stops there
 * (at once in a run without any, as in an arena not used yet). */
static size_t window(const arena_t *a, size_t start, size_t end, size_t n, size_t *at) {
    size_t cold = n - hak_bit_count(a->resident, start, start + n);
    size_t best = cold, warm = best == 0 ? n : hak_bit_count(a->resident, start, end);
    size_t least = warm >= n ? 0 : n - warm;
    *at = start;
    for (size_t s = start + 1; s + n <= end && best > least; s++) {
        cold += !hak_bit_get(a->resident, s + n - 1);
        cold -= !hak_bit_get(a->resident, s - 1);
        if (cold < best) {
            best = cold;
            *at = s;
        }
    }
    return (end - start - n) + best * COLD_CHUNK_WEIGHT;
}

/* n free chunks, the cheapest window of every arena's free runs. */
static arena_t *find(size_t n, size_t *at) {
    arena_t *best = NULL;
    size_t best_cost = SIZE_MAX;
    for (unsigned k = 0; k < g_count; k++) {
        arena_t *a = g_arenas[k];
        size_t start = hak_bit_next(a->used, 0, ARENA_CHUNKS, false);
        while (start < ARENA_CHUNKS) {
            size_t end = hak_bit_next(a->used, start, ARENA_CHUNKS, true);
            if (end - start >= n) {
                size_t where, cost = window(a, start, end, n, &where);
                if (cost < best_cost) {
                    best_cost = cost;
                    best = a;
                    *at = where;
                }
            }
            start = hak_bit_next(a->used, end, ARENA_CHUNKS, false);
        }
    }
    return best;
}

/* Chunks handed out or resident count as mapped (the statistics' mapped
 * bytes, the tier's reserved ones); the rest of an arena is address space. */
static void commit(size_t bytes) {
    _hak_large_totals.reserved += bytes;
    _hak_os_account(bytes, true);
}

static void decommit(size_t bytes) {
    _hak_large_totals.reserved -= bytes;
    _hak_os_account(bytes, false);
}

hak_large_t *_hak_arena_alloc(size_t map_size, uint64_t *resident, bool zeroed) {
    size_t n = map_size >> HAK_CHUNK_SHIFT, at = 0;
    arena_t *a = find(n, &at);
    if (a == NULL && (a = arena_new()) != NULL) at = 0;
    if (a == NULL) return NULL;
    *resident = 0;
    for (size_t i = 0; i < n; i++) {
        if (hak_bit_get(a->resident, at + i)) {
            *resident |= (uint64_t)1 << i;
            hak_bit_clear(a->resident, at + i);
            g_resident_free -= HAK_CHUNK_SIZE;
        } else {
            commit(HAK_CHUNK_SIZE);
        }
        hak_bit_set(a->used, at + i);
    }
    g_used += map_size;
    if (g_used > g_used_peak) g_used_peak = g_used;
    if (huge_now()) pages_for(a, at, n, *resident, zeroed);
    hak_large_t *e = (hak_large_t *)(a->base + (at << HAK_CHUNK_SHIFT));
    bool fresh = !(*resident & 1), timed = fresh && huge_now() && !zeroed;
    uint64_t t0 = timed ? _hak_now_ns() : 0;
    e->map_size = map_size; /* faults a fresh first chunk in */
    e->in_arena = 1;
    if (fresh) fault_seen(timed ? _hak_now_ns() - t0 : 0, n - (size_t)__builtin_popcountll(*resident));
    return e;
}

/* Chunks [c, c + n) of an arena go back to the OS; they stay free. */
static size_t give_back(arena_t *a, size_t c, size_t n) {
    if (!_hak_os_dontneed(a->base + (c << HAK_CHUNK_SHIFT), n << HAK_CHUNK_SHIFT)) return 0;
    for (size_t i = c; i < c + n; i++) hak_bit_clear(a->resident, i);
    g_resident_free -= n << HAK_CHUNK_SHIFT;
    decommit(n << HAK_CHUNK_SHIFT);
    return n << HAK_CHUNK_SHIFT;
}

/* Resident free chunks freed at or before `older` (ms; all of them when
 * `all`) go back, in runs; returns the bytes. */
static size_t give_back_idle(uint32_t now_ms, uint32_t delay_ms, bool all) {
    size_t bytes = 0;
    for (unsigned k = 0; k < g_count; k++) {
        arena_t *a = g_arenas[k];
        size_t i = hak_bit_next(a->resident, 0, ARENA_CHUNKS, true);
        while (i < ARENA_CHUNKS) {
            size_t start = i;
            while (i < ARENA_CHUNKS && hak_bit_get(a->resident, i) &&
                   (all || (uint32_t)(now_ms - a->idle_ms[i]) >= delay_ms))
                i++;
            if (i > start) bytes += give_back(a, start, i - start);
            else i++;
            i = hak_bit_next(a->resident, i, ARENA_CHUNKS, true);
        }
    }
    return bytes;
}

static size_t budget(void) {
    size_t floor = (size_t)hak_opt(OPT_BIGCACHE_MB) * HAK_MIB;
    return g_used_peak * USED_SHARE > floor ? g_used_peak * USED_SHARE : floor;
}

/* Over the budget: the longest idle resident chunks go first. */
static void enforce_budget(void) {
    while (g_resident_free > budget()) {
        arena_t *oa = NULL;
        size_t oc = 0;
        uint32_t now = hak_ms_now(), oldest = 0;
        for (unsigned k = 0; k < g_count; k++) {
            arena_t *a = g_arenas[k];
            for (size_t i = hak_bit_next(a->resident, 0, ARENA_CHUNKS, true); i < ARENA_CHUNKS;
                 i = hak_bit_next(a->resident, i + 1, ARENA_CHUNKS, true)) {
                uint32_t age = now - a->idle_ms[i];
                if (oa == NULL || age > oldest) {
                    oa = a;
                    oc = i;
                    oldest = age;
                }
            }
        }
        if (oa == NULL) return;
        size_t end = oc + 1; /* with the rest of its block's run, freed together */
        while (end < ARENA_CHUNKS && hak_bit_get(oa->resident, end) &&
               oa->idle_ms[end] == oa->idle_ms[oc])
            end++;
        if (give_back(oa, oc, end - oc) == 0) return;
    }
}

void _hak_arena_free(hak_large_t *e) {
    size_t c, n = e->map_size >> HAK_CHUNK_SHIFT;
    arena_t *a = arena_of(e, &c);
    uint32_t now = hak_ms_now();
    e->state = L_GONE;
    for (size_t i = c; i < c + n; i++) {
        hak_bit_clear(a->used, i);
        hak_bit_set(a->resident, i);
        a->idle_ms[i] = now;
    }
    g_resident_free += e->map_size;
    g_used -= e->map_size;
    enforce_budget();
}

/* Grows a block over the free chunks after it, when there are enough. */
bool _hak_arena_grow(hak_large_t *e, size_t map_size) {
    size_t c, have = e->map_size >> HAK_CHUNK_SHIFT, want = map_size >> HAK_CHUNK_SHIFT;
    arena_t *a = arena_of(e, &c);
    if (c + want > ARENA_CHUNKS) return false;
    if (hak_bit_next(a->used, c + have, c + want, true) < c + want) return false;
    for (size_t i = c + have; i < c + want; i++) {
        if (hak_bit_get(a->resident, i)) {
            hak_bit_clear(a->resident, i);
            g_resident_free -= HAK_CHUNK_SIZE;
        } else {
            commit(HAK_CHUNK_SIZE);
        }
        hak_bit_set(a->used, i);
    }
    g_used += map_size - e->map_size;
    if (g_used > g_used_peak) g_used_peak = g_used;
    e->map_size = map_size;
    return true;
}

/* A block moved out of its arena (mremap, which accounts for its bytes):
 * its chunks are a hole now, mapped again so that the arena stays whole,
 * free and not resident; if that fails they stay out of use. */
void _hak_arena_moved(void *old, size_t map_size) {
    size_t c, n = map_size >> HAK_CHUNK_SHIFT;
    arena_t *a = arena_of(old, &c);
    if (!_hak_os_refill(old, map_size)) return;
    advise(old, map_size);
    for (size_t i = c; i < c + n; i++) hak_bit_clear(a->used, i);
    g_used -= map_size;
}

size_t _hak_arena_decay(uint32_t now_ms, uint32_t delay_ms) {
    if ((uint32_t)(now_ms - g_peak_ms) >= delay_ms) { /* the peak's window starts again */
        g_used_peak = g_used;
        g_peak_ms = now_ms;
    }
    enforce_budget();
    return give_back_idle(now_ms, delay_ms, false);
}

size_t _hak_arena_trim(void) { return give_back_idle(0, 0, true); }

size_t _hak_arena_idle_bytes(void) { return g_resident_free; }
