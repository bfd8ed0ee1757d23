// pairs — the bare malloc+free pair loop, for counting instructions (bench --instructions).
//
// Single thread. Each step allocates --batch blocks of --size bytes and frees them in reverse
// order; the loop around the calls is a handful of instructions (no content check, no timing
// inside), so callgrind's count per pair is the allocator's fast path plus that handful, the same
// for every allocator. With --batch 1 it is the tiny pair loop: malloc(size), free, repeat.
// Metric: ns_per_op, the mean ns per pair (timed over the whole loop; tiny_hot is the timed
// bench of this path).
#include "common.h"

#define MAX_BATCH 4096

int main(int argc, char **argv) {
  static const char *const known[] = {"size", "batch", NULL};
  bench_args a;
  bench_parse(&a, argc, argv, "pairs", known, 1);
  size_t size = opt_u64(&a, "size", 32, 1, 1u << 20);
  size_t batch = opt_u64(&a, "batch", 1, 1, MAX_BATCH);
  uint64_t steps = scaled(&a, 100e6, batch) / batch;
  void *v[MAX_BATCH];

  uint64_t t0 = now_ns();
  if (batch == 1) {
    // the tiny pair loop itself: call, escape, call, count (a NULL result is caught after it)
    void *any_null = (void *)1;
    for (uint64_t s = 0; s < steps; s++) {
      void *p = malloc(size);
      bench_escape(p);
      any_null = p == NULL ? NULL : any_null;
      free(p);
    }
    if (any_null == NULL) fatal("malloc(%zu) returned NULL", size);
  }
  for (uint64_t s = 0; batch > 1 && s < steps; s++) {
    for (size_t i = 0; i < batch; i++) {
      v[i] = malloc(size);
      if (v[i] == NULL) fatal("malloc(%zu) returned NULL", size);
      bench_escape(v[i]);
    }
    for (size_t i = batch; i-- > 0;) free(v[i]);
  }
  double secs = (double)(now_ns() - t0) * 1e-9;
  uint64_t ops = steps * batch;

  json_out j;
  json_begin(&j, &a, "pairs", "ns_per_op", secs * 1e9 / (double)ops, ops, secs);
  json_u64(&j, "size", size);
  json_u64(&j, "batch", batch);
  json_end(&j);
  return 0;
}
