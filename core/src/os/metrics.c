/* Measurements the learning layer reads: time spent waiting on hakmem's
 * locks and the latency of slow-path operations. Both are taken only while
 * ACE runs and cost nothing on the fast path: a lock is timed only when
 * trylock fails, and one slow path in 64 is timed. */
#include "os.h"

_Atomic uint64_t _hak_lock_wait_ns;
_Atomic int _hak_sampling;
_Atomic uint64_t _hak_lat_hist[HAK_LAT_BUCKETS];

void _hak_lock_slow(pthread_mutex_t *m) {
    uint64_t t0 = _hak_now_ns();
    pthread_mutex_lock(m);
    atomic_fetch_add_explicit(&_hak_lock_wait_ns, _hak_now_ns() - t0, memory_order_relaxed);
}

/* Bucket k holds latencies in [2^k, 2^(k+1)) ns. */
void _hak_lat_record(uint64_t ns) {
    unsigned k = ns > 1 ? 63u - (unsigned)__builtin_clzll(ns) : 0;
    if (k >= HAK_LAT_BUCKETS) k = HAK_LAT_BUCKETS - 1;
    atomic_fetch_add_explicit(&_hak_lat_hist[k], 1, memory_order_relaxed);
}
