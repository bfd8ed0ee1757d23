// scatter — every thread frees blocks of every other thread, the owner changing at each free.
//
// --threads workers (default 16, more than the cores: a server's pool) run in rounds. In a round
// each worker allocates --blocks blocks of 16-128 B (in steps of 16) into its row of a shared
// table and writes them; after a barrier each worker checks and frees one slice of every row,
// taking the rows in turn for each index, so consecutive frees belong to different threads (the
// objects of a request that several workers made, a shared cache emptied, a graph torn down by
// whichever thread holds it last). One free in --threads is of the worker's own block.
// Metric: ops_per_s, one op = one malloc + its free, over all rounds.
#include "common.h"

typedef struct {
  int id;
  bench_sync *sync;
  uint64_t checksum;
} worker_t;

static int g_threads;
static uint64_t g_blocks, g_rounds;
static void **g_table;             // g_threads rows of g_blocks blocks
static pthread_barrier_t g_step;  // between a round's allocations and its frees

static size_t size_of(uint64_t i) {
  return 16 + (size_t)(i % 8) * 16;
}

static uint64_t tag_of(int row, uint64_t round, uint64_t i) {
  return (uint64_t)row << 48 | round << 24 | i;
}

static void *work(void *arg) {
  worker_t *w = arg;
  uint64_t lo = (uint64_t)w->id * g_blocks / (uint64_t)g_threads;
  uint64_t hi = (uint64_t)(w->id + 1) * g_blocks / (uint64_t)g_threads;
  void **mine = g_table + (size_t)w->id * g_blocks;
  sync_start(w->sync);
  for (uint64_t r = 0; r < g_rounds; r++) {
    for (uint64_t i = 0; i < g_blocks; i++) {
      mine[i] = xmalloc(size_of(i));
      pat_fill(mine[i], size_of(i), tag_of(w->id, r, i), 0);
    }
    pthread_barrier_wait(&g_step);
    for (uint64_t i = lo; i < hi; i++) {
      for (int k = 1; k <= g_threads; k++) {
        int row = (w->id + k) % g_threads;
        void *p = g_table[(size_t)row * g_blocks + i];
        w->checksum += pat_verify(p, size_of(i), tag_of(row, r, i), 0, "scatter");
        free(p);
      }
    }
    pthread_barrier_wait(&g_step); // every row is free before it is filled again
  }
  sync_stop(w->sync);
  return NULL;
}

int main(int argc, char **argv) {
  static const char *const known[] = {"blocks", NULL};
  bench_args a;
  bench_parse(&a, argc, argv, "scatter", known, 16);
  if (a.threads < 2) fatal("--threads: %d; at least 2 (every thread frees the others' blocks)",
                           a.threads);
  g_threads = a.threads;
  g_blocks = opt_u64(&a, "blocks", 4096, (uint64_t)g_threads, 1u << 20);
  g_rounds = scaled(&a, 400, 1);
  g_table = calloc((size_t)g_threads * g_blocks, sizeof *g_table);
  worker_t *w = calloc((size_t)g_threads, sizeof *w);
  if (!g_table || !w) fatal("out of memory");
  barrier_init(&g_step, (unsigned)g_threads);
  bench_sync sync;
  for (int t = 0; t < g_threads; t++) {
    w[t].id = t;
    w[t].sync = &sync;
  }
  uint64_t ns = run_threads_timed(g_threads, work, w, sizeof *w, &sync);
  uint64_t ops = (uint64_t)g_threads * g_blocks * g_rounds, checksum = 0;
  for (int t = 0; t < g_threads; t++) checksum += w[t].checksum;
  pthread_barrier_destroy(&g_step);
  free(w);
  free(g_table);
  double secs = (double)ns * 1e-9;

  json_out j;
  json_begin(&j, &a, "scatter", "ops_per_s", (double)ops / secs, ops, secs);
  json_u64(&j, "blocks", g_blocks);
  json_u64(&j, "rounds", g_rounds);
  json_checksum(&j, checksum);
  json_end(&j);
  return 0;
}
