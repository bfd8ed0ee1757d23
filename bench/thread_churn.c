// thread_churn — short-lived threads that allocate, hand blocks on and exit (sh8bench-like).
//
// The run is a series of waves; each wave starts --threads threads and joins them. A thread
// first checks and frees the blocks a thread of the previous wave (already exited) left in its
// hand-off slot (slots rotate between thread indices from wave to wave), then does --steps
// random replacements on a private array of 64 blocks of log-uniform sizes in [16, --max], and
// finally leaves half of its live blocks in the hand-off slot for the next wave and frees the
// rest. So the allocator sees thread creation and
// exit at a high rate, per-thread caches torn down all the time, and frees of blocks whose
// owning thread has exited.
// Metric: ops_per_s, one op = one malloc or one free, over all waves (thread start/exit
// included: that is the point).
#include "common.h"

#define LIVE 64

typedef bench_block blk_t;

typedef struct {
  blk_t v[LIVE / 2];
  int n;
} handoff_t;

typedef struct {
  int id;
  uint64_t seed, wave, steps, ops, checksum;
  handoff_t *slot;
} worker_t;

static uint64_t g_max;

static inline void blk_new(blk_t *b, rng_t *r, uint32_t tag) {
  b->size = (uint32_t)rng_logsize(r, 16, g_max);
  b->tag = tag;
  b->p = xmalloc(b->size);
  pat_fill(b->p, b->size, tag, PAT_HEADTAIL);
}

static inline uint64_t blk_del(blk_t *b) {
  uint64_t s = pat_verify(b->p, b->size, b->tag, PAT_HEADTAIL, "thread_churn");
  free(b->p);
  b->p = NULL;
  return s;
}

static void *work(void *arg) {
  worker_t *w = arg;
  rng_t r;
  rng_seed(&r, w->seed, w->wave * 4096 + (uint64_t)w->id);
  uint64_t ops = 0, sum = 0;
  uint32_t tag = (uint32_t)(w->wave << 12 ^ (uint64_t)w->id << 24);

  for (int i = 0; i < w->slot->n; i++, ops++) sum += blk_del(&w->slot->v[i]);
  w->slot->n = 0;

  blk_t live[LIVE];
  for (int i = 0; i < LIVE; i++, ops++) blk_new(&live[i], &r, ++tag);
  for (uint64_t s = 0; s < w->steps; s++, ops += 2) {
    blk_t *b = &live[rng_below(&r, LIVE)];
    sum += blk_del(b);
    blk_new(b, &r, ++tag);
  }
  for (int i = 0; i < LIVE; i++) {
    if (i % 2 == 0) {
      w->slot->v[w->slot->n++] = live[i];
    } else {
      sum += blk_del(&live[i]);
      ops++;
    }
  }
  w->ops += ops;
  w->checksum += sum;
  return NULL;
}

int main(int argc, char **argv) {
  static const char *const known[] = {"steps", "max", NULL};
  bench_args a;
  bench_parse(&a, argc, argv, "thread_churn", known, 2);
  uint64_t steps = opt_u64(&a, "steps", 2000, 0, 1u << 30);
  g_max = opt_u64(&a, "max", 4096, 16, 1u << 26);
  int n = a.threads;
  uint64_t waves = scaled(&a, 4000, 1);

  worker_t *w = calloc((size_t)n, sizeof *w);
  handoff_t *slots = calloc((size_t)n, sizeof *slots);
  if (!w || !slots) fatal("out of memory");
  uint64_t t0 = now_ns();
  for (uint64_t wave = 0; wave < waves; wave++) {
    for (int t = 0; t < n; t++) {
      w[t].id = t;
      w[t].seed = a.seed;
      w[t].wave = wave;
      w[t].steps = steps;
      w[t].slot = &slots[(t + (int)wave) % n]; // rotate: hand-offs also cross thread indices
    }
    run_threads(n, work, w, sizeof *w);
  }
  double secs = (double)(now_ns() - t0) * 1e-9;

  uint64_t ops = 0, checksum = 0;
  for (int t = 0; t < n; t++) {
    ops += w[t].ops;
    checksum += w[t].checksum;
    for (int i = 0; i < slots[t].n; i++) checksum += blk_del(&slots[t].v[i]);
  }
  free(slots);
  free(w);

  json_out j;
  json_begin(&j, &a, "thread_churn", "ops_per_s", (double)ops / secs, ops, secs);
  json_u64(&j, "waves", waves);
  json_u64(&j, "spawns", waves * (uint64_t)n);
  json_u64(&j, "steps", steps);
  json_u64(&j, "max", g_max);
  json_checksum(&j, checksum);
  json_end(&j);
  return 0;
}
