/* thread_churn: thousands of short-lived threads, a few at a time. Each
 * allocates a handful of blocks of every tier, frees some, and leaves others
 * in a shared "orphan" pool; later threads, a long-lived reaper thread and
 * the main thread verify and free the orphans, usually after the thread that
 * allocated them has exited (so its heap must be reclaimed or adopted with
 * the blocks still valid). Some threads are detached, some allocate nothing,
 * some flush their caches before exiting.
 *
 * usage: thread_churn [seed] [scale] */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "common.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#define WAVE 4
#define POOL_CAP 4096
#define MAX_LARGE (256u << 10)

typedef struct item {
    void *p;
    size_t size;
    uint64_t id;
} item_t;

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static item_t pool[POOL_CAP];
static size_t pool_n;

static uint64_t g_seed;
static _Atomic int detached_live;
static _Atomic int reaper_stop;
static _Atomic uint64_t freed_orphans, freed_local, allocated;

/* Adds to the pool; returns 0 when full. */
static int pool_put(item_t it) {
    pthread_mutex_lock(&pool_mu);
    int ok = pool_n < POOL_CAP;
    if (ok) pool[pool_n++] = it;
    pthread_mutex_unlock(&pool_mu);
    return ok;
}

/* Takes a random orphan; returns 0 when the pool is empty. */
static int pool_take(rng_t *r, item_t *out) {
    pthread_mutex_lock(&pool_mu);
    int ok = pool_n > 0;
    if (ok) {
        size_t k = (size_t)rng_below(r, pool_n);
        *out = pool[k];
        pool[k] = pool[--pool_n];
    }
    pthread_mutex_unlock(&pool_mu);
    return ok;
}

static size_t pool_size(void) {
    pthread_mutex_lock(&pool_mu);
    size_t n = pool_n;
    pthread_mutex_unlock(&pool_mu);
    return n;
}

typedef struct targ {
    uint64_t num;
    int detached;
} targ_t;

static void *short_lived(void *arg) {
    targ_t a = *(targ_t *)arg;
    CHECK(a.num > 0 && (a.detached == 0 || a.detached == 1), "thread argument corrupted");
    free(arg); /* allocated by the creating thread: a remote free */
    rng_t r;
    rng_init(&r, g_seed, a.num);
    unsigned kind = (unsigned)rng_below(&r, 100);
    if (kind >= 8) {
        item_t blocks[64];
        size_t n = rng_range(&r, 1, 64);
        for (size_t i = 0; i < n; i++) {
            blocks[i].size = rng_size(&r, 80, 5, MAX_LARGE);
            blocks[i].id = (a.num << 8) | i;
            blocks[i].p = rng_below(&r, 4) == 0 ? t_calloc(blocks[i].size, blocks[i].id)
                                                 : t_malloc(blocks[i].size, blocks[i].id);
        }
        atomic_fetch_add(&allocated, n);
        /* free orphans left by earlier (mostly dead) threads */
        size_t take = (size_t)rng_below(&r, 16);
        item_t it;
        for (size_t i = 0; i < take && pool_take(&r, &it); i++) {
            t_free(it.p, it.size, it.id);
            atomic_fetch_add(&freed_orphans, 1);
        }
        for (size_t i = 0; i < n; i++) {
            unsigned d = (unsigned)rng_below(&r, 100);
            if (d < 45 && pool_put(blocks[i])) continue; /* leave it behind */
            t_free(blocks[i].p, blocks[i].size, blocks[i].id);
            atomic_fetch_add(&freed_local, 1);
        }
        if (kind < 15) hak_thread_flush();
    }
    if (a.detached) atomic_fetch_sub(&detached_live, 1);
    return NULL;
}

static void *reaper(void *arg) {
    rng_t r;
    rng_init(&r, g_seed, (uint64_t)(uintptr_t)arg);
    item_t it;
    while (!atomic_load(&reaper_stop)) {
        int got = 0;
        for (int i = 0; i < 8 && pool_take(&r, &it); i++) {
            t_free(it.p, it.size, it.id);
            atomic_fetch_add(&freed_orphans, 1);
            got = 1;
        }
        if (!got) sched_yield();
        else {
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    uint64_t seed;
    double scale;
    parse_args(argc, argv, "thread_churn", &seed, &scale);
    g_seed = seed;
    size_t total = scaled(scale, 3000, 40);
    rng_t r;
    rng_init(&r, seed, 1u << 30);

    pthread_t reaper_th;
    CHECK(pthread_create(&reaper_th, NULL, reaper, (void *)(uintptr_t)(1u << 29)) == 0,
          "pthread_create reaper");

    pthread_attr_t det;
    pthread_attr_init(&det);
    pthread_attr_setdetachstate(&det, PTHREAD_CREATE_DETACHED);

    size_t made = 0, detached = 0;
    while (made < total) {
        pthread_t th[WAVE];
        int joinable[WAVE];
        size_t n = 0;
        for (; n < WAVE && made < total; n++, made++) {
            targ_t *a = (targ_t *)malloc(sizeof *a);
            CHECK(a != NULL, "malloc targ");
            a->num = made + 1;
            a->detached = rng_below(&r, 4) == 0 && atomic_load(&detached_live) < 8;
            joinable[n] = !a->detached;
            if (a->detached) {
                atomic_fetch_add(&detached_live, 1);
                detached++;
            }
            int rc = pthread_create(&th[n], a->detached ? &det : NULL, short_lived, a);
            CHECK(rc == 0, "pthread_create #%zu: %d", made, rc);
        }
        for (size_t i = 0; i < n; i++)
            if (joinable[i]) CHECK(pthread_join(th[i], NULL) == 0, "pthread_join");
        /* the main thread (a survivor) frees orphans too */
        if (pool_size() > POOL_CAP / 2) {
            item_t it;
            for (int i = 0; i < 256 && pool_take(&r, &it); i++) {
                t_free(it.p, it.size, it.id);
                atomic_fetch_add(&freed_orphans, 1);
            }
        }
    }
    while (atomic_load(&detached_live) > 0) sched_yield();
    atomic_store(&reaper_stop, 1);
    CHECK(pthread_join(reaper_th, NULL) == 0, "pthread_join reaper");
    pthread_attr_destroy(&det);

    item_t it;
    while (pool_take(&r, &it)) {
        t_free(it.p, it.size, it.id);
        atomic_fetch_add(&freed_orphans, 1);
    }
    uint64_t al = atomic_load(&allocated), fl = atomic_load(&freed_local),
             fo = atomic_load(&freed_orphans);
    printf("thread_churn: %zu threads (%zu detached): allocated=%" PRIu64 " freed locally=%" PRIu64
           " freed as orphans=%" PRIu64 "\n",
           made, detached, al, fl, fo);
    CHECK(al == fl + fo, "block count mismatch: allocated %" PRIu64 " != freed %" PRIu64, al,
          fl + fo);
    stats_check("thread_churn", 1, 1, 1);
    printf("thread_churn: OK\n");
    return 0;
}
