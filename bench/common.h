// Shared helpers of the hakmem workload programs (bench/*.c). Header-only: every program is one
// translation unit that includes this file, so nothing here is duplicated between programs.
//
//   args     bench_parse(): --seed S --threads N --scale X plus each program's named args
//            (--name value or --name=value); opt_u64 / opt_f64 / opt_str read them.
//   random   xoshiro256** seeded through splitmix64 from (seed, stream): the op sequence of a
//            program is a pure function of its arguments.
//   time     now_ns(): CLOCK_MONOTONIC in nanoseconds.
//   content  pat_fill / pat_verify: a tag-derived pattern at the head, the tail and optionally
//            every stride bytes (e.g. every page); a mismatch is fatal (exit 1, stderr line).
//   latency  lat_buf / lat_summary: exact p50/p99/max/mean in little resident memory (mmap'ed
//            histogram + overflow; nothing from the allocator under test).
//   output   json_*: the one JSON result line on stdout.
//   threads  run_threads / barriers.
//   memory   bench_rss_kib(): the process's resident set, for programs that report it by phase.
//
// Only libc and pthreads. C11 + _GNU_SOURCE, -Wall -Wextra -Werror clean under zig cc (clang);
// also C++17 under g++ (the C++ workloads include it), hence the explicit casts from void *.
#ifndef HAKMEM_BENCH_COMMON_H
#define HAKMEM_BENCH_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define BENCH_UNUSED __attribute__((unused))
#define BENCH_NORETURN __attribute__((noreturn))
#define BENCH_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define BENCH_PAGE 4096u

// Set by bench_parse: the name used in messages and in the JSON "bench" field by default.
static const char *bench_name BENCH_UNUSED = "bench";
// Writes here keep results observable, so the compiler cannot drop the work producing them.
static volatile uint64_t bench_sink BENCH_UNUSED;

// ---------------------------------------------------------------------------------------------
// failures

static BENCH_NORETURN BENCH_PRINTF(1, 2) void fatal(const char *fmt, ...) {
  va_list ap;
  fflush(stdout);
  fprintf(stderr, "%s: ", bench_name);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(1);
}

// Makes a pointer escape: the compiler must assume the allocation is used, so it cannot fold a
// malloc/free pair away (clang does that for unused allocations).
static inline void bench_escape(const void *p) {
  __asm__ volatile("" : : "r"(p) : "memory");
}

static inline void *xmalloc(size_t n) {
  void *p = malloc(n);
  if (p == NULL) fatal("malloc(%zu) returned NULL", n);
  bench_escape(p);
  return p;
}

static inline void *xrealloc(void *old, size_t n) {
  void *p = realloc(old, n);
  if (p == NULL) fatal("realloc(%p, %zu) returned NULL", old, n);
  bench_escape(p);
  return p;
}

// ---------------------------------------------------------------------------------------------
// time

static inline uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

// ---------------------------------------------------------------------------------------------
// random numbers: splitmix64 (seeding, hashing) and xoshiro256** (streams)

static inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

typedef struct {
  uint64_t s[4];
} rng_t;

// Independent stream `stream` of seed `seed` (e.g. one per thread).
static inline void rng_seed(rng_t *r, uint64_t seed, uint64_t stream) {
  uint64_t x = seed ^ mix64(stream + 0x632be59bd9b4e019ull);
  for (int i = 0; i < 4; i++) {
    x += 0x9e3779b97f4a7c15ull;
    r->s[i] = mix64(x);
  }
  if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0) r->s[0] = 1;
}

static inline uint64_t rng_rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

static inline uint64_t rng_next(rng_t *r) {
  uint64_t *s = r->s;
  uint64_t result = rng_rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rng_rotl(s[3], 45);
  return result;
}

// Uniform in [0, n) (multiply-shift; the tiny bias is irrelevant here). n > 0.
static inline uint64_t rng_below(rng_t *r, uint64_t n) {
  return (uint64_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}

// Uniform in [lo, hi].
static inline uint64_t rng_range(rng_t *r, uint64_t lo, uint64_t hi) {
  return lo + rng_below(r, hi - lo + 1);
}

// Log-uniform-ish in [lo, hi]: a power-of-two band picked uniformly, then uniform inside it, so
// small sizes are as common per band as large ones (as in real programs). 1 <= lo <= hi.
static inline uint64_t rng_logsize(rng_t *r, uint64_t lo, uint64_t hi) {
  int blo = 63 - __builtin_clzll(lo), bhi = 63 - __builtin_clzll(hi);
  int b = blo + (int)rng_below(r, (uint64_t)(bhi - blo + 1));
  uint64_t a = (uint64_t)1 << b, z = (a << 1) - 1;
  if (a < lo) a = lo;
  if (z > hi) z = hi;
  return rng_range(r, a, z);
}

// ---------------------------------------------------------------------------------------------
// arguments

#define BENCH_MAX_OPTS 16

typedef struct {
  uint64_t seed;
  int threads;
  double scale;
  int nopts;
  const char *names[BENCH_MAX_OPTS];
  const char *values[BENCH_MAX_OPTS];
} bench_args;

static BENCH_NORETURN void bench_usage(const char *const *known, int code) {
  FILE *f = code == 0 ? stdout : stderr;
  fprintf(f, "usage: %s [--seed S] [--threads N] [--scale X]", bench_name);
  for (const char *const *k = known; k && *k; k++) fprintf(f, " [--%s V]", *k);
  fprintf(f, "\n");
  exit(code);
}

BENCH_UNUSED static uint64_t parse_u64(const char *name, const char *s) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 0);
  if (errno != 0 || end == s || *end != '\0' || s[0] == '-') {
    fprintf(stderr, "%s: --%s expects a non-negative integer, got '%s'\n", bench_name, name, s);
    exit(2);
  }
  return (uint64_t)v;
}

BENCH_UNUSED static double parse_f64(const char *name, const char *s) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v <= 0) {
    fprintf(stderr, "%s: --%s expects a positive number, got '%s'\n", bench_name, name, s);
    exit(2);
  }
  return v;
}

// Parses argv. `known` lists the program's own option names (without "--"), NULL-terminated.
// Unknown options are an error (exit 2).
BENCH_UNUSED static void bench_parse(bench_args *a, int argc, char **argv, const char *name,
                                     const char *const *known, int default_threads) {
  bench_name = name;
  memset(a, 0, sizeof *a);
  a->seed = 42;
  a->threads = default_threads;
  a->scale = 1.0;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) bench_usage(known, 0);
    if (strncmp(arg, "--", 2) != 0) {
      fprintf(stderr, "%s: unexpected argument '%s'\n", bench_name, arg);
      bench_usage(known, 2);
    }
    const char *key = arg + 2, *eq = strchr(key, '=');
    size_t klen = eq ? (size_t)(eq - key) : strlen(key);
    const char *val;
    if (eq) {
      val = eq + 1;
    } else {
      if (i + 1 >= argc) {
        fprintf(stderr, "%s: %s needs a value\n", bench_name, arg);
        exit(2);
      }
      val = argv[++i];
    }
    if (klen == 4 && strncmp(key, "seed", 4) == 0) {
      a->seed = parse_u64("seed", val);
    } else if (klen == 7 && strncmp(key, "threads", 7) == 0) {
      uint64_t t = parse_u64("threads", val);
      if (t < 1 || t > 1024) {
        fprintf(stderr, "%s: --threads must be in 1..1024\n", bench_name);
        exit(2);
      }
      a->threads = (int)t;
    } else if (klen == 5 && strncmp(key, "scale", 5) == 0) {
      a->scale = parse_f64("scale", val);
    } else {
      const char *const *k = known;
      for (; k && *k; k++) {
        if (strlen(*k) == klen && strncmp(*k, key, klen) == 0) break;
      }
      if (!k || !*k) {
        fprintf(stderr, "%s: unknown option '--%.*s'\n", bench_name, (int)klen, key);
        bench_usage(known, 2);
      }
      if (a->nopts == BENCH_MAX_OPTS) {
        fprintf(stderr, "%s: too many options\n", bench_name);
        exit(2);
      }
      a->names[a->nopts] = *k;
      a->values[a->nopts] = val;
      a->nopts++;
    }
  }
}

static const char *opt_str(const bench_args *a, const char *name, const char *def) {
  for (int i = a->nopts - 1; i >= 0; i--) {
    if (strcmp(a->names[i], name) == 0) return a->values[i];
  }
  return def;
}

// Integer option in [lo, hi] (exit 2 otherwise).
BENCH_UNUSED static uint64_t opt_u64(const bench_args *a, const char *name, uint64_t def,
                                     uint64_t lo, uint64_t hi) {
  const char *s = opt_str(a, name, NULL);
  uint64_t v = s ? parse_u64(name, s) : def;
  if (v < lo || v > hi) {
    fprintf(stderr, "%s: --%s must be in %" PRIu64 "..%" PRIu64 ", got %" PRIu64 "\n",
            bench_name, name, lo, hi, v);
    exit(2);
  }
  return v;
}

BENCH_UNUSED static double opt_f64(const bench_args *a, const char *name, double def) {
  const char *s = opt_str(a, name, NULL);
  return s ? parse_f64(name, s) : def;
}

// base * scale, at least `min` (work counts).
static inline uint64_t scaled(const bench_args *a, double base, uint64_t min) {
  double v = base * a->scale;
  if (v < (double)min) return min;
  if (v > 1e18) return (uint64_t)1e18;
  return (uint64_t)v;
}

// ---------------------------------------------------------------------------------------------
// A live block of a workload: its pointer, its requested size and the tag its pattern derives
// from. Programs alias it under the name their design uses (slot_t, obj_t, blk_t, item_t).
typedef struct {
  void *p;
  uint32_t size;
  uint32_t tag;
} bench_block;

// content pattern: 8-byte words derived from (tag, offset) at offsets 0, stride, 2*stride, …
// (stride 0 = head only) plus the last 8 bytes when they do not overlap. Cheap enough for every
// block; catches blocks handed out twice, overlapping blocks and lost realloc contents.

#define PAT_HEADTAIL 0

static inline uint64_t pat_word(uint64_t tag, size_t off) {
  return mix64(tag ^ ((uint64_t)off << 40 | off));
}

static inline void pat_put(unsigned char *p, size_t n, size_t off, uint64_t v) {
  if (n - off >= 8) {
    memcpy(p + off, &v, 8);
  } else {
    for (size_t i = 0; off + i < n; i++) p[off + i] = (unsigned char)(v >> (8 * i));
  }
}

static inline int pat_ok(const unsigned char *p, size_t n, size_t off, uint64_t v) {
  if (n - off >= 8) {
    uint64_t w;
    memcpy(&w, p + off, 8);
    return w == v;
  }
  for (size_t i = 0; off + i < n; i++) {
    if (p[off + i] != (unsigned char)(v >> (8 * i))) return 0;
  }
  return 1;
}

// Offset of the tail word, or SIZE_MAX when it would overlap the strided words.
static inline size_t pat_tail(size_t n, size_t stride) {
  if (n < 16) return SIZE_MAX;
  size_t last = stride ? (n - 1) / stride * stride : 0;
  return n - 8 >= last + 8 ? n - 8 : SIZE_MAX;
}

static inline void pat_fill(void *ptr, size_t n, uint64_t tag, size_t stride) {
  unsigned char *p = (unsigned char *)ptr;
  if (n == 0) return;
  pat_put(p, n, 0, pat_word(tag, 0));
  if (stride) {
    for (size_t off = stride; off < n; off += stride) pat_put(p, n, off, pat_word(tag, off));
  }
  size_t t = pat_tail(n, stride);
  if (t != SIZE_MAX) pat_put(p, n, t, pat_word(tag, t));
}

// Verifies what pat_fill(ptr, n, tag, stride) wrote; fatal on mismatch. Returns a checksum word.
static inline uint64_t pat_verify(const void *ptr, size_t n, uint64_t tag, size_t stride,
                                  const char *what) {
  const unsigned char *p = (const unsigned char *)ptr;
  if (n == 0) return 0;
  size_t bad = SIZE_MAX;
  if (!pat_ok(p, n, 0, pat_word(tag, 0))) bad = 0;
  if (stride && bad == SIZE_MAX) {
    for (size_t off = stride; off < n; off += stride) {
      if (!pat_ok(p, n, off, pat_word(tag, off))) {
        bad = off;
        break;
      }
    }
  }
  size_t t = pat_tail(n, stride);
  if (bad == SIZE_MAX && t != SIZE_MAX && !pat_ok(p, n, t, pat_word(tag, t))) bad = t;
  if (bad != SIZE_MAX) {
    fatal("content mismatch (%s): block %p of %zu bytes, offset %zu, tag %#" PRIx64, what, ptr,
          n, bad, tag);
  }
  return pat_word(tag, n);
}

// After a block filled by pat_fill(ptr, oldn, tag, stride) grew to newn bytes with its first
// oldn bytes kept (realloc), makes it what pat_fill(ptr, newn, tag, stride) would have written,
// touching only the words that differ: those reaching past oldn, and the new tail.
BENCH_UNUSED static void pat_extend(void *ptr, size_t oldn, size_t newn, uint64_t tag,
                                    size_t stride) {
  unsigned char *p = (unsigned char *)ptr;
  if (newn <= oldn) return;
  if (oldn < 8) pat_put(p, newn, 0, pat_word(tag, 0));
  if (stride) {
    size_t from = oldn > 7 ? oldn - 7 : 0; // first offset whose word reaches past oldn
    size_t off = (from + stride - 1) / stride * stride;
    if (off == 0) off = stride;
    for (; off < newn; off += stride) pat_put(p, newn, off, pat_word(tag, off));
  }
  size_t t = pat_tail(newn, stride);
  if (t != SIZE_MAX) pat_put(p, newn, t, pat_word(tag, t));
}

// After realloc(q0, n) = q of a block that pat_fill(…, old, tag, BENCH_PAGE) described: checks
// what realloc had to keep (the head word and the old tail word; nothing when old < 8), fatal on a
// mismatch, then writes the pattern of the n-byte block (pat_extend).
BENCH_UNUSED static void pat_regrow(void *q, const void *q0, size_t old, size_t n, uint64_t tag) {
  size_t t = pat_tail(old, BENCH_PAGE);
  if (old >= 8 && (!pat_ok((const unsigned char *)q, n, 0, pat_word(tag, 0)) ||
                   (t != SIZE_MAX && !pat_ok((const unsigned char *)q, n, t, pat_word(tag, t))))) {
    fatal("content mismatch after realloc(%p, %zu -> %zu) = %p", q0, old, n, q);
  }
  pat_extend(q, old, n, tag, BENCH_PAGE);
}

// ---------------------------------------------------------------------------------------------
// latency samples: exact nearest-rank percentiles in little resident memory, so the program's
// maxrss is the allocator's, not the sample store's. Values below LAT_HIST go into a histogram
// of 1-unit buckets (only the touched pages become resident); larger ones into an overflow array
// reserved for every sample but touched only as used. Both are mmap'ed: they neither come from
// nor disturb the allocator under test.

#define LAT_HIST (1u << 16)

typedef struct {
  uint32_t *hist;
  uint64_t *over;
  size_t n, nover, cap;
  uint64_t max;
  double sum;
} lat_buf;

static void *lat_map(size_t bytes) {
  void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  if (p == MAP_FAILED) fatal("mmap of %zu bytes for latency samples failed", bytes);
  return p;
}

// Room for `cap` samples (more are ignored).
BENCH_UNUSED static void lat_init(lat_buf *b, size_t cap) {
  memset(b, 0, sizeof *b);
  b->cap = cap ? cap : 1;
  b->hist = (uint32_t *)lat_map(LAT_HIST * sizeof(uint32_t));
  b->over = (uint64_t *)lat_map(b->cap * sizeof(uint64_t));
}

static inline void lat_add(lat_buf *b, uint64_t v) {
  if (b->n == b->cap) return;
  b->n++;
  b->sum += (double)v;
  if (v > b->max) b->max = v;
  if (v < LAT_HIST) b->hist[v]++;
  else b->over[b->nover++] = v;
}

BENCH_UNUSED static void lat_free(lat_buf *b) {
  munmap(b->hist, LAT_HIST * sizeof(uint32_t));
  munmap(b->over, b->cap * sizeof(uint64_t));
  memset(b, 0, sizeof *b);
}

// k-th smallest of a[0..n) (0-based), in place (Hoare quickselect, median-of-3 pivot).
BENCH_UNUSED static uint64_t u64_select(uint64_t *a, size_t n, size_t k) {
  size_t lo = 0, hi = n - 1;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    uint64_t x = a[lo], y = a[mid], z = a[hi];
    uint64_t pivot = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
    size_t i = lo, j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        uint64_t t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        if (j == 0) break;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k];
  }
  return a[k];
}

// k-th smallest sample (0-based). May reorder the overflow array.
BENCH_UNUSED static uint64_t lat_kth(lat_buf *b, size_t k) {
  size_t seen = 0;
  if (b->n - b->nover > k) {
    for (uint32_t v = 0; v < LAT_HIST; v++) {
      seen += b->hist[v];
      if (seen > k) return v;
    }
  }
  return u64_select(b->over, b->nover, k - (b->n - b->nover));
}

typedef struct {
  uint64_t p50, p99, max;
  double mean;
} lat_stats;

// Nearest-rank percentiles (the smallest sample with at least p of the samples <= it).
BENCH_UNUSED static lat_stats lat_summary(lat_buf *b) {
  lat_stats s = {0, 0, 0, 0.0};
  size_t n = b->n;
  if (n == 0) return s;
  s.max = b->max;
  s.mean = b->sum / (double)n;
  s.p50 = lat_kth(b, (n + 1) / 2 - 1);         // ceil(0.50 n) - 1
  s.p99 = lat_kth(b, (99 * n + 99) / 100 - 1); // ceil(0.99 n) - 1
  return s;
}

// ---------------------------------------------------------------------------------------------
// JSON result line: {"bench":..,"metric":..,"value":..,"ops":..,"seconds":.., extras…}

typedef struct {
  char buf[4096];
  size_t len;
} json_out;

static BENCH_PRINTF(2, 3) void json_raw(json_out *j, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int w = vsnprintf(j->buf + j->len, sizeof j->buf - j->len, fmt, ap);
  va_end(ap);
  if (w < 0 || (size_t)w >= sizeof j->buf - j->len) fatal("JSON result line too long");
  j->len += (size_t)w;
}

BENCH_UNUSED static void json_f64(json_out *j, const char *key, double v) {
  if (isfinite(v)) json_raw(j, ",\"%s\":%.10g", key, v);
  else json_raw(j, ",\"%s\":null", key);
}

// An array of numbers (4 decimals).
BENCH_UNUSED static void json_f64s(json_out *j, const char *key, const double *v, unsigned n) {
  json_raw(j, ",\"%s\":[", key);
  for (unsigned i = 0; i < n; i++) json_raw(j, "%s%.4f", i ? "," : "", v[i]);
  json_raw(j, "]");
}

BENCH_UNUSED static void json_u64(json_out *j, const char *key, uint64_t v) {
  json_raw(j, ",\"%s\":%" PRIu64, key, v);
}

// Key and value are plain identifiers (no escaping needed).
BENCH_UNUSED static void json_str(json_out *j, const char *key, const char *v) {
  json_raw(j, ",\"%s\":\"%s\"", key, v);
}

// Starts the line with the fixed fields plus seed/threads/scale. metric: "ops_per_s" or
// "ns_per_op".
BENCH_UNUSED static void json_begin(json_out *j, const bench_args *a, const char *bench,
                                    const char *metric, double value, uint64_t ops,
                                    double seconds) {
  j->len = 0;
  json_raw(j, "{\"bench\":\"%s\",\"metric\":\"%s\"", bench, metric);
  json_f64(j, "value", value);
  json_u64(j, "ops", ops);
  json_f64(j, "seconds", seconds);
  json_u64(j, "seed", a->seed);
  json_u64(j, "threads", (uint64_t)a->threads);
  json_f64(j, "scale", a->scale);
}

// Latency extras in ns.
BENCH_UNUSED static void json_lat(json_out *j, const lat_stats *s) {
  json_u64(j, "p50_ns", s->p50);
  json_u64(j, "p99_ns", s->p99);
  json_u64(j, "max_ns", s->max);
  json_f64(j, "mean_ns", s->mean);
}

// Checksum, kept below 2^53 so JavaScript reads it exactly.
BENCH_UNUSED static void json_checksum(json_out *j, uint64_t sum) {
  bench_sink = sum;
  json_u64(j, "checksum", sum & ((1ull << 53) - 1));
}

BENCH_UNUSED static void json_end(json_out *j) {
  json_raw(j, "}\n");
  fwrite(j->buf, 1, j->len, stdout);
  if (fflush(stdout) != 0) fatal("cannot write the result line");
}

// ---------------------------------------------------------------------------------------------
// threads

typedef void *(*bench_thread_fn)(void *);

// Starts fn(ctxs + i * ctx_size) on n threads; returns their ids (join with join_threads).
BENCH_UNUSED static pthread_t *start_threads(int n, bench_thread_fn fn, void *ctxs,
                                             size_t ctx_size) {
  pthread_t *tids = (pthread_t *)calloc((size_t)n, sizeof *tids);
  if (!tids) fatal("out of memory for %d thread ids", n);
  for (int i = 0; i < n; i++) {
    int rc = pthread_create(&tids[i], NULL, fn, (char *)ctxs + (size_t)i * ctx_size);
    if (rc != 0) fatal("pthread_create: %s", strerror(rc));
  }
  return tids;
}

BENCH_UNUSED static void join_threads(int n, pthread_t *tids) {
  for (int i = 0; i < n; i++) {
    int rc = pthread_join(tids[i], NULL);
    if (rc != 0) fatal("pthread_join: %s", strerror(rc));
  }
  free(tids);
}

// Runs fn(ctxs + i * ctx_size) on n threads and joins them all.
BENCH_UNUSED static void run_threads(int n, bench_thread_fn fn, void *ctxs, size_t ctx_size) {
  join_threads(n, start_threads(n, fn, ctxs, ctx_size));
}

BENCH_UNUSED static void barrier_init(pthread_barrier_t *b, unsigned n) {
  int rc = pthread_barrier_init(b, NULL, n);
  if (rc != 0) fatal("pthread_barrier_init: %s", strerror(rc));
}

// Timed section of a threaded program: every worker calls sync_start() after its set-up and
// sync_stop() after its timed work; the main thread measures between the two.
typedef struct {
  pthread_barrier_t start, stop;
} bench_sync;

BENCH_UNUSED static void sync_start(bench_sync *s) {
  pthread_barrier_wait(&s->start);
}

BENCH_UNUSED static void sync_stop(bench_sync *s) {
  pthread_barrier_wait(&s->stop);
}

// Runs the n workers (each must call sync_start and sync_stop exactly once), joins them and
// returns the nanoseconds between the start and the stop barrier.
BENCH_UNUSED static uint64_t run_threads_timed(int n, bench_thread_fn fn, void *ctxs,
                                               size_t ctx_size, bench_sync *s) {
  barrier_init(&s->start, (unsigned)n + 1);
  barrier_init(&s->stop, (unsigned)n + 1);
  pthread_t *tids = start_threads(n, fn, ctxs, ctx_size);
  pthread_barrier_wait(&s->start);
  uint64_t t0 = now_ns();
  pthread_barrier_wait(&s->stop);
  uint64_t t1 = now_ns();
  join_threads(n, tids);
  pthread_barrier_destroy(&s->start);
  pthread_barrier_destroy(&s->stop);
  return t1 - t0;
}

// ---------------------------------------------------------------------------------------------
// memory

// The process's resident set in KiB (/proc/self/statm, read with open/read so that measuring
// allocates nothing), or 0 when it cannot be read.
BENCH_UNUSED static uint64_t bench_rss_kib(void) {
  char buf[128];
  int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  unsigned long long size = 0, resident = 0;
  if (sscanf(buf, "%llu %llu", &size, &resident) != 2) return 0;
  return (uint64_t)resident * ((uint64_t)sysconf(_SC_PAGESIZE) / 1024);
}

// Sleeps `ms` milliseconds (resumed after a signal).
BENCH_UNUSED static void bench_sleep_ms(uint64_t ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

#endif
