/* Measurements the learning layer reads: time spent waiting on hakmem's
 * locks and the latency of slow-path operations. Both are taken only while
 * ACE runs and cost nothing on the fast path: a lock is timed only when
 * trylock fails, and one slow path in 64 is timed. */
#include "os.h"

_Atomic uint64_t _hak_lock_wait_ns;
_Atomic int _hak_sampling;
_Atomic uint64_t _hak_lat_hist[HAK_LAT_BUCKETS];
_Atomic uint64_t _hak_reuse_hist[HAK_REUSE_BUCKETS];
_Atomic uint64_t _hak_idle_in_bytes;

#define NS_PER_MS 1000000u

void _hak_reuse_record(uint64_t bytes, uint64_t idle_ns) {
    if (!atomic_load_explicit(&_hak_sampling, memory_order_relaxed)) return;
    uint64_t ms = idle_ns / NS_PER_MS;
    unsigned k = ms > 1 ? hak_log2(ms) : 0;
    if (k >= HAK_REUSE_BUCKETS) k = HAK_REUSE_BUCKETS - 1;
    atomic_fetch_add_explicit(&_hak_reuse_hist[k], bytes, memory_order_relaxed);
}

/* The holder is usually a few hundred instructions from done: spin that
 * long, then yield the CPU. */
#define SPIN_BEFORE_YIELD 128

void _hak_spin_wait(hak_spin_t *l) {
    uint64_t t0 = atomic_load_explicit(&_hak_sampling, memory_order_relaxed) ? _hak_now_ns() : 0;
    for (unsigned i = 0;; i++) {
        if (atomic_load_explicit(&l->v, memory_order_relaxed) == 0 &&
            atomic_exchange_explicit(&l->v, 1, memory_order_acquire) == 0)
            break;
        if (i < SPIN_BEFORE_YIELD) _hak_os_cpu_relax();
        else _hak_os_yield();
    }
    if (t0 != 0)
        atomic_fetch_add_explicit(&_hak_lock_wait_ns, _hak_now_ns() - t0, memory_order_relaxed);
}

void _hak_lock_slow(pthread_mutex_t *m) {
    uint64_t t0 = _hak_now_ns();
    pthread_mutex_lock(m);
    atomic_fetch_add_explicit(&_hak_lock_wait_ns, _hak_now_ns() - t0, memory_order_relaxed);
}

/* Bucket k holds latencies in [2^k, 2^(k+1)) ns. */
void _hak_lat_record(uint64_t ns) {
    unsigned k = ns > 1 ? hak_log2(ns) : 0;
    if (k >= HAK_LAT_BUCKETS) k = HAK_LAT_BUCKETS - 1;
    atomic_fetch_add_explicit(&_hak_lat_hist[k], 1, memory_order_relaxed);
}
