/* BigCache: freed large blocks wait here for reuse, resident (no syscall
 * to reuse them). When it holds more than its budget the oldest
 * leave it: advised away with MADV_DONTNEED in batches, staying mapped so
 * that a later hit costs only page faults; past a bound on such cold
 * address space they are unmapped. Everything here runs under the tier's
 * lock. */
#include "block.h"

/* Size buckets: one per mapping-size step from 64 KiB, the last one
 * open-ended. */
#define BUCKET_STEPS (1u << LARGE_STEPS_SHIFT)
#define BUCKET_MIN_SHIFT 16
#define BUCKETS 128
#define BUCKETS_SEARCHED 3 /* a request looks at most this many buckets up: waste stays < 40 % */
#define COLD_FACTOR 4      /* cold address space kept: 4 x the resident budget */
/* The resident budget is at least HAKMEM_BIGCACHE_MB and up to twice the
 * large bytes in use: a program that replaces its large blocks reuses
 * their pages instead of faulting fresh ones in (a fixed budget below its
 * working set made every replacement fault), and when it frees them for
 * good the budget falls with what stays in use; decay gives back the rest. */
#define LIVE_SHARE 2
#define COLD_AGE 16        /* cold blocks idle 16 x the decay delay are unmapped */
/* BigCache decays on its own frees too, at most this often: a program
 * that only churns large blocks has no small slow paths to do it. */
#define DECAY_PERIOD_MS 20

static uint32_t g_last_decay_ms;
static _Atomic uint64_t g_cold_hit_bytes; /* reused after their pages were given back */

pthread_mutex_t _hak_large_mutex = PTHREAD_MUTEX_INITIALIZER;
large_totals_t _hak_large_totals;

typedef struct age_list {
    hak_large_t *head, *tail;
    size_t bytes;
    size_t count;
} age_list_t;

static hak_large_t *g_bucket[BUCKETS];
static age_list_t g_hot, g_pending, g_cold;

static unsigned bucket_of(size_t map_size) {
    unsigned k = hak_log2(map_size - 1);
    unsigned j = (unsigned)((map_size - 1) >> (k - LARGE_STEPS_SHIFT)) & (BUCKET_STEPS - 1);
    unsigned idx = (k - BUCKET_MIN_SHIFT) * BUCKET_STEPS + j;
    return idx < BUCKETS ? idx : BUCKETS - 1;
}

static void age_push(age_list_t *l, hak_large_t *e) {
    HAK_DQUEUE_APPEND(l->head, l->tail, e, aprev, anext);
    l->bytes += e->map_size;
    l->count++;
}

static void age_remove(age_list_t *l, hak_large_t *e) {
    HAK_DQUEUE_REMOVE(l->head, l->tail, e, aprev, anext);
    l->bytes -= e->map_size;
    l->count--;
}

static age_list_t *list_of(hak_large_t *e) {
    return e->state == L_HOT ? &g_hot : (e->state == L_PENDING ? &g_pending : &g_cold);
}

/* A hot block waits for the next batch of madvise calls. */
static void hot_to_pending(hak_large_t *e) {
    age_remove(&g_hot, e);
    e->state = L_PENDING;
    age_push(&g_pending, e);
}

static void cache_remove(hak_large_t *e) {
    unsigned b = bucket_of(e->map_size);
    HAK_DLIST_REMOVE(g_bucket[b], e, bprev, bnext);
    age_remove(list_of(e), e);
}

void _hak_large_unmap(hak_large_t *e) {
    _hak_large_totals.reserved -= e->map_size;
    _hak_pagemap_clear((uintptr_t)e, e->chunks);
    _hak_os_unmap(e, e->map_size);
}

/* Advises every pending block away at once, keeping each header page. */
static void flush_pending(void) {
    while (g_pending.head != NULL) {
        hak_large_t *e = g_pending.head;
        if (!_hak_os_dontneed((uint8_t *)e + _hak_page_size, e->map_size - _hak_page_size)) {
            /* refused: still resident and not zeroed, so it cannot be a cold
             * block (calloc relies on those reading zero): unmapped instead */
            cache_remove(e);
            _hak_large_unmap(e);
            continue;
        }
        age_remove(&g_pending, e);
        e->state = L_COLD;
        age_push(&g_cold, e);
    }
}

/* After a block entered the cache. */
static void enforce_budget(void) {
    size_t budget = (size_t)hak_opt(OPT_BIGCACHE_MB) * HAK_MIB;
    size_t live = _hak_large_totals.in_use * LIVE_SHARE;
    if (live > budget) budget = live;
    int policy = (int)hak_opt(OPT_FREE_POLICY);
    while (g_hot.bytes > budget && g_hot.head != NULL) {
        hak_large_t *e = g_hot.head;
        if (policy == FREE_UNMAP) {
            cache_remove(e);
            _hak_large_unmap(e);
            continue;
        }
        hot_to_pending(e);
        size_t batch = policy == FREE_IMMEDIATE ? 1 : (size_t)hak_opt(OPT_MADVISE_BATCH);
        if (g_pending.count >= batch) flush_pending();
    }
    while (g_cold.bytes > budget * COLD_FACTOR && g_cold.head != NULL) {
        hak_large_t *e = g_cold.head;
        cache_remove(e);
        _hak_large_unmap(e);
    }
}

hak_large_t *_hak_bigcache_take(size_t map_size, bool resident) {
    unsigned b = bucket_of(map_size);
    for (unsigned i = b; i < BUCKETS && i < b + BUCKETS_SEARCHED; i++) {
        for (hak_large_t *e = g_bucket[i]; e != NULL; e = e->bnext) {
            if (e->map_size >= map_size && (!resident || e->state != L_COLD)) {
                cache_remove(e);
                HAK_REUSE_RECORD(e->map_size, (uint64_t)(uint32_t)(hak_ms_now() - e->idle_ms) *
                                                  1000000u);
                if (e->state == L_COLD)
                    atomic_fetch_add_explicit(&g_cold_hit_bytes, e->map_size, memory_order_relaxed);
                return e;
            }
        }
    }
    return NULL;
}

/* Of the resident blocks, the one to make fit map_size: the smallest
 * larger one (split to size), else the largest smaller one (grown to
 * size), so freed memory of another size is reused without faulting its
 * pages in again. */
hak_large_t *_hak_bigcache_take_fit(size_t map_size) {
    hak_large_t *above = NULL, *below = NULL;
    for (hak_large_t *e = g_hot.head; e != NULL; e = e->anext) {
        if (e->aligned) continue;
        if (e->map_size >= map_size) {
            if (above == NULL || e->map_size < above->map_size) above = e;
        } else if (below == NULL || e->map_size > below->map_size) {
            below = e;
        }
    }
    hak_large_t *e = above != NULL ? above : below;
    if (e == NULL) return NULL;
    cache_remove(e);
    HAK_REUSE_RECORD(e->map_size < map_size ? e->map_size : map_size,
                     (uint64_t)(uint32_t)(hak_ms_now() - e->idle_ms) * 1000000u);
    return e;
}

void _hak_bigcache_put(hak_large_t *e) {
    uint32_t now = hak_ms_now();
    if ((uint32_t)(now - g_last_decay_ms) >= DECAY_PERIOD_MS) {
        size_t bytes = _hak_bigcache_decay(now, (uint32_t)hak_opt(OPT_DECAY_MS));
        atomic_fetch_add_explicit(&_hak_decay_bytes, bytes, memory_order_relaxed);
    }
    if (e->in_arena) {
        _hak_arena_free(e);
        return;
    }
    if (_hak_large_cache_eligible(e)) {
        e->state = L_HOT;
        e->idle_ms = now;
        hak_idle_record(e->map_size);
        unsigned b = bucket_of(e->map_size);
        HAK_DLIST_PUSH(g_bucket[b], e, bprev, bnext);
        age_push(&g_hot, e);
        enforce_budget();
        return;
    }
    e->state = L_GONE;
    _hak_large_unmap(e);
}

size_t _hak_bigcache_decay(uint32_t now_ms, uint32_t delay_ms) {
    g_last_decay_ms = now_ms;
    enforce_budget(); /* the large bytes in use may have fallen since the last put */
    while (g_hot.head != NULL && (uint32_t)(now_ms - g_hot.head->idle_ms) >= delay_ms) {
        hak_large_t *e = g_hot.head;
        hot_to_pending(e);
    }
    /* blocks over the budget wait for a full batch only until the next
     * decay: the last frees of a program's large blocks fill none */
    size_t bytes = g_pending.bytes - g_pending.count * _hak_page_size;
    if (g_pending.head != NULL) flush_pending();
    bytes += _hak_arena_decay(now_ms, delay_ms);
    uint32_t cold_ms = delay_ms * COLD_AGE;
    while (g_cold.head != NULL && (uint32_t)(now_ms - g_cold.head->idle_ms) >= cold_ms) {
        hak_large_t *e = g_cold.head;
        cache_remove(e);
        _hak_large_unmap(e);
    }
    return bytes;
}

/* Unmaps every block waiting in BigCache; returns the bytes released. */
size_t _hak_large_trim(void) {
    size_t bytes = 0;
    HAK_LOCKED(&_hak_large_mutex) {
        age_list_t *lists[] = {&g_hot, &g_pending, &g_cold};
        for (unsigned i = 0; i < HAK_COUNT(lists); i++) {
            while (lists[i]->head != NULL) {
                hak_large_t *e = lists[i]->head;
                bytes += e->map_size;
                cache_remove(e);
                _hak_large_unmap(e);
            }
        }
        bytes += _hak_arena_trim();
    }
    return bytes;
}

/* ACE's scavenger: blocks idle in BigCache (hot, oldest first, then those
 * pending a batch) are advised away until the deadline; they stay cached
 * as cold blocks. */
size_t _hak_large_scavenge(uint64_t deadline_ns) {
    size_t bytes = 0;
    HAK_LOCKED(&_hak_large_mutex) {
        while (g_hot.head != NULL && _hak_now_ns() < deadline_ns) {
            hak_large_t *e = g_hot.head;
            hot_to_pending(e);
            bytes += e->map_size - _hak_page_size;
            flush_pending();
        }
        if (g_pending.head != NULL && _hak_now_ns() < deadline_ns) {
            bytes += g_pending.bytes - g_pending.count * _hak_page_size;
            flush_pending();
        }
        if (_hak_now_ns() < deadline_ns) bytes += _hak_arena_trim();
    }
    return bytes;
}

uint64_t _hak_large_cold_hits(void) {
    return atomic_load_explicit(&g_cold_hit_bytes, memory_order_relaxed);
}

size_t _hak_large_idle_bytes(void) {
    size_t bytes = 0;
    HAK_LOCKED(&_hak_large_mutex) {
        bytes = g_hot.bytes + g_pending.bytes + _hak_arena_idle_bytes();
    }
    return bytes;
}

void _hak_large_lock(void) { hak_lock(&_hak_large_mutex); }
void _hak_large_unlock(void) { hak_unlock(&_hak_large_mutex); }
