/* ACE's memory controllers, pure functions of the evidence the probe feeds
 * them (so tests can drive them with synthetic metrics):
 *
 * Decay delay. How long to keep idle memory before giving it back is a
 * ski-rental problem: keeping it costs memory for as long as it waits,
 * giving it back costs a page fault per page if it is reused later. The
 * allocator records how long memory sat idle before it was reused; the
 * controller picks the delay that would have cost least against that
 * distribution, with memory priced by HAKMEM_ACE_MEMORY_WEIGHT and page
 * faults by what they cost on this machine (measured when ACE starts).
 *
 * BigCache budget: see _hak_ace_tick_fast (a rule on refaulted BigCache
 * blocks and its idle peak).
 *
 * Phase detector: a few signatures of the workload (its rate, its remote
 * frees, how much memory goes idle and comes back, large-block traffic)
 * against their running means; far off for two ticks in a row is a new
 * phase, and the controllers forget what they learnt about the old one. */
#include "ace.h"

#include <string.h>

/* Evidence kept per tick: half-life of about 14 ticks (3.5 s at 250 ms),
 * longer than the gaps of a periodic program, so memory freed at the end
 * of a burst and reused at the next one reads as reused, not as never. */
#define MEM_DISCOUNT 0.95
#define PEAK_DISCOUNT 0.9    /* BigCache's idle peak fades faster: a budget follows use */
#define MIB (1.0 / (double)HAK_MIB)
#define MS 1e-3              /* seconds per millisecond */
#define PHASE_WARMUP 4       /* ticks before the detector judges */
#define PHASE_TICKS_OFF 2    /* ticks off the mean in a row that make a new phase */
#define PHASE_SIGMAS 4.0     /* off: further than this many deviations... */
#define PHASE_MEAN_WEIGHT 0.2 /* the newest tick's weight in the running mean */
/* ...and further than these, per signature: rate x 4, a quarter of frees
 * changing hands, memory flow and large traffic x 8 */
static const double k_phase_min[ACE_PHASE_DIMS] = {2.0, 0.25, 3.0, 3.0};

void _hak_ace_memctl_feed(memctl_t *mc, const hak_ace_metrics_t *m) {
    for (unsigned k = 0; k < HAK_ACE_REUSE_BUCKETS; k++)
        mc->reuse[k] = mc->reuse[k] * MEM_DISCOUNT + m->reuse_mb[k];
    mc->idle_in = mc->idle_in * MEM_DISCOUNT + m->idle_in_mb;
    mc->cold = mc->cold * MEM_DISCOUNT + m->large_cold_mb;
    mc->released = mc->released * MEM_DISCOUNT + m->released_mb;
    mc->refault = mc->refault * MEM_DISCOUNT + m->refault_mb;
    double peak = mc->large_peak * PEAK_DISCOUNT;
    mc->large_peak = m->large_idle_mb > peak ? m->large_idle_mb : peak;
}

/* Bucket k holds reuse after [2^k, 2^(k+1)) ms idle (bucket 0 from 0) and
 * stands for its upper edge: a delay keeps the bucket's memory only if it
 * keeps all of it, since reuse a little later than the delay faults it all
 * in again (bursts whose gaps jitter), while holding a little longer costs
 * little. */
static double bucket_seconds(unsigned k) { return (double)((uint64_t)2 << k) * MS; }

unsigned _hak_ace_best_delay(const memctl_t *mc, double lambda, double fault_ns_per_mib,
                             const uint32_t *arms, unsigned count, double *cost) {
    double never = mc->released > mc->refault ? mc->released - mc->refault : 0;
    unsigned best = 0;
    for (unsigned i = 0; i < count; i++) {
        double d = arms[i] * MS, c = never * lambda * d;
        for (unsigned k = 0; k < HAK_ACE_REUSE_BUCKETS; k++) {
            double t = bucket_seconds(k);
            c += mc->reuse[k] * (t < d ? lambda * t : lambda * d + fault_ns_per_mib);
        }
        cost[i] = c;
        if (c < cost[best]) best = i;
    }
    return best;
}

static double log2p(double x) { return _hak_ln(1.0 + (x > 0 ? x : 0)) / _hak_ln(2.0); }

bool _hak_ace_phase_feed(phase_t *p, const hak_ace_metrics_t *m) {
    double dt = m->interval_s > 0 ? m->interval_s : 1.0;
    double flow = m->idle_in_mb;
    for (unsigned k = 0; k < HAK_ACE_REUSE_BUCKETS; k++) flow += m->reuse_mb[k];
    double sig[ACE_PHASE_DIMS] = {log2p(m->ops_per_s), m->remote_free_rate, log2p(flow / dt),
                                  log2p((m->large_cold_mb + m->large_idle_mb) / dt)};
    memcpy(p->last, sig, sizeof(p->last));
    bool off = false;
    for (unsigned d = 0; d < ACE_PHASE_DIMS; d++) {
        double gap = sig[d] > p->mean[d] ? sig[d] - p->mean[d] : p->mean[d] - sig[d];
        double limit = PHASE_SIGMAS * p->dev[d];
        if (limit < k_phase_min[d]) limit = k_phase_min[d];
        off |= p->seen >= PHASE_WARMUP && gap > limit;
    }
    p->off = off ? p->off + 1 : 0;
    bool change = p->off >= PHASE_TICKS_OFF;
    for (unsigned d = 0; d < ACE_PHASE_DIMS; d++) {
        if (change || p->seen == 0) {
            p->mean[d] = sig[d];
            p->dev[d] = 0;
            continue;
        }
        if (off) continue; /* an outlier does not move the mean it is judged against */
        double gap = sig[d] > p->mean[d] ? sig[d] - p->mean[d] : p->mean[d] - sig[d];
        p->mean[d] += (sig[d] - p->mean[d]) * PHASE_MEAN_WEIGHT;
        p->dev[d] += (gap - p->dev[d]) * PHASE_MEAN_WEIGHT;
    }
    if (change) {
        p->off = 0;
        p->seen = 0;
        p->changes++;
    }
    p->seen++;
    return change;
}

bool _hak_ace_phase_near(const double a[ACE_PHASE_DIMS], const double b[ACE_PHASE_DIMS]) {
    for (unsigned d = 0; d < ACE_PHASE_DIMS; d++) {
        double gap = a[d] > b[d] ? a[d] - b[d] : b[d] - a[d];
        if (gap > k_phase_min[d]) return false;
    }
    return true;
}
