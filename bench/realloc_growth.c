// realloc_growth — buffers growing by realloc in small and large steps, for throughput.
//
// Single thread. --buffers live buffers; each step picks one at random (so its neighbours keep
// changing and growing in place is not a given) and grows it by one step of its life's kind:
//   small  a string builder appending 8–128 bytes;
//   large  a reader appending chunks of 4–64 KiB.
// Half of the lives grow by small steps, half by large ones. A life ends once its buffer passes
// its limit (log-uniform in 16 KiB .. --max-kib KiB, a few hundred KiB by default): the buffer is
// checked in full and freed, and a new life starts from 0 bytes (realloc(NULL, n)). Each step
// writes the new bytes' pattern (one word per page and the tail) and checks the kept prefix's
// head and old tail, so a realloc that loses data fails the run. No step is timed alone (see
// realloc_heavy for latencies): the value is reallocs per second over the whole loop.
// Metric: ops_per_s, one op = one realloc (growth step or first allocation) or one free.
#include "common.h"

typedef struct {
  void *p;
  size_t size, limit;
  uint64_t tag;
  int large;
} buf_t;

static void new_life(buf_t *b, rng_t *r, uint64_t max, uint64_t tag) {
  b->p = NULL;
  b->size = 0;
  b->limit = (size_t)rng_logsize(r, 16u << 10, max);
  b->tag = tag;
  b->large = (int)rng_below(r, 2);
}

static size_t step(const buf_t *b, rng_t *r) {
  return b->large ? (size_t)rng_range(r, 4u << 10, 64u << 10) : (size_t)rng_range(r, 8, 128);
}

int main(int argc, char **argv) {
  static const char *const known[] = {"buffers", "max-kib", NULL};
  bench_args a;
  bench_parse(&a, argc, argv, "realloc_growth", known, 1);
  uint64_t nbuf = opt_u64(&a, "buffers", 32, 1, 1u << 20);
  uint64_t max = opt_u64(&a, "max-kib", 512, 16, 1u << 20) * 1024;
  uint64_t steps = scaled(&a, 5e6, 1);

  buf_t *bufs = calloc(nbuf, sizeof *bufs);
  if (!bufs) fatal("out of memory");
  rng_t r;
  rng_seed(&r, a.seed, 0);
  uint64_t tag = 0, checksum = 0, lives = 0, moved = 0, ops = 0, bytes = 0;
  for (uint64_t i = 0; i < nbuf; i++) new_life(&bufs[i], &r, max, ++tag);

  uint64_t t0 = now_ns();
  for (uint64_t i = 0; i < steps; i++) {
    buf_t *b = &bufs[rng_below(&r, nbuf)];
    if (b->size >= b->limit) {
      checksum += pat_verify(b->p, b->size, b->tag, BENCH_PAGE, "realloc_growth end of life");
      free(b->p);
      ops++;
      new_life(b, &r, max, ++tag);
      lives++;
    }
    size_t old = b->size, n = old + step(b, &r);
    void *q0 = b->p;
    void *q = xrealloc(b->p, n);
    ops++;
    moved += q0 != NULL && q != q0;
    bytes += n - old;
    pat_regrow(q, q0, old, n, b->tag);
    b->p = q;
    b->size = n;
  }
  double secs = (double)(now_ns() - t0) * 1e-9;

  for (uint64_t i = 0; i < nbuf; i++) {
    if (bufs[i].p == NULL) continue;
    checksum += pat_verify(bufs[i].p, bufs[i].size, bufs[i].tag, BENCH_PAGE, "final");
    free(bufs[i].p);
  }
  free(bufs);

  json_out j;
  json_begin(&j, &a, "realloc_growth", "ops_per_s", (double)ops / secs, ops, secs);
  json_u64(&j, "buffers", nbuf);
  json_u64(&j, "max_kib", max / 1024);
  json_u64(&j, "lives", lives);
  json_u64(&j, "moved", moved);
  json_u64(&j, "mib_grown", bytes >> 20);
  json_checksum(&j, checksum);
  json_end(&j);
  return 0;
}
