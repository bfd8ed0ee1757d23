// random_mixed — random malloc/free over a small working set of mixed small sizes.
//
// Single thread. --ws slots (256 or 1024 in the suite). Each op picks a random slot: a full
// slot is checked and freed, an empty one gets a new block of a random size up to 1 KiB
// (60 % 8–128 B, 30 % 129–512 B, 10 % 513–1024 B). The working set hovers around half full
// and the size mix defeats any single-class fast path.
// Metric: ops_per_s, one op = one malloc or one free.
#include "common.h"

typedef bench_block slot_t;

static inline uint32_t pick_size(rng_t *r) {
  uint64_t x = rng_below(r, 10);
  if (x < 6) return (uint32_t)rng_range(r, 8, 128);
  if (x < 9) return (uint32_t)rng_range(r, 129, 512);
  return (uint32_t)rng_range(r, 513, 1024);
}

int main(int argc, char **argv) {
  static const char *const known[] = {"ws", NULL};
  bench_args a;
  bench_parse(&a, argc, argv, "random_mixed", known, 1);
  uint64_t ws = opt_u64(&a, "ws", 256, 1, 1u << 24);
  uint64_t ops = scaled(&a, 60e6, 1);

  slot_t *slots = calloc(ws, sizeof *slots);
  if (!slots) fatal("out of memory");
  rng_t r;
  rng_seed(&r, a.seed, 0);
  uint64_t checksum = 0, mallocs = 0;

  uint64_t t0 = now_ns();
  for (uint64_t i = 0; i < ops; i++) {
    slot_t *s = &slots[rng_below(&r, ws)];
    if (s->p) {
      checksum += pat_verify(s->p, s->size, s->tag, PAT_HEADTAIL, "random_mixed");
      free(s->p);
      s->p = NULL;
    } else {
      s->size = pick_size(&r);
      s->tag = (uint32_t)i;
      s->p = xmalloc(s->size);
      pat_fill(s->p, s->size, s->tag, PAT_HEADTAIL);
      mallocs++;
    }
  }
  double secs = (double)(now_ns() - t0) * 1e-9;

  for (uint64_t k = 0; k < ws; k++) {
    if (slots[k].p) {
      checksum += pat_verify(slots[k].p, slots[k].size, slots[k].tag, PAT_HEADTAIL, "final");
      free(slots[k].p);
    }
  }
  free(slots);

  json_out j;
  json_begin(&j, &a, "random_mixed", "ops_per_s", (double)ops / secs, ops, secs);
  json_u64(&j, "ws", ws);
  json_u64(&j, "mallocs", mallocs);
  json_checksum(&j, checksum);
  json_end(&j);
  return 0;
}
