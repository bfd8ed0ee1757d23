// scenario — the design's scenario set: one large buffer per cycle, allocated, used, freed.
//
//   --kind json   64 KiB buffers  (a JSON document being built)
//   --kind mir    256 KiB buffers (a compiler's intermediate representation)
//   --kind vm     2 MiB buffers   (a VM heap / arena)
//   --kind mixed  each cycle picks one of the three at random
//
// A cycle = malloc + write one word into every page (so unfaulted memory costs what it costs) +
// check the first and last page + free. Single thread. Cycles are timed in chunks of at least
// CHUNK_BYTES of buffers (64 json cycles, 16 mir, 2 vm), not one by one: a clock read cost about
// as much as a json cycle, and more when the buffer starts at a page boundary (a loop writing one
// word per page of a fixed 64 KiB buffer with a clock read per cycle: 94-107 ns a cycle at page
// offset 0, 57-60 ns at 2 KiB; without the clock reads 35-53 ns at either).
// Metric: ns_per_op = the median over chunks of ns per cycle; extras p99_chunk_ns (the 99th
// percentile over chunks), mean_ns, chunks. The "bench" field is scenario_<kind>.
#include "common.h"

static const size_t KIND_SIZES[3] = {64u << 10, 256u << 10, 2u << 20};
#define CHUNK_BYTES (4u << 20) // buffers per timed chunk: a few microseconds of cycles

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

  uint64_t t0 = now_ns(), c0 = t0, chunk_cycles = 0, chunk_bytes = 0;
  for (uint64_t i = 0; i < cycles; i++) {
    size_t size = KIND_SIZES[k >= 0 ? k : (int)rng_below(&r, 3)];
    unsigned char *p = xmalloc(size);
    for (size_t off = 0; off < size; off += BENCH_PAGE) memcpy(p + off, &i, 8);
    uint64_t x, y;
    memcpy(&x, p, 8);
    memcpy(&y, p + (size - BENCH_PAGE), 8);
    bench_escape(p); // the page writes must happen: no dead-store elimination before free
    free(p);
    if (x != i || y != i) fatal("content mismatch in cycle %" PRIu64 " (%zu bytes)", i, size);
    checksum += x + y;
    bytes += size;
    chunk_cycles++;
    chunk_bytes += size;
    if (chunk_bytes >= CHUNK_BYTES || i + 1 == cycles) {
      uint64_t c1 = now_ns();
      lat_add(&lat, (c1 - c0) * 1000 / chunk_cycles); // picoseconds per cycle
      c0 = c1;
      chunk_cycles = chunk_bytes = 0;
    }
  }
  double secs = (double)(now_ns() - t0) * 1e-9;
  lat_stats s = lat_summary(&lat);
  size_t chunks = lat.n;
  lat_free(&lat);

  json_out j;
  json_begin(&j, &a, name, "ns_per_op", (double)s.p50 / 1000.0, cycles, secs);
  json_f64(&j, "p99_chunk_ns", (double)s.p99 / 1000.0);
  json_f64(&j, "mean_ns", secs * 1e9 / (double)cycles);
  json_u64(&j, "chunks", chunks);
  json_str(&j, "kind", kind);
  json_u64(&j, "mib_total", bytes >> 20);
  json_checksum(&j, checksum);
  json_end(&j);
  return 0;
}
