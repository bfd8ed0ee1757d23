/* ACE's metrics of the running process: counters read at each tick (the
 * tiers' through the API layer's table) and turned into rates over the
 * tick's interval. */
#include "ace.h"

#include <string.h>

#define NS 1e-9                /* seconds per nanosecond */
#define P99_MIN_SAMPLES 20     /* fewer latency samples make no percentile */
#define P99 0.99

typedef struct probe {
    uint64_t t, cpu, process_cpu, llc, ops, cold, released, refault;
    hak_counters_t c;
    hak_samples_t s;
} probe_t;

static probe_t g_prev; /* the last tick's readings */
/* CPU time of ACE's ticks (on its thread, or inline on a slow path): its
 * own, which the CPU guard limits. Decay passes it runs for idle threads
 * are work for the heaps, on their own budget, and not counted. */
static uint64_t g_ace_cpu;

void _hak_ace_probe_add_cpu(uint64_t cpu_ns) { g_ace_cpu += cpu_ns; }
static double g_llc_bytes;

void _hak_ace_probe_init(void) { g_llc_bytes = (double)_hak_os_llc_bytes(); }

static void probe(probe_t *p) {
    _hak_tiers.counters(&p->c);
    p->t = _hak_now_ns();
    p->cpu = g_ace_cpu;
    p->process_cpu = _hak_process_cpu_ns();
    uint32_t source;
    p->llc = _hak_pmu_read(&source);
    p->ops = 0;
    for (unsigned c = 0; c < HAK_CLASSES; c++) p->ops += p->c.allocs[c] + p->c.frees[c];
    p->ops += p->c.span_allocs + p->c.span_frees;
    _hak_samples_read(&p->s);
    p->cold = _hak_tiers.large_cold_hits();
    _hak_tiers.given_back(&p->released, &p->refault);
}

#define MIB (1.0 / (double)HAK_MIB)

void _hak_ace_probe_start(void) { probe(&g_prev); }


void _hak_ace_measure(hak_ace_metrics_t *m, bool slow) {
    probe_t now;
    probe(&now);
    memset(m, 0, sizeof(*m));
    double dt = (double)(now.t - g_prev.t) * NS;
    if (dt <= 0) dt = NS;
    m->interval_s = dt;
    double ops = (double)(now.ops - g_prev.ops);
    m->ops_per_s = ops / dt;
    double frees = 0, remote = 0;
    for (unsigned c = 0; c < HAK_CLASSES; c++) {
        m->cls_ops[c] = (double)(now.c.allocs[c] + now.c.frees[c] - g_prev.c.allocs[c] -
                                 g_prev.c.frees[c]);
        m->cls_underflows[c] = (double)(now.c.misses[c] - g_prev.c.misses[c]);
        m->cls_overflows[c] = (double)(now.c.flushes[c] - g_prev.c.flushes[c]);
        frees += (double)(now.c.frees[c] - g_prev.c.frees[c]);
        remote += (double)(now.c.remote_frees[c] - g_prev.c.remote_frees[c]);
    }
    frees += (double)(now.c.span_frees - g_prev.c.span_frees);
    remote += (double)(now.c.remote_frees[HAK_SPAN_CLASS] - g_prev.c.remote_frees[HAK_SPAN_CLASS]);
    m->remote_free_rate = frees > 0 ? remote / frees : 0;
    uint64_t cached, backlog, live;
    _hak_tiers.caches(&cached, &backlog, &live);
    if (live == 0) live = 1;
    m->remote_backlog = (double)backlog / (double)live;
    m->lock_wait_frac = (double)(now.s.lock_wait_ns - g_prev.s.lock_wait_ns) * NS / (dt * (double)live);
    uint32_t source;
    _hak_pmu_read(&source);
    if (source == HAK_PMU_READ || source == HAK_PMU_RDPMC) {
        /* LLC misses per allocator operation, of the thread the counter follows */
        double r = (double)(now.llc - g_prev.llc) / (ops > 1 ? ops : 1);
        m->llc_miss_rate = r < 1 ? r : 1;
        m->llc_from_pmu = 1;
    } else {
        /* Estimate: the share of the LLC that idle blocks in thread caches
         * occupy, the part of the program's cache the allocator crowds out. */
        double r = (double)cached / g_llc_bytes;
        m->llc_miss_rate = r < 1 ? r : 1;
    }
    uint64_t samples = 0;
    for (unsigned k = 0; k < HAK_LAT_BUCKETS; k++) samples += now.s.lat[k] - g_prev.s.lat[k];
    if (samples >= P99_MIN_SAMPLES) {
        uint64_t seen = 0;
        for (unsigned k = 0; k < HAK_LAT_BUCKETS; k++) {
            seen += now.s.lat[k] - g_prev.s.lat[k];
            if ((double)seen >= P99 * (double)samples) {
                m->p99_lat_ns = (double)((uint64_t)1 << k); /* the bucket's lower bound */
                break;
            }
        }
    }
    m->ace_cpu_percent = (double)(now.cpu - g_prev.cpu) * NS / dt * 100.0;
    /* what the program paid per operation: the race's evidence */
    double cpu = (double)(now.process_cpu - g_prev.process_cpu) - (double)(now.cpu - g_prev.cpu);
    m->cpu_ns_per_op = ops > 0 && cpu > 0 ? cpu / ops : 0;
    for (unsigned k = 0; k < HAK_REUSE_BUCKETS; k++)
        m->reuse_mb[k] = (double)(now.s.reuse[k] - g_prev.s.reuse[k]) * MIB;
    m->idle_in_mb = (double)(now.s.idle_in_bytes - g_prev.s.idle_in_bytes) * MIB;
    m->large_cold_mb = (double)(now.cold - g_prev.cold) * MIB;
    m->released_mb = (double)(now.released - g_prev.released) * MIB;
    m->refault_mb = (double)(now.refault - g_prev.refault) * MIB;
    m->large_idle_mb = (double)_hak_tiers.large_idle() * MIB;
    m->rss_mb = (double)_hak_os_rss_bytes() * MIB;
    if (slow) {
        m->in_use_mb = (double)_hak_tiers.in_use() * MIB;
        /* in use / resident: what releasing free memory improves */
        m->frag_ratio = m->rss_mb > 0 ? m->in_use_mb / m->rss_mb : 1.0;
        if (m->frag_ratio > 1.0) m->frag_ratio = 1.0;
    }
    g_prev = now;
}
