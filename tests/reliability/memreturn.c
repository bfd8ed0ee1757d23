/* Memory goes back: four threads allocate ~200 MiB of mixed blocks (every
 * tier, every page written), free everything (half of it from another
 * thread) and exit. Resident memory (/proc/self/statm) is then sampled:
 *   1. right after the frees,
 *   2. after one more small allocation and free (a program going on),
 *   3. after hak_trim().
 * `memreturn [slack_mib]` (default 8) prints one JSON line with the figures
 * and exits 0 when RSS after hak_trim() is within slack of the start, else
 * 1. The pointer arrays live in their own mmap, released
 * before the measurement, so they do not count. */
#include "rel.h"

#include <pthread.h>
#include <sys/mman.h>

#define THREADS 4
#define PER_THREAD ((size_t)50 << 20)
#define MAX_BLOCKS ((size_t)1 << 20)

struct blk {
    void *p;
    size_t size;
};

struct worker {
    unsigned id;
    struct blk *blocks;
    size_t n;
    int warmup;
};

static struct worker workers[THREADS];
static pthread_barrier_t barrier;
static int failed;
/* Experiment (argv[3] = "worker-trim"): each worker calls hak_trim() after
 * all frees, before it exits. */
static int worker_trim;
static pthread_barrier_t barrier2;

/* Bytes per thread by tier: a quarter tiny (8 B..1 KiB), a third mid
 * (1..64 KiB), the rest large (64 KiB..4 MiB); the tier of each block is
 * drawn at random among those still under budget. */
static size_t pick_size(rng_t *r, size_t done[3], size_t budget) {
    size_t want[3] = {budget / 4, budget / 3, budget - budget / 4 - budget / 3};
    unsigned open[3], k = 0;
    for (unsigned t = 0; t < 3; t++)
        if (done[t] < want[t]) open[k++] = t;
    if (k == 0) return 0;
    unsigned t = open[rng_below(r, k)];
    size_t size = t == 0   ? rng_range(r, 8, 1024)
                  : t == 1 ? rng_range(r, 1025, 65536)
                           : rng_range(r, 65537, (size_t)4 << 20);
    done[t] += size;
    return size;
}

static void free_range(struct worker *w, size_t from, size_t step) {
    for (size_t i = from; i < w->n; i += step) {
        if (pat_bad(w->blocks[i].p, w->blocks[i].size, (uint64_t)w->id << 32 | i)) failed = 1;
        free(w->blocks[i].p);
        w->blocks[i].p = NULL;
    }
}

static void *worker_main(void *arg) {
    struct worker *w = (struct worker *)arg;
    rng_t r;
    rng_init(&r, 0xfeed, w->id);
    size_t budget = w->warmup ? ((size_t)256 << 10) : PER_THREAD, done[3] = {0, 0, 0};
    while (w->n < MAX_BLOCKS) {
        size_t size = pick_size(&r, done, budget);
        if (size == 0) break;
        void *p = malloc(size);
        if (!p) die("malloc(%zu) failed", size);
        memset(p, 0x33, size); /* every page resident */
        pat_fill(p, size, (uint64_t)w->id << 32 | w->n);
        w->blocks[w->n].p = p;
        w->blocks[w->n].size = size;
        w->n++;
    }
    pthread_barrier_wait(&barrier); /* all allocated: main samples the peak */
    pthread_barrier_wait(&barrier);
    /* Even blocks: freed by their owner; odd blocks: by the next thread. */
    free_range(w, 0, 2);
    free_range(&workers[(w->id + 1) % THREADS], 1, 2);
    if (worker_trim) {
        pthread_barrier_wait(&barrier2); /* every block freed */
        hak_trim();
    }
    return NULL;
}

static uint64_t rss_now(void) {
    uint64_t rss = 0;
    if (statm_kib(NULL, &rss) != 0) die("cannot read /proc/self/statm");
    return rss;
}

/* Runs one round: the workers allocate, main samples the peak, the workers
 * free everything and exit. Returns the peak RSS (KiB). */
static uint64_t round_trip(int warmup) {
    pthread_t th[THREADS];
    pthread_barrier_init(&barrier, NULL, THREADS + 1);
    pthread_barrier_init(&barrier2, NULL, THREADS);
    for (unsigned i = 0; i < THREADS; i++) {
        workers[i].id = i;
        workers[i].n = 0;
        workers[i].warmup = warmup;
        if (pthread_create(&th[i], NULL, worker_main, &workers[i]) != 0) die("pthread_create");
    }
    pthread_barrier_wait(&barrier);
    uint64_t peak = rss_now();
    pthread_barrier_wait(&barrier);
    for (unsigned i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    pthread_barrier_destroy(&barrier);
    return peak;
}

int main(int argc, char **argv) {
    uint64_t slack_kib = (argc > 1 ? strtoull(argv[1], NULL, 0) : 8) * 1024;
    worker_trim = argc > 2 && strcmp(argv[2], "worker-trim") == 0;
    size_t arr_bytes = MAX_BLOCKS * sizeof(struct blk);
    for (unsigned i = 0; i < THREADS; i++) {
        void *a = mmap(NULL, arr_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (a == MAP_FAILED) die("mmap");
        workers[i].blocks = (struct blk *)a;
    }
    /* Warm-up round (thread stacks, stdio, the library's own state), so the
     * start figure is that of a process that has run threads before. */
    round_trip(1);
    hak_trim();
    for (unsigned i = 0; i < THREADS; i++) madvise(workers[i].blocks, arr_bytes, MADV_DONTNEED);
    uint64_t start = rss_now();

    double t0 = now_s();
    uint64_t peak = round_trip(0);
    size_t blocks = 0;
    for (unsigned i = 0; i < THREADS; i++) {
        blocks += workers[i].n;
        madvise(workers[i].blocks, arr_bytes, MADV_DONTNEED);
    }
    double work_s = now_s() - t0;
    uint64_t freed = rss_now();

    /* A fresh allocation/free on this thread (a program going on) may let
     * the allocator give memory back in its normal paths. */
    free(malloc(100));
    free(malloc(100000));
    uint64_t after_activity = rss_now();

    double tt = now_s();
    int released = hak_trim();
    double trim_ms = (now_s() - tt) * 1000;
    uint64_t trimmed = rss_now();

    /* The heap still serves after the trim. */
    for (int i = 0; i < 100; i++) {
        void *p = malloc((size_t)(i + 1) * 1000);
        if (!p) die("malloc after hak_trim failed");
        memset(p, 1, (size_t)(i + 1) * 1000);
        free(p);
    }

    hak_stats_t st;
    memset(&st, 0, sizeof st);
    hak_stats_get(&st, sizeof st);
    int ok = !failed && trimmed <= start + slack_kib;
    printf("{\"start_kib\":%" PRIu64 ",\"peak_kib\":%" PRIu64 ",\"after_free_kib\":%" PRIu64
           ",\"after_activity_kib\":%" PRIu64 ",\"after_trim_kib\":%" PRIu64
           ",\"trim_returned\":%d,\"trim_ms\":%.1f,\"slack_kib\":%" PRIu64
           ",\"mapped_kib\":%" PRIu64 ",\"segments\":%" PRIu64 ",\"reserved_kib\":[%" PRIu64
           ",%" PRIu64 ",%" PRIu64 "]"
           ",\"blocks\":%zu,\"threads\":%d,\"work_s\":%.2f,\"content_ok\":%s,\"ok\":%s}\n",
           start, peak, freed, after_activity, trimmed,
           released, trim_ms, slack_kib, st.bytes_mapped >> 10, st.segments,
           st.tier[0].bytes_reserved >> 10, st.tier[1].bytes_reserved >> 10,
           st.tier[2].bytes_reserved >> 10, blocks, THREADS, work_s, failed ? "false" : "true",
           ok ? "true" : "false");
    return ok ? 0 : 1;
}
