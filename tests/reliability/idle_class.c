/* A size class the thread stopped using: `idle_class <seed>`. The main
 * thread allocates a few blocks of two mid sizes (one slab each, the
 * class's current one), writes them and frees them: all of the first
 * size, all but one of the second; and many blocks of a third size (several
 * slabs: frees to those that are not current wait on the class's hot
 * stack, core/src/heap/heap.h), all freed. Then it works on with small blocks only,
 * for several decay delays (HAKMEM_DECAY_MS, set by the test). The freed
 * blocks' pages must have gone back to the OS (read with mincore), the kept
 * block must be intact, and the small blocks' own slabs, in use all along,
 * must not have been given back and faulted in again (refault_bytes).
 * Prints one JSON line. */
#include "rel.h"

#include <sys/mman.h>

#define BLOCKS 6                 /* fewer than a mid slab holds: the slab stays current */
#define SIZE_ALL (40u << 10)     /* every block freed: the slab empties */
#define SIZE_KEEP (24u << 10)    /* one block kept: the slab holds it */
#define SPREAD 100               /* more than a slab holds: several slabs */
#define SIZE_SPREAD (16u << 10)  /* every block freed, the first ones onto the hot stack */
#define WORK_DELAYS 6            /* light work this many delays long */
#define WORK_BATCH 200           /* small blocks a step allocates, then frees */

/* Resident pages among those that lie wholly inside [p, p + size). */
static size_t resident(void *p, size_t size) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = ((uintptr_t)p + page - 1) & ~(uintptr_t)(page - 1);
    uintptr_t hi = ((uintptr_t)p + size) & ~(uintptr_t)(page - 1);
    if (hi <= lo) return 0;
    size_t n = (hi - lo) / page, in = 0;
    unsigned char *v = malloc(n);
    if (v == NULL) die("out of memory");
    if (mincore((void *)lo, hi - lo, v) != 0) die("mincore: %s", strerror(errno));
    for (size_t i = 0; i < n; i++) in += v[i] & 1;
    free(v);
    return in;
}

/* A step of light work: a batch of small blocks allocated, written, freed. */
static void small_step(void) {
    static void *batch[WORK_BATCH];
    for (unsigned i = 0; i < WORK_BATCH; i++) {
        batch[i] = malloc(16 + (i % 4) * 16);
        if (batch[i] == NULL) die("malloc failed");
        memset(batch[i], (int)i, 16);
    }
    for (unsigned i = 0; i < WORK_BATCH; i++) free(batch[i]);
}

int main(int argc, char **argv) {
    uint64_t seed = seed_from_arg(argc > 1 ? argv[1] : NULL);
    const char *d = getenv("HAKMEM_DECAY_MS");
    double delay_s = (d != NULL ? atof(d) : 2000.0) / 1000.0;
    /* the small blocks' slabs first: made later, they could take the
     * pages the mid blocks' empty slabs left, which would stay resident */
    small_step();
    void *all[BLOCKS], *keep[BLOCKS];
    for (unsigned i = 0; i < BLOCKS; i++) {
        all[i] = malloc(SIZE_ALL);
        keep[i] = malloc(SIZE_KEEP);
        if (all[i] == NULL || keep[i] == NULL) die("malloc failed");
        pat_fill(all[i], SIZE_ALL, seed + i);
        pat_fill(keep[i], SIZE_KEEP, seed + BLOCKS + i);
    }
    void *spread[SPREAD];
    for (unsigned i = 0; i < SPREAD; i++) {
        if ((spread[i] = malloc(SIZE_SPREAD)) == NULL) die("malloc failed");
        pat_fill(spread[i], SIZE_SPREAD, seed + 2 * BLOCKS + i);
    }
    size_t before = 0;
    for (unsigned i = 0; i < BLOCKS; i++) before += resident(all[i], SIZE_ALL);
    for (unsigned i = 1; i < BLOCKS; i++) before += resident(keep[i], SIZE_KEEP);
    for (unsigned i = 0; i < SPREAD; i++) before += resident(spread[i], SIZE_SPREAD);

    hak_stats_t s0, s1;
    if (hak_stats_get(&s0, sizeof s0) != 0) die("hak_stats_get");
    for (unsigned i = 0; i < BLOCKS; i++) free(all[i]);
    for (unsigned i = 1; i < BLOCKS; i++) free(keep[i]);
    for (unsigned i = 0; i < SPREAD; i++) free(spread[i]);

    /* light work on small blocks: every step refills their slabs (slow paths, decay passes) */
    double end = now_s() + WORK_DELAYS * delay_s;
    uint64_t steps = 0;
    while (now_s() < end) {
        small_step();
        steps++;
    }
    if (hak_stats_get(&s1, sizeof s1) != 0) die("hak_stats_get");

    size_t after = 0;
    for (unsigned i = 0; i < BLOCKS; i++) after += resident(all[i], SIZE_ALL);
    for (unsigned i = 1; i < BLOCKS; i++) after += resident(keep[i], SIZE_KEEP);
    for (unsigned i = 0; i < SPREAD; i++) after += resident(spread[i], SIZE_SPREAD);
    size_t bad = pat_bad(keep[0], SIZE_KEEP, seed + BLOCKS);
    free(keep[0]);
    printf("{\"seed\":\"0x%" PRIx64 "\",\"resident_before\":%zu,\"resident_after\":%zu,"
           "\"steps\":%" PRIu64 ",\"refault_bytes\":%" PRIu64 ",\"bad_bytes\":%zu}\n",
           seed, before, after, steps, s1.refault_bytes - s0.refault_bytes, bad);
    return bad == 0 ? 0 : 1;
}
