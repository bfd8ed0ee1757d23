/* Memory of a thread that exited: `exited_idle <mode> <seed>`. A worker
 * thread allocates small blocks (16 B – 1 KiB, every byte written); all but
 * a scattered one in KEEP_ONE_IN are freed (survivors that keep every slab
 * in use, so only free pages, not whole slabs, can go back), by whom and
 * when depending on the mode:
 *   exit      the worker frees them and exits; the main thread makes no
 *             allocator call (decay is never due: the test sets a delay of
 *             an hour): the exit alone must give them back;
 *   handoff   the worker exits first; a second thread frees them into the
 *             exited thread's heap and exits: its exit must give them back;
 *   decay     the worker exits first; the main thread frees them, then
 *             works lightly (the test sets a short HAKMEM_DECAY_MS) until
 *             decay has given back half of what it freed, or GIVE_UP_S;
 *   trim      as decay, but decay is never due: one malloc_trim(0);
 *   bigcache  as exit, and the worker also frees LARGE_BLOCKS blocks of
 *             LARGE_MIB MiB (each over BigCache's default budget, none left
 *             in use), then the main thread works lightly as in decay.
 * Prints the bytes freed, what must come back (`want`: half the small
 * bytes, survivors pin some pages; all large bytes but BigCache's budget
 * and a slack), the bytes given back and the decay passes run. Given back:
 * what decay (or the trim) counts it gave back since the frees began; in
 * bigcache mode, the fall of resident memory since the large blocks were in
 * use, as hardened mode unmaps most freed large blocks at once, before any
 * decay pass. */
#include "rel.h"

#include <malloc.h>
#include <pthread.h>
#include <time.h>

#define SMALL_MIB 32
#define KEEP_ONE_IN 64
#define LARGE_BLOCKS 4
#define LARGE_MIB 24
#define WORK_CHUNK 256 /* light allocations between two 1 ms sleeps */
#define GIVE_UP_S 30   /* a failure, not a measure: decay passes come every few ms */
#define BIGCACHE_KEEP_MIB 20 /* HAKMEM_BIGCACHE_MB's default 16, and header pages */

typedef struct {
    uint64_t seed;
    int large, frees_own; /* the worker frees its small blocks itself */
    void **p;
    size_t *size, n;
    void **keep;
    size_t *keep_size;
    size_t kept;
    uint64_t freed_small, freed_large;
    uint64_t rss_large_kib; /* resident while the large blocks were in use */
} job_t;

/* All small blocks but the survivors go, freed by the calling thread. */
static void free_small(job_t *j) {
    j->keep = malloc((j->n / KEEP_ONE_IN + 1) * sizeof(void *));
    j->keep_size = malloc((j->n / KEEP_ONE_IN + 1) * sizeof(size_t));
    if (j->keep == NULL || j->keep_size == NULL) die("out of memory");
    for (size_t i = 0; i < j->n; i++) {
        if (i % KEEP_ONE_IN == 0) {
            j->keep[j->kept] = j->p[i];
            j->keep_size[j->kept++] = j->size[i];
            continue;
        }
        j->freed_small += j->size[i];
        free(j->p[i]);
    }
    free(j->p);
    free(j->size);
}

static void *freer(void *arg) {
    free_small(arg);
    return NULL;
}

static void *worker(void *arg) {
    job_t *j = arg;
    rng_t r;
    rng_init(&r, j->seed, 1);
    size_t cap = (size_t)SMALL_MIB << 12, total = 0;
    j->p = malloc(cap * sizeof *j->p);
    j->size = malloc(cap * sizeof *j->size);
    if (j->p == NULL || j->size == NULL) die("out of memory");
    while (total < ((size_t)SMALL_MIB << 20) && j->n < cap) {
        size_t s = 16 + rng_next(&r) % 1009;
        void *b = malloc(s);
        if (b == NULL) die("malloc(%zu) failed", s);
        memset(b, (int)(j->n & 0xff), s);
        j->p[j->n] = b;
        j->size[j->n++] = s;
        total += s;
    }
    if (j->frees_own) free_small(j);
    if (j->large) {
        void *big[LARGE_BLOCKS];
        for (unsigned i = 0; i < LARGE_BLOCKS; i++) {
            size_t s = ((size_t)LARGE_MIB << 20) + i * 4096;
            big[i] = malloc(s);
            if (big[i] == NULL) die("malloc(%zu) failed", s);
            memset(big[i], 0x5a, s);
        }
        if (statm_kib(NULL, &j->rss_large_kib) != 0) die("cannot read /proc/self/statm");
        for (unsigned i = 0; i < LARGE_BLOCKS; i++) {
            j->freed_large += ((size_t)LARGE_MIB << 20) + i * 4096;
            free(big[i]);
        }
    }
    return NULL;
}

static double seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void stats(hak_stats_t *s) {
    if (hak_stats_get(s, sizeof *s) != 0) die("hak_stats_get");
}

static int is(const char *mode, const char *name) { return strcmp(mode, name) == 0; }

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    if (!is(mode, "exit") && !is(mode, "handoff") && !is(mode, "decay") && !is(mode, "trim") &&
        !is(mode, "bigcache"))
        die("usage: exited_idle exit|handoff|decay|trim|bigcache [seed]");
    uint64_t seed = seed_from_arg(argc > 2 ? argv[2] : NULL);
    job_t j = {.seed = seed, .large = is(mode, "bigcache")};
    j.frees_own = is(mode, "exit") || is(mode, "bigcache");
    hak_stats_t before, after;
    stats(&before);
    pthread_t t;
    if (pthread_create(&t, NULL, worker, &j) != 0) die("pthread_create");
    pthread_join(t, NULL);
    if (is(mode, "handoff")) {
        if (pthread_create(&t, NULL, freer, &j) != 0) die("pthread_create");
        pthread_join(t, NULL);
    } else if (!j.frees_own) {
        stats(&before); /* what the main thread's frees and decay give back */
        free_small(&j);
    }
    uint64_t want = j.freed_small / 2, given = 0;
    if (j.freed_large > ((uint64_t)BIGCACHE_KEEP_MIB << 20))
        want += j.freed_large - ((uint64_t)BIGCACHE_KEEP_MIB << 20);
    if (is(mode, "exit") || is(mode, "handoff")) {
        stats(&after); /* no allocator call since the threads exited */
        given = after.decay_bytes - before.decay_bytes;
    } else if (is(mode, "trim")) {
        malloc_trim(0);
        stats(&after);
        given = after.madvised_bytes - before.madvised_bytes;
    } else {
        /* light work until decay gave back half (the target is checked by the test) */
        void *slot[64] = {0};
        rng_t r;
        rng_init(&r, seed, 2);
        double t0 = seconds();
        for (;;) {
            for (unsigned i = 0; i < WORK_CHUNK; i++) {
                unsigned k = (unsigned)(rng_next(&r) % 64);
                free(slot[k]);
                slot[k] = malloc(16 + rng_next(&r) % 1009);
                if (slot[k] == NULL) die("malloc failed");
            }
            stats(&after);
            given = after.decay_bytes - before.decay_bytes;
            if (j.large) {
                uint64_t rss;
                if (statm_kib(NULL, &rss) != 0) die("cannot read /proc/self/statm");
                given = rss < j.rss_large_kib ? (j.rss_large_kib - rss) << 10 : 0;
            }
            if (given >= want || seconds() - t0 > GIVE_UP_S) break;
            struct timespec ts = {0, 1000000L};
            nanosleep(&ts, NULL);
        }
        for (unsigned k = 0; k < 64; k++) free(slot[k]);
    }
    uint64_t bad = 0;
    for (size_t i = 0; i < j.kept; i++) {
        const uint8_t *b = j.keep[i];
        uint8_t want = (uint8_t)((i * KEEP_ONE_IN) & 0xff);
        for (size_t k = 0; k < j.keep_size[i]; k++) bad += b[k] != want;
        free(j.keep[i]);
    }
    free(j.keep);
    free(j.keep_size);
    printf("{\"mode\":\"%s\",\"seed\":\"0x%" PRIx64 "\",\"freed_small\":%" PRIu64
           ",\"freed_large\":%" PRIu64 ",\"want\":%" PRIu64 ",\"given\":%" PRIu64
           ",\"decay_runs\":%" PRIu64
           ",\"bad_bytes\":%" PRIu64 "}\n",
           mode, seed, j.freed_small, j.freed_large, want, given, after.decay_runs - before.decay_runs,
           bad);
    return bad == 0 ? 0 : 1;
}
