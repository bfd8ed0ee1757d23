// Workload pieces that more than one program runs (every program stays one translation unit that
// includes this header):
//
//   bursts   a service's periodic bursts: --threads workers allocate a working set of mixed sizes,
//            write every page, free it all; then the process idles for a gap (bursts.c, phases.c)
//   churn    random replacement among live large blocks, every page written (large_mix.c,
//            phases.c)
//   spsc     a bounded single-producer/single-consumer queue of blocks, so that the consumer frees
//            what the producer allocated (xthread.c, phases.c)
//
// Each piece does the same operations for the same seed under every allocator, checks every
// block's contents before its free, and sums a checksum.
#ifndef HAKMEM_BENCH_PIECES_H
#define HAKMEM_BENCH_PIECES_H

#include <sched.h>
#include <stdatomic.h>
#include <sys/resource.h>

#include "common.h"

// ---------------------------------------------------------------------------------------------
// bursts

#define BURST_RSS_SLICE_MS 10u // the process reads its RSS this often while it idles
#define BURST_GAP_STREAM (1ull << 40) // the random stream of the gaps (workers: 0, 1, ...)

typedef struct {
  uint64_t bytes;            // working set of one burst, all workers together
  uint64_t min, max;         // block sizes, log-uniform
  uint64_t gap_ms, jitter_ms; // idle gap after each burst: gap_ms + [0, jitter_ms]
  int threads;
  uint64_t seed;
} bursts_cfg;

// What a run of bursts measured. RSS figures come from /proc/self/statm, read by the main thread
// while the workers are parked: at the start, when a burst has allocated (its peak), when it has
// freed, and every BURST_RSS_SLICE_MS of a gap.
typedef struct {
  uint64_t bursts, ops, checksum;
  uint64_t busy_ns;     // time inside bursts (the gaps excluded)
  uint64_t span_ns;     // the whole run, gaps included
  uint64_t faults;      // minor page faults during the bursts (getrusage)
  double rss_kib_ns;    // RSS integrated over the span (each reading held until the next)
  uint64_t rss_peak_kib;
  uint64_t rss_gap_end_kib; // summed over the gaps: what the process held when the next burst came
} bursts_stats;

typedef struct bursts_run_s bursts_run_t;

typedef struct {
  int id;
  bursts_run_t *run;
  rng_t r;
  bench_block *blocks;
  uint64_t cap, share, tag, ops, checksum;
} burst_worker;

struct bursts_run_s {
  const bursts_cfg *cfg;
  uint64_t count; // bursts to run
  pthread_barrier_t phase;
};

static void *burst_work(void *arg) {
  burst_worker *w = arg;
  const bursts_cfg *c = w->run->cfg;
  for (uint64_t b = 0; b < w->run->count; b++) {
    pthread_barrier_wait(&w->run->phase); // go
    uint64_t n = 0, bytes = 0;
    while (bytes < w->share && n < w->cap) {
      bench_block *k = &w->blocks[n++];
      k->size = (uint32_t)rng_logsize(&w->r, c->min, c->max);
      k->tag = (uint32_t)++w->tag;
      k->p = xmalloc(k->size);
      pat_fill(k->p, k->size, k->tag, BENCH_PAGE);
      bytes += k->size;
    }
    pthread_barrier_wait(&w->run->phase); // allocated
    for (uint64_t i = 0; i < n; i++) {
      bench_block *k = &w->blocks[i];
      w->checksum += pat_verify(k->p, k->size, k->tag, BENCH_PAGE, "burst");
      free(k->p);
    }
    w->ops += 2 * n;
    pthread_barrier_wait(&w->run->phase); // freed
  }
  return NULL;
}

static uint64_t minor_faults(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (uint64_t)ru.ru_minflt;
}

// Holds the RSS reading `kib` from `*t` until now (the integral of bursts_stats).
static void rss_hold(bursts_stats *s, uint64_t *t, uint64_t *kib, uint64_t now, uint64_t next) {
  s->rss_kib_ns += (double)*kib * (double)(now - *t);
  *t = now;
  *kib = next;
  if (next > s->rss_peak_kib) s->rss_peak_kib = next;
}

// Runs `count` bursts, each followed by its gap (jittered from `gap_rng`); adds to `s`. The
// workers' random streams are numbered from `stream`, so that successive calls (phases.c) draw
// different blocks.
BENCH_UNUSED static void bursts_run(const bursts_cfg *c, uint64_t count, rng_t *gap_rng,
                                    uint64_t stream, bursts_stats *s) {
  int nt = c->threads;
  bursts_run_t run = {.cfg = c, .count = count};
  burst_worker *w = calloc((size_t)nt, sizeof *w);
  if (!w) fatal("out of memory");
  barrier_init(&run.phase, (unsigned)nt + 1);
  for (int t = 0; t < nt; t++) {
    w[t].id = t;
    w[t].run = &run;
    w[t].share = c->bytes / (uint64_t)nt;
    w[t].cap = w[t].share / c->min + 1;
    w[t].tag = (stream + (uint64_t)t) << 32;
    rng_seed(&w[t].r, c->seed, stream + (uint64_t)t);
    w[t].blocks = calloc(w[t].cap, sizeof(bench_block));
    if (!w[t].blocks) fatal("out of memory");
  }
  pthread_t *tids = start_threads(nt, burst_work, w, sizeof *w);
  uint64_t t = now_ns(), t0 = t, kib = bench_rss_kib();
  for (uint64_t b = 0; b < count; b++) {
    uint64_t f0 = minor_faults(), b0 = now_ns();
    pthread_barrier_wait(&run.phase); // go
    pthread_barrier_wait(&run.phase); // allocated
    rss_hold(s, &t, &kib, now_ns(), bench_rss_kib());
    pthread_barrier_wait(&run.phase); // freed
    uint64_t b1 = now_ns();
    s->busy_ns += b1 - b0;
    s->faults += minor_faults() - f0;
    rss_hold(s, &t, &kib, b1, bench_rss_kib());
    uint64_t gap = c->gap_ms + rng_below(gap_rng, c->jitter_ms + 1);
    for (uint64_t slept = 0; slept < gap; slept += BURST_RSS_SLICE_MS) {
      bench_sleep_ms(gap - slept < BURST_RSS_SLICE_MS ? gap - slept : BURST_RSS_SLICE_MS);
      rss_hold(s, &t, &kib, now_ns(), bench_rss_kib());
    }
    s->rss_gap_end_kib += kib;
  }
  rss_hold(s, &t, &kib, now_ns(), kib);
  s->span_ns += t - t0;
  join_threads(nt, tids);
  pthread_barrier_destroy(&run.phase);
  for (int i = 0; i < nt; i++) {
    s->ops += w[i].ops;
    s->checksum += w[i].checksum;
    free(w[i].blocks);
  }
  s->bursts += count;
  free(w);
}

// The result extras of a run of bursts (its count aside), keys prefixed with `pre` ("" or
// "bursts_").
BENCH_UNUSED static void json_bursts(json_out *j, const char *pre, const bursts_stats *s) {
  char key[64];
#define BURST_KEY(k) (snprintf(key, sizeof key, "%s%s", pre, k), key)
  json_f64(j, BURST_KEY("busy_s"), (double)s->busy_ns * 1e-9);
  json_f64(j, BURST_KEY("span_s"), (double)s->span_ns * 1e-9);
  json_f64(j, BURST_KEY("faults_per_burst"), (double)s->faults / (double)s->bursts);
  json_f64(j, BURST_KEY("rss_mean_kib"), s->rss_kib_ns / (double)s->span_ns);
  json_u64(j, BURST_KEY("rss_peak_kib"), s->rss_peak_kib);
  json_f64(j, BURST_KEY("rss_gap_end_kib"), (double)s->rss_gap_end_kib / (double)s->bursts);
#undef BURST_KEY
}

// ---------------------------------------------------------------------------------------------
// churn: random replacement among `ws` live blocks of log-uniform sizes in [min, max]

typedef struct {
  bench_block *slots;
  uint64_t ws, min, max, tag;
  rng_t r;
} churn_t;

// Allocates the `ws` live blocks (every page written).
BENCH_UNUSED static void churn_init(churn_t *c, uint64_t ws, uint64_t min, uint64_t max,
                                    uint64_t seed, uint64_t stream) {
  c->ws = ws;
  c->min = min;
  c->max = max;
  c->tag = stream << 32;
  rng_seed(&c->r, seed, stream);
  c->slots = calloc(ws, sizeof *c->slots);
  if (!c->slots) fatal("out of memory");
  for (size_t k = 0; k < ws; k++) {
    bench_block *s = &c->slots[k];
    s->size = (uint32_t)rng_logsize(&c->r, min, max);
    s->tag = (uint32_t)c->tag++;
    s->p = xmalloc(s->size);
    pat_fill(s->p, s->size, s->tag, BENCH_PAGE);
  }
}

// `ops` replacements: a random live block is checked on every page and freed, a new one of a
// random size allocated and written on every page. Returns the checksum; adds the bytes
// allocated to *bytes.
BENCH_UNUSED static uint64_t churn_steps(churn_t *c, uint64_t ops, uint64_t *bytes) {
  uint64_t sum = 0;
  for (uint64_t i = 0; i < ops; i++) {
    bench_block *s = &c->slots[rng_below(&c->r, c->ws)];
    sum += pat_verify(s->p, s->size, s->tag, BENCH_PAGE, "churn");
    free(s->p);
    s->size = (uint32_t)rng_logsize(&c->r, c->min, c->max);
    s->tag = (uint32_t)c->tag++;
    s->p = xmalloc(s->size);
    pat_fill(s->p, s->size, s->tag, BENCH_PAGE);
    *bytes += s->size;
  }
  return sum;
}

// Checks and frees every live block; returns the checksum.
BENCH_UNUSED static uint64_t churn_end(churn_t *c) {
  uint64_t sum = 0;
  for (size_t k = 0; k < c->ws; k++) {
    bench_block *s = &c->slots[k];
    sum += pat_verify(s->p, s->size, s->tag, BENCH_PAGE, "churn end");
    free(s->p);
  }
  free(c->slots);
  c->slots = NULL;
  return sum;
}

// ---------------------------------------------------------------------------------------------
// spsc: blocks handed from one thread to another through a bounded ring

#define SPSC_CAP 1024u // power of two
#define SPSC_BURST 64u // blocks moved at once
#define SPSC_SPINS 64u // empty polls before a thread yields its core

typedef struct {
  _Alignas(64) atomic_uint_fast64_t tail; // written by the producer
  _Alignas(64) atomic_uint_fast64_t head; // written by the consumer
  _Alignas(64) bench_block items[SPSC_CAP];
} spsc_t;

// The producer's side: its position, how many it made and how.
typedef struct {
  spsc_t *q;
  uint64_t tail, made, min, max;
  uint32_t tag_base;
  rng_t *r;
} spsc_producer;

// The consumer's side.
typedef struct {
  spsc_t *q;
  uint64_t head, taken, checksum;
} spsc_consumer;

// Allocates and writes up to min(SPSC_BURST, room, left) blocks into the queue; returns how many.
BENCH_UNUSED static uint64_t spsc_produce(spsc_producer *p, uint64_t left) {
  uint64_t head = atomic_load_explicit(&p->q->head, memory_order_acquire);
  uint64_t room = SPSC_CAP - (p->tail - head);
  uint64_t k = room < left ? room : left;
  if (k > SPSC_BURST) k = SPSC_BURST;
  for (uint64_t i = 0; i < k; i++) {
    bench_block *it = &p->q->items[(p->tail + i) & (SPSC_CAP - 1)];
    it->size = (uint32_t)rng_logsize(p->r, p->min, p->max);
    it->tag = p->tag_base ^ (uint32_t)(p->made + i);
    it->p = xmalloc(it->size);
    pat_fill(it->p, it->size, it->tag, PAT_HEADTAIL);
  }
  if (k) {
    p->tail += k;
    p->made += k;
    atomic_store_explicit(&p->q->tail, p->tail, memory_order_release);
  }
  return k;
}

// Checks and frees up to SPSC_BURST blocks waiting in the queue; returns how many.
BENCH_UNUSED static uint64_t spsc_consume(spsc_consumer *c, const char *what) {
  uint64_t tail = atomic_load_explicit(&c->q->tail, memory_order_acquire);
  uint64_t avail = tail - c->head;
  if (avail > SPSC_BURST) avail = SPSC_BURST;
  for (uint64_t i = 0; i < avail; i++) {
    bench_block *it = &c->q->items[(c->head + i) & (SPSC_CAP - 1)];
    c->checksum += pat_verify(it->p, it->size, it->tag, PAT_HEADTAIL, what);
    free(it->p);
  }
  if (avail) {
    c->head += avail;
    c->taken += avail;
    atomic_store_explicit(&c->q->head, c->head, memory_order_release);
  }
  return avail;
}

// Counts a poll that moved nothing; after SPSC_SPINS in a row the thread yields its core.
static inline void spsc_idle(uint32_t *idle, int progress) {
  if (progress) {
    *idle = 0;
  } else if (++*idle > SPSC_SPINS) {
    sched_yield();
  }
}

// `n` queues, zeroed, cache-line aligned (free with free()).
BENCH_UNUSED static spsc_t *spsc_new(int n) {
  spsc_t *q = aligned_alloc(64, sizeof(spsc_t) * (size_t)n);
  if (!q) fatal("out of memory");
  memset(q, 0, sizeof(spsc_t) * (size_t)n);
  return q;
}

#endif
