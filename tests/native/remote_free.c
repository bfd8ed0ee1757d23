/* remote_free: producer/consumer pairs. Producers allocate blocks of every
 * tier, fill them and hand them over a queue; consumers verify and free them
 * (sometimes after a realloc, sometimes after holding them a while), so every
 * free is remote. Half of the pairs use a lock-free single-producer /
 * single-consumer ring, the other half a mutex + condition variable queue.
 * Producers usually finish first, so many blocks are freed after the thread
 * that allocated them has exited.
 *
 * usage: remote_free [seed] [scale] */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "common.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#define PAIRS 4
#define QCAP 2048 /* power of two */
#define HOLD 64
#define MAX_LARGE (1u << 20)

typedef struct item {
    void *p;
    size_t size;
    uint64_t id;
} item_t;

typedef struct queue {
    int lock_free;
    /* lock-free SPSC ring */
    _Atomic size_t head; /* next slot to read (consumer) */
    _Atomic size_t tail; /* next slot to write (producer) */
    /* locked queue */
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    size_t count, rd;
    int done; /* producer finished (locked queue) */
    _Atomic int done_lf;
    item_t ring[QCAP];
} queue_t;

typedef struct pair {
    queue_t q;
    pthread_t prod, cons;
    unsigned index;
    uint64_t seed;
    size_t count;
    uint64_t freed, realloced, max_backlog;
} pair_t;

static void q_push(queue_t *q, item_t it) {
    if (q->lock_free) {
        size_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
        while (t - atomic_load_explicit(&q->head, memory_order_acquire) >= QCAP) sched_yield();
        q->ring[t & (QCAP - 1)] = it;
        atomic_store_explicit(&q->tail, t + 1, memory_order_release);
        return;
    }
    pthread_mutex_lock(&q->mu);
    while (q->count == QCAP) pthread_cond_wait(&q->not_full, &q->mu);
    q->ring[(q->rd + q->count) & (QCAP - 1)] = it;
    q->count++;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->mu);
}

static void q_close(queue_t *q) {
    if (q->lock_free) {
        atomic_store_explicit(&q->done_lf, 1, memory_order_release);
        return;
    }
    pthread_mutex_lock(&q->mu);
    q->done = 1;
    pthread_cond_broadcast(&q->not_empty);
    pthread_mutex_unlock(&q->mu);
}

/* Returns 1 with an item, 0 when the producer is done and the queue empty. */
static int q_pop(queue_t *q, item_t *out) {
    if (q->lock_free) {
        size_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
        for (;;) {
            if (atomic_load_explicit(&q->tail, memory_order_acquire) != h) break;
            if (atomic_load_explicit(&q->done_lf, memory_order_acquire)) {
                if (atomic_load_explicit(&q->tail, memory_order_acquire) != h) break;
                return 0;
            }
            sched_yield();
        }
        *out = q->ring[h & (QCAP - 1)];
        atomic_store_explicit(&q->head, h + 1, memory_order_release);
        return 1;
    }
    pthread_mutex_lock(&q->mu);
    while (q->count == 0 && !q->done) pthread_cond_wait(&q->not_empty, &q->mu);
    if (q->count == 0) {
        pthread_mutex_unlock(&q->mu);
        return 0;
    }
    *out = q->ring[q->rd];
    q->rd = (q->rd + 1) & (QCAP - 1);
    q->count--;
    pthread_cond_signal(&q->not_full);
    pthread_mutex_unlock(&q->mu);
    return 1;
}

static void *producer(void *arg) {
    pair_t *pr = (pair_t *)arg;
    rng_t r;
    rng_init(&r, pr->seed, 2 * pr->index);
    for (size_t i = 0; i < pr->count; i++) {
        item_t it;
        it.size = rng_size(&r, 50, 1, MAX_LARGE);
        it.id = ((uint64_t)pr->index << 48) | (i + 1);
        it.p = rng_below(&r, 5) == 0 ? t_calloc(it.size, it.id) : t_malloc(it.size, it.id);
        q_push(&pr->q, it);
    }
    q_close(&pr->q);
    return NULL;
}

static void *consumer(void *arg) {
    pair_t *pr = (pair_t *)arg;
    rng_t r;
    rng_init(&r, pr->seed, 2 * pr->index + 1);
    item_t held[HOLD];
    size_t nheld = 0;
    item_t it;
    while (q_pop(&pr->q, &it)) {
        unsigned d = (unsigned)rng_below(&r, 100);
        if (d < 10) {
            /* remote realloc: the block moves (or not) while owned by another heap */
            size_t ns = rng_below(&r, 2) ? it.size + rng_range(&r, 1, 4096)
                                         : rng_size(&r, 50, 1, MAX_LARGE);
            uint64_t nid = it.id | (1ull << 47);
            it.p = t_realloc(it.p, it.size, it.id, ns, nid);
            it.size = ns;
            it.id = nid;
            pr->realloced++;
        }
        if (d >= 50 && d < 80) {
            /* keep it a while; free a random held one instead */
            if (nheld < HOLD) {
                held[nheld++] = it;
                continue;
            }
            size_t k = (size_t)rng_below(&r, HOLD);
            item_t old = held[k];
            held[k] = it;
            it = old;
        }
        t_free(it.p, it.size, it.id);
        pr->freed++;
    }
    while (nheld > 0) {
        nheld--;
        t_free(held[nheld].p, held[nheld].size, held[nheld].id);
        pr->freed++;
    }
    return NULL;
}

int main(int argc, char **argv) {
    uint64_t seed;
    double scale;
    parse_args(argc, argv, "remote_free", &seed, &scale);
    size_t count = scaled(scale, 300000, 1000);
    pair_t *pairs = (pair_t *)calloc(PAIRS, sizeof(pair_t));
    CHECK(pairs != NULL, "calloc pairs");
    for (unsigned i = 0; i < PAIRS; i++) {
        pair_t *pr = &pairs[i];
        pr->index = i;
        pr->seed = seed;
        pr->count = count;
        pr->q.lock_free = (i & 1) == 0;
        atomic_init(&pr->q.head, 0);
        atomic_init(&pr->q.tail, 0);
        atomic_init(&pr->q.done_lf, 0);
        pthread_mutex_init(&pr->q.mu, NULL);
        pthread_cond_init(&pr->q.not_empty, NULL);
        pthread_cond_init(&pr->q.not_full, NULL);
        int rc = pthread_create(&pr->cons, NULL, consumer, pr);
        CHECK(rc == 0, "pthread_create: %d", rc);
        rc = pthread_create(&pr->prod, NULL, producer, pr);
        CHECK(rc == 0, "pthread_create: %d", rc);
    }
    uint64_t freed = 0, realloced = 0;
    for (unsigned i = 0; i < PAIRS; i++) {
        pthread_join(pairs[i].prod, NULL);
        pthread_join(pairs[i].cons, NULL);
        CHECK(pairs[i].freed == count, "pair %u: freed %" PRIu64 " of %zu blocks", i,
              pairs[i].freed, count);
        freed += pairs[i].freed;
        realloced += pairs[i].realloced;
    }
    printf("remote_free: %d pairs x %zu blocks: freed=%" PRIu64 " (remote realloc %" PRIu64
           ")\n",
           PAIRS, count, freed, realloced);
    for (unsigned i = 0; i < PAIRS; i++) {
        pthread_mutex_destroy(&pairs[i].q.mu);
        pthread_cond_destroy(&pairs[i].q.not_empty);
        pthread_cond_destroy(&pairs[i].q.not_full);
    }
    free(pairs);
    stats_check("remote_free", 1, 1, 1);
    printf("remote_free: OK\n");
    return 0;
}
