/* mt_churn: many threads allocating and freeing random sizes across the
 * tiers (mostly tiny, some mid, a few large up to 1 MiB), with calloc,
 * realloc (within and across tiers) and aligned allocations mixed in. Every
 * block carries a pattern derived from its id, verified before every free
 * and realloc.
 *
 * usage: mt_churn [seed] [scale] */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "common.h"

#include <pthread.h>
#include <stdatomic.h>

#define THREADS 8
#define SLOTS 1024
#define MAX_LARGE (1u << 20)

typedef struct slot {
    void *p;
    size_t size;
    uint64_t id;
} slot_t;

typedef struct worker {
    pthread_t th;
    unsigned index;
    uint64_t seed;
    size_t ops;
    uint64_t allocs, reallocs, callocs, aligned, frees;
} worker_t;

static _Atomic uint64_t next_id = 1;

static uint64_t new_id(void) { return atomic_fetch_add_explicit(&next_id, 1, memory_order_relaxed); }

static size_t pick_size(rng_t *r) { return rng_size(r, 60, 2, MAX_LARGE); }

static void *aligned_block(rng_t *r, size_t size, uint64_t id) {
    size_t align = (size_t)16 << rng_below(r, 9); /* 16 .. 4096 */
    void *p = NULL;
    if (rng_below(r, 2) == 0) {
        int rc = posix_memalign(&p, align, size);
        if (rc != 0) die("posix_memalign(%zu, %zu) failed: %d", align, size, rc);
    } else {
        size_t rounded = (size + align - 1) / align * align;
        p = aligned_alloc(align, rounded);
        if (!p) die("aligned_alloc(%zu, %zu) returned NULL (errno %d)", align, rounded, errno);
    }
    if (((uintptr_t)p & (align - 1)) != 0)
        die("aligned block %p (id %" PRIu64 ") not aligned to %zu", p, id, align);
    pat_fill(p, size, id);
    return p;
}

static void *worker_main(void *arg) {
    worker_t *w = (worker_t *)arg;
    rng_t r;
    rng_init(&r, w->seed, w->index);
    slot_t *slots = (slot_t *)calloc(SLOTS, sizeof(slot_t));
    CHECK(slots != NULL, "calloc slots");

    for (size_t op = 0; op < w->ops; op++) {
        slot_t *s = &slots[rng_below(&r, SLOTS)];
        unsigned d = (unsigned)rng_below(&r, 100);
        if (s->p == NULL) {
            s->size = pick_size(&r);
            s->id = new_id();
            if (d < 70) {
                s->p = t_malloc(s->size, s->id);
                w->allocs++;
            } else if (d < 90) {
                s->p = t_calloc(s->size, s->id);
                w->callocs++;
            } else {
                s->p = aligned_block(&r, s->size, s->id);
                w->aligned++;
            }
            if ((s->id & 15) == 0) {
                size_t us = hak_usable_size(s->p);
                CHECK(us >= s->size, "hak_usable_size(%p)=%zu < requested %zu", s->p, us,
                      s->size);
            }
        } else if (d < 25) {
            size_t ns;
            if (rng_below(&r, 2) == 0) {
                /* grow or shrink a little: often stays in the same class */
                size_t delta = rng_range(&r, 0, s->size / 2 + 8);
                ns = rng_below(&r, 2) ? s->size + delta : (s->size > delta ? s->size - delta : 1);
                if (ns > MAX_LARGE) ns = MAX_LARGE;
            } else {
                ns = pick_size(&r); /* possibly another tier */
            }
            uint64_t nid = new_id();
            s->p = t_realloc(s->p, s->size, s->id, ns, nid);
            s->size = ns;
            s->id = nid;
            w->reallocs++;
        } else {
            t_free(s->p, s->size, s->id);
            s->p = NULL;
            w->frees++;
        }

        if (op % 20000 == 19999) {
            /* bulk free of a random half, then flush the thread caches */
            for (size_t i = 0; i < SLOTS; i++) {
                if (slots[i].p && rng_below(&r, 2)) {
                    t_free(slots[i].p, slots[i].size, slots[i].id);
                    slots[i].p = NULL;
                    w->frees++;
                }
            }
            hak_thread_flush();
        }
    }
    for (size_t i = 0; i < SLOTS; i++) {
        if (slots[i].p) {
            t_free(slots[i].p, slots[i].size, slots[i].id);
            w->frees++;
        }
    }
    free(slots);
    return NULL;
}

int main(int argc, char **argv) {
    uint64_t seed;
    double scale;
    parse_args(argc, argv, "mt_churn", &seed, &scale);
    worker_t workers[THREADS];
    size_t ops = scaled(scale, 200000, 1000);
    for (unsigned i = 0; i < THREADS; i++) {
        memset(&workers[i], 0, sizeof workers[i]);
        workers[i].index = i;
        workers[i].seed = seed;
        workers[i].ops = ops;
        int rc = pthread_create(&workers[i].th, NULL, worker_main, &workers[i]);
        CHECK(rc == 0, "pthread_create: %d", rc);
    }
    uint64_t allocs = 0, callocs = 0, reallocs = 0, aligned = 0, frees = 0;
    for (unsigned i = 0; i < THREADS; i++) {
        int rc = pthread_join(workers[i].th, NULL);
        CHECK(rc == 0, "pthread_join: %d", rc);
        allocs += workers[i].allocs;
        callocs += workers[i].callocs;
        reallocs += workers[i].reallocs;
        aligned += workers[i].aligned;
        frees += workers[i].frees;
    }
    printf("mt_churn: %d threads x %zu ops: malloc=%" PRIu64 " calloc=%" PRIu64
           " aligned=%" PRIu64 " realloc=%" PRIu64 " free=%" PRIu64 "\n",
           THREADS, ops, allocs, callocs, aligned, reallocs, frees);
    stats_check("mt_churn", 1, 1, 0);
    printf("mt_churn: OK\n");
    return 0;
}
