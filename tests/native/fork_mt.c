/* fork_mt: fork while other threads allocate. Background threads churn
 * blocks of every tier and keep verifying them; the main thread forks
 * repeatedly. Each child verifies and frees blocks the parent allocated before
 * the fork (the main thread's and the background threads', whose heaps have
 * no thread in the child), churns a lot, sometimes starts threads of its own
 * or forks a grandchild, and exits with _exit(0) or exit(0). The parent
 * checks every child's status and that its own blocks were not touched.
 *
 * pthread_atfork makes the background threads' slot tables consistent at the
 * fork (as a real program must); hakmem's own locks are hakmem's business.
 * Another thread reads the statistics all along (a program's metrics thread
 * calling mallinfo2), so a fork may come while it walks the forking thread's
 * heap.
 *
 * usage: fork_mt [seed] [scale] */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "common.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/wait.h>

#define WORKERS 2
#define WSLOTS 512
#define MSLOTS 256
#define MAX_LARGE (512u << 10)

typedef struct slot {
    void *p;
    size_t size;
    uint64_t id;
} slot_t;

typedef struct worker {
    pthread_t th;
    pthread_mutex_t mu; /* held while the slot table changes */
    unsigned index;
    slot_t slots[WSLOTS];
    uint64_t ops;
} worker_t;

static worker_t workers[WORKERS];
static _Atomic int stop;
static _Atomic uint64_t next_id = 1;
static uint64_t g_seed;

static uint64_t new_id(void) { return atomic_fetch_add_explicit(&next_id, 1, memory_order_relaxed); }

static size_t pick_size(rng_t *r) { return rng_size(r, 60, 3, MAX_LARGE); }

/* One random operation on a slot table: allocate into an empty slot, or
 * verify then free/realloc a full one. */
static void churn_op(rng_t *r, slot_t *slots, size_t n) {
    slot_t *s = &slots[rng_below(r, n)];
    if (s->p == NULL) {
        s->size = pick_size(r);
        s->id = new_id();
        s->p = rng_below(r, 5) == 0 ? t_calloc(s->size, s->id) : t_malloc(s->size, s->id);
    } else if (rng_below(r, 5) == 0) {
        uint64_t nid = new_id();
        size_t ns = pick_size(r);
        s->p = t_realloc(s->p, s->size, s->id, ns, nid);
        s->size = ns;
        s->id = nid;
    } else {
        t_free(s->p, s->size, s->id);
        s->p = NULL;
    }
}

static void free_all(slot_t *slots, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (slots[i].p) {
            t_free(slots[i].p, slots[i].size, slots[i].id);
            slots[i].p = NULL;
        }
}

static void verify_all(const slot_t *slots, size_t n, const char *what) {
    for (size_t i = 0; i < n; i++)
        if (slots[i].p) pat_check(slots[i].p, slots[i].size, slots[i].id, what);
}

static void *worker_main(void *arg) {
    worker_t *w = (worker_t *)arg;
    rng_t r;
    rng_init(&r, g_seed, 100 + w->index);
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        /* one operation per lock hold, so a fork (whose atfork handler takes every worker's
         * lock) waits for at most one operation per worker */
        for (int i = 0; i < 16; i++) {
            pthread_mutex_lock(&w->mu);
            churn_op(&r, w->slots, WSLOTS);
            pthread_mutex_unlock(&w->mu);
        }
        w->ops += 16;
        if ((w->ops & 4095) == 0) {
            pthread_mutex_lock(&w->mu);
            verify_all(w->slots, WSLOTS, "worker periodic verify");
            pthread_mutex_unlock(&w->mu);
        }
    }
    pthread_mutex_lock(&w->mu);
    free_all(w->slots, WSLOTS);
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Reads the statistics until the end: the census takes each heap's lock
 * in turn, the forking thread's too. */
static void *stats_reader(void *arg) {
    (void)arg;
    uint64_t reads = 0;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        hak_stats_t hs;
        CHECK(hak_stats_get(&hs, sizeof hs) == 0, "hak_stats_get in the reader");
        reads++;
    }
    return (void *)(uintptr_t)reads;
}

static void atfork_prepare(void) {
    for (int i = 0; i < WORKERS; i++) pthread_mutex_lock(&workers[i].mu);
}
static void atfork_parent(void) {
    for (int i = WORKERS - 1; i >= 0; i--) pthread_mutex_unlock(&workers[i].mu);
}
static void atfork_child(void) {
    for (int i = WORKERS - 1; i >= 0; i--) pthread_mutex_unlock(&workers[i].mu);
}

typedef struct child_thread_arg {
    uint64_t stream;
    size_t ops;
} child_thread_arg_t;

static void *child_thread(void *arg) {
    child_thread_arg_t *a = (child_thread_arg_t *)arg;
    rng_t r;
    rng_init(&r, g_seed, a->stream);
    slot_t *slots = (slot_t *)calloc(128, sizeof(slot_t));
    CHECK(slots != NULL, "calloc in child thread");
    for (size_t i = 0; i < a->ops; i++) churn_op(&r, slots, 128);
    free_all(slots, 128);
    free(slots);
    return NULL;
}

/* Runs in the child: never returns. */
static void child_main(unsigned iter, slot_t *mslots, size_t ops, int depth) {
    rng_t r;
    rng_init(&r, g_seed, 1000000 + iter * 4 + (unsigned)depth);
    /* blocks the parent's main thread allocated before the fork */
    verify_all(mslots, MSLOTS, "child: parent main block after fork");
    for (size_t i = 0; i < MSLOTS; i++)
        if (mslots[i].p && rng_below(&r, 2)) {
            t_free(mslots[i].p, mslots[i].size, mslots[i].id);
            mslots[i].p = NULL;
        }
    /* blocks of the background threads, which do not exist in the child */
    for (int w = 0; w < WORKERS; w++) {
        verify_all(workers[w].slots, WSLOTS, "child: parent worker block after fork");
        for (size_t i = 0; i < WSLOTS; i++) {
            slot_t *s = &workers[w].slots[i];
            if (s->p && rng_below(&r, 2)) {
                t_free(s->p, s->size, s->id);
                s->p = NULL;
            }
        }
        /* some get reallocated (moved out of a dead heap) */
        for (size_t i = 0; i < WSLOTS; i += 7) churn_op(&r, workers[w].slots, WSLOTS);
    }
    for (size_t i = 0; i < ops; i++) churn_op(&r, mslots, MSLOTS);
    if (depth == 0 && iter % 5 == 2) {
        pthread_t th[2];
        child_thread_arg_t a[2];
        for (int i = 0; i < 2; i++) {
            a[i].stream = 2000000 + iter * 2 + (unsigned)i;
            a[i].ops = ops / 2;
            CHECK(pthread_create(&th[i], NULL, child_thread, &a[i]) == 0,
                  "pthread_create in child");
        }
        for (size_t i = 0; i < ops / 2; i++) churn_op(&r, mslots, MSLOTS);
        for (int i = 0; i < 2; i++) CHECK(pthread_join(th[i], NULL) == 0, "join in child");
    }
    if (depth == 0 && iter % 10 == 7) {
        pid_t g = fork();
        CHECK(g >= 0, "fork (grandchild) failed: errno %d", errno);
        if (g == 0) child_main(iter, mslots, ops / 4, 1);
        int st = 0;
        CHECK(waitpid(g, &st, 0) == g, "waitpid grandchild");
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "grandchild failed: status 0x%x", st);
    }
    for (int w = 0; w < WORKERS; w++) free_all(workers[w].slots, WSLOTS);
    free_all(mslots, MSLOTS);
    hak_stats_t hs;
    CHECK(hak_stats_get(&hs, sizeof hs) == 0, "hak_stats_get in child");
    CHECK(hs.tier[HAK_TIER_TINY].allocs > 0, "child: no tiny allocs in stats");
    if (iter % 2 == 0) _exit(0);
    exit(0);
}

int main(int argc, char **argv) {
    uint64_t seed;
    double scale;
    parse_args(argc, argv, "fork_mt", &seed, &scale);
    g_seed = seed;
    size_t forks = scaled(scale, 50, 4);
    size_t child_ops = scaled(scale, 5000, 200);
    for (unsigned i = 0; i < WORKERS; i++) {
        workers[i].index = i;
        pthread_mutex_init(&workers[i].mu, NULL);
    }
    CHECK(pthread_atfork(atfork_prepare, atfork_parent, atfork_child) == 0, "pthread_atfork");
    for (unsigned i = 0; i < WORKERS; i++)
        CHECK(pthread_create(&workers[i].th, NULL, worker_main, &workers[i]) == 0,
              "pthread_create");
    pthread_t reader;
    CHECK(pthread_create(&reader, NULL, stats_reader, NULL) == 0, "pthread_create (reader)");

    rng_t r;
    rng_init(&r, seed, 7);
    slot_t *mslots = (slot_t *)calloc(MSLOTS, sizeof(slot_t));
    CHECK(mslots != NULL, "calloc mslots");
    for (unsigned it = 0; it < forks; it++) {
        for (size_t i = 0; i < 2000; i++) churn_op(&r, mslots, MSLOTS);
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        CHECK(pid >= 0, "fork failed: errno %d", errno);
        if (pid == 0) child_main(it, mslots, child_ops, 0);
        /* parent: keep going while the child runs, then check it */
        for (size_t i = 0; i < 500; i++) churn_op(&r, mslots, MSLOTS);
        int st = 0;
        CHECK(waitpid(pid, &st, 0) == pid, "waitpid: errno %d", errno);
        if (WIFSIGNALED(st))
            die("fork #%u: child killed by signal %d", it, WTERMSIG(st));
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fork #%u: child exited with status %d",
              it, WEXITSTATUS(st));
        verify_all(mslots, MSLOTS, "parent after child exit");
    }
    atomic_store(&stop, 1);
    void *reads = NULL;
    CHECK(pthread_join(reader, &reads) == 0, "pthread_join (reader)");
    CHECK((uintptr_t)reads > 0, "the reader read no statistics");
    uint64_t wops = 0;
    for (unsigned i = 0; i < WORKERS; i++) {
        CHECK(pthread_join(workers[i].th, NULL) == 0, "pthread_join");
        wops += workers[i].ops;
    }
    free_all(mslots, MSLOTS);
    free(mslots);
    printf("fork_mt: %zu forks (child ops %zu), background ops %" PRIu64 "\n", forks, child_ops,
           wops);
    stats_check("fork_mt", 1, 1, 0);
    printf("fork_mt: OK\n");
    return 0;
}
