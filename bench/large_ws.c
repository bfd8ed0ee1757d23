// large_ws — random replacement over a working set far larger than the caches.
//
// Single thread. Set-up (timed separately as build_s) fills --ws-mib MiB (default 256 × scale,
// at least 64) with small blocks of log-uniform sizes in [16, --max]. Then each op picks a
// random block anywhere in the working set, checks its head and tail (a cold line), frees it
// and allocates a replacement of a new random size, so both the program and the allocator's
// metadata for the freed block miss in the caches and TLB.
// Metric: ops_per_s of the replacement phase, one op = one free + one malloc.
#include "common.h"

typedef bench_block slot_t;

int main(int argc, char **argv) {
  static const char *const known[] = {"ws-mib", "max", NULL};
  bench_args a;
  bench_parse(&a, argc, argv, "large_ws", known, 1);
  uint64_t def_ws = (uint64_t)(256.0 * a.scale);
  if (def_ws < 64) def_ws = 64;
  uint64_t ws_mib = opt_u64(&a, "ws-mib", def_ws, 1, 1u << 20);
  uint64_t max = opt_u64(&a, "max", 1024, 16, 1u << 20);
  uint64_t ops = scaled(&a, 4e6, 1);
  uint64_t ws_bytes = ws_mib << 20;

  // Enough slots for the worst case (all blocks of 16 B) would be wasteful: grow as needed.
  size_t cap = (size_t)(ws_bytes / 128) + 1024, n = 0;
  slot_t *slots = calloc(cap, sizeof *slots);
  if (!slots) fatal("out of memory");
  rng_t r;
  rng_seed(&r, a.seed, 0);
  uint64_t bytes = 0, checksum = 0;

  uint64_t b0 = now_ns();
  while (bytes < ws_bytes) {
    if (n == cap) {
      cap *= 2;
      slots = realloc(slots, cap * sizeof *slots);
      if (!slots) fatal("out of memory");
    }
    slot_t *s = &slots[n];
    s->size = (uint32_t)rng_logsize(&r, 16, max);
    s->tag = (uint32_t)n;
    s->p = xmalloc(s->size);
    pat_fill(s->p, s->size, s->tag, PAT_HEADTAIL);
    bytes += s->size;
    n++;
  }
  double build = (double)(now_ns() - b0) * 1e-9;

  uint64_t t0 = now_ns();
  for (uint64_t i = 0; i < ops; i++) {
    slot_t *s = &slots[rng_below(&r, n)];
    checksum += pat_verify(s->p, s->size, s->tag, PAT_HEADTAIL, "large_ws");
    free(s->p);
    s->size = (uint32_t)rng_logsize(&r, 16, max);
    s->tag = (uint32_t)(n + i);
    s->p = xmalloc(s->size);
    pat_fill(s->p, s->size, s->tag, PAT_HEADTAIL);
  }
  double secs = (double)(now_ns() - t0) * 1e-9;

  for (size_t k = 0; k < n; k++) {
    checksum += pat_verify(slots[k].p, slots[k].size, slots[k].tag, PAT_HEADTAIL, "final");
    free(slots[k].p);
  }
  free(slots);

  json_out j;
  json_begin(&j, &a, "large_ws", "ops_per_s", (double)ops / secs, ops, secs);
  json_u64(&j, "ws_mib", ws_mib);
  json_u64(&j, "blocks", n);
  json_u64(&j, "max", max);
  json_f64(&j, "build_s", build);
  json_checksum(&j, checksum);
  json_end(&j);
  return 0;
}
