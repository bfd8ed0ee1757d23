// memory_return — what an allocator gives back after the program freed almost everything.
//
// --threads workers each allocate their share of a large mixed set (--mib MiB in all at scale 1),
// writing every page. --mix wide (the default): sizes log-uniform in 16 B – 64 KiB, plus one
// block in 64 of 64–512 KiB; --mix small: 98 % of the blocks 16 B – 1 KiB, the others 1 KiB –
// 1 MiB (log-uniform each), so most pages hold many small blocks. Then about 99 % is freed:
// worker t frees the blocks of worker t+1 (with more than one thread every free is remote, as in
// a server's thread pool), all but a scattered one in --keep, the survivors. With --exit 0 (the
// default) the workers stay alive; with --exit 1 they exit once they freed (a pool that shrinks,
// a batch job's threads), and the main thread does what follows. Then the process goes through
// the phases users complain about:
//   idle   nobody allocates for --idle-ms milliseconds (the workers wait on a barrier);
//   work   light work: every worker (with --exit 1, the main thread) churns --work small blocks
//          (16 B – 1 KiB) over 64 slots, spread over --work-ms milliseconds (0: at full speed);
//   trim   the main thread calls malloc_trim(0) (glibc's when the allocator has none).
// The process holds still for HOLD_MS after the light work and after the trim, so that the
// runner's RSS curve shows both levels. After each phase the resident set is read
// (/proc/self/statm): rss_start_kib, rss_peak_kib
// (everything allocated), rss_freed_kib, rss_idle_kib, rss_work_kib, rss_trim_kib, with the
// time each phase ended (t_alloc_s … t_trim_s, seconds since main started) so that the runner's
// RSS curve can be marked. live_kib: what the survivors hold.
// Metric: ops_per_s over the allocation and free phases (one op = one malloc or one free);
// memory: rss_work_kib, what the process still holds once it freed 99 % and went on working.
#include <malloc.h>

#include "common.h"

#define LARGE_ONE_IN 64u
#define SMALL_PER_100 98u // --mix small: blocks of 16 B – 1 KiB per 100
#define WORK_SLOTS 64u
#define WORK_CHUNK 64u // paced light work: ops between looks at the clock
#define HOLD_MS 200u   // the runner samples every 10 ms: 20 samples of a level

typedef bench_block blk_t;

typedef struct {
  int id, small_mix, exits;
  uint64_t seed, target, cap, keep, work, work_ms;
  blk_t *blocks; // this worker's allocations, in order
  uint64_t n;    // blocks allocated
  blk_t *next;   // the neighbour whose blocks this worker frees
  uint64_t next_n;
  uint64_t ops, checksum, live;
  pthread_barrier_t *phase;
} worker_t;

static uint64_t block_size(rng_t *r, int small_mix) {
  if (small_mix) {
    if (rng_below(r, 100) < SMALL_PER_100) return rng_logsize(r, 16, 1024);
    return rng_logsize(r, 1024, 1u << 20);
  }
  if (rng_below(r, LARGE_ONE_IN) == 0) return rng_logsize(r, 64u << 10, 512u << 10);
  return rng_logsize(r, 16, 64u << 10);
}

// Light work: `ops` replacements over WORK_SLOTS slots of 16 B – 1 KiB, spread evenly over `ms`
// milliseconds (0: at full speed); every slot is freed at the end. Returns the checksum.
static uint64_t light_work(rng_t *r, uint64_t ops, uint64_t ms, uint64_t *tag) {
  blk_t slots[WORK_SLOTS];
  memset(slots, 0, sizeof slots);
  uint64_t checksum = 0, t0 = now_ns();
  for (uint64_t i = 0; i < ops; i++) {
    if (ms != 0 && i % WORK_CHUNK == 0) {
      uint64_t due = t0 + (uint64_t)((double)ms * 1e6 * (double)i / (double)ops);
      while (now_ns() < due) bench_sleep_ms(1);
    }
    blk_t *s = &slots[rng_below(r, WORK_SLOTS)];
    if (s->p) {
      checksum += pat_verify(s->p, s->size, s->tag, PAT_HEADTAIL, "memory_return work");
      free(s->p);
    }
    s->size = (uint32_t)rng_range(r, 16, 1024);
    s->tag = (uint32_t)++*tag;
    s->p = xmalloc(s->size);
    pat_fill(s->p, s->size, s->tag, PAT_HEADTAIL);
  }
  for (unsigned i = 0; i < WORK_SLOTS; i++) free(slots[i].p);
  if (ms != 0) { // the last chunk's share of the time
    uint64_t end = t0 + ms * 1000000ull;
    while (now_ns() < end) bench_sleep_ms(1);
  }
  return checksum;
}

// The survivors among `n` blocks go (after the trim). Returns the checksum.
static uint64_t free_survivors(blk_t *blocks, uint64_t n) {
  uint64_t checksum = 0;
  for (uint64_t i = 0; i < n; i++) {
    blk_t *b = &blocks[i];
    if (b->p == NULL) continue;
    checksum += pat_verify(b->p, b->size, b->tag, BENCH_PAGE, "memory_return survivor");
    free(b->p);
    b->p = NULL;
  }
  return checksum;
}

static void *work(void *arg) {
  worker_t *w = arg;
  rng_t r;
  rng_seed(&r, w->seed, (uint64_t)w->id);
  // allocate
  uint64_t bytes = 0, tag = (uint64_t)w->id << 40;
  while (bytes < w->target && w->n < w->cap) {
    blk_t *b = &w->blocks[w->n++];
    b->size = (uint32_t)block_size(&r, w->small_mix);
    b->tag = (uint32_t)++tag;
    b->p = xmalloc(b->size);
    pat_fill(b->p, b->size, b->tag, BENCH_PAGE);
    bytes += b->size;
  }
  w->ops += w->n;
  pthread_barrier_wait(w->phase); // allocated
  pthread_barrier_wait(w->phase); // main read the RSS
  // free the neighbour's blocks in random order, all but one in `keep`
  uint64_t n = w->next_n;
  uint64_t *order = calloc(n ? n : 1, sizeof *order);
  if (!order) fatal("out of memory");
  for (uint64_t i = 0; i < n; i++) order[i] = i;
  for (uint64_t i = n; i > 1; i--) {
    uint64_t k = rng_below(&r, i), t = order[i - 1];
    order[i - 1] = order[k];
    order[k] = t;
  }
  for (uint64_t i = 0; i < n; i++) {
    blk_t *b = &w->next[order[i]];
    if (rng_below(&r, w->keep) == 0) {
      w->live += b->size;
      continue;
    }
    w->checksum += pat_verify(b->p, b->size, b->tag, BENCH_PAGE, "memory_return free");
    free(b->p);
    b->p = NULL;
    w->ops++;
  }
  free(order);
  if (w->exits) return NULL; // the main thread goes on
  pthread_barrier_wait(w->phase); // freed
  pthread_barrier_wait(w->phase); // idle over
  w->checksum += light_work(&r, w->work, w->work_ms, &tag);
  pthread_barrier_wait(w->phase); // worked
  pthread_barrier_wait(w->phase); // trimmed: the survivors go
  w->checksum += free_survivors(w->next, n);
  return NULL;
}

static double since(uint64_t t0) {
  return (double)(now_ns() - t0) * 1e-9;
}

int main(int argc, char **argv) {
  uint64_t t0 = now_ns();
  static const char *const known[] = {"mib", "keep", "idle-ms", "work", "work-ms", "exit", "mix",
                                      NULL};
  bench_args a;
  bench_parse(&a, argc, argv, "memory_return", known, 2);
  uint64_t mib = opt_u64(&a, "mib", 512, 1, 1u << 20);
  uint64_t keep = opt_u64(&a, "keep", 100, 2, 1u << 20);
  uint64_t idle_ms = opt_u64(&a, "idle-ms", 2000, 0, 3600000);
  uint64_t work_ops = opt_u64(&a, "work", 200000, 0, 1ull << 40);
  uint64_t work_ms = opt_u64(&a, "work-ms", 0, 0, 3600000);
  int exits = (int)opt_u64(&a, "exit", 0, 0, 1);
  const char *mix = opt_str(&a, "mix", "wide");
  if (strcmp(mix, "wide") != 0 && strcmp(mix, "small") != 0) {
    fprintf(stderr, "memory_return: --mix must be wide or small, got '%s'\n", mix);
    exit(2);
  }
  int small_mix = strcmp(mix, "small") == 0;
  int nt = a.threads;
  uint64_t total = scaled(&a, (double)mib * 1048576.0, 1u << 20);
  uint64_t per = total / (uint64_t)nt;

  worker_t *w = calloc((size_t)nt, sizeof *w);
  pthread_barrier_t phase;
  if (!w) fatal("out of memory");
  barrier_init(&phase, (unsigned)nt + 1);
  for (int t = 0; t < nt; t++) {
    w[t].id = t;
    w[t].seed = a.seed;
    w[t].target = per;
    w[t].cap = per / 256 + 1024; // more than either mix's mean block size (~17 KiB, ~3 KiB) needs
    w[t].keep = keep;
    w[t].work = work_ops;
    w[t].work_ms = work_ms;
    w[t].exits = exits;
    w[t].small_mix = small_mix;
    w[t].phase = &phase;
    w[t].blocks = calloc(w[t].cap, sizeof(blk_t));
    if (!w[t].blocks) fatal("out of memory");
  }
  uint64_t rss_start = bench_rss_kib();
  pthread_t *tids = start_threads(nt, work, w, sizeof *w);
  uint64_t c0 = now_ns();
  pthread_barrier_wait(&phase); // allocated
  uint64_t alloc_ns = now_ns() - c0;
  double t_alloc = since(t0);
  uint64_t rss_peak = bench_rss_kib();
  for (int t = 0; t < nt; t++) {
    w[t].next = w[(t + 1) % nt].blocks;
    w[t].next_n = w[(t + 1) % nt].n;
  }
  pthread_barrier_wait(&phase); // go free
  c0 = now_ns();
  if (exits) join_threads(nt, tids); // freed, and gone
  else pthread_barrier_wait(&phase);  // freed
  uint64_t free_ns = now_ns() - c0;
  double t_freed = since(t0);
  uint64_t rss_freed = bench_rss_kib();
  bench_sleep_ms(idle_ms);
  double t_idle = since(t0);
  uint64_t rss_idle = bench_rss_kib();
  uint64_t checksum = 0;
  if (exits) {
    rng_t r;
    uint64_t tag = (uint64_t)nt << 40;
    rng_seed(&r, a.seed, (uint64_t)nt); // the stream after the workers'
    checksum += light_work(&r, work_ops, work_ms, &tag);
  } else {
    pthread_barrier_wait(&phase); // go work
    pthread_barrier_wait(&phase); // worked
  }
  double t_work = since(t0);
  uint64_t rss_work = bench_rss_kib();
  bench_sleep_ms(HOLD_MS);
  int trimmed = malloc_trim(0);
  double t_trim = since(t0);
  uint64_t rss_trim = bench_rss_kib();
  bench_sleep_ms(HOLD_MS);
  if (exits) {
    for (int t = 0; t < nt; t++) checksum += free_survivors(w[t].blocks, w[t].n);
  } else {
    pthread_barrier_wait(&phase); // survivors go
    join_threads(nt, tids);
  }
  pthread_barrier_destroy(&phase);

  uint64_t ops = 0, live = 0, blocks = 0;
  for (int t = 0; t < nt; t++) {
    ops += w[t].ops;
    checksum += w[t].checksum;
    live += w[t].live;
    blocks += w[t].n;
    free(w[t].blocks);
  }
  free(w);
  double secs = (double)(alloc_ns + free_ns) * 1e-9;

  json_out j;
  json_begin(&j, &a, "memory_return", "ops_per_s", (double)ops / secs, ops, secs);
  json_u64(&j, "blocks", blocks);
  json_u64(&j, "total_kib", total / 1024);
  json_u64(&j, "live_kib", live / 1024);
  json_u64(&j, "keep", keep);
  json_u64(&j, "idle_ms", idle_ms);
  json_u64(&j, "work", work_ops);
  json_u64(&j, "work_ms", work_ms);
  json_u64(&j, "exit", (uint64_t)exits);
  json_str(&j, "mix", mix);
  json_u64(&j, "rss_start_kib", rss_start);
  json_u64(&j, "rss_peak_kib", rss_peak);
  json_u64(&j, "rss_freed_kib", rss_freed);
  json_u64(&j, "rss_idle_kib", rss_idle);
  json_u64(&j, "rss_work_kib", rss_work);
  json_u64(&j, "rss_trim_kib", rss_trim);
  json_f64(&j, "t_alloc_s", t_alloc);
  json_f64(&j, "t_freed_s", t_freed);
  json_f64(&j, "t_idle_s", t_idle);
  json_f64(&j, "t_work_s", t_work);
  json_f64(&j, "t_trim_s", t_trim);
  json_u64(&j, "trim_released", (uint64_t)trimmed);
  json_checksum(&j, checksum);
  json_end(&j);
  return 0;
}
