// xthread — producer/consumer: every block is freed by a thread other than its allocator.
//
// --threads workers (at least 2; 1 is raised to 2) form a ring: worker i allocates blocks of
// random sizes in [--min, --max] (log-uniform), tags them and pushes them into a bounded
// single-producer/single-consumer queue read by worker i+1, which checks and frees them. Every
// worker is thus a producer and a consumer, every free is remote, and the load stays balanced
// for any thread count. A worker with nothing to do yields.
// Metric: ops_per_s, one op = one malloc + its remote free.
#include <sched.h>
#include <stdatomic.h>

#include "common.h"

#define QCAP 1024u // power of two
#define BURST 64u

typedef bench_block item_t;

typedef struct {
  _Alignas(64) atomic_uint_fast64_t tail; // written by the producer
  _Alignas(64) atomic_uint_fast64_t head; // written by the consumer
  _Alignas(64) item_t items[QCAP];
} queue_t;

typedef struct {
  int id;
  uint64_t seed, count, checksum;
  queue_t *out, *in;
  bench_sync *sync;
} worker_t;

static uint64_t g_min, g_max;

static void *work(void *arg) {
  worker_t *w = arg;
  rng_t r;
  rng_seed(&r, w->seed, (uint64_t)w->id);
  uint64_t produced = 0, consumed = 0, sum = 0, ptail = 0, chead = 0;
  uint32_t idle = 0;

  sync_start(w->sync);
  while (produced < w->count || consumed < w->count) {
    int progress = 0;
    // produce into the next worker's queue
    uint64_t phead = atomic_load_explicit(&w->out->head, memory_order_acquire);
    uint64_t room = QCAP - (ptail - phead), left = w->count - produced;
    uint64_t k = room < left ? room : left;
    if (k > BURST) k = BURST;
    for (uint64_t i = 0; i < k; i++) {
      item_t *it = &w->out->items[(ptail + i) & (QCAP - 1)];
      it->size = (uint32_t)rng_logsize(&r, g_min, g_max);
      it->tag = (uint32_t)((uint64_t)w->id << 24 ^ (produced + i));
      it->p = xmalloc(it->size);
      pat_fill(it->p, it->size, it->tag, PAT_HEADTAIL);
    }
    if (k) {
      ptail += k;
      produced += k;
      atomic_store_explicit(&w->out->tail, ptail, memory_order_release);
      progress = 1;
    }
    // consume from the previous worker's queue
    uint64_t ctail = atomic_load_explicit(&w->in->tail, memory_order_acquire);
    uint64_t avail = ctail - chead;
    if (avail > BURST) avail = BURST;
    for (uint64_t i = 0; i < avail; i++) {
      item_t *it = &w->in->items[(chead + i) & (QCAP - 1)];
      sum += pat_verify(it->p, it->size, it->tag, PAT_HEADTAIL, "xthread");
      free(it->p);
    }
    if (avail) {
      chead += avail;
      consumed += avail;
      atomic_store_explicit(&w->in->head, chead, memory_order_release);
      progress = 1;
    }
    if (progress) {
      idle = 0;
    } else if (++idle > 64) {
      sched_yield();
    }
  }
  sync_stop(w->sync);
  w->checksum = sum;
  return NULL;
}

int main(int argc, char **argv) {
  static const char *const known[] = {"min", "max", NULL};
  bench_args a;
  bench_parse(&a, argc, argv, "xthread", known, 2);
  g_min = opt_u64(&a, "min", 16, 1, 1u << 30);
  g_max = opt_u64(&a, "max", 1024, g_min, 1u << 30);
  if (a.threads < 2) a.threads = 2;
  int n = a.threads;
  uint64_t count = scaled(&a, 10e6, 1); // blocks per producer

  queue_t *q = aligned_alloc(64, sizeof(queue_t) * (size_t)n);
  worker_t *w = calloc((size_t)n, sizeof *w);
  if (!q || !w) fatal("out of memory");
  memset(q, 0, sizeof(queue_t) * (size_t)n);
  bench_sync sync;
  for (int t = 0; t < n; t++) {
    w[t].id = t;
    w[t].seed = a.seed;
    w[t].count = count;
    w[t].out = &q[t];
    w[t].in = &q[(t + n - 1) % n];
    w[t].sync = &sync;
  }
  uint64_t ns = run_threads_timed(n, work, w, sizeof *w, &sync);
  uint64_t ops = count * (uint64_t)n, checksum = 0;
  for (int t = 0; t < n; t++) checksum += w[t].checksum;
  free(w);
  free(q);
  double secs = (double)ns * 1e-9;

  json_out j;
  json_begin(&j, &a, "xthread", "ops_per_s", (double)ops / secs, ops, secs);
  json_u64(&j, "min", g_min);
  json_u64(&j, "max", g_max);
  json_checksum(&j, checksum);
  json_end(&j);
  return 0;
}
