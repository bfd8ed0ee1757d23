/* ace_mt: ACE changes knobs while threads allocate. The main thread ticks
 * the controller by hand (hak_ace_test_tick) with random synthetic metrics
 * that fire every rule and walk every bandit, so thread-cache capacities,
 * the diet, the drain threshold, the bundle width and partial releases
 * change thousands of times, while worker threads allocate, free across
 * threads and check every block's contents. At the end the defaults must
 * be back (a guard trip restores them) and every block must have survived.
 *
 * usage: ace_mt [seed] [scale] */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "common.h"

#include <pthread.h>
#include <stdatomic.h>

#define THREADS 4
#define SLOTS 512

typedef struct slot {
    _Atomic(void *) p;
    size_t size;
    uint64_t id;
    _Atomic int busy;
} slot_t;

static slot_t g_slots[THREADS][SLOTS];
static _Atomic int g_stop;
static _Atomic uint64_t g_next_id = 1;

typedef struct worker {
    pthread_t th;
    unsigned index;
    uint64_t seed;
    uint64_t ops;
} worker_t;

/* Frees whatever a slot holds after checking it; slots of other threads
 * are taken with a flag, so frees cross threads. */
static void release(slot_t *s) {
    void *p = atomic_load(&s->p);
    if (p == NULL) return;
    pat_check(p, s->size, s->id, "before free");
    free(p);
    atomic_store(&s->p, NULL);
}

static void *worker_main(void *arg) {
    worker_t *w = arg;
    rng_t r;
    rng_init(&r, w->seed, w->index);
    while (!atomic_load_explicit(&g_stop, memory_order_relaxed)) {
        unsigned owner = rng_below(&r, 4) == 0 ? (unsigned)rng_below(&r, THREADS) : w->index;
        slot_t *s = &g_slots[owner][rng_below(&r, SLOTS)];
        int expected = 0;
        if (!atomic_compare_exchange_strong(&s->busy, &expected, 1)) continue;
        release(s);
        size_t size = rng_below(&r, 50) == 0 ? rng_range(&r, 1025, 65536) : rng_range(&r, 1, 512);
        uint64_t id = atomic_fetch_add(&g_next_id, 1);
        void *p = t_malloc(size, id);
        s->size = size;
        s->id = id;
        atomic_store(&s->p, p);
        atomic_store(&s->busy, 0);
        w->ops++;
    }
    return NULL;
}

static double unit(rng_t *r) { return (double)rng_below(r, 1000000) / 1e6; }

int main(int argc, char **argv) {
    uint64_t seed;
    double scale;
    parse_args(argc, argv, "ace_mt", &seed, &scale);
    hak_ace_test_reset();
    int64_t drain0, bundle0;
    hak_option_get("HAKMEM_REMOTE_DRAIN_THRESHOLD", &drain0);
    hak_option_get("HAKMEM_BUNDLE", &bundle0);
    int64_t cap0[HAK_ACE_CLASSES];
    for (unsigned c = 0; c < HAK_ACE_CLASSES; c++) cap0[c] = hak_class_knob_get(HAK_KNOB_TCACHE_CAP, c);

    worker_t workers[THREADS];
    for (unsigned i = 0; i < THREADS; i++) {
        workers[i] = (worker_t){.index = i, .seed = seed};
        CHECK(pthread_create(&workers[i].th, NULL, worker_main, &workers[i]) == 0, "pthread_create");
    }
    rng_t r;
    rng_init(&r, seed, 99);
    unsigned ticks = (unsigned)(3000 * scale) + 10, changes = 0;
    for (unsigned t = 0; t < ticks; t++) {
        hak_ace_metrics_t m;
        memset(&m, 0, sizeof(m));
        m.interval_s = 0.5;
        m.ops_per_s = 1e6 + 1e7 * unit(&r);
        m.llc_miss_rate = unit(&r) * 0.3;
        m.lock_wait_frac = unit(&r) * 0.1;
        m.remote_backlog = unit(&r) * 600;
        m.p99_lat_ns = 1e4;
        m.ace_cpu_percent = 0.1;
        for (unsigned c = 0; c < HAK_ACE_CLASSES; c++) {
            m.cls_ops[c] = unit(&r) < 0.5 ? 1000 + 1e5 * unit(&r) : 0;
            m.cls_underflows[c] = m.cls_ops[c] * unit(&r) * 0.2;
            m.cls_overflows[c] = m.cls_ops[c] * unit(&r) * 0.2;
        }
        int slow = t % 16 == 15;
        if (slow) {
            m.frag_ratio = unit(&r);
            m.in_use_mb = 10;
            m.rss_mb = 10 + 100 * unit(&r);
        }
        int n = hak_ace_test_tick(&m, slow);
        CHECK(n >= 0, "tick %u: ACE stopped unexpectedly", t);
        changes += (unsigned)n;
        if (t % 64 == 0) usleep(200); /* let the workers run between bursts */
    }
    /* A guard trip stops ACE and restores every default; its one-line
     * notice is expected, so stderr is muted for it. */
    hak_ace_metrics_t trip;
    memset(&trip, 0, sizeof(trip));
    trip.p99_lat_ns = 1e12;
    int err = dup(2);
    FILE *null = fopen("/dev/null", "w");
    CHECK(err >= 0 && null != NULL, "cannot mute stderr");
    dup2(fileno(null), 2);
    int first = hak_ace_test_tick(&trip, 0); /* p99 must stay over for two ticks */
    int tripped = hak_ace_test_tick(&trip, 0);
    dup2(err, 2);
    close(err);
    fclose(null);
    CHECK(first >= 0 && tripped == -1, "the p99 guard did not trip on the second tick");
    atomic_store(&g_stop, 1);
    uint64_t ops = 0;
    for (unsigned i = 0; i < THREADS; i++) {
        pthread_join(workers[i].th, NULL);
        ops += workers[i].ops;
    }
    for (unsigned i = 0; i < THREADS; i++)
        for (unsigned k = 0; k < SLOTS; k++) release(&g_slots[i][k]);
    int64_t drain, bundle;
    hak_option_get("HAKMEM_REMOTE_DRAIN_THRESHOLD", &drain);
    hak_option_get("HAKMEM_BUNDLE", &bundle);
    CHECK(drain == drain0 && bundle == bundle0, "defaults not restored: drain %lld bundle %lld",
          (long long)drain, (long long)bundle);
    for (unsigned c = 0; c < HAK_ACE_CLASSES; c++)
        CHECK(hak_class_knob_get(HAK_KNOB_TCACHE_CAP, c) == cap0[c], "cap[%u] not restored", c);
    CHECK(changes > ticks, "ACE made only %u knob changes in %u ticks", changes, ticks);
    printf("ace_mt: OK (%u ticks, %u knob changes, %llu allocations checked)\n", ticks, changes,
           (unsigned long long)ops);
    return 0;
}
