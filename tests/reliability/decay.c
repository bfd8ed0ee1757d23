/* Decay under load: `decay [refuse] <seed> <seconds>`. Two threads churn
 * blocks of every tier (16 B to 3 MiB, every page written) around a set of
 * long-lived survivors, freeing in bursts so slabs empty and fill again,
 * while decay gives idle memory back as often as it can (the test sets
 * HAKMEM_DECAY_MS=0): free units, empty slabs, the free pages of partly
 * used slabs, BigCache blocks. Every block's contents are checked when it
 * is freed and every survivor's at the end: memory must never be released
 * while a block in it is live, and blocks in released pages must come back
 * intact. With `refuse`, madvise(MADV_DONTNEED) fails (this program's
 * madvise is what the statically linked allocator calls): nothing may be
 * lost, and the refusals are counted in the statistics. Prints one JSON
 * line. */
#include "rel.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/syscall.h>

static int g_refuse;
static _Atomic uint64_t g_refused;

int madvise(void *addr, size_t len, int advice) {
    if (g_refuse && advice == MADV_DONTNEED) {
        atomic_fetch_add(&g_refused, 1);
        errno = EAGAIN;
        return -1;
    }
    return (int)syscall(SYS_madvise, addr, len, advice);
}

#define THREADS 2
#define SLOTS 4096
#define SURVIVORS 256
#define BURST 512 /* blocks freed in a row: slabs empty, decay finds them idle */

typedef struct block {
    void *p;
    size_t size;
    uint64_t id;
} block_t;

typedef struct worker {
    uint64_t seed;
    double seconds;
    rng_t rng;
    block_t slot[SLOTS];
    block_t survivor[SURVIVORS];
    uint64_t ops, bad;
} worker_t;

static size_t pick_size(rng_t *s) {
    uint64_t r = rng_next(s);
    unsigned kind = (unsigned)(r % 100);
    if (kind < 70) return 16 + (r >> 8) % 1009;            /* tiny */
    if (kind < 95) return 1025 + (r >> 8) % (64 * 1024);   /* mid */
    return 64 * 1024 + (r >> 8) % (3u << 20);              /* large */
}

static void put(block_t *b, rng_t *s, uint64_t id) {
    b->size = pick_size(s);
    b->p = malloc(b->size);
    if (b->p == NULL) die("malloc(%zu) failed", b->size);
    b->id = id;
    pat_fill(b->p, b->size, id);
}

static void drop(worker_t *w, block_t *b) {
    if (b->p == NULL) return;
    if (pat_bad(b->p, b->size, b->id) != 0) w->bad++;
    free(b->p);
    b->p = NULL;
}

static void *work(void *arg) {
    worker_t *w = arg;
    rng_t *s = &w->rng;
    uint64_t id = w->seed << 20;
    for (unsigned i = 0; i < SURVIVORS; i++) put(&w->survivor[i], s, ++id);
    double end = now_s() + w->seconds;
    while (now_s() < end) {
        for (unsigned i = 0; i < SLOTS; i++) {
            drop(w, &w->slot[i]);
            put(&w->slot[i], s, ++id);
            w->ops++;
        }
        unsigned first = (unsigned)rng_below(s, SLOTS);
        for (unsigned k = 0; k < BURST; k++) drop(w, &w->slot[(first + k) % SLOTS]);
        usleep(2000); /* idle a little: decay's chance */
    }
    for (unsigned i = 0; i < SLOTS; i++) drop(w, &w->slot[i]);
    for (unsigned i = 0; i < SURVIVORS; i++) drop(w, &w->survivor[i]);
    return NULL;
}

int main(int argc, char **argv) {
    int a = 1;
    if (a < argc && strcmp(argv[a], "refuse") == 0) {
        g_refuse = 1;
        a++;
    }
    uint64_t seed = seed_from_arg(a < argc ? argv[a] : NULL);
    double seconds = a + 1 < argc ? atof(argv[a + 1]) : 2.0;
    static worker_t w[THREADS];
    pthread_t t[THREADS];
    for (unsigned i = 0; i < THREADS; i++) {
        w[i].seed = splitmix64(seed + i) | 1;
        rng_init(&w[i].rng, seed, i);
        w[i].seconds = seconds;
        if (pthread_create(&t[i], NULL, work, &w[i]) != 0) die("pthread_create");
    }
    uint64_t ops = 0, bad = 0;
    for (unsigned i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        ops += w[i].ops;
        bad += w[i].bad;
    }
    hak_stats_t st;
    if (hak_stats_get(&st, sizeof st) != 0) die("hak_stats_get");
    printf("{\"seed\":\"0x%" PRIx64 "\",\"refuse\":%d,\"ops\":%" PRIu64 ",\"bad_blocks\":%" PRIu64
           ",\"decay_runs\":%" PRIu64 ",\"decay_bytes\":%" PRIu64 ",\"refault_bytes\":%" PRIu64
           ",\"os_failures\":%" PRIu64 ",\"refused\":%" PRIu64 ",\"madvised_bytes\":%" PRIu64 "}\n",
           seed, g_refuse, ops, bad, st.decay_runs, st.decay_bytes, st.refault_bytes,
           st.os_failures, (uint64_t)atomic_load(&g_refused), st.madvised_bytes);
    return bad == 0 ? 0 : 1;
}
