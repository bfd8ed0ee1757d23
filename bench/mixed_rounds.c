// mixed_rounds — rounds of mixed sizes over per-thread lists.
//
// Each of --threads workers (1 and 2 in the suite) keeps a list of --blocks blocks (1000) of
// mixed sizes from --min to --max bytes (8 B – 8 KiB, log-uniform: as many 8–16 B blocks as
// 4–8 KiB ones), filled before the clock starts. A round replaces every block of the list in
// order: check it, free it, allocate a new one of a fresh random size and write its head and
// tail. Rounds: 20000 × --scale per thread.
// Metric: ops_per_s summed over threads, one op = one free + one malloc.
#include "common.h"

typedef bench_block slot_t;

typedef struct {
  int id;
  uint64_t seed, rounds, checksum;
  bench_sync *sync;
} worker_t;

static uint64_t g_blocks, g_min, g_max;

static void put(slot_t *s, rng_t *r, uint32_t tag) {
  s->size = (uint32_t)rng_logsize(r, g_min, g_max);
  s->tag = tag;
  s->p = xmalloc(s->size);
  pat_fill(s->p, s->size, tag, PAT_HEADTAIL);
}

static void *work(void *arg) {
  worker_t *w = arg;
  rng_t r;
  rng_seed(&r, w->seed, (uint64_t)w->id);
  slot_t *list = calloc(g_blocks, sizeof *list);
  if (!list) fatal("out of memory");
  for (uint64_t i = 0; i < g_blocks; i++) put(&list[i], &r, (uint32_t)i);
  uint64_t sum = 0;
  uint32_t tag = (uint32_t)g_blocks;

  sync_start(w->sync);
  for (uint64_t k = 0; k < w->rounds; k++) {
    for (uint64_t i = 0; i < g_blocks; i++) {
      sum += pat_verify(list[i].p, list[i].size, list[i].tag, PAT_HEADTAIL, "mixed_rounds");
      free(list[i].p);
      put(&list[i], &r, tag++);
    }
  }
  sync_stop(w->sync);

  for (uint64_t i = 0; i < g_blocks; i++) {
    sum += pat_verify(list[i].p, list[i].size, list[i].tag, PAT_HEADTAIL, "final");
    free(list[i].p);
  }
  free(list);
  w->checksum = sum;
  return NULL;
}

int main(int argc, char **argv) {
  static const char *const known[] = {"blocks", "min", "max", NULL};
  bench_args a;
  bench_parse(&a, argc, argv, "mixed_rounds", known, 1);
  g_blocks = opt_u64(&a, "blocks", 1000, 1, 1u << 24);
  g_min = opt_u64(&a, "min", 8, 1, 1u << 30);
  g_max = opt_u64(&a, "max", 8192, g_min, 1u << 30);
  uint64_t rounds = scaled(&a, 20000, 1);
  int n = a.threads;

  bench_sync sync;
  worker_t *w = calloc((size_t)n, sizeof *w);
  if (!w) fatal("out of memory");
  for (int t = 0; t < n; t++) {
    w[t].id = t;
    w[t].seed = a.seed;
    w[t].rounds = rounds;
    w[t].sync = &sync;
  }
  uint64_t ns = run_threads_timed(n, work, w, sizeof *w, &sync);
  uint64_t ops = rounds * g_blocks * (uint64_t)n, checksum = 0;
  for (int t = 0; t < n; t++) checksum += w[t].checksum;
  free(w);
  double secs = (double)ns * 1e-9;

  json_out j;
  json_begin(&j, &a, "mixed_rounds", "ops_per_s", (double)ops / secs, ops, secs);
  json_u64(&j, "blocks", g_blocks);
  json_u64(&j, "min", g_min);
  json_u64(&j, "max", g_max);
  json_u64(&j, "rounds", rounds);
  json_checksum(&j, checksum);
  json_end(&j);
  return 0;
}
