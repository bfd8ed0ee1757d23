/* Remote frees to an idle owner: `remote_idle <seed>`. The main thread
 * allocates MIB MiB of small and mid blocks (every page written), a second
 * thread frees all but a scattered few, then the process sleeps past the
 * decay delay (HAKMEM_DECAY_MS, set by the test) without calling the
 * allocator. The owner's next allocations drain the frees that waited in
 * its queue: the memory went idle when it was freed, not when it was
 * drained, so the decay pass those allocations run gives it back at once.
 * Prints the bytes decay gave back after the sleep and what was freed. */
#include "rel.h"

#include <pthread.h>
#include <time.h>

#define MIB 32
#define KEEP_ONE_IN 64   /* survivors: scattered, they pin their pages */
#define SLEEP_MS 300     /* longer than the test's delay (100 ms) */
#define AFTER_ALLOCS 4096 /* the owner's light work: enough slow paths for a decay pass */

typedef struct {
    void **p;
    size_t *size;
    size_t n;
    uint64_t freed;
} job_t;

static void *free_all(void *arg) {
    job_t *j = arg;
    for (size_t i = 0; i < j->n; i++) {
        if (i % KEEP_ONE_IN == 0) continue;
        j->freed += j->size[i];
        free(j->p[i]);
        j->p[i] = NULL;
    }
    return NULL;
}

int main(int argc, char **argv) {
    uint64_t seed = seed_from_arg(argc > 1 ? argv[1] : NULL);
    rng_t r;
    rng_init(&r, seed, 0);
    size_t cap = (size_t)MIB << 10, n = 0, total = 0;
    void **p = malloc(cap * sizeof *p);
    size_t *size = malloc(cap * sizeof *size);
    if (p == NULL || size == NULL) die("out of memory");
    while (total < ((size_t)MIB << 20) && n < cap) {
        size_t s = 16 + rng_next(&r) % (32 * 1024);
        p[n] = malloc(s);
        if (p[n] == NULL) die("malloc(%zu) failed", s);
        memset(p[n], (int)(n & 0xff), s);
        size[n++] = s;
        total += s;
    }
    job_t j = {p, size, n, 0};
    pthread_t t;
    if (pthread_create(&t, NULL, free_all, &j) != 0) die("pthread_create");
    pthread_join(t, NULL);
    struct timespec ts = {0, SLEEP_MS * 1000000L};
    nanosleep(&ts, NULL);
    hak_stats_t before, after;
    if (hak_stats_get(&before, sizeof before) != 0) die("hak_stats_get");
    for (unsigned i = 0; i < AFTER_ALLOCS; i++) {
        void *q = malloc(64 + (i % 8) * 512);
        if (q == NULL) die("malloc failed");
        free(q);
        if (i % 2 == 0) free(malloc(48 * 1024)); /* a mid slab taken and given: slow paths */
    }
    if (hak_stats_get(&after, sizeof after) != 0) die("hak_stats_get");
    uint64_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == NULL) continue;
        const uint8_t *b = p[i];
        for (size_t k = 0; k < size[i]; k++) bad += b[k] != (uint8_t)(i & 0xff);
        free(p[i]);
    }
    printf("{\"seed\":\"0x%" PRIx64 "\",\"freed\":%" PRIu64 ",\"decay_bytes\":%" PRIu64
           ",\"bad_bytes\":%" PRIu64 "}\n",
           seed, j.freed, after.decay_bytes - before.decay_bytes, bad);
    free(p);
    free(size);
    return bad == 0 ? 0 : 1;
}
