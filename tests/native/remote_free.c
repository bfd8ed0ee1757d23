/* remote_free: producer/consumer pairs. Producers allocate blocks of every
 * tier, fill them and hand them over a queue; consumers verify and free them
 * (sometimes after a realloc, sometimes after holding them a while), so every
 * free is remote. Half of the pairs use a lock-free single-producer /
 * single-consumer ring, the other half a mutex + condition variable queue.
 * Producers usually finish first, so many blocks are freed after the thread
 * that allocated them has exited. Then two threads in lockstep: one
 * allocates, the other frees it all, cycle after cycle; the memory mapped
 * stays flat, so what carries remote frees to their owners is reused, not
 * made anew, whether the freeing thread allocates or only frees.
 *
 * usage: remote_free [seed] [scale] */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "common.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>

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

/* Lockstep cycles of REUSE_BLOCKS 64-byte blocks: the owner's memory is
 * the same every cycle, and so must be the batch records (a record made
 * per 32 remote frees and never reused would map 640 KiB a cycle). */
#define REUSE_CYCLES 12
#define REUSE_WARM 2 /* cycles before the first look at the memory mapped */
#define REUSE_BLOCKS 65536
#define REUSE_SLACK ((uint64_t)1 << 20)

static void *g_reuse[REUSE_BLOCKS];
static pthread_barrier_t g_reuse_step;
static uint64_t g_mapped_warm, g_mapped_end;

static hak_stats_t stats_now(void) {
    hak_stats_t st;
    CHECK(hak_stats_get(&st, sizeof st) == 0, "hak_stats_get failed (errno %d)", errno);
    return st;
}

static uint64_t mapped_now(void) { return stats_now().bytes_mapped; }

static void *reuse_owner(void *arg) {
    (void)arg;
    for (unsigned c = 0; c < REUSE_CYCLES; c++) {
        for (uint64_t i = 0; i < REUSE_BLOCKS; i++) g_reuse[i] = t_malloc(64, (uint64_t)c << 32 | i);
        pthread_barrier_wait(&g_reuse_step); /* handed over */
        pthread_barrier_wait(&g_reuse_step); /* freed */
        if (c + 1 == REUSE_WARM) g_mapped_warm = mapped_now();
    }
    g_mapped_end = mapped_now();
    return NULL;
}

static uint64_t heaps_made(void) {
    hak_stats_t st = stats_now();
    return st.heaps_created + st.heaps_reused;
}

static void *reuse_freer(void *arg) {
    /* with a malloc first, a heap of its own from its first call; without,
     * a thread that only frees: its first free of another's block gives it
     * one, so its frees go in batches all the same */
    if (*(const bool *)arg) { /* volatile: a compiler drops a malloc freed at once */
        void *volatile p = malloc(16);
        free(p);
    }
    for (unsigned c = 0; c < REUSE_CYCLES; c++) {
        pthread_barrier_wait(&g_reuse_step);
        for (uint64_t i = 0; i < REUSE_BLOCKS; i++) t_free(g_reuse[i], 64, (uint64_t)c << 32 | i);
        pthread_barrier_wait(&g_reuse_step);
    }
    return NULL;
}

/* Returns the thread heaps the two threads took. */
static uint64_t reuse_cycles(bool freer_allocates) {
    pthread_t owner, freer;
    uint64_t heaps = heaps_made();
    CHECK(pthread_barrier_init(&g_reuse_step, NULL, 2) == 0, "pthread_barrier_init");
    CHECK(pthread_create(&owner, NULL, reuse_owner, NULL) == 0, "pthread_create");
    CHECK(pthread_create(&freer, NULL, reuse_freer, &freer_allocates) == 0, "pthread_create");
    pthread_join(owner, NULL);
    pthread_join(freer, NULL);
    pthread_barrier_destroy(&g_reuse_step);
    heaps = heaps_made() - heaps;
    printf("remote_free: %d cycles of %d remote frees (the freer %s): mapped %" PRIu64
           " KiB after %d, %" PRIu64 " KiB at the end; %" PRIu64 " heaps taken\n",
           REUSE_CYCLES, REUSE_BLOCKS, freer_allocates ? "allocates" : "only frees",
           g_mapped_warm >> 10, REUSE_WARM, g_mapped_end >> 10, heaps);

    CHECK(g_mapped_end <= g_mapped_warm + REUSE_SLACK,
          "%" PRIu64 " KiB more mapped over %d cycles of the same frees (remote batches not reused?)",
          (g_mapped_end - g_mapped_warm) >> 10, REUSE_CYCLES - REUSE_WARM);
    return heaps;
}

/* Many threads freeing to each other, the owner changing at every free:
 * each freeing thread's batches still fill, one per owner (with a few
 * slots shared by address, owners took turns in a slot and most batches
 * went with one or two blocks). */
#define A2A_THREADS 16
#define A2A_BLOCKS 4096 /* per thread and round */
#define A2A_ROUNDS 4
#define A2A_MIN_PER_BATCH 32

static void *g_a2a[A2A_THREADS][A2A_BLOCKS];
static pthread_barrier_t g_a2a_step;

static void *a2a_worker(void *arg) {
    unsigned me = (unsigned)(uintptr_t)arg;
    for (unsigned r = 0; r < A2A_ROUNDS; r++) {
        for (unsigned i = 0; i < A2A_BLOCKS; i++)
            g_a2a[me][i] = t_malloc(16 + (i % 8) * 16, (uint64_t)me << 40 | (uint64_t)r << 20 | i);
        pthread_barrier_wait(&g_a2a_step);
        /* a slice of every thread's blocks, the owner turning fastest */
        unsigned lo = me * A2A_BLOCKS / A2A_THREADS, hi = (me + 1) * A2A_BLOCKS / A2A_THREADS;
        for (unsigned i = lo; i < hi; i++)
            for (unsigned o = 1; o <= A2A_THREADS; o++) {
                unsigned t = (me + o) % A2A_THREADS;
                t_free(g_a2a[t][i], 16 + (i % 8) * 16, (uint64_t)t << 40 | (uint64_t)r << 20 | i);
            }
        pthread_barrier_wait(&g_a2a_step);
    }
    return NULL;
}

static uint64_t remote_frees_now(uint64_t *batches) {
    hak_stats_t st = stats_now();
    *batches = st.remote_batches;
    uint64_t n = 0;
    for (unsigned t = 0; t < HAK_TIER_COUNT; t++) n += st.tier[t].remote_frees;
    return n;
}

static void all_to_all(void) {
    uint64_t batches0, frees0 = remote_frees_now(&batches0), heaps = heaps_made();
    pthread_t th[A2A_THREADS];
    CHECK(pthread_barrier_init(&g_a2a_step, NULL, A2A_THREADS) == 0, "pthread_barrier_init");
    for (unsigned i = 0; i < A2A_THREADS; i++)
        CHECK(pthread_create(&th[i], NULL, a2a_worker, (void *)(uintptr_t)i) == 0, "pthread_create");
    for (unsigned i = 0; i < A2A_THREADS; i++) pthread_join(th[i], NULL);
    pthread_barrier_destroy(&g_a2a_step);
    uint64_t batches1, frees = remote_frees_now(&batches1) - frees0, batches = batches1 - batches0;
    heaps = heaps_made() - heaps;
    printf("remote_free: %d threads freeing to each other: %" PRIu64 " remote frees in %" PRIu64
           " batches (%" PRIu64 " heaps taken)\n",
           A2A_THREADS, frees, batches, heaps);
    CHECK(frees >= (uint64_t)A2A_THREADS * A2A_BLOCKS * A2A_ROUNDS * (A2A_THREADS - 1) / A2A_THREADS,
          "%" PRIu64 " remote frees counted", frees);
    /* without thread heaps (HAKMEM_TCACHE=0) every block goes alone, and a
     * batch holds HAKMEM_BUNDLE blocks at most */
    const char *bundle_env = getenv("HAKMEM_BUNDLE");
    uint64_t bundle = bundle_env != NULL ? strtoull(bundle_env, NULL, 10) : A2A_MIN_PER_BATCH;
    uint64_t per_batch = bundle < A2A_MIN_PER_BATCH ? bundle : A2A_MIN_PER_BATCH;
    if (heaps != 0)
        CHECK(batches * per_batch <= frees,
              "%" PRIu64 " remote frees went in %" PRIu64 " batches (fewer than %d blocks each): "
              "owners share a freeing thread's batch slots",
              frees, batches, (int)per_batch);
}

/* A thread that frees a little to many owners and then stops freeing: what
 * it holds goes out once it holds 1 MiB in all, though no batch filled up
 * (PEND_OWNERS slots of PEND_BLOCKS blocks of PEND_SIZE: 128 KiB each). */
#define PEND_OWNERS 16
#define PEND_BLOCKS 16
#define PEND_SIZE 8192
#define PEND_MIN_BATCHES 8 /* 2 MiB in all: 1 MiB reached at the 8th owner */

static void *g_pend[PEND_OWNERS][PEND_BLOCKS];
static pthread_barrier_t g_pend_step;
static uint64_t g_pend_batches;

static void *pend_owner(void *arg) {
    unsigned me = (unsigned)(uintptr_t)arg;
    for (unsigned i = 0; i < PEND_BLOCKS; i++)
        g_pend[me][i] = t_malloc(PEND_SIZE, (uint64_t)me << 32 | i);
    pthread_barrier_wait(&g_pend_step); /* handed over */
    pthread_barrier_wait(&g_pend_step); /* freed: the owner stays until the freer counted */
    return NULL;
}

static void *pend_freer(void *arg) {
    (void)arg;
    pthread_barrier_wait(&g_pend_step);
    uint64_t before;
    remote_frees_now(&before);
    for (unsigned o = 0; o < PEND_OWNERS; o++)
        for (unsigned i = 0; i < PEND_BLOCKS; i++)
            t_free(g_pend[o][i], PEND_SIZE, (uint64_t)o << 32 | i);
    uint64_t after;
    remote_frees_now(&after);
    g_pend_batches = after - before; /* sent before this thread flushes at its exit */
    pthread_barrier_wait(&g_pend_step);
    return NULL;
}

static void pending_bound(void) {
    int64_t harden = 0;
    if (hak_option_get("HAKMEM_HARDEN", &harden) == 0 && harden != 0) return; /* quarantined */
    pthread_t owners[PEND_OWNERS], freer;
    uint64_t heaps = heaps_made();
    CHECK(pthread_barrier_init(&g_pend_step, NULL, PEND_OWNERS + 1) == 0, "pthread_barrier_init");
    for (unsigned i = 0; i < PEND_OWNERS; i++)
        CHECK(pthread_create(&owners[i], NULL, pend_owner, (void *)(uintptr_t)i) == 0,
              "pthread_create");
    CHECK(pthread_create(&freer, NULL, pend_freer, NULL) == 0, "pthread_create");
    for (unsigned i = 0; i < PEND_OWNERS; i++) pthread_join(owners[i], NULL);
    pthread_join(freer, NULL);
    pthread_barrier_destroy(&g_pend_step);
    printf("remote_free: %d owners x %d KiB freed by one thread: %" PRIu64
           " batches sent before it stopped\n",
           PEND_OWNERS, PEND_BLOCKS * PEND_SIZE >> 10, g_pend_batches);
    if (heaps_made() == heaps) return; /* no thread heaps: every free goes straight to its slab */
    CHECK(g_pend_batches >= PEND_MIN_BATCHES,
          "%" PRIu64 " batches sent while the freeing thread held %d KiB for %d owners",
          g_pend_batches, PEND_OWNERS * PEND_BLOCKS * PEND_SIZE >> 10, PEND_OWNERS);
}

/* Blocks freed by another thread come back to their owner in address
 * order, whatever the order of the frees: a producer whose batches went
 * through a program's queues hands out blocks next to each other again
 * (in the order of the frees, each trip through queues whose batches did
 * not line up with hakmem's scattered them further). One block in
 * ORDER_KEEP stays live, so that every slab stays partly used. */
#define ORDER_BLOCKS 4096
#define ORDER_SIZE 64
#define ORDER_KEEP 64
#define ORDER_STREAM 77 /* the shuffle's random stream (the pairs use 0 .. 2 PAIRS - 1) */
#define ORDER_MIN_PERCENT 90 /* of the owner's next blocks, each above the one before */

static void *g_order[ORDER_BLOCKS];
static pthread_barrier_t g_order_step;
static uint64_t g_order_seed;

static void *order_freer(void *arg) {
    (void)arg;
    static uint32_t perm[ORDER_BLOCKS];
    rng_t r;
    rng_init(&r, g_order_seed, ORDER_STREAM);
    for (uint32_t i = 0; i < ORDER_BLOCKS; i++) perm[i] = i;
    for (uint32_t i = ORDER_BLOCKS - 1; i > 0; i--) { /* a shuffle */
        uint32_t j = (uint32_t)rng_below(&r, i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    pthread_barrier_wait(&g_order_step);
    for (uint32_t k = 0; k < ORDER_BLOCKS; k++)
        if (perm[k] % ORDER_KEEP != 0) t_free(g_order[perm[k]], ORDER_SIZE, perm[k]);
    hak_thread_flush(); /* every batch sent */
    pthread_barrier_wait(&g_order_step);
    return NULL;
}

static void *order_owner(void *arg) {
    uint64_t *upward = arg; /* [0] next blocks above the one before, [1] next blocks */
    for (uint32_t i = 0; i < ORDER_BLOCKS; i++) g_order[i] = t_malloc(ORDER_SIZE, i);
    pthread_barrier_wait(&g_order_step); /* handed over */
    pthread_barrier_wait(&g_order_step); /* all but one in ORDER_KEEP freed, shuffled */
    uintptr_t last = 0;
    for (uint32_t i = 0; i < ORDER_BLOCKS; i++) {
        if (i % ORDER_KEEP == 0) continue;
        g_order[i] = t_malloc(ORDER_SIZE, i);
        uintptr_t p = (uintptr_t)g_order[i];
        if (last != 0) {
            upward[1]++;
            upward[0] += p > last;
        }
        last = p;
    }
    for (uint32_t i = 0; i < ORDER_BLOCKS; i++) t_free(g_order[i], ORDER_SIZE, i);
    return NULL;
}

static void free_order(uint64_t seed) {
    int64_t harden = 0;
    if (hak_option_get("HAKMEM_HARDEN", &harden) == 0 && harden != 0) return; /* quarantined */
    uint64_t upward[2] = {0, 0}, heaps = heaps_made();
    g_order_seed = seed;
    pthread_t owner, freer;
    CHECK(pthread_barrier_init(&g_order_step, NULL, 2) == 0, "pthread_barrier_init");
    CHECK(pthread_create(&owner, NULL, order_owner, upward) == 0, "pthread_create");
    CHECK(pthread_create(&freer, NULL, order_freer, NULL) == 0, "pthread_create");
    pthread_join(owner, NULL);
    pthread_join(freer, NULL);
    pthread_barrier_destroy(&g_order_step);
    printf("remote_free: %d blocks freed in a shuffled order by another thread: %" PRIu64
           " of the owner's next %" PRIu64 " blocks above the one before\n",
           ORDER_BLOCKS, upward[0], upward[1]);
    if (heaps_made() == heaps) return; /* no thread heaps: no owner to hand them out in turn */
    CHECK(upward[1] * ORDER_MIN_PERCENT <= upward[0] * 100,
          "%" PRIu64 " of %" PRIu64 " blocks came back above the one before", upward[0],
          upward[1]);
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
    uint64_t heaps_allocating = reuse_cycles(true), heaps_freeing = reuse_cycles(false);
    /* a thread that only frees batches its frees in a heap of its own, as
     * one that allocates does (none for either without thread heaps) */
    CHECK(heaps_freeing == heaps_allocating,
          "%" PRIu64 " heaps taken with a freer that only frees, %" PRIu64 " with one that "
          "allocates: a thread that only frees did not take a heap",
          heaps_freeing, heaps_allocating);
    all_to_all();
    pending_bound();
    free_order(seed);
    stats_check("remote_free", 1, 1, 1);
    printf("remote_free: OK\n");
    return 0;
}
