// live_heads — the first words of many live buffers, read and written in turn.
//
// Single thread. Allocates --count buffers (default 64) of log-uniform sizes in [--min, --max]
// (16 KiB – 4 MiB) and keeps them live; then, in rounds, reads and increments the first word of
// each in turn, as a program reads and updates its buffers' headers (a length, a state, a
// reference count). Nothing else is touched, so what decides the speed is where the allocator
// puts each buffer in its page: buffers that all start at the same offset into a page put their
// first lines in one L1 set, whose few ways they then share (each access an L2 access or worse),
// where buffers at varying offsets spread over the sets (jemalloc's cache-oblivious placement of
// its large blocks). At the end every buffer's head is checked.
// Metric: ns_per_op, the mean ns per access (one op = one read and one write of a first word).
#include "common.h"

int main(int argc, char **argv) {
  static const char *const known[] = {"count", "min", "max", NULL};
  bench_args a;
  bench_parse(&a, argc, argv, "live_heads", known, 1);
  uint64_t count = opt_u64(&a, "count", 64, 1, 1u << 16);
  uint64_t min = opt_u64(&a, "min", 16u << 10, 16, 1u << 30);
  uint64_t max = opt_u64(&a, "max", 4u << 20, min, 1u << 30);
  uint64_t rounds = scaled(&a, 1e8 / (double)count, 1);

  uint64_t **heads = calloc(count, sizeof *heads);
  if (!heads) fatal("out of memory");
  rng_t r;
  rng_seed(&r, a.seed, 0);
  uint64_t offsets = 0; // the line offsets into a page the buffers start at, a bit each
  for (uint64_t i = 0; i < count; i++) {
    size_t size = (size_t)rng_logsize(&r, min, max);
    heads[i] = xmalloc(size);
    heads[i][0] = i;
    offsets |= 1ull << (((uintptr_t)heads[i] & (BENCH_PAGE - 1)) / 64);
  }

  uint64_t t0 = now_ns();
  for (uint64_t k = 0; k < rounds; k++) {
    for (uint64_t i = 0; i < count; i++) heads[i][0] += 1;
    bench_escape(heads);
  }
  double secs = (double)(now_ns() - t0) * 1e-9;

  uint64_t checksum = 0;
  for (uint64_t i = 0; i < count; i++) {
    if (heads[i][0] != i + rounds) fatal("buffer %" PRIu64 " lost its head word", i);
    checksum += heads[i][0];
    free(heads[i]);
  }
  free(heads);

  uint64_t ops = rounds * count;
  json_out j;
  json_begin(&j, &a, "live_heads", "ns_per_op", secs * 1e9 / (double)ops, ops, secs);
  json_u64(&j, "count", count);
  json_u64(&j, "lines_used", (uint64_t)__builtin_popcountll(offsets));
  json_checksum(&j, checksum);
  json_end(&j);
  return 0;
}
