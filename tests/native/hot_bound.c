/* hot_bound: the mid classes' hot stacks of all threads together grow
 * within their bound.
 *
 * A class's hot stack doubles its room while the class churns, within
 * 4 MiB of grown room per thread and 32 MiB for every thread together
 * (core/src/heap/refill.c, hot_grow). THREADS threads each replace random
 * blocks of every mid class from 8 KiB to 64 KiB among LIVE live ones, which
 * grows each thread's room to its own bound: more than the global bound in
 * all. While every thread is still alive (their rooms are given back at
 * exit), the statistics must show the grown room within the global bound,
 * and, where the stacks exist (not in hardened mode, which the debug build
 * always runs in), filled to within one class's step of it: the threads
 * wanted more than the bound. Without the global bound they grow to about
 * THREADS times the thread's.
 *
 * usage: hot_bound [seed] [scale] */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "common.h"

#include <pthread.h>

#define THREADS 12
#define LIVE 512
#define MIN_SIZE (8u << 10)
#define MAX_SIZE (64u << 10)
#define SIZE_STEP (4u << 10)
#define ROUNDS 12
#define REPLACEMENTS 4000
/* The bounds of core/src/heap/heap.h (HAK_HOT_GROWN_BYTES, HAK_HOT_GROWN_ALL_BYTES). */
#define GROWN_THREAD (4u << 20)
#define GROWN_ALL (32u << 20)
/* The largest single growth: a class's room doubling to 1 MiB of blocks. */
#define GROWN_STEP (512u << 10)

typedef struct worker {
    pthread_t th;
    unsigned index;
    uint64_t seed;
    size_t replacements;
} worker_t;

static pthread_barrier_t g_grown, g_read;

static size_t pick_size(rng_t *r) {
    return MIN_SIZE + SIZE_STEP * (size_t)rng_range(r, 0, (MAX_SIZE - MIN_SIZE) / SIZE_STEP);
}

/* The head and the tail carry the block's id: enough to catch a block handed out twice,
 * without writing megabytes under qemu. */
static void mark(uint64_t *p, size_t size, uint64_t id) {
    p[0] = id;
    p[size / 8 - 1] = ~id;
}

static void check(const uint64_t *p, size_t size, uint64_t id) {
    CHECK(p[0] == id && p[size / 8 - 1] == ~id, "block %p (%zu bytes, id %" PRIu64 ") changed",
          (const void *)p, size, id);
}

static void *work(void *arg) {
    worker_t *w = arg;
    rng_t r;
    rng_init(&r, w->seed, w->index + 1);
    static _Thread_local uint64_t *live[LIVE];
    static _Thread_local size_t sizes[LIVE];
    static _Thread_local uint64_t ids[LIVE];
    uint64_t id = (uint64_t)w->index << 40;
    for (unsigned i = 0; i < LIVE; i++) {
        sizes[i] = pick_size(&r);
        live[i] = malloc(sizes[i]);
        CHECK(live[i] != NULL, "malloc(%zu) returned NULL", sizes[i]);
        mark(live[i], sizes[i], ids[i] = ++id);
    }
    for (size_t k = 0; k < w->replacements; k++) {
        unsigned i = (unsigned)rng_range(&r, 0, LIVE - 1);
        check(live[i], sizes[i], ids[i]);
        free(live[i]);
        sizes[i] = pick_size(&r);
        live[i] = malloc(sizes[i]);
        CHECK(live[i] != NULL, "malloc(%zu) returned NULL", sizes[i]);
        mark(live[i], sizes[i], ids[i] = ++id);
    }
    pthread_barrier_wait(&g_grown); /* every thread has grown its room */
    pthread_barrier_wait(&g_read);  /* the statistics were read: give the rooms back */
    for (unsigned i = 0; i < LIVE; i++) {
        check(live[i], sizes[i], ids[i]);
        free(live[i]);
    }
    return NULL;
}

static uint64_t hot_grown(void) {
    hak_stats_t st;
    memset(&st, 0, sizeof st);
    if (hak_stats_get(&st, sizeof st) != 0) die("hak_stats_get failed (errno %d)", errno);
    return st.hot_grown_bytes;
}

int main(int argc, char **argv) {
    uint64_t seed;
    double scale;
    parse_args(argc, argv, "hot_bound", &seed, &scale);
    int64_t harden = 0;
    CHECK(hak_option_get("HAKMEM_HARDEN", &harden) == 0, "hak_option_get(HAKMEM_HARDEN) failed");
    size_t replacements = scaled(scale, (size_t)ROUNDS * REPLACEMENTS, REPLACEMENTS);
    CHECK(pthread_barrier_init(&g_grown, NULL, THREADS + 1) == 0, "pthread_barrier_init");
    CHECK(pthread_barrier_init(&g_read, NULL, THREADS + 1) == 0, "pthread_barrier_init");
    worker_t w[THREADS];
    for (unsigned t = 0; t < THREADS; t++) {
        w[t] = (worker_t){.index = t, .seed = seed, .replacements = replacements};
        CHECK(pthread_create(&w[t].th, NULL, work, &w[t]) == 0, "pthread_create");
    }
    pthread_barrier_wait(&g_grown);
    uint64_t grown = hot_grown();
    pthread_barrier_wait(&g_read);
    for (unsigned t = 0; t < THREADS; t++) pthread_join(w[t].th, NULL);
    uint64_t after = hot_grown();
    printf("hot_bound: %u threads, %zu replacements each: hot stacks grew %" PRIu64
           " KiB of room together (bound %u KiB, %u KiB per thread%s); %" PRIu64
           " KiB after they exited\n",
           THREADS, replacements, grown >> 10, GROWN_ALL >> 10, GROWN_THREAD >> 10,
           harden ? ", hardened: no hot stacks" : "", after >> 10);
    CHECK(grown <= GROWN_ALL, "the hot stacks grew %" PRIu64 " bytes of room, over the %u bound",
          grown, GROWN_ALL);
    if (!harden)
        CHECK(grown + GROWN_STEP > GROWN_ALL,
              "the hot stacks grew %" PRIu64 " bytes of room: %u threads wanting up to %u each "
              "should have filled the %u bound to within %u",
              grown, THREADS, GROWN_THREAD, GROWN_ALL, GROWN_STEP);
    else
        CHECK(grown == 0, "hardened mode has no hot stacks, yet %" PRIu64 " bytes grew", grown);
    CHECK(after == 0, "%" PRIu64 " bytes of grown room stayed after every thread exited", after);
    stats_check("hot_bound", 1, 0, 0);
    printf("hot_bound: OK\n");
    return 0;
}
