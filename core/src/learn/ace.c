/* ACE, the adaptive control engine (only when HAKMEM_ACE_ENABLED, on in
 * the learning and research modes): on the allocator's slow paths while the
 * program has one thread, then on a thread of its own, it measures
 * the allocator every HAKMEM_ACE_FAST_INTERVAL_MS (ace_probe.c), runs the
 * controller on the metrics (ace_rules.c) and traces what it did
 * (ace_trace.c). Here: its life (inline, thread), what it shows (hak_ace_json, the
 * summary line of the statistics) and the test hooks that drive the same
 * controller with synthetic metrics. */
#include "ace.h"

#include <errno.h>

#define ACE_STACK ((size_t)256 << 10) /* the thread's stack: its deepest frame is a 1 KiB line */
#define IDLE_TICK_OPS 4096.0 /* allocator calls in a tick below which the program counts as idle */
/* How often the thread looks whether it is the process's last one: a
 * program whose main thread called pthread_exit ends this long after its
 * last thread does. */
#define ALONE_CHECK_MS 50

/* ACE's life: OFF; WANTED (HAKMEM_ACE_ENABLED: it starts from the first
 * slow path after start-up); INLINE (its ticks run from the allocator's
 * slow paths: a program with one thread keeps one thread); RUNNING (its own
 * thread, once a second thread of the program allocates); MANUAL (the test
 * hooks drive the controller). */
enum ace_run { ACE_OFF, ACE_WANTED, ACE_INLINE, ACE_RUNNING, ACE_MANUAL };
static const char *const k_run_names[] = {"off", "wanted", "inline", "running", "manual"};
static const char *const k_run_summary[] = {"off", "not started", "ticking on slow paths", "running",
                                            "manual"};
/* Inline, the slow paths between two looks at the clock: a look costs a
 * coarse clock read, a tick is due every HAKMEM_ACE_FAST_INTERVAL_MS. */
#define INLINE_CHECK_CALLS 64

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static ace_t g_ace;
static _Atomic int g_run; /* enum ace_run */
/* inline ticks: slow paths seen (racy: a count to space the looks), when
 * the next tick is due, time to the next slow tick (g_lock) */
static _Atomic uint32_t g_calls;
static uint64_t g_next_tick_ns, g_since_slow_ms;
static uint64_t g_heaps_seen; /* heaps made when ACE last looked for a second thread */

static void slow_path(void);

/* WANTED and INLINE arm the tiers' slow-path hook; the others disarm it. */
static void set_run(int run) {
    atomic_store_explicit(&g_run, run, memory_order_release);
    _hak_tiers.on_slow_path(run == ACE_WANTED || run == ACE_INLINE ? slow_path : NULL);
}

/* One tick, g_lock held: measure, the fast loop, the slow loop when due.
 * Its CPU time is ACE's own, which the CPU guard limits. Returns the
 * metrics measured. */
static void tick(uint64_t fast_ms, hak_ace_metrics_t *m) {
    uint64_t cpu = _hak_thread_cpu_ns();
    g_since_slow_ms += fast_ms;
    bool is_slow = g_since_slow_ms >= (uint64_t)hak_opt(OPT_ACE_SLOW_INTERVAL_MS);
    _hak_ace_measure(m, is_slow);
    _hak_ace_tick_fast(&g_ace, m);
    if (is_slow) {
        g_since_slow_ms = 0;
        _hak_ace_tick_slow(&g_ace, m);
    }
    _hak_ace_trace_elo();
    _hak_ace_probe_add_cpu(_hak_thread_cpu_ns() - cpu);
}

static void *ace_main(void *arg) {
    (void)arg;
    uint64_t fast = (uint64_t)hak_opt(OPT_ACE_FAST_INTERVAL_MS);
    uint64_t since_alone = 0;
    while (atomic_load_explicit(&g_run, memory_order_acquire) == ACE_RUNNING) {
        _hak_os_sleep_ms(fast);
        since_alone += fast;
        /* The last thread: the program's are gone (main called
         * pthread_exit), and the process must end as when its last thread
         * returns. Returning does that: glibc's last thread to finish calls
         * exit(0), atexit handlers and all. */
        if (since_alone >= ALONE_CHECK_MS) {
            since_alone = 0;
            if (_hak_os_live_threads() == 1) break;
        }
        /* a break in the block only leaves the block: the loop ends on the flag */
        bool stop = false;
        HAK_LOCKED(&g_lock) {
            if (atomic_load_explicit(&g_run, memory_order_relaxed) != ACE_RUNNING) {
                stop = true;
                break;
            }
            hak_ace_metrics_t m;
            tick(fast, &m);
            /* threads that stopped allocating run no decay: ACE does it for
             * them (while they work, their own slow paths do, without ACE
             * taking their locks), on the decay's own budget — not ACE's CPU,
             * and a back-off does not stop it */
            if (m.ops_per_s * m.interval_s < IDLE_TICK_OPS)
                _hak_tiers.decay(_hak_now_ns() +
                                 (uint64_t)hak_opt(OPT_ACE_SCAVENGE_BUDGET_US) * 1000u);
        }
        if (stop) break;
    }
    _hak_samples_enable(false);
    return NULL;
}

/* Inline to its own thread, g_lock held; false when it could not start. */
static void start_thread(void) {
    set_run(ACE_RUNNING);
    if (!_hak_os_thread_start(ace_main, ACE_STACK)) {
        set_run(ACE_OFF);
        _hak_samples_enable(false);
        _hak_warn("warning: HAKMEM_ACE_ENABLED=1 but the ACE thread could not start");
    }
}

/* The slow-path hook, from an allocation once start-up is over (never
 * from inside it: creating a thread allocates). The first call starts ACE
 * inline; later ones run a tick when one is due, and hand the ticks to
 * ACE's own thread once the program runs a second thread: looked for in
 * /proc when a thread has started to allocate since the last look. */
static void slow_path(void) {
    if (_hak_init_in_progress_here()) return;
    /* a plain load and store: a lost count only moves a look, and an atomic
     * add would lock the bus on every slow path of every thread */
    uint32_t calls = atomic_load_explicit(&g_calls, memory_order_relaxed);
    atomic_store_explicit(&g_calls, calls + 1, memory_order_relaxed);
    int run = atomic_load_explicit(&g_run, memory_order_relaxed);
    if (calls % INLINE_CHECK_CALLS != 0 && run == ACE_INLINE) return;
    uint64_t now = _hak_coarse_ns(), heaps = _hak_tiers.heaps_made();
    if ((now < g_next_tick_ns && heaps == g_heaps_seen) || pthread_mutex_trylock(&g_lock) != 0)
        return;
    uint64_t fast = (uint64_t)hak_opt(OPT_ACE_FAST_INTERVAL_MS);
    run = atomic_load_explicit(&g_run, memory_order_relaxed);
    if (run == ACE_WANTED) {
        /* what a page fault costs here prices giving memory back */
        uint64_t fault = _hak_os_fault_cost();
        _hak_ace_reset(&g_ace);
        if (fault != 0) g_ace.fault_ns_per_mib = (double)fault;
        _hak_ace_trace_start();
        _hak_ace_probe_start();
        g_since_slow_ms = 0;
        g_next_tick_ns = now + fast * 1000000u;
        _hak_samples_enable(true);
        set_run(ACE_INLINE);
    } else if (run == ACE_INLINE && heaps != g_heaps_seen && _hak_os_live_threads() >= 2) {
        start_thread();
    } else if (run == ACE_INLINE && now >= g_next_tick_ns) {
        hak_ace_metrics_t m;
        tick(fast, &m);
        g_next_tick_ns = now + fast * 1000000u;
    }
    g_heaps_seen = heaps;
    hak_unlock(&g_lock);
}

/* One line for HAKMEM_STATS. */
static size_t summary(char *buf, size_t cap) {
    size_t n = 0;
    HAK_LOCKED(&g_lock) {
        const ace_t *a = &g_ace;
        HAK_PUT("learning: ELO %s, threshold %zu KiB; ACE %s, %llu ticks, %llu decisions, "
            "%llu KiB scavenged, LLC from %s%s%s\n",
            _hak_elo_state_name(hak_elo_state()), hak_elo_threshold() >> 10,
            a->stopped ? "backed off"
                       : k_run_summary[atomic_load_explicit(&g_run, memory_order_relaxed)],
            (unsigned long long)a->ticks, (unsigned long long)a->decisions,
            (unsigned long long)(a->scavenged_bytes >> 10),
            a->llc_from_pmu ? "the PMU" : "the estimate", a->stopped ? ": " : "", a->reason);
    }
    return n;
}

void _hak_ace_init(void) {
    _hak_ace_probe_init();
    _hak_ace_snapshot_defaults();
    _hak_stats_on_summary(summary);
    if (hak_opt(OPT_ACE_ENABLED)) set_run(ACE_WANTED);
}

void _hak_ace_lock(void) { hak_lock(&g_lock); }
void _hak_ace_unlock(void) { hak_unlock(&g_lock); }

/* In a forked child the thread is gone: ACE ticks inline again, until the
 * child has a second thread. */
void _hak_ace_child(void) {
    if (atomic_load_explicit(&g_run, memory_order_relaxed) == ACE_RUNNING) set_run(ACE_INLINE);
    _hak_ace_trace_child();
    hak_unlock(&g_lock);
}

/* ---- inspection and test hooks ---- */

static size_t state_json(const ace_t *a, char *buf, size_t cap) {
    size_t n = 0;
    HAK_PUT("{\"run\":\"%s\",\"stopped\":%s,\"reason\":\"%s\",\"backoff\":%u,\"trips\":%u,"
        "\"resumes\":%llu,\"ticks\":%llu,\"decisions\":%llu,\"llc_source\":\"%s\",\"reward\":%.4f,",
        k_run_names[atomic_load_explicit(&g_run, memory_order_relaxed)],
        a->stopped ? "true" : "false", a->reason, a->backoff, a->trips,
        (unsigned long long)a->resumes, (unsigned long long)a->ticks,
        (unsigned long long)a->decisions, a->llc_from_pmu ? "pmu" : "estimate", a->last_reward);
    HAK_PUT("\"bundle\":%u,\"diet_pct\":%u,\"decay_ms\":%u,\"bigcache_mb\":%u,"
        "\"bundle_ruled\":%s,\"calm\":%u,\"phases\":%llu,"
        "\"fault_ns_per_mib\":%.0f,",
        a->cur.bundle, a->cur.diet_pct, a->cur.decay_ms, a->cur.bigcache_mb,
        a->bundle_ruled ? "true" : "false", a->calm,
        (unsigned long long)a->phase.changes, a->fault_ns_per_mib);
    HAK_PUT("\"memory\":{\"idle_in_mb\":%.3f,\"cold_mb\":%.3f,\"large_peak_mb\":%.3f,"
        "\"reuse_mb\":[",
        a->mem.idle_in, a->mem.cold, a->mem.large_peak);
    for (unsigned k = 0; k < HAK_ACE_REUSE_BUCKETS; k++)
        HAK_PUT("%s%.3f", k ? "," : "", a->mem.reuse[k]);
    HAK_PUT("]},");
    HAK_PUT("\"scavenges\":%llu,\"scavenged_bytes\":%llu,\"last_scavenge\":{\"ns\":%llu,\"bytes\":%llu,"
        "\"complete\":%s},",
        (unsigned long long)a->scavenges, (unsigned long long)a->scavenged_bytes,
        (unsigned long long)a->last_scavenge_ns, (unsigned long long)a->last_scavenge_bytes,
        a->last_scavenge_complete ? "true" : "false");
    HAK_PUT("\"cap\":[");
    for (unsigned c = 0; c < HAK_CLASSES; c++) HAK_PUT("%s%u", c ? "," : "", a->cur.cap[c]);
    const race_t *r = &a->race;
    HAK_PUT("],\"race\":{\"racing\":%s,\"winner\":%d,\"playing\":%d,\"alive\":%u,"
        "\"ticks\":%u,\"spent\":%u,\"races\":%llu,\"recalls\":%llu,\"cost_ns\":[",
        r->racing ? "true" : "false", r->winner, r->playing, r->alive, r->ticks, r->spent,
        (unsigned long long)r->races, (unsigned long long)r->recalls);
    for (unsigned k = 0; k < RACE_CANDIDATES; k++) HAK_PUT("%s%.2f", k ? "," : "", r->cost[k]);
    HAK_PUT("]},\"diet\":{\"total\":%.3f,\"arms\":[", a->diet.total);
    for (unsigned k = 0; k < a->diet.arms; k++)
        HAK_PUT("%s{\"value\":%u,\"n\":%.3f,\"mean\":%.4f}", k ? "," : "", a->diet.value[k],
            a->diet.n[k], a->diet.mean[k]);
    HAK_PUT("]");
    HAK_PUT("}}");
    return n;
}

size_t hak_ace_json(char *buf, size_t cap) {
    hak_ensure_init();
    size_t n = 0;
    HAK_LOCKED(&g_lock) {
        n = state_json(&g_ace, buf, cap);
    }
    return hak_text_done(buf, cap, n);
}

int hak_ace_running(void) {
    hak_ensure_init();
    int running = 0;
    HAK_LOCKED(&g_lock) {
        int run = atomic_load_explicit(&g_run, memory_order_relaxed);
        running = (run == ACE_RUNNING || run == ACE_INLINE) && !g_ace.stopped;
    }
    return running;
}

void hak_ace_test_reset(void) {
    hak_ensure_init();
    set_run(ACE_MANUAL); /* a running thread exits */
    HAK_LOCKED(&g_lock) {
        _hak_ace_restore(&g_ace, &(hak_ace_metrics_t){0}, "test");
        g_ace.fault_ns_per_mib = 0; /* tests run on the named guess, not this machine's */
        _hak_ace_reset(&g_ace);
        _hak_ace_trace_restart();
    }
}

int hak_ace_test_tick(const hak_ace_metrics_t *m, int slow) {
    hak_ensure_init();
    if (m == NULL) {
        errno = EINVAL;
        return -1;
    }
    int r = 0;
    HAK_LOCKED(&g_lock) {
        r = slow ? _hak_ace_tick_slow(&g_ace, m) : _hak_ace_tick_fast(&g_ace, m);
    }
    return r;
}
