// cache_phases — one pool of worker threads whose work changes phase, each phase wanting other
// thread-cache settings: it goes --cycles times (default 2, so that every phase comes back)
// through three phases of about 6 s each at scale 1 (--scale sets their length):
//   small   each worker allocates 4096 blocks of 16 B – 1 KiB (log-uniform), then checks and
//           frees them all, over and over: bursts larger than a default thread cache;
//   remote  the workers in pairs, one allocating blocks of 16 B – 1 KiB and passing them through
//           a queue to the other, which checks and frees them in batches of up to 64: every free
//           is remote;
//   mid     each worker allocates 256 blocks of 8 – 32 KiB, then checks and frees them all.
// The workers live through every phase (a service's pool): a phase's settings meet the caches
// the last phase left. Each phase counts its operations after a warm-up (--warmup-ms, at most a
// quarter of the phase): what a setting, or a learner, reaches once the phase has settled.
// Metric: ops_per_s, the geometric mean of the three phases' rates (one op = one malloc and its
// free), each over its settled time summed over the cycles. Extras: ops_per_s_<phase> and per
// cycle ops_per_s_<phase>_by_cycle (whether a phase seen before is as fast at once), and
// phase_names / phase_starts_s / phase_ends_s.
#include "pieces.h"

#define MAX_CYCLES 20u
#define PHASES 3u
#define PHASE_MS_AT_SCALE_1 6000.0
#define WARMUP_MS 1000u        // the issue of a learner: settled within a second of a phase
#define SMALL_BURST 4096u      // blocks of a small burst: more than a default thread cache holds
#define SMALL_MIN 16u
#define SMALL_MAX 1024u
#define MID_BURST 256u
#define MID_MIN (8u << 10)
#define MID_MAX (32u << 10)

enum { SMALL, REMOTE, MID };
static const char *const k_names[PHASES] = {"small", "remote", "mid"};

typedef struct pool pool_t;

typedef struct {
  int id;
  pool_t *pool;
  rng_t r;
  uint32_t tag;
  bench_block *blocks; // SMALL_BURST
  uint64_t settled[MAX_CYCLES * PHASES]; // ops after the warm-up, per phase run
  uint64_t checksum;
} worker_t;

struct pool {
  int threads;
  unsigned cycles;
  uint64_t phase_ns, warmup_ns;
  pthread_barrier_t go, done; // the workers and the main thread, around each phase
  uint64_t t0;                // when the phase started: the main thread's clock before `go`
  spsc_t *q;                  // the remote phase's queues, one per pair (made by the main thread)
  atomic_int *stopped;        // per pair: its producer made its last block
};

// A burst: `n` blocks of [lo, hi] allocated and written, then checked and freed.
static void burst(worker_t *w, uint32_t n, uint32_t lo, uint32_t hi) {
  for (uint32_t i = 0; i < n; i++) {
    bench_block *k = &w->blocks[i];
    k->size = (uint32_t)rng_logsize(&w->r, lo, hi);
    k->tag = ++w->tag;
    k->p = xmalloc(k->size);
    pat_fill(k->p, k->size, k->tag, PAT_HEADTAIL);
  }
  for (uint32_t i = 0; i < n; i++) {
    bench_block *k = &w->blocks[i];
    w->checksum += pat_verify(k->p, k->size, k->tag, PAT_HEADTAIL, "cache_phases burst");
    free(k->p);
  }
}

// Bursts until the phase's end; returns the blocks of the bursts that ended after the warm-up.
static uint64_t bursts_until(worker_t *w, uint64_t t0, uint32_t n, uint32_t lo, uint32_t hi) {
  uint64_t settled = 0, warm = t0 + w->pool->warmup_ns, end = t0 + w->pool->phase_ns;
  for (uint64_t now = t0; now < end;) {
    burst(w, n, lo, hi);
    now = now_ns();
    if (now > warm) settled += n;
  }
  return settled;
}

// The remote phase: even workers produce for the next odd one; an odd worker without a
// producer (an odd thread count's last) sits the phase out.
static uint64_t remote_until(worker_t *w, uint64_t t0) {
  pool_t *pl = w->pool;
  int pair = w->id / 2;
  if (pair >= pl->threads / 2) return 0;
  uint64_t settled = 0, warm = t0 + pl->warmup_ns, end = t0 + pl->phase_ns;
  uint32_t idle = 0;
  if (w->id % 2 == 0) {
    spsc_producer p = {.q = &pl->q[pair], .min = SMALL_MIN, .max = SMALL_MAX, .r = &w->r};
    p.tag_base = (uint32_t)pair << 24;
    do { // at least one batch, so that a producer started late still hands some on
      spsc_idle(&idle, spsc_produce(&p, UINT64_MAX) > 0);
    } while (now_ns() < end || p.made == 0);
    atomic_store_explicit(&pl->stopped[pair], 1, memory_order_release);
  } else {
    spsc_consumer c = {.q = &pl->q[pair]};
    for (;;) {
      int last = atomic_load_explicit(&pl->stopped[pair], memory_order_acquire);
      uint64_t k = spsc_consume(&c, "cache_phases remote");
      if (k && now_ns() > warm) settled += k;
      if (!k && last) break; // stopped before a poll that found the queue empty
      spsc_idle(&idle, k > 0);
    }
    w->checksum += c.checksum;
  }
  return settled;
}

static void *work(void *arg) {
  worker_t *w = arg;
  pool_t *pl = w->pool;
  for (unsigned run = 0; run < pl->cycles * PHASES; run++) {
    pthread_barrier_wait(&pl->go);
    uint64_t t0 = pl->t0; // one start for all: the phase lasts its time on the main thread's clock
    switch (run % PHASES) {
    case SMALL: w->settled[run] = bursts_until(w, t0, SMALL_BURST, SMALL_MIN, SMALL_MAX); break;
    case REMOTE: w->settled[run] = remote_until(w, t0); break;
    default: w->settled[run] = bursts_until(w, t0, MID_BURST, MID_MIN, MID_MAX); break;
    }
    pthread_barrier_wait(&pl->done);
  }
  return NULL;
}

int main(int argc, char **argv) {
  uint64_t start = now_ns();
  static const char *const known[] = {"cycles", "warmup-ms", NULL};
  bench_args a;
  bench_parse(&a, argc, argv, "cache_phases", known, 2);
  if (a.threads < 2) { // a usage error like bench_parse's
    fprintf(stderr, "cache_phases: --threads must be at least 2 (the remote phase pairs them)\n");
    exit(2);
  }
  pool_t pl = {.threads = a.threads};
  pl.cycles = (unsigned)opt_u64(&a, "cycles", 2, 1, MAX_CYCLES);
  pl.phase_ns = scaled(&a, PHASE_MS_AT_SCALE_1, 1) * 1000000ull;
  uint64_t warmup_ms = opt_u64(&a, "warmup-ms", WARMUP_MS, 0, 3600000);
  pl.warmup_ns = warmup_ms * 1000000ull;
  if (pl.warmup_ns > pl.phase_ns / 4) pl.warmup_ns = pl.phase_ns / 4;
  int pairs = a.threads / 2;
  barrier_init(&pl.go, (unsigned)a.threads + 1);
  barrier_init(&pl.done, (unsigned)a.threads + 1);
  pl.stopped = calloc((size_t)pairs, sizeof *pl.stopped);
  worker_t *w = calloc((size_t)a.threads, sizeof *w);
  if (!w || !pl.stopped) fatal("out of memory");
  for (int t = 0; t < a.threads; t++) {
    w[t].id = t;
    w[t].pool = &pl;
    rng_seed(&w[t].r, a.seed, (uint64_t)t);
    w[t].blocks = calloc(SMALL_BURST, sizeof(bench_block));
    if (!w[t].blocks) fatal("out of memory");
  }
  pthread_t *tids = start_threads(a.threads, work, w, sizeof *w);

  unsigned runs = pl.cycles * PHASES;
  double starts[MAX_CYCLES * PHASES], ends[MAX_CYCLES * PHASES];
  double by_cycle[PHASES][MAX_CYCLES];
  uint64_t ops[PHASES] = {0}, settled_ns[PHASES] = {0};
  for (unsigned run = 0; run < runs; run++) {
    if (run % PHASES == REMOTE) {
      pl.q = spsc_new(pairs);
      for (int p = 0; p < pairs; p++) atomic_store(&pl.stopped[p], 0);
    }
    uint64_t t0 = pl.t0 = now_ns();
    pthread_barrier_wait(&pl.go);
    pthread_barrier_wait(&pl.done);
    uint64_t t1 = now_ns();
    if (run % PHASES == REMOTE) free(pl.q);
    starts[run] = (double)(t0 - start) * 1e-9;
    ends[run] = (double)(t1 - start) * 1e-9;
    uint64_t n = 0;
    for (int t = 0; t < a.threads; t++) n += w[t].settled[run];
    uint64_t ns = t1 - t0 > pl.warmup_ns ? t1 - t0 - pl.warmup_ns : 1;
    ops[run % PHASES] += n;
    settled_ns[run % PHASES] += ns;
    by_cycle[run % PHASES][run / PHASES] = (double)n / ((double)ns * 1e-9);
  }
  join_threads(a.threads, tids);

  double log_sum = 0, rate[PHASES];
  uint64_t total_ops = 0, total_ns = 0, checksum = 0;
  for (unsigned p = 0; p < PHASES; p++) {
    if (ops[p] == 0) fatal("phase %s finished no operation after its warm-up", k_names[p]);
    rate[p] = (double)ops[p] / ((double)settled_ns[p] * 1e-9);
    log_sum += log(rate[p]);
    total_ops += ops[p];
    total_ns += settled_ns[p];
  }
  for (int t = 0; t < a.threads; t++) {
    checksum += w[t].checksum;
    free(w[t].blocks);
  }
  json_out j;
  json_begin(&j, &a, "cache_phases", "ops_per_s", exp(log_sum / PHASES), total_ops,
             (double)total_ns * 1e-9);
  json_u64(&j, "cycles", pl.cycles);
  json_f64(&j, "phase_s", (double)pl.phase_ns * 1e-9);
  json_f64(&j, "warmup_s", (double)pl.warmup_ns * 1e-9);
  for (unsigned p = 0; p < PHASES; p++) {
    char key[48];
    snprintf(key, sizeof key, "ops_per_s_%s", k_names[p]);
    json_f64(&j, key, rate[p]);
    snprintf(key, sizeof key, "ops_per_s_%s_by_cycle", k_names[p]);
    json_f64s(&j, key, by_cycle[p], pl.cycles);
  }
  json_raw(&j, ",\"phase_names\":[");
  for (unsigned i = 0; i < runs; i++) json_raw(&j, "%s\"%s\"", i ? "," : "", k_names[i % PHASES]);
  json_raw(&j, "]");
  json_f64s(&j, "phase_starts_s", starts, runs);
  json_f64s(&j, "phase_ends_s", ends, runs);
  json_checksum(&j, checksum);
  json_end(&j);
  free(w);
  free(pl.stopped);
  return 0;
}
