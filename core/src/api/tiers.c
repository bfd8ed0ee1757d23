/* What the learning layer may do to the tiers (the table in api.h), and
 * the release of idle caches that trim and memory pressure use. */
#include "api.h"

size_t _hak_release_caches(void) {
    return _hak_large_trim() + _hak_guard_trim() + _hak_segment_cache_trim() +
           _hak_heaps_release(UINT64_MAX, 0);
}

void _hak_api_init(void) {
    _hak_on_pressure(_hak_release_caches);
    _hak_stats_init();
}

static void counters(hak_counters_t *out) {
    uint64_t created, reused, live;
    _hak_heaps_sum(out, &created, &reused, &live);
}

static uint64_t in_use(void) {
    hak_stats_t s;
    _hak_stats_collect(&s);
    uint64_t bytes = 0;
    for (unsigned t = 0; t < HAK_TIER_COUNT; t++) bytes += s.tier[t].bytes_in_use;
    return bytes;
}

static size_t release(uint64_t deadline_ns) {
    size_t bytes = _hak_large_scavenge(deadline_ns);
    if (_hak_now_ns() < deadline_ns) bytes += _hak_heaps_release(deadline_ns, 0);
    return bytes;
}

static size_t decay(uint64_t deadline_ns) {
    return _hak_heaps_release(deadline_ns, (uint64_t)hak_opt(OPT_DECAY_MS) * 1000000u);
}

static uint32_t class_cap(unsigned cls) {
    return atomic_load_explicit(&_hak_tcache_cap[cls], memory_order_relaxed);
}

static void set_class_cap(unsigned cls, uint32_t cap) {
    atomic_store_explicit(&_hak_tcache_cap[cls], cap, memory_order_relaxed);
}

static void given_back(uint64_t *released, uint64_t *refaulted) {
    *released = atomic_load_explicit(&_hak_decay_bytes, memory_order_relaxed);
    *refaulted = atomic_load_explicit(&_hak_refault_bytes, memory_order_relaxed);
}

const hak_tier_ops_t _hak_tiers = {
    .counters = counters,
    .caches = _hak_heaps_probe,
    .heaps_made = _hak_heaps_made,
    .in_use = in_use,
    .large_idle = _hak_large_idle_bytes,
    .large_cold_hits = _hak_large_cold_hits,
    .release = release,
    .decay = decay,
    .class_cap = class_cap,
    .class_cap_limit = _hak_class_cap_limit,
    .set_class_cap = set_class_cap,
    .given_back = given_back,
    .on_slow_path = _hak_on_slow_path,
    .set_large_strategy = _hak_large_set_strategy,
    .large_threshold = _hak_large_threshold,
};
