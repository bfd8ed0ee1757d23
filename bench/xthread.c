// xthread — producer/consumer: every block is freed by a thread other than its allocator.
//
// --threads workers (at least 2; 1 is raised to 2) form a ring: worker i allocates blocks of
// random sizes in [--min, --max] (log-uniform), tags them and pushes them into a bounded
// single-producer/single-consumer queue read by worker i+1, which checks and frees them. Every
// worker is thus a producer and a consumer, every free is remote, and the load stays balanced
// for any thread count. A worker with nothing to do yields.
// Metric: ops_per_s, one op = one malloc + its remote free.
#include "pieces.h"

typedef struct {
  int id;
  uint64_t seed, count, checksum;
  spsc_t *out, *in;
  bench_sync *sync;
} worker_t;

static uint64_t g_min, g_max;

static void *work(void *arg) {
  worker_t *w = arg;
  rng_t r;
  rng_seed(&r, w->seed, (uint64_t)w->id);
  spsc_producer p = {.q = w->out, .min = g_min, .max = g_max, .r = &r};
  p.tag_base = (uint32_t)((uint64_t)w->id << 24);
  spsc_consumer c = {.q = w->in};
  uint32_t idle = 0;

  sync_start(w->sync);
  while (p.made < w->count || c.taken < w->count) {
    int progress = spsc_produce(&p, w->count - p.made) > 0; // into the next worker's queue
    progress |= spsc_consume(&c, "xthread") > 0;             // from the previous worker's
    spsc_idle(&idle, progress);
  }
  sync_stop(w->sync);
  w->checksum = c.checksum;
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

  spsc_t *q = spsc_new(n);
  worker_t *w = calloc((size_t)n, sizeof *w);
  if (!w) fatal("out of memory");
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
