/* Soak: multi-threaded churn for a given time, checking every block's
 * content, reporting progress as JSON lines.
 *
 *   soak <seconds> [seed] [report_interval_s]
 *
 * Workloads, all at once:
 *  - larson lanes: a table of slots per lane; a worker replaces random slots
 *    (verify, free, allocate a new size of any tier, sometimes by realloc or
 *    calloc). After a random number of operations the worker exits and a
 *    new thread takes over its table, so blocks are freed after the thread
 *    that allocated them has gone (thread create/exit all the time).
 *  - sh8bench: batches of blocks allocated with growing sizes, freed in
 *    reverse order.
 *  - producer/consumer: one thread allocates and fills, another verifies and
 *    frees (every free is remote).
 *  - fork: the main thread forks every few seconds while the others run; the
 *    child verifies every larson block it inherited, frees half, churns,
 *    runs a thread, and exits with the number of corruptions it saw.
 *
 * A content mismatch counts as a corruption (the first few are described on
 * stderr) and the run goes on. Every report_interval_s seconds one line:
 *   {"t":<s>,"ops":<n>,"corruptions":<n>,"rss_kib":<n>,"forks":<n>,"threads":<n>}
 * and at the end {"done":true,...}. Exit 0 when no corruption was found. */
#include "rel.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>

#define LANES 2
#define LSLOTS 2048
#define OPS_BATCH 64
#define RING 4096

static uint64_t g_seed;
static atomic_int stop_flag;
static atomic_uint_fast64_t total_ops;
static atomic_uint_fast64_t corruptions;
static atomic_uint_fast64_t threads_started;
static atomic_uint_fast64_t id_counter = 1;

static void corrupt(const char *where, const void *p, size_t size, uint64_t id, size_t off) {
    uint64_t n = atomic_fetch_add(&corruptions, 1) + 1;
    if (n <= 10) {
        char buf[256];
        int k = snprintf(buf, sizeof buf,
                         "soak: corruption #%" PRIu64 " (%s): ptr=%p size=%zu id=%" PRIu64
                         " first bad byte at offset %zu\n",
                         n, where, p, size, id, off);
        ssize_t w = write(2, buf, k > 0 ? (size_t)k : 0);
        (void)w;
    }
}

static void check_block(const char *where, const void *p, size_t size, uint64_t id) {
    size_t bad = pat_bad(p, size, id);
    if (bad) corrupt(where, p, size, id, bad - 1);
}

static size_t soak_size(rng_t *r) {
    uint64_t d = rng_below(r, 1000);
    if (d < 15) return rng_range(r, 65537, (size_t)1 << 20);   /* large */
    if (d < 150) return rng_range(r, 1025, 65536);             /* mid */
    if (d < 400) return rng_range(r, 129, 1024);
    return rng_range(r, 1, 128);
}

/* ---- larson lanes ---- */
typedef struct slot {
    void *p;
    size_t size;
    uint64_t id;
} slot_t;

typedef struct lane {
    pthread_mutex_t mu; /* held by the worker during a batch; by fork */
    unsigned index;
    uint64_t generation;
    slot_t slots[LSLOTS];
} lane_t;

static lane_t lanes[LANES];

static void lane_op(lane_t *l, rng_t *r) {
    slot_t *s = &l->slots[rng_below(r, LSLOTS)];
    uint64_t kind = rng_below(r, 100);
    size_t size = soak_size(r);
    uint64_t id = atomic_fetch_add_explicit(&id_counter, 1, memory_order_relaxed);
    if (s->p && kind < 10) {
        /* realloc: the common prefix must survive */
        check_block("larson before realloc", s->p, s->size, s->id);
        void *q = realloc(s->p, size);
        if (!q) die("realloc(%zu) failed", size);
        size_t keep = s->size < size ? s->size : size;
        /* the prefix holds the old pattern: check the bytes pat_bad covers */
        if (keep >= 64) {
            uint64_t w0 = pat_word(s->id, 0), got;
            memcpy(&got, q, 8);
            if (got != w0) corrupt("larson realloc prefix", q, keep, s->id, 0);
        }
        s->p = q;
    } else {
        if (s->p) {
            check_block("larson before free", s->p, s->size, s->id);
            free(s->p);
        }
        if (kind < 20 && size <= 65536) {
            unsigned char *q = (unsigned char *)calloc(1, size);
            if (!q) die("calloc(%zu) failed", size);
            for (size_t i = 0; i < size; i++)
                if (q[i] != 0) {
                    corrupt("larson calloc not zeroed", q, size, 0, i);
                    break;
                }
            s->p = q;
        } else {
            s->p = malloc(size);
            if (!s->p) die("malloc(%zu) failed", size);
        }
    }
    s->size = size;
    s->id = id;
    pat_fill(s->p, size, id);
}

static void *lane_worker(void *arg) {
    lane_t *l = (lane_t *)arg;
    rng_t r;
    rng_init(&r, g_seed, 1000 + l->index * 100000 + l->generation);
    uint64_t life = 5000 + rng_below(&r, 50000);
    for (uint64_t done = 0; done < life && !atomic_load_explicit(&stop_flag, memory_order_relaxed);
         done += OPS_BATCH) {
        pthread_mutex_lock(&l->mu);
        for (int i = 0; i < OPS_BATCH; i++) lane_op(l, &r);
        pthread_mutex_unlock(&l->mu);
        atomic_fetch_add_explicit(&total_ops, OPS_BATCH, memory_order_relaxed);
    }
    return NULL;
}

/* One supervisor per lane: a new worker thread each time the last one ends. */
static void *lane_supervisor(void *arg) {
    lane_t *l = (lane_t *)arg;
    while (!atomic_load(&stop_flag)) {
        pthread_t t;
        l->generation++;
        if (pthread_create(&t, NULL, lane_worker, l) != 0) die("pthread_create (lane)");
        atomic_fetch_add(&threads_started, 1);
        pthread_join(t, NULL);
    }
    return NULL;
}

/* ---- sh8bench ---- */
static void *sh8_thread(void *arg) {
    (void)arg;
    rng_t r;
    rng_init(&r, g_seed, 2);
    static void *blocks[4096];
    static size_t sizes[4096];
    static uint64_t ids[4096];
    while (!atomic_load_explicit(&stop_flag, memory_order_relaxed)) {
        size_t n = rng_range(&r, 500, 4096);
        size_t base = rng_range(&r, 1, 64), step = rng_range(&r, 1, 16);
        for (size_t i = 0; i < n; i++) {
            size_t size = base + (i * step) % 3000;
            if (i % 512 == 511) size = 70000 + (i * 1000) % 200000; /* a few large ones */
            ids[i] = atomic_fetch_add_explicit(&id_counter, 1, memory_order_relaxed);
            blocks[i] = malloc(size);
            if (!blocks[i]) die("malloc(%zu) failed", size);
            sizes[i] = size;
            pat_fill(blocks[i], size, ids[i]);
        }
        for (size_t i = n; i-- > 0;) {
            check_block("sh8bench before free", blocks[i], sizes[i], ids[i]);
            free(blocks[i]);
        }
        atomic_fetch_add_explicit(&total_ops, 2 * n, memory_order_relaxed);
    }
    return NULL;
}

/* ---- producer/consumer ---- */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    slot_t items[RING];
    size_t head, count;
} ring = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
          {{0, 0, 0}}, 0, 0};

static void *producer(void *arg) {
    (void)arg;
    rng_t r;
    rng_init(&r, g_seed, 3);
    slot_t batch[OPS_BATCH];
    while (!atomic_load_explicit(&stop_flag, memory_order_relaxed)) {
        for (int i = 0; i < OPS_BATCH; i++) {
            size_t size = soak_size(&r);
            batch[i].id = atomic_fetch_add_explicit(&id_counter, 1, memory_order_relaxed);
            batch[i].p = malloc(size);
            if (!batch[i].p) die("malloc(%zu) failed", size);
            batch[i].size = size;
            pat_fill(batch[i].p, size, batch[i].id);
        }
        pthread_mutex_lock(&ring.mu);
        while (ring.count + OPS_BATCH > RING && !atomic_load(&stop_flag))
            pthread_cond_wait(&ring.not_full, &ring.mu);
        int pushed = 0;
        for (; pushed < OPS_BATCH && ring.count < RING; pushed++)
            ring.items[(ring.head + ring.count++) % RING] = batch[pushed];
        pthread_cond_signal(&ring.not_empty);
        pthread_mutex_unlock(&ring.mu);
        for (int i = pushed; i < OPS_BATCH; i++) { /* only when stopping */
            check_block("producer leftover", batch[i].p, batch[i].size, batch[i].id);
            free(batch[i].p);
        }
        atomic_fetch_add_explicit(&total_ops, OPS_BATCH, memory_order_relaxed);
    }
    return NULL;
}

static void *consumer(void *arg) {
    (void)arg;
    slot_t batch[OPS_BATCH];
    for (;;) {
        size_t n = 0;
        pthread_mutex_lock(&ring.mu);
        while (ring.count == 0 && !atomic_load(&stop_flag))
            pthread_cond_wait(&ring.not_empty, &ring.mu);
        while (n < OPS_BATCH && ring.count > 0) {
            batch[n++] = ring.items[ring.head];
            ring.head = (ring.head + 1) % RING;
            ring.count--;
        }
        int stopping = ring.count == 0 && atomic_load(&stop_flag);
        pthread_cond_signal(&ring.not_full);
        pthread_mutex_unlock(&ring.mu);
        for (size_t i = 0; i < n; i++) {
            check_block("consumer before free", batch[i].p, batch[i].size, batch[i].id);
            free(batch[i].p);
        }
        atomic_fetch_add_explicit(&total_ops, n, memory_order_relaxed);
        if (stopping && n == 0) return NULL;
    }
}

/* ---- fork ---- */
static void atfork_prepare(void) {
    for (int i = 0; i < LANES; i++) pthread_mutex_lock(&lanes[i].mu);
    pthread_mutex_lock(&ring.mu);
}
static void atfork_parent(void) {
    pthread_mutex_unlock(&ring.mu);
    for (int i = LANES; i-- > 0;) pthread_mutex_unlock(&lanes[i].mu);
}
static void atfork_child(void) {
    pthread_mutex_init(&ring.mu, NULL);
    for (int i = 0; i < LANES; i++) pthread_mutex_init(&lanes[i].mu, NULL);
}

static void *child_thread(void *arg) {
    rng_t *r = (rng_t *)arg;
    for (int i = 0; i < 2000; i++) {
        size_t size = soak_size(r);
        uint64_t id = (uint64_t)i + 77;
        void *p = malloc(size);
        if (!p) die("child thread: malloc(%zu) failed", size);
        pat_fill(p, size, id);
        check_block("fork child thread", p, size, id);
        free(p);
    }
    return NULL;
}

static void fork_child_work(unsigned round) {
    rng_t r;
    rng_init(&r, g_seed, 5000 + round);
    /* The lanes were locked by atfork_prepare: their tables are consistent. */
    for (int li = 0; li < LANES; li++) {
        for (int i = 0; i < LSLOTS; i++) {
            slot_t *s = &lanes[li].slots[i];
            if (!s->p) continue;
            check_block("fork child: inherited block", s->p, s->size, s->id);
            if (i % 2) {
                free(s->p);
                s->p = NULL;
            }
        }
    }
    /* The ring's blocks too (owned by the producer, a thread the child lacks). */
    for (size_t i = 0; i < ring.count; i++) {
        slot_t *s = &ring.items[(ring.head + i) % RING];
        check_block("fork child: ring block", s->p, s->size, s->id);
        free(s->p);
    }
    ring.count = 0;
    lane_t *l = &lanes[0];
    for (int i = 0; i < 20000; i++) lane_op(l, &r);
    pthread_t t;
    rng_t tr;
    rng_init(&tr, g_seed, 9000 + round);
    if (pthread_create(&t, NULL, child_thread, &tr) != 0) die("child: pthread_create");
    pthread_join(t, NULL);
    uint64_t c = atomic_load(&corruptions);
    _exit(c > 100 ? 100 : (int)c);
}

static uint64_t forks_done, fork_failures;
static pid_t child_pid;
static double child_started;

static void start_fork(unsigned round, double t) {
    pid_t pid = fork();
    if (pid < 0) die("fork: %s", strerror(errno));
    if (pid == 0) fork_child_work(round);
    child_pid = pid;
    child_started = t;
}

/* Reaps the running fork child without blocking; returns 1 when it ended. */
static int reap_fork(double t, int wait) {
    int status = 0;
    pid_t w = waitpid(child_pid, &status, wait ? 0 : WNOHANG);
    if (w == 0) {
        if (t - child_started <= 60) return 0;
        kill(child_pid, SIGKILL);
        waitpid(child_pid, &status, 0);
        fprintf(stderr, "soak: fork child %d hung for 60 s (killed)\n", (int)child_pid);
        fork_failures++;
        atomic_fetch_add(&corruptions, 1);
        child_pid = 0;
        return 1;
    }
    if (w < 0) die("waitpid: %s", strerror(errno));
    forks_done++;
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "soak: fork child %d died of signal %d\n", (int)child_pid,
                WTERMSIG(status));
        fork_failures++;
        atomic_fetch_add(&corruptions, 1);
    } else if (WEXITSTATUS(status) != 0) {
        fprintf(stderr, "soak: fork child %d found %d corruption(s)\n", (int)child_pid,
                WEXITSTATUS(status));
        atomic_fetch_add(&corruptions, (uint64_t)WEXITSTATUS(status));
    }
    child_pid = 0;
    return 1;
}

static void report(double t, int done) {
    uint64_t rss = 0;
    statm_kib(NULL, &rss);
    printf("{%s\"t\":%.1f,\"ops\":%" PRIu64 ",\"corruptions\":%" PRIu64 ",\"rss_kib\":%" PRIu64
           ",\"forks\":%" PRIu64 ",\"threads\":%" PRIu64 "}\n",
           done ? "\"done\":true," : "", t, (uint64_t)atomic_load(&total_ops),
           (uint64_t)atomic_load(&corruptions), rss, forks_done,
           (uint64_t)atomic_load(&threads_started));
    fflush(stdout);
}

int main(int argc, char **argv) {
    if (argc < 2) die("usage: %s <seconds> [seed] [report_interval_s]", argv[0]);
    double seconds = strtod(argv[1], NULL);
    g_seed = seed_from_arg(argc > 2 ? argv[2] : NULL);
    double interval = argc > 3 ? strtod(argv[3], NULL) : 5.0;
    if (!(seconds > 0) || !(interval > 0)) die("bad arguments");
    printf("{\"soak\":\"start\",\"seconds\":%.1f,\"seed\":\"0x%016" PRIx64
           "\",\"interval\":%.1f,\"hakmem\":\"%s\",\"mode\":\"%s\"}\n",
           seconds, g_seed, interval, hak_version(), hak_mode());
    fflush(stdout);
    for (int i = 0; i < LANES; i++) {
        pthread_mutex_init(&lanes[i].mu, NULL);
        lanes[i].index = (unsigned)i;
    }
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);

    pthread_t sup[LANES], sh8, prod, cons;
    for (int i = 0; i < LANES; i++)
        if (pthread_create(&sup[i], NULL, lane_supervisor, &lanes[i]) != 0) die("pthread_create");
    if (pthread_create(&sh8, NULL, sh8_thread, NULL) != 0) die("pthread_create");
    if (pthread_create(&prod, NULL, producer, NULL) != 0) die("pthread_create");
    if (pthread_create(&cons, NULL, consumer, NULL) != 0) die("pthread_create");
    atomic_fetch_add(&threads_started, LANES + 3);

    double t0 = now_s(), next_report = interval, next_fork = 2.0;
    unsigned round = 0;
    for (;;) {
        double t = now_s() - t0;
        if (t >= seconds) break;
        if (child_pid && reap_fork(t, 0)) next_fork = t + 2.0;
        if (!child_pid && t >= next_fork) start_fork(round++, t);
        if (t >= next_report) {
            report(t, 0);
            next_report += interval;
        }
        usleep(50 * 1000);
    }
    if (child_pid) reap_fork(now_s() - t0, 1);
    atomic_store(&stop_flag, 1);
    pthread_mutex_lock(&ring.mu);
    pthread_cond_broadcast(&ring.not_full);
    pthread_cond_broadcast(&ring.not_empty);
    pthread_mutex_unlock(&ring.mu);
    for (int i = 0; i < LANES; i++) pthread_join(sup[i], NULL);
    pthread_join(sh8, NULL);
    pthread_join(prod, NULL);
    pthread_join(cons, NULL);
    /* Whatever the producer pushed after the consumer left, and the lanes. */
    for (size_t i = 0; i < ring.count; i++) {
        slot_t *s = &ring.items[(ring.head + i) % RING];
        check_block("final ring", s->p, s->size, s->id);
        free(s->p);
    }
    for (int li = 0; li < LANES; li++)
        for (int i = 0; i < LSLOTS; i++) {
            slot_t *s = &lanes[li].slots[i];
            if (!s->p) continue;
            check_block("final", s->p, s->size, s->id);
            free(s->p);
        }
    report(now_s() - t0, 1);
    return atomic_load(&corruptions) == 0 ? 0 : 1;
}
