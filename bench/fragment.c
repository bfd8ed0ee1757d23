// fragment — fragmentation stress: mixed lifetimes and drifting sizes leave holes.
//
// Single thread, in rounds. Each round allocates --burst blocks: half log-uniform in
// [16, --max], half from the round's own size band [b, 2b) with b = 16 << (round % 10), so
// consecutive rounds want different sizes. One block in 8 is long-lived: it goes into a pool of
// --long slots, replacing (freeing) a random older one once the pool is full; the rest are
// short-lived and are freed in random order at the end of the round. The long-lived survivors
// sit between the freed short-lived blocks, so every round leaves holes that the next round's
// sizes fit badly. Peak and final live bytes are reported; the runner's maxrss against
// peak_live_kib shows how much memory the holes cost.
// Metric: ops_per_s, one op = one malloc or one free.
#include "common.h"

typedef bench_block obj_t;

static uint64_t live, peak;

static inline void obj_new(obj_t *o, size_t size, uint32_t tag) {
  o->size = (uint32_t)size;
  o->tag = tag;
  o->p = xmalloc(size);
  pat_fill(o->p, size, tag, BENCH_PAGE);
  live += size;
  if (live > peak) peak = live;
}

static inline uint64_t obj_del(obj_t *o) {
  uint64_t s = pat_verify(o->p, o->size, o->tag, BENCH_PAGE, "fragment");
  free(o->p);
  live -= o->size;
  o->p = NULL;
  return s;
}

int main(int argc, char **argv) {
  static const char *const known[] = {"burst", "long", "max", NULL};
  bench_args a;
  bench_parse(&a, argc, argv, "fragment", known, 1);
  uint64_t burst = opt_u64(&a, "burst", 20000, 1, 1u << 24);
  uint64_t nlong = opt_u64(&a, "long", 20000, 1, 1u << 24);
  uint64_t max = opt_u64(&a, "max", 16384, 32, 1u << 26);
  uint64_t rounds = scaled(&a, 120, 1);

  obj_t *pool = calloc(nlong, sizeof *pool);
  obj_t *shortv = calloc(burst, sizeof *shortv);
  if (!pool || !shortv) fatal("out of memory");
  rng_t r;
  rng_seed(&r, a.seed, 0);
  uint64_t ops = 0, checksum = 0, tag = 0, pool_used = 0;

  uint64_t t0 = now_ns();
  for (uint64_t round = 0; round < rounds; round++) {
    uint64_t band = 16u << (round % 10), nshort = 0;
    for (uint64_t i = 0; i < burst; i++) {
      size_t size = (i & 1) ? (size_t)rng_logsize(&r, 16, max)
                            : (size_t)rng_range(&r, band, band * 2 - 1);
      if (rng_below(&r, 8) == 0) {
        obj_t *o;
        if (pool_used < nlong) {
          o = &pool[pool_used++];
        } else {
          o = &pool[rng_below(&r, nlong)];
          checksum += obj_del(o);
          ops++;
        }
        obj_new(o, size, (uint32_t)++tag);
      } else {
        obj_new(&shortv[nshort++], size, (uint32_t)++tag);
      }
      ops++;
    }
    // free the short-lived blocks in random order (Fisher-Yates picks)
    for (uint64_t left = nshort; left > 0; left--) {
      uint64_t k = rng_below(&r, left);
      checksum += obj_del(&shortv[k]);
      shortv[k] = shortv[left - 1];
      ops++;
    }
  }
  double secs = (double)(now_ns() - t0) * 1e-9;
  uint64_t end_live = live;

  for (uint64_t i = 0; i < pool_used; i++) checksum += obj_del(&pool[i]);
  free(pool);
  free(shortv);

  json_out j;
  json_begin(&j, &a, "fragment", "ops_per_s", (double)ops / secs, ops, secs);
  json_u64(&j, "rounds", rounds);
  json_u64(&j, "burst", burst);
  json_u64(&j, "long", nlong);
  json_u64(&j, "max", max);
  json_u64(&j, "peak_live_kib", peak / 1024);
  json_u64(&j, "end_live_kib", end_live / 1024);
  json_checksum(&j, checksum);
  json_end(&j);
  return 0;
}
