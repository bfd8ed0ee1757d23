/* What ACE samples of the running process while it runs: the hooks the
 * slow paths report to (os.h) and the sums they keep, which the probe reads
 * at each tick. Every sum is added to with one relaxed atomic add, off the
 * fast path. */
#include "ace.h"

#define NS_PER_MS 1000000u

static _Atomic uint64_t g_lock_wait_ns;
static _Atomic uint64_t g_idle_in_bytes;
static _Atomic uint64_t g_lat[HAK_LAT_BUCKETS];
static _Atomic uint64_t g_reuse[HAK_REUSE_BUCKETS];

static void add(_Atomic uint64_t *sum, uint64_t v) {
    atomic_fetch_add_explicit(sum, v, memory_order_relaxed);
}

/* Bucket k of a log2 histogram: [2^k, 2^(k+1)), the first also below, the
 * last also beyond. */
static unsigned bucket(uint64_t v, unsigned buckets) {
    unsigned k = v > 1 ? hak_log2(v) : 0;
    return k < buckets ? k : buckets - 1;
}

static void on_latency(uint64_t ns) { add(&g_lat[bucket(ns, HAK_LAT_BUCKETS)], 1); }

static void on_reuse(uint64_t bytes, uint64_t idle_ns) {
    add(&g_reuse[bucket(idle_ns / NS_PER_MS, HAK_REUSE_BUCKETS)], bytes);
}

static void on_idle(uint64_t bytes) { add(&g_idle_in_bytes, bytes); }

static void on_lock_wait(uint64_t ns) { add(&g_lock_wait_ns, ns); }

static const hak_sample_hooks_t k_hooks = {
    .latency = on_latency,
    .reuse = on_reuse,
    .idle = on_idle,
    .lock_wait = on_lock_wait,
};

void _hak_samples_enable(bool on) {
    atomic_store_explicit(&_hak_sample_hooks, on ? &k_hooks : NULL, memory_order_relaxed);
}

void _hak_samples_read(hak_samples_t *out) {
    out->lock_wait_ns = atomic_load_explicit(&g_lock_wait_ns, memory_order_relaxed);
    out->idle_in_bytes = atomic_load_explicit(&g_idle_in_bytes, memory_order_relaxed);
    for (unsigned k = 0; k < HAK_LAT_BUCKETS; k++)
        out->lat[k] = atomic_load_explicit(&g_lat[k], memory_order_relaxed);
    for (unsigned k = 0; k < HAK_REUSE_BUCKETS; k++)
        out->reuse[k] = atomic_load_explicit(&g_reuse[k], memory_order_relaxed);
}
