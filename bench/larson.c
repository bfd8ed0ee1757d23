// larson — server-style churn after Larson & Krishnan (the Hoard/mimalloc "larson" bench).
//
// Each of --threads workers owns an array of --chunks blocks. A step picks a random slot,
// checks and frees its block and puts a new block of a random size in [--min, --max] there.
// The run is cut into --rounds rounds: at the end of a round every worker exits and a new
// thread takes over the array of the next worker, so most blocks are freed by a thread other
// than the one that allocated them, after that thread has gone — as in the original, where
// each "server thread" hands its objects on to the thread that replaces it.
// Metric: ops_per_s, one op = one free + one malloc (timed rounds only, set-up excluded).
#include "common.h"

typedef bench_block slot_t;

typedef struct {
  slot_t *slots; // the array this thread works on (inherited at each round)
  uint64_t steps;
  uint64_t checksum;
  rng_t rng;
} worker_t;

static uint64_t g_chunks, g_min, g_max;

static inline void put_block(slot_t *s, rng_t *r) {
  uint32_t size = (uint32_t)rng_range(r, g_min, g_max);
  s->p = xmalloc(size);
  s->size = size;
  s->tag = (uint32_t)rng_next(r);
  pat_fill(s->p, size, s->tag, PAT_HEADTAIL);
}

static void *work(void *arg) {
  worker_t *w = arg;
  slot_t *slots = w->slots;
  uint64_t sum = 0;
  for (uint64_t i = 0; i < w->steps; i++) {
    slot_t *s = &slots[rng_below(&w->rng, g_chunks)];
    sum += pat_verify(s->p, s->size, s->tag, PAT_HEADTAIL, "larson");
    free(s->p);
    put_block(s, &w->rng);
  }
  w->checksum += sum;
  return NULL;
}

int main(int argc, char **argv) {
  static const char *const known[] = {"chunks", "min", "max", "rounds", NULL};
  bench_args a;
  bench_parse(&a, argc, argv, "larson", known, 2);
  g_chunks = opt_u64(&a, "chunks", 10000, 1, 1u << 24);
  g_min = opt_u64(&a, "min", 8, 1, 1u << 30);
  g_max = opt_u64(&a, "max", 1000, g_min, 1u << 30);
  uint64_t rounds = opt_u64(&a, "rounds", 20, 1, 100000);
  uint64_t per_thread = scaled(&a, 12e6, rounds); // steps per thread over the whole run
  int n = a.threads;

  worker_t *w = calloc((size_t)n, sizeof *w);
  slot_t **arrays = calloc((size_t)n, sizeof *arrays);
  if (!w || !arrays) fatal("out of memory");
  rng_t init;
  rng_seed(&init, a.seed, 0xffff);
  for (int t = 0; t < n; t++) {
    arrays[t] = calloc(g_chunks, sizeof(slot_t));
    if (!arrays[t]) fatal("out of memory");
    for (uint64_t c = 0; c < g_chunks; c++) put_block(&arrays[t][c], &init);
  }

  uint64_t ops = 0, checksum = 0, t0 = now_ns();
  for (uint64_t r = 0; r < rounds; r++) {
    for (int t = 0; t < n; t++) {
      w[t].slots = arrays[(t + (int)r) % n]; // round r: thread t takes over array t+r
      w[t].steps = per_thread / rounds;
      rng_seed(&w[t].rng, a.seed, (uint64_t)r * 1024 + (uint64_t)t);
      ops += w[t].steps;
    }
    run_threads(n, work, w, sizeof *w);
  }
  double secs = (double)(now_ns() - t0) * 1e-9;

  for (int t = 0; t < n; t++) {
    checksum += w[t].checksum;
    for (uint64_t c = 0; c < g_chunks; c++) {
      slot_t *s = &arrays[t][c];
      checksum += pat_verify(s->p, s->size, s->tag, PAT_HEADTAIL, "larson final");
      free(s->p);
    }
    free(arrays[t]);
  }
  free(arrays);
  free(w);

  json_out j;
  json_begin(&j, &a, "larson", "ops_per_s", (double)ops / secs, ops, secs);
  json_u64(&j, "chunks", g_chunks);
  json_u64(&j, "min", g_min);
  json_u64(&j, "max", g_max);
  json_u64(&j, "rounds", rounds);
  json_checksum(&j, checksum);
  json_end(&j);
  return 0;
}
