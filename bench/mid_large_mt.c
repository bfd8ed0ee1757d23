// mid_large_mt — mid-size blocks (8–32 KiB) churned by each thread on its own working set.
//
// --threads workers (1 and N in the suite), each with --ws slots filled at start (not timed).
// A step picks a random slot, checks and frees its block, allocates a new one of a random
// size in [--min, --max] and writes a word into every page of it, so an allocator that hands
// back fresh (unfaulted) memory pays for it. Threads start together on a barrier.
// Metric: ops_per_s summed over threads, one op = one free + one malloc.
#include "common.h"

typedef bench_block slot_t;

typedef struct {
  int id;
  uint64_t seed, steps, checksum;
  bench_sync *sync;
} worker_t;

static uint64_t g_ws, g_min, g_max;

static inline void put_block(slot_t *s, rng_t *r, uint32_t tag) {
  s->size = (uint32_t)rng_range(r, g_min, g_max);
  s->tag = tag;
  s->p = xmalloc(s->size);
  pat_fill(s->p, s->size, tag, BENCH_PAGE);
}

static void *work(void *arg) {
  worker_t *w = arg;
  rng_t r;
  rng_seed(&r, w->seed, (uint64_t)w->id);
  slot_t *slots = calloc(g_ws, sizeof *slots);
  if (!slots) fatal("out of memory");
  for (uint64_t i = 0; i < g_ws; i++) put_block(&slots[i], &r, (uint32_t)i);
  uint64_t sum = 0;

  sync_start(w->sync);
  for (uint64_t i = 0; i < w->steps; i++) {
    slot_t *s = &slots[rng_below(&r, g_ws)];
    sum += pat_verify(s->p, s->size, s->tag, BENCH_PAGE, "mid_large_mt");
    free(s->p);
    put_block(s, &r, (uint32_t)(i + g_ws));
  }
  sync_stop(w->sync);

  for (uint64_t i = 0; i < g_ws; i++) {
    sum += pat_verify(slots[i].p, slots[i].size, slots[i].tag, BENCH_PAGE, "final");
    free(slots[i].p);
  }
  free(slots);
  w->checksum = sum;
  return NULL;
}

int main(int argc, char **argv) {
  static const char *const known[] = {"ws", "min", "max", NULL};
  bench_args a;
  bench_parse(&a, argc, argv, "mid_large_mt", known, 2);
  g_ws = opt_u64(&a, "ws", 256, 1, 1u << 20);
  g_min = opt_u64(&a, "min", 8192, 1, 1u << 30);
  g_max = opt_u64(&a, "max", 32768, g_min, 1u << 30);
  int n = a.threads;
  uint64_t steps = scaled(&a, 4e6, 1); // per thread

  bench_sync sync;
  worker_t *w = calloc((size_t)n, sizeof *w);
  if (!w) fatal("out of memory");
  for (int t = 0; t < n; t++) {
    w[t].id = t;
    w[t].seed = a.seed;
    w[t].steps = steps;
    w[t].sync = &sync;
  }
  uint64_t ns = run_threads_timed(n, work, w, sizeof *w, &sync);

  uint64_t ops = steps * (uint64_t)n, checksum = 0;
  for (int t = 0; t < n; t++) checksum += w[t].checksum;
  free(w);
  double secs = (double)ns * 1e-9;

  json_out j;
  json_begin(&j, &a, "mid_large_mt", "ops_per_s", (double)ops / secs, ops, secs);
  json_u64(&j, "ws", g_ws);
  json_u64(&j, "min", g_min);
  json_u64(&j, "max", g_max);
  json_checksum(&j, checksum);
  json_end(&j);
  return 0;
}
