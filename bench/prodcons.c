// prodcons — producer/consumer through shared queues, more threads than cores.
//
// --workers threads (default 4 × the online CPUs, at least 3), each both producer and consumer:
// it allocates a batch of blocks of --size bytes (64), writes each, and pushes the batch onto one
// of the shared queues (--queues, default workers / 2; a mutex each, as a program's work
// queue has); then it pops a batch that some thread pushed and checks and frees its blocks. Which
// queue a thread pushes to and pops from turns with a per-thread random stream, so most frees are
// of blocks another thread allocated. A queue holding --cap batches takes no more: the producer
// consumes instead. A batch holds a uniformly random count of blocks between half and one and a
// half times --batch (64): a program's batches vary, and a fixed count that divides an allocator's
// own batch of remote frees flatters it (hakmem sends 128 blocks at a time: with batches of 64
// blocks its frees/s were 0.92x snmalloc's, with 60 or 70 blocks 0.84x and 0.77x); with --vary 0
// every batch holds --batch blocks. With --split 1, even-numbered threads only produce and
// odd-numbered ones only consume: the consumers never call malloc (a logger, a reaper, a
// pipeline's last stage). The run lasts a fixed time (--ms × --scale); the metric is frees per
// second over it. What is still queued at the end is freed after the clock stops.
// Metric: ops_per_s, one op = one free (each of a block allocated by the workload).
#include "common.h"

#include <sched.h>
#include <stdatomic.h>

// A block: the link of its batch, its tag, the link of the queue (used by a batch's first block),
// then the tag's pattern to the end. A batch is its first block: nothing but --size blocks is
// allocated.
typedef struct blk {
  struct blk *next;
  uint64_t tag;
  struct blk *qnext;
} blk_t;
typedef blk_t batch_t;

typedef struct {
  pthread_mutex_t lock;
  batch_t *head, *tail;
  uint64_t len;
  char pad[64];
} queue_t;

typedef struct {
  int id;
  uint64_t seed, allocs, frees, checksum;
  bench_sync *sync;
} worker_t;

static queue_t *g_q;
static uint64_t g_nq, g_batch_min, g_batch_max, g_size, g_cap, g_split;
static atomic_int g_stop;

static void fill(blk_t *b, uint64_t tag) {
  b->tag = tag;
  unsigned char *p = (unsigned char *)b;
  for (size_t off = sizeof *b; off + 8 <= g_size; off += 8) {
    uint64_t v = pat_word(tag, off);
    memcpy(p + off, &v, 8);
  }
}

static uint64_t check(const blk_t *b) {
  const unsigned char *p = (const unsigned char *)b;
  for (size_t off = sizeof *b; off + 8 <= g_size; off += 8) {
    uint64_t v;
    memcpy(&v, p + off, 8);
    if (v != pat_word(b->tag, off)) {
      fatal("content mismatch: block %p, offset %zu, tag %#" PRIx64, (const void *)b, off, b->tag);
    }
  }
  return b->tag;
}

// Pushes `bt` onto queue q unless it holds g_cap batches; returns 1 when pushed.
static int push(queue_t *q, batch_t *bt) {
  int ok = 0;
  pthread_mutex_lock(&q->lock);
  if (q->len < g_cap) {
    bt->qnext = NULL;
    if (q->tail) q->tail->qnext = bt;
    else q->head = bt;
    q->tail = bt;
    q->len++;
    ok = 1;
  }
  pthread_mutex_unlock(&q->lock);
  return ok;
}

static batch_t *pop(queue_t *q) {
  pthread_mutex_lock(&q->lock);
  batch_t *bt = q->head;
  if (bt) {
    q->head = bt->qnext;
    if (!q->head) q->tail = NULL;
    q->len--;
  }
  pthread_mutex_unlock(&q->lock);
  return bt;
}

// Checks and frees the blocks of the batch `bt`; returns the blocks freed.
static uint64_t consume(batch_t *bt, uint64_t *sum) {
  uint64_t n = 0;
  for (blk_t *b = bt; b != NULL;) {
    blk_t *next = b->next;
    *sum += check(b);
    free(b);
    b = next;
    n++;
  }
  return n;
}

// A batch of g_batch_min – g_batch_max new blocks, tagged from (thread, sequence).
static batch_t *produce(worker_t *w, uint64_t *seq, rng_t *r) {
  uint64_t n = rng_range(r, g_batch_min, g_batch_max);
  blk_t *head = NULL;
  for (uint64_t i = 0; i < n; i++) {
    blk_t *b = xmalloc(g_size);
    fill(b, ((uint64_t)w->id << 40) | (*seq)++);
    b->next = head;
    b->qnext = NULL;
    head = b;
  }
  w->allocs += n;
  return head;
}

static void *work(void *arg) {
  worker_t *w = arg;
  rng_t r;
  rng_seed(&r, w->seed, (uint64_t)w->id);
  uint64_t seq = 0, sum = 0;
  batch_t *pending = NULL; // a batch no queue took yet

  sync_start(w->sync);
  int produces = !g_split || w->id % 2 == 0, consumes = !g_split || w->id % 2 == 1;
  while (!atomic_load_explicit(&g_stop, memory_order_relaxed)) {
    if (produces) {
      if (!pending) pending = produce(w, &seq, &r);
      if (push(&g_q[rng_below(&r, g_nq)], pending)) pending = NULL;
    }
    batch_t *bt = NULL;
    if (consumes) { // take from a random queue, else from any other
      uint64_t first = rng_below(&r, g_nq);
      for (uint64_t k = 0; k < g_nq && !bt; k++) bt = pop(&g_q[(first + k) % g_nq]);
      if (bt) w->frees += consume(bt, &sum);
    }
    if (consumes ? bt == NULL : pending != NULL) sched_yield(); // nothing to take, or no room
  }
  sync_stop(w->sync);
  if (pending) {
    uint64_t n = consume(pending, &sum);
    w->allocs -= n; // never handed on: not part of the measure
  }
  w->checksum = sum;
  return NULL;
}

// Stops the workers after `ms` milliseconds (the main thread waits between the barriers).
typedef struct {
  uint64_t ms;
} timer_t_;

static void *timer(void *arg) {
  bench_sleep_ms(((timer_t_ *)arg)->ms);
  atomic_store(&g_stop, 1);
  return NULL;
}

int main(int argc, char **argv) {
  static const char *const known[] = {"workers", "queues", "batch", "vary", "size",
                                      "cap",     "ms",     "split", NULL};
  bench_args a;
  bench_parse(&a, argc, argv, "prodcons", known, 1);
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  uint64_t def_workers = cpus > 0 ? (uint64_t)cpus * 4 : 8;
  uint64_t workers = opt_u64(&a, "workers", def_workers < 3 ? 3 : def_workers, 2, 1024);
  g_nq = opt_u64(&a, "queues", workers / 2 ? workers / 2 : 1, 1, workers);
  uint64_t batch = opt_u64(&a, "batch", 64, 1, 1u << 16);
  uint64_t vary = opt_u64(&a, "vary", 1, 0, 1);
  g_batch_min = vary ? (batch + 1) / 2 : batch;
  g_batch_max = vary ? batch + batch / 2 : batch;
  g_size = opt_u64(&a, "size", 64, sizeof(blk_t), 1u << 20);
  g_cap = opt_u64(&a, "cap", 64, 1, 1u << 20);
  g_split = opt_u64(&a, "split", 0, 0, 1);
  uint64_t ms = scaled(&a, (double)opt_u64(&a, "ms", 4000, 1, 3600000), 10);

  g_q = calloc(g_nq, sizeof *g_q);
  worker_t *w = calloc(workers, sizeof *w);
  if (!g_q || !w) fatal("out of memory");
  for (uint64_t i = 0; i < g_nq; i++) pthread_mutex_init(&g_q[i].lock, NULL);
  bench_sync sync;
  for (uint64_t t = 0; t < workers; t++) {
    w[t].id = (int)t;
    w[t].seed = a.seed;
    w[t].sync = &sync;
  }
  // the timer starts with the workers: a worker of their own that sleeps, then stops them
  barrier_init(&sync.start, (unsigned)workers + 1);
  barrier_init(&sync.stop, (unsigned)workers + 1);
  pthread_t *tids = start_threads((int)workers, work, w, sizeof *w);
  pthread_barrier_wait(&sync.start);
  uint64_t t0 = now_ns();
  timer_t_ tm = {ms};
  pthread_t tt;
  int rc = pthread_create(&tt, NULL, timer, &tm);
  if (rc != 0) fatal("pthread_create: %s", strerror(rc));
  pthread_barrier_wait(&sync.stop);
  uint64_t ns = now_ns() - t0;
  join_threads((int)workers, tids);
  pthread_join(tt, NULL);

  uint64_t frees = 0, allocs = 0, checksum = 0, leftover = 0;
  for (uint64_t t = 0; t < workers; t++) {
    frees += w[t].frees;
    allocs += w[t].allocs;
    checksum += w[t].checksum;
  }
  for (uint64_t i = 0; i < g_nq; i++) {
    for (batch_t *bt; (bt = pop(&g_q[i])) != NULL;) leftover += consume(bt, &checksum);
    pthread_mutex_destroy(&g_q[i].lock);
  }
  if (frees + leftover != allocs) {
    fatal("%" PRIu64 " blocks allocated, %" PRIu64 " freed", allocs, frees + leftover);
  }
  free(w);
  free(g_q);
  double secs = (double)ns * 1e-9;

  json_out j;
  json_begin(&j, &a, "prodcons", "ops_per_s", (double)frees / secs, frees, secs);
  json_u64(&j, "workers", workers);
  json_u64(&j, "cpus", cpus > 0 ? (uint64_t)cpus : 0);
  json_u64(&j, "queues", g_nq);
  json_u64(&j, "batch", batch);
  json_u64(&j, "batch_min", g_batch_min);
  json_u64(&j, "batch_max", g_batch_max);
  json_u64(&j, "size", g_size);
  json_u64(&j, "allocs", allocs);
  json_u64(&j, "leftover", leftover);
  json_u64(&j, "split", g_split);
  json_end(&j);
  return 0;
}
