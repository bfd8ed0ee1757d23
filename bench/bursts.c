// bursts — a service that handles periodic bursts of work and idles in between.
//
// Each burst, --threads workers together allocate a working set of --mib MiB (at scale 1:
// 64 MiB; sizes log-uniform in [--min, --max], 1 KiB – 256 KiB), write every page, check and free
// it all. Then the process idles for a gap of --gap-ms plus up to --jitter-ms milliseconds (from
// the seed; 600–900 ms by default) while the main thread reads its RSS every 10 ms. Whether the
// allocator gives the memory back during the gap decides both what the process holds while it
// idles and how much the next burst faults back in. --scale sets the number of bursts (8 at
// scale 1, about 7 s).
// Metric: ops_per_s over the burst time only (the gaps excluded), one op = one malloc or one
// free. Extras: rss_mean_kib (the RSS over the whole run, time-weighted: the memory figure),
// rss_gap_end_kib (mean RSS when the next burst arrives), faults_per_burst (minor page faults),
// rss_peak_kib, busy_s and span_s.
#include "pieces.h"

#define BURSTS_AT_SCALE_1 8.0

int main(int argc, char **argv) {
  static const char *const known[] = {"mib", "min", "max", "gap-ms", "jitter-ms", NULL};
  bench_args a;
  bench_parse(&a, argc, argv, "bursts", known, 1);
  bursts_cfg c = {.threads = a.threads, .seed = a.seed};
  c.bytes = opt_u64(&a, "mib", 64, 1, 1u << 16) << 20;
  c.min = opt_u64(&a, "min", 1u << 10, 1, 1u << 30);
  c.max = opt_u64(&a, "max", 256u << 10, c.min, 1u << 30);
  c.gap_ms = opt_u64(&a, "gap-ms", 600, 0, 3600000);
  c.jitter_ms = opt_u64(&a, "jitter-ms", 300, 0, 3600000);
  uint64_t count = scaled(&a, BURSTS_AT_SCALE_1, 1);

  rng_t gaps;
  rng_seed(&gaps, a.seed, BURST_GAP_STREAM);
  bursts_stats s = {0};
  bursts_run(&c, count, &gaps, 0, &s);

  double secs = (double)s.busy_ns * 1e-9;
  json_out j;
  json_begin(&j, &a, "bursts", "ops_per_s", (double)s.ops / secs, s.ops, secs);
  json_u64(&j, "mib", c.bytes >> 20);
  json_u64(&j, "min", c.min);
  json_u64(&j, "max", c.max);
  json_u64(&j, "gap_ms", c.gap_ms);
  json_u64(&j, "jitter_ms", c.jitter_ms);
  json_u64(&j, "bursts", s.bursts);
  json_bursts(&j, "", &s);
  json_checksum(&j, s.checksum);
  json_end(&j);
  return 0;
}
