// phases — one program whose workload changes phase, as a long-running service's does: it goes
// --cycles times (default 2) through three phases whose best allocator settings differ, each
// about 6 s under glibc at scale 1 (--scale sets the work of every phase):
//   bursts  bursts with idle gaps (bursts.c's piece: --threads workers allocate a 64 MiB working
//           set of 1 KiB – 256 KiB blocks, write every page, free it all, idle 600–900 ms);
//   churn   random replacement among 12 live large blocks of 1–8 MiB, every page written
//           (large_mix.c's piece);
//   remote  producer/consumer: in each of max(1, --threads / 2) pairs one thread allocates blocks
//           of 16 B – 1 KiB and passes them through a queue to the other, which checks and frees
//           them: every free is remote.
// Metric: ops_per_s, the geometric mean of the three phases' rates (so each phase weighs the same
// whatever its op costs), each phase's rate being its ops over its busy time summed over the
// cycles (the bursts' idle gaps excluded). Extras: ops_per_s_<phase> and busy_s_<phase> per
// phase, the bursts' RSS figures (bursts_*), and phase_names / phase_starts_s / phase_ends_s:
// when each phase ran, in seconds since the program started.
#include "pieces.h"

#define MAX_CYCLES 20u
#define PHASES 3u
#define BURSTS_AT_SCALE_1 7.0   // with their gaps, about 6 s
#define CHURN_AT_SCALE_1 8500.0 // replacements
#define REMOTE_AT_SCALE_1 33e6  // blocks per pair
#define CHURN_WS 12u
#define CHURN_MIN (1u << 20)
#define CHURN_MAX (8u << 20)
#define REMOTE_MIN 16u
#define REMOTE_MAX 1024u
#define STREAMS_PER_CYCLE 4096u // random streams a cycle may use

static const char *const k_names[PHASES] = {"bursts", "churn", "remote"};

typedef struct {
  int pair, producer;
  uint64_t count, checksum;
  spsc_t *q;
  rng_t r;
  bench_sync *sync;
} remote_worker;

static void *remote_work(void *arg) {
  remote_worker *w = arg;
  spsc_producer p = {.q = w->q, .min = REMOTE_MIN, .max = REMOTE_MAX, .r = &w->r};
  p.tag_base = (uint32_t)w->pair << 24;
  spsc_consumer c = {.q = w->q};
  uint32_t idle = 0;
  sync_start(w->sync);
  if (w->producer) {
    while (p.made < w->count) spsc_idle(&idle, spsc_produce(&p, w->count - p.made) > 0);
  } else {
    while (c.taken < w->count) spsc_idle(&idle, spsc_consume(&c, "phases remote") > 0);
  }
  sync_stop(w->sync);
  w->checksum = c.checksum;
  return NULL;
}

// One remote phase: `pairs` producer/consumer pairs move `count` blocks each. Returns its ns.
static uint64_t remote_phase(int pairs, uint64_t count, uint64_t seed, uint64_t stream,
                             uint64_t *checksum) {
  int n = 2 * pairs;
  spsc_t *q = spsc_new(pairs);
  remote_worker *w = calloc((size_t)n, sizeof *w);
  if (!w) fatal("out of memory");
  bench_sync sync;
  for (int t = 0; t < n; t++) {
    w[t].pair = t / 2;
    w[t].producer = t % 2 == 0;
    w[t].count = count;
    w[t].q = &q[t / 2];
    w[t].sync = &sync;
    rng_seed(&w[t].r, seed, stream + (uint64_t)t);
  }
  uint64_t ns = run_threads_timed(n, remote_work, w, sizeof *w, &sync);
  for (int t = 0; t < n; t++) *checksum += w[t].checksum;
  free(w);
  free(q);
  return ns;
}

int main(int argc, char **argv) {
  uint64_t start = now_ns();
  static const char *const known[] = {"cycles", NULL};
  bench_args a;
  bench_parse(&a, argc, argv, "phases", known, 1);
  unsigned cycles = (unsigned)opt_u64(&a, "cycles", 2, 1, MAX_CYCLES);
  uint64_t nbursts = scaled(&a, BURSTS_AT_SCALE_1, 1);
  uint64_t nchurn = scaled(&a, CHURN_AT_SCALE_1, 1);
  uint64_t nremote = scaled(&a, REMOTE_AT_SCALE_1, SPSC_BURST);
  int pairs = a.threads / 2 > 0 ? a.threads / 2 : 1;
  bursts_cfg bc = {.bytes = 64u << 20, .min = 1u << 10, .max = 256u << 10, .gap_ms = 600,
                   .jitter_ms = 300, .threads = a.threads, .seed = a.seed};

  rng_t gaps;
  rng_seed(&gaps, a.seed, BURST_GAP_STREAM);
  bursts_stats bs = {0};
  uint64_t ops[PHASES] = {0}, busy[PHASES] = {0}, checksum = 0, churn_bytes = 0;
  double starts[MAX_CYCLES * PHASES], ends[MAX_CYCLES * PHASES];
  for (unsigned c = 0; c < cycles; c++) {
    uint64_t stream = (uint64_t)c * STREAMS_PER_CYCLE;
    double *s = &starts[c * PHASES], *e = &ends[c * PHASES];

    /* phases follow one another: a cycle starts where the last one ended */
    s[0] = c ? ends[c * PHASES - 1] : (double)(now_ns() - start) * 1e-9;
    uint64_t before = bs.busy_ns;
    bursts_run(&bc, nbursts, &gaps, stream, &bs);
    busy[0] += bs.busy_ns - before;
    e[0] = (double)(now_ns() - start) * 1e-9;

    s[1] = e[0];
    churn_t ch;
    churn_init(&ch, CHURN_WS, CHURN_MIN, CHURN_MAX, a.seed, stream + STREAMS_PER_CYCLE / 2);
    uint64_t t0 = now_ns();
    checksum += churn_steps(&ch, nchurn, &churn_bytes);
    busy[1] += now_ns() - t0;
    checksum += churn_end(&ch);
    ops[1] += nchurn;
    e[1] = (double)(now_ns() - start) * 1e-9;

    s[2] = e[1];
    busy[2] += remote_phase(pairs, nremote, a.seed, stream + STREAMS_PER_CYCLE / 4, &checksum);
    ops[2] += nremote * (uint64_t)pairs;
    e[2] = (double)(now_ns() - start) * 1e-9;
  }
  ops[0] = bs.ops;
  checksum += bs.checksum;

  double log_sum = 0, rate[PHASES];
  uint64_t total_ops = 0, total_ns = 0;
  for (unsigned p = 0; p < PHASES; p++) {
    rate[p] = (double)ops[p] / ((double)busy[p] * 1e-9);
    log_sum += log(rate[p]);
    total_ops += ops[p];
    total_ns += busy[p];
  }
  json_out j;
  json_begin(&j, &a, "phases", "ops_per_s", exp(log_sum / PHASES), total_ops,
             (double)total_ns * 1e-9);
  json_u64(&j, "cycles", cycles);
  json_u64(&j, "bursts_per_cycle", nbursts);
  for (unsigned p = 0; p < PHASES; p++) {
    char key[48];
    snprintf(key, sizeof key, "ops_per_s_%s", k_names[p]);
    json_f64(&j, key, rate[p]);
    snprintf(key, sizeof key, "busy_s_%s", k_names[p]);
    json_f64(&j, key, (double)busy[p] * 1e-9);
  }
  json_u64(&j, "churn_mean_size", churn_bytes / (nchurn * cycles));
  json_bursts(&j, "bursts_", &bs);
  json_raw(&j, ",\"phase_names\":[");
  for (unsigned i = 0; i < cycles * PHASES; i++) {
    json_raw(&j, "%s\"%s\"", i ? "," : "", k_names[i % PHASES]);
  }
  json_raw(&j, "]");
  json_f64s(&j, "phase_starts_s", starts, cycles * PHASES);
  json_f64s(&j, "phase_ends_s", ends, cycles * PHASES);
  json_checksum(&j, checksum);
  json_end(&j);
  return 0;
}
