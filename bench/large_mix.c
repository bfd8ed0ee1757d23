// large_mix — large blocks of widely mixed sizes: where the mmap threshold of the large tier
// matters (which blocks are kept for reuse, which are mapped fresh and unmapped on free).
//
// Single thread. Set-up (timed separately as build_s) allocates a working set of --ws live
// blocks with sizes log-uniform in [--min, --max] bytes (default 256 KiB to 32 MiB). Then each
// op picks a random live block, checks its pattern on every page, frees it, allocates a
// replacement of a new random size and writes one word into each of its 4 KiB pages, so
// memory that is not resident costs its page faults.
// Metric: ops_per_s of the replacement phase, one op = one free + one malloc + the page writes.
#include "pieces.h"

int main(int argc, char **argv) {
  static const char *const known[] = {"ws", "min", "max", NULL};
  bench_args a;
  bench_parse(&a, argc, argv, "large_mix", known, 1);
  uint64_t ws = opt_u64(&a, "ws", 8, 1, 1024);
  uint64_t min = opt_u64(&a, "min", 256u << 10, 1, 1u << 31);
  uint64_t max = opt_u64(&a, "max", 32u << 20, 1, 1u << 31);
  if (min > max) {
    fprintf(stderr, "large_mix: --min (%" PRIu64 ") must not exceed --max (%" PRIu64 ")\n", min,
            max);
    return 2;
  }
  uint64_t ops = scaled(&a, 4000, 1);

  churn_t c;
  uint64_t bytes = 0;
  uint64_t b0 = now_ns();
  churn_init(&c, ws, min, max, a.seed, 0);
  double build = (double)(now_ns() - b0) * 1e-9;

  uint64_t t0 = now_ns();
  uint64_t checksum = churn_steps(&c, ops, &bytes);
  double secs = (double)(now_ns() - t0) * 1e-9;
  checksum += churn_end(&c);

  json_out j;
  json_begin(&j, &a, "large_mix", "ops_per_s", (double)ops / secs, ops, secs);
  json_u64(&j, "ws", ws);
  json_u64(&j, "min", min);
  json_u64(&j, "max", max);
  json_u64(&j, "mean_size", bytes / ops);
  json_f64(&j, "build_s", build);
  json_checksum(&j, checksum);
  json_end(&j);
  return 0;
}
