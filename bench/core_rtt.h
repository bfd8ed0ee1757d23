// core_rtt.h — the machine's core-to-core round trip, measured by hakrun before each run.
//
// Two threads pinned to the first two CPUs the runner may use bounce one cache line; the
// cheapest of CORE_RTT_BATCHES batches is the figure (a batch the scheduler interrupted says
// nothing of the machine). A virtual machine's vCPUs may sit on sibling hyperthreads or on
// distant cores, and the host moves them: on the 2-vCPU machine this was written on the round
// trip was ~55 ns or ~340 ns, and every workload whose threads share blocks ran 3-4x apart
// between the two (xthread 8 M or 30 M ops/s for one allocator), single-threaded ones alike.
// A bench that records it can tell a slower allocator from a slower machine.
#ifndef BENCH_CORE_RTT_H
#define BENCH_CORE_RTT_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#define CORE_RTT_BATCHES 4
#define CORE_RTT_TRIPS 5000 // round trips per batch: 0.3-2 ms

typedef struct {
  _Alignas(64) _Atomic long turn; // odd: the pong side's turn
  _Alignas(64) _Atomic int stop;  // a side could not be pinned or started: both give up
  double best_ns;
} core_rtt_t;

typedef struct {
  core_rtt_t *shared;
  int cpu, ping;
} core_rtt_side;

static double core_rtt_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void *core_rtt_run(void *arg) {
  core_rtt_side *s = arg;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(s->cpu, &set);
  core_rtt_t *c = s->shared;
  if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0) {
    atomic_store(&c->stop, 1);
    return NULL;
  }
  long n = 0;
  for (int b = 0; b < CORE_RTT_BATCHES; b++) {
    double t0 = core_rtt_now_ns();
    for (int i = 0; i < CORE_RTT_TRIPS; i++, n += 2) {
      if (s->ping) {
        atomic_store_explicit(&c->turn, n + 1, memory_order_release);
        while (atomic_load_explicit(&c->turn, memory_order_acquire) != n + 2)
          if (atomic_load_explicit(&c->stop, memory_order_relaxed)) return NULL;
      } else {
        while (atomic_load_explicit(&c->turn, memory_order_acquire) != n + 1)
          if (atomic_load_explicit(&c->stop, memory_order_relaxed)) return NULL;
        atomic_store_explicit(&c->turn, n + 2, memory_order_release);
      }
    }
    double ns = (core_rtt_now_ns() - t0) / CORE_RTT_TRIPS;
    if (s->ping && (c->best_ns == 0 || ns < c->best_ns)) c->best_ns = ns;
  }
  return NULL;
}

// ns per round trip between the first two CPUs this process may run on; 0 with fewer than two
// or when a thread cannot be started or pinned.
static double core_rtt_ns(void) {
  cpu_set_t mine;
  if (sched_getaffinity(0, sizeof mine, &mine) != 0) return 0;
  int cpus[2], k = 0;
  for (int c = 0; c < CPU_SETSIZE && k < 2; c++)
    if (CPU_ISSET(c, &mine)) cpus[k++] = c;
  if (k < 2) return 0;
  static core_rtt_t shared;
  atomic_store(&shared.turn, 0);
  atomic_store(&shared.stop, 0);
  shared.best_ns = 0;
  core_rtt_side ping = {&shared, cpus[0], 1}, pong = {&shared, cpus[1], 0};
  pthread_t a, b;
  if (pthread_create(&b, NULL, core_rtt_run, &pong) != 0) return 0;
  if (pthread_create(&a, NULL, core_rtt_run, &ping) != 0) {
    atomic_store(&shared.stop, 1); // the pong side waits for a ping that never comes
    pthread_join(b, NULL);
    return 0;
  }
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  return atomic_load(&shared.stop) ? 0 : shared.best_ns;
}

#endif
