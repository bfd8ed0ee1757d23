// large_buffers — random large buffers, value-initialised.
//
// --slots slots (20), each holding a buffer. Every iteration (2000 × --scale) picks a random slot,
// checks and frees its buffer, and allocates a new one of a uniformly random size in
// [--min-mib, --max-mib] MiB (5..25) that it value-initialises, as `std::vector<char>(n)` or
// `bytearray(n)` does: every byte is written (zeroed), then a tag goes at the head and the tail
// for the check. The slots start empty, so the first iterations also fill them. An allocator that
// maps and faults in every buffer afresh pays for the pages on each iteration; one that keeps freed
// buffers for reuse pays in resident memory (see peak RSS).
// Metric: ops_per_s, one op = one iteration (free of the old buffer, malloc, initialisation).
#include "common.h"

typedef bench_block slot_t;

int main(int argc, char **argv) {
  static const char *const known[] = {"slots", "min-mib", "max-mib", NULL};
  bench_args a;
  bench_parse(&a, argc, argv, "large_buffers", known, 1);
  uint64_t nslots = opt_u64(&a, "slots", 20, 1, 1u << 16);
  uint64_t lo = opt_u64(&a, "min-mib", 5, 1, 2048) << 20;
  uint64_t hi = opt_u64(&a, "max-mib", 25, lo >> 20, 2048) << 20;
  uint64_t iters = scaled(&a, 2000, 1);
  rng_t r;
  rng_seed(&r, a.seed, 0);
  slot_t *slots = calloc(nslots, sizeof *slots);
  if (!slots) fatal("out of memory");
  uint64_t sum = 0, bytes = 0;

  uint64_t t0 = now_ns();
  for (uint64_t i = 0; i < iters; i++) {
    slot_t *s = &slots[rng_below(&r, nslots)];
    if (s->p) {
      sum += pat_verify(s->p, s->size, s->tag, PAT_HEADTAIL, "large_buffers");
      free(s->p);
    }
    s->size = (uint32_t)rng_range(&r, lo, hi);
    s->tag = (uint32_t)i;
    s->p = xmalloc(s->size);
    memset(s->p, 0, s->size); // value-initialisation: every byte
    pat_fill(s->p, s->size, s->tag, PAT_HEADTAIL);
    bytes += s->size;
  }
  uint64_t ns = now_ns() - t0;

  for (uint64_t i = 0; i < nslots; i++) {
    if (!slots[i].p) continue;
    sum += pat_verify(slots[i].p, slots[i].size, slots[i].tag, PAT_HEADTAIL, "final");
    free(slots[i].p);
  }
  free(slots);
  double secs = (double)ns * 1e-9;

  json_out j;
  json_begin(&j, &a, "large_buffers", "ops_per_s", (double)iters / secs, iters, secs);
  json_u64(&j, "slots", nslots);
  json_u64(&j, "min", lo);
  json_u64(&j, "max", hi);
  json_f64(&j, "gib_initialised", (double)bytes / (double)(1ull << 30));
  json_checksum(&j, sum);
  json_end(&j);
  return 0;
}
