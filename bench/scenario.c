// scenario — the design's scenario set: one large buffer per cycle, allocated, used, freed.
//
//   --kind json   64 KiB buffers  (a JSON document being built)
//   --kind mir    256 KiB buffers (a compiler's intermediate representation)
//   --kind vm     2 MiB buffers   (a VM heap / arena)
//   --kind mixed  each cycle picks one of the three at random
//
// A cycle = malloc + write one word into every page (so unfaulted memory costs what it costs) +
// check the first and last page + free. Single thread; every cycle is timed alone.
// Metric: ns_per_op = median ns per cycle; extras p99_ns, max_ns, mean_ns. The "bench" field is
// scenario_<kind>.
#include "common.h"

static const size_t KIND_SIZES[3] = {64u << 10, 256u << 10, 2u << 20};

int main(int argc, char **argv) {
  static const char *const known[] = {"kind", NULL};
  bench_args a;
  bench_parse(&a, argc, argv, "scenario", known, 1);
  const char *kind = opt_str(&a, "kind", "json");
  int k;
  double base; // cycles at scale 1
  if (strcmp(kind, "json") == 0) {
    k = 0;
    base = 1e7;
  } else if (strcmp(kind, "mir") == 0) {
    k = 1;
    base = 3e6;
  } else if (strcmp(kind, "vm") == 0) {
    k = 2;
    base = 3e5;
  } else if (strcmp(kind, "mixed") == 0) {
    k = -1;
    base = 1e6;
  } else {
    fprintf(stderr, "scenario: --kind must be json, mir, vm or mixed, got '%s'\n", kind);
    return 2;
  }
  char name[32];
  snprintf(name, sizeof name, "scenario_%s", kind);
  bench_name = name;
  uint64_t cycles = scaled(&a, base, 1);

  rng_t r;
  rng_seed(&r, a.seed, 0);
  lat_buf lat;
  lat_init(&lat, cycles);
  uint64_t checksum = 0, bytes = 0;

  uint64_t t0 = now_ns();
  for (uint64_t i = 0; i < cycles; i++) {
    size_t size = KIND_SIZES[k >= 0 ? k : (int)rng_below(&r, 3)];
    uint64_t c0 = now_ns();
    unsigned char *p = xmalloc(size);
    for (size_t off = 0; off < size; off += BENCH_PAGE) memcpy(p + off, &i, 8);
    uint64_t x, y;
    memcpy(&x, p, 8);
    memcpy(&y, p + (size - BENCH_PAGE), 8);
    bench_escape(p); // the page writes must happen: no dead-store elimination before free
    free(p);
    uint64_t c1 = now_ns();
    if (x != i || y != i) fatal("content mismatch in cycle %" PRIu64 " (%zu bytes)", i, size);
    checksum += x + y;
    bytes += size;
    lat_add(&lat, c1 - c0);
  }
  double secs = (double)(now_ns() - t0) * 1e-9;
  lat_stats s = lat_summary(&lat);
  lat_free(&lat);

  json_out j;
  json_begin(&j, &a, name, "ns_per_op", (double)s.p50, cycles, secs);
  json_lat(&j, &s);
  json_str(&j, "kind", kind);
  json_u64(&j, "mib_total", bytes >> 20);
  json_checksum(&j, checksum);
  json_end(&j);
  return 0;
}
