// realloc_heavy — many buffers grown step by step with realloc, each realloc timed.
//
// Single thread. --buffers live buffers; each step picks one at random (so neighbours keep
// changing and in-place growth is not a given) and grows it: half of the buffers' lives grow
// like string builders (append 1–512 bytes), half like vectors (× 1.5 plus a little). A buffer
// starts at 16–64 bytes and, once past its own limit (log-uniform in 4 KiB .. --max-kib KiB),
// is checked in full and freed, and a new life starts. Every realloc is timed alone; after it
// the kept prefix is checked (head word) and the new part gets its pattern (one word per page).
// Metric: ns_per_op = median ns per realloc; extras p99_ns, max_ns, mean_ns.
#include "common.h"

typedef struct {
  void *p;
  size_t size, limit;
  uint64_t tag;
  int vector; // growth mode of this life
} buf_t;

static void new_life(buf_t *b, rng_t *r, uint64_t max, uint64_t tag) {
  b->size = (size_t)rng_range(r, 16, 64);
  b->limit = (size_t)rng_logsize(r, 4096, max);
  b->tag = tag;
  b->vector = (int)rng_below(r, 2);
  b->p = xmalloc(b->size);
  pat_fill(b->p, b->size, tag, BENCH_PAGE);
}

int main(int argc, char **argv) {
  static const char *const known[] = {"buffers", "max-kib", NULL};
  bench_args a;
  bench_parse(&a, argc, argv, "realloc_heavy", known, 1);
  uint64_t nbuf = opt_u64(&a, "buffers", 64, 1, 1u << 20);
  uint64_t max = opt_u64(&a, "max-kib", 256, 4, 1u << 20) * 1024;
  uint64_t ops = scaled(&a, 1e6, 1);

  buf_t *bufs = calloc(nbuf, sizeof *bufs);
  if (!bufs) fatal("out of memory");
  rng_t r;
  rng_seed(&r, a.seed, 0);
  uint64_t tag = 0, checksum = 0, lives = 0, moved = 0;
  for (uint64_t i = 0; i < nbuf; i++) new_life(&bufs[i], &r, max, ++tag);
  lat_buf lat;
  lat_init(&lat, ops);

  uint64_t t0 = now_ns();
  for (uint64_t i = 0; i < ops; i++) {
    buf_t *b = &bufs[rng_below(&r, nbuf)];
    if (b->size >= b->limit) {
      checksum += pat_verify(b->p, b->size, b->tag, BENCH_PAGE, "realloc_heavy end of life");
      free(b->p);
      new_life(b, &r, max, ++tag);
      lives++;
    }
    size_t old = b->size;
    size_t n = b->vector ? old + old / 2 + (size_t)rng_below(&r, 64) : old + rng_range(&r, 1, 512);
    void *q0 = b->p;
    uint64_t c0 = now_ns();
    void *q = realloc(b->p, n);
    uint64_t c1 = now_ns();
    if (q == NULL) fatal("realloc(%p, %zu) returned NULL", q0, n);
    bench_escape(q);
    lat_add(&lat, c1 - c0);
    moved += q != q0;
    pat_regrow(q, q0, old, n, b->tag); // every buffer has >= 16 bytes: its prefix is checked
    b->p = q;
    b->size = n;
  }
  double secs = (double)(now_ns() - t0) * 1e-9;

  for (uint64_t i = 0; i < nbuf; i++) {
    checksum += pat_verify(bufs[i].p, bufs[i].size, bufs[i].tag, BENCH_PAGE, "final");
    free(bufs[i].p);
  }
  free(bufs);
  lat_stats s = lat_summary(&lat);
  lat_free(&lat);

  json_out j;
  json_begin(&j, &a, "realloc_heavy", "ns_per_op", (double)s.p50, ops, secs);
  json_lat(&j, &s);
  json_u64(&j, "buffers", nbuf);
  json_u64(&j, "max_kib", max / 1024);
  json_u64(&j, "lives", lives);
  json_u64(&j, "moved", moved);
  json_checksum(&j, checksum);
  json_end(&j);
  return 0;
}
