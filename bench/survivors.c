// survivors — fragmentation with long-lived survivors: how much memory a few old blocks pin.
//
// Single thread, in cycles. A cycle allocates about --cycle-kib KiB in blocks of its own size band
// (the bands take turns: 16–128 B, 128 B–1 KiB, 1–8 KiB, 8–64 KiB), writing every page. One block in --keep
// survives the cycle and joins a pool of long-lived blocks; the others are freed in random
// order at the end of the cycle. The pool keeps the survivors of the last --lifetime cycles: the
// oldest cycle's survivors are freed when a new cycle's join, so survivors live long, sit
// scattered among the freed blocks of their cycle and pin the pages and spans around them while
// later cycles want other sizes. After every cycle the program reads its resident set and the
// live bytes; it reports the largest and the final ratio of the two (frag_max, frag_end: the
// resident set per live byte, lower is better) besides the peak and final RSS.
// Metric: ops_per_s, one op = one malloc or one free; memory: rss_end_kib.
#include "common.h"

#define BANDS 4

typedef bench_block blk_t;

static const uint32_t BAND_LO[BANDS] = {16, 128, 1024, 8192};

int main(int argc, char **argv) {
  static const char *const known[] = {"cycle-kib", "keep", "lifetime", NULL};
  bench_args a;
  bench_parse(&a, argc, argv, "survivors", known, 1);
  uint64_t cycle_bytes = opt_u64(&a, "cycle-kib", 16384, 64, 1u << 24) * 1024;
  uint64_t keep = opt_u64(&a, "keep", 32, 2, 1u << 20);
  uint64_t lifetime = opt_u64(&a, "lifetime", 8, 1, 4096);
  uint64_t cycles = scaled(&a, 200, 1);

  // blocks of band [lo, 8 lo) average 4.5 lo bytes: a cycle of the smallest band has the most
  uint64_t most = cycle_bytes * 2 / (BAND_LO[0] * 9) + 1;
  blk_t *cur = calloc(most, sizeof *cur);
  // survivors of the last `lifetime` cycles, one row of twice the expected count per cycle
  uint64_t row = most / keep * 2 + 16;
  blk_t *pool = calloc(lifetime * row, sizeof *pool);
  uint64_t *row_n = calloc(lifetime, sizeof *row_n);
  if (!cur || !pool || !row_n) fatal("out of memory");
  rng_t r;
  rng_seed(&r, a.seed, 0);
  uint64_t ops = 0, checksum = 0, tag = 0, live = 0, rss_peak = 0, rss = 0;
  double frag_max = 0, frag = 0;

  uint64_t t0 = now_ns();
  for (uint64_t c = 0; c < cycles; c++) {
    // the survivors of cycle c - lifetime go
    blk_t *mine = &pool[(c % lifetime) * row];
    for (uint64_t i = 0; i < row_n[c % lifetime]; i++) {
      checksum += pat_verify(mine[i].p, mine[i].size, mine[i].tag, BENCH_PAGE, "survivor");
      live -= mine[i].size;
      free(mine[i].p);
      ops++;
    }
    row_n[c % lifetime] = 0;
    uint32_t lo = BAND_LO[c % BANDS];
    uint64_t burst = cycle_bytes * 2 / ((uint64_t)lo * 9) + 1;
    for (uint64_t i = 0; i < burst; i++) {
      blk_t *b = &cur[i];
      b->size = (uint32_t)rng_range(&r, lo, (uint64_t)lo * 8 - 1);
      b->tag = (uint32_t)++tag;
      b->p = xmalloc(b->size);
      pat_fill(b->p, b->size, b->tag, BENCH_PAGE);
      live += b->size;
      ops++;
    }
    // one in `keep` survives (scattered through the burst); the rest go in random order
    uint64_t left = burst;
    for (uint64_t i = 0; i < left;) {
      if (rng_below(&r, keep) == 0 && row_n[c % lifetime] < row) {
        mine[row_n[c % lifetime]++] = cur[i];
        cur[i] = cur[--left];
      } else {
        i++;
      }
    }
    for (; left > 0; left--) {
      uint64_t k = rng_below(&r, left);
      checksum += pat_verify(cur[k].p, cur[k].size, cur[k].tag, BENCH_PAGE, "burst");
      live -= cur[k].size;
      free(cur[k].p);
      cur[k] = cur[left - 1];
      ops++;
    }
    rss = bench_rss_kib();
    if (rss > rss_peak) rss_peak = rss;
    frag = live ? (double)rss * 1024.0 / (double)live : 0;
    if (frag > frag_max) frag_max = frag;
  }
  double secs = (double)(now_ns() - t0) * 1e-9;
  uint64_t live_end = live;

  for (uint64_t k = 0; k < lifetime; k++) {
    for (uint64_t i = 0; i < row_n[k]; i++) {
      blk_t *b = &pool[k * row + i];
      checksum += pat_verify(b->p, b->size, b->tag, BENCH_PAGE, "final");
      free(b->p);
    }
  }
  free(pool);
  free(row_n);
  free(cur);

  json_out j;
  json_begin(&j, &a, "survivors", "ops_per_s", (double)ops / secs, ops, secs);
  json_u64(&j, "cycles", cycles);
  json_u64(&j, "cycle_kib", cycle_bytes / 1024);
  json_u64(&j, "keep", keep);
  json_u64(&j, "lifetime", lifetime);
  json_u64(&j, "live_end_kib", live_end / 1024);
  json_u64(&j, "rss_peak_kib", rss_peak);
  json_u64(&j, "rss_end_kib", rss);
  json_f64(&j, "frag_max", frag_max);
  json_f64(&j, "frag_end", frag);
  json_checksum(&j, checksum);
  json_end(&j);
  return 0;
}
