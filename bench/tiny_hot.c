// tiny_hot — the hottest path: malloc/free of one small size in a tight loop.
//
// Single thread. Each batch allocates --batch blocks of --size bytes (writing a tag word into
// each), then frees them all (alternately in LIFO and FIFO order), so the thread cache is both
// drained and refilled. Timing is per chunk of batches; the value is the median over chunks of
// ns per malloc+free pair (robust against a descheduled chunk), "mean_ns" the overall mean.
// Metric: ns_per_op, one op = one malloc + one free.
#include "common.h"

int main(int argc, char **argv) {
  static const char *const known[] = {"size", "batch", NULL};
  bench_args a;
  bench_parse(&a, argc, argv, "tiny_hot", known, 1);
  size_t size = opt_u64(&a, "size", 16, 1, 4096);
  size_t batch = opt_u64(&a, "batch", 100, 1, 1u << 20);
  uint64_t pairs = scaled(&a, 100e6, batch);
  uint64_t nbatches = pairs / batch;
  const uint64_t chunk = 1000; // batches per timed chunk
  uint64_t nchunks = (nbatches + chunk - 1) / chunk;

  void **v = calloc(batch, sizeof *v);
  if (!v) fatal("out of memory");
  lat_buf lat;
  lat_init(&lat, nchunks);
  rng_t r;
  rng_seed(&r, a.seed, 0);
  uint64_t tag = rng_next(&r), checksum = 0;
  size_t w = size >= 8 ? 8 : size;

  uint64_t t0 = now_ns(), done = 0;
  while (done < nbatches) {
    uint64_t n = nbatches - done < chunk ? nbatches - done : chunk;
    uint64_t c0 = now_ns();
    for (uint64_t b = 0; b < n; b++) {
      uint64_t bt = tag + done + b;
      for (size_t i = 0; i < batch; i++) {
        void *p = malloc(size);
        if (p == NULL) fatal("malloc(%zu) returned NULL", size);
        memcpy(p, &bt, w);
        v[i] = p;
      }
      // Check one block of the batch (rotating), then free all.
      size_t k = (size_t)(b % batch);
      uint64_t got = 0;
      memcpy(&got, v[k], w);
      if (memcmp(&got, &bt, w) != 0) fatal("content mismatch: block %p of %zu bytes", v[k], size);
      checksum += got;
      bench_escape(v); // the tag writes must happen before the frees
      if (b & 1) {
        for (size_t i = 0; i < batch; i++) free(v[i]);
      } else {
        for (size_t i = batch; i-- > 0;) free(v[i]);
      }
    }
    uint64_t c1 = now_ns();
    lat_add(&lat, (c1 - c0) * 1000 / (n * batch)); // picoseconds per pair
    done += n;
  }
  double secs = (double)(now_ns() - t0) * 1e-9;
  uint64_t ops = nbatches * batch;
  lat_stats s = lat_summary(&lat);
  lat_free(&lat);
  free(v);

  json_out j;
  json_begin(&j, &a, "tiny_hot", "ns_per_op", (double)s.p50 / 1000.0, ops, secs);
  json_u64(&j, "size", size);
  json_u64(&j, "batch", batch);
  json_f64(&j, "mean_ns", secs * 1e9 / (double)ops);
  json_f64(&j, "p99_chunk_ns", (double)s.p99 / 1000.0);
  json_checksum(&j, checksum);
  json_end(&j);
  return 0;
}
