/* ACE's controller: a function of the metrics it is given and its own
 * state (ace.c runs it on measured metrics, the test hooks on synthetic
 * ones). Every knob change goes through apply(), as single relaxed stores
 * that allocating threads pick up on their next slow path: nobody waits
 * for ACE.
 *
 * What it steers is the trade between speed and memory:
 *  - the decay delay (HAKMEM_DECAY_MS), from how long idle memory waits
 *    before it is reused (ace_memory.c);
 *  - BigCache's resident budget (HAKMEM_BIGCACHE_MB): raised when blocks
 *    it had to give back come back (each such reuse faults its pages in
 *    again) and that costs more than holding them would, lowered again
 *    once its idle peak stays far below it;
 *  - the speed knobs — the empty slabs each class keeps (HAKMEM_TCACHE_CAP
 *    per class) and the remote-free batch (HAKMEM_BUNDLE) — by racing
 *    whole configurations of them on the live program (ace_race.c), while
 *    classes take and give back slabs or frees change threads.
 * A memory knob moves at most once per hold time (dwell) and only for a
 * clear gain (hysteresis); a phase change (ace_memory.c) makes the memory
 * controllers forget what they learnt, puts the memory knobs back on their
 * defaults and starts a race, unless the phase was seen before: then its
 * winner and memory knobs come back. Rules: lock waits widen the batch, a
 * high LLC miss rate puts the per-class caches on a diet (a bandit
 * rewarded with throughput against its running mean minus
 * HAKMEM_ACE_MEMORY_WEIGHT's share of resident memory against its own);
 * on slow ticks, resident memory far above what
 * is in use triggers a scavenge, and two calm slow ticks undo what the
 * rules changed. Guards stop ACE and restore every default. */
#include "ace.h"

#include <string.h>

#define IN_PLAY_MOVES 0.002    /* slab takes and gives per operation that make the caps matter */
#define IN_PLAY_REMOTE 0.01    /* share of remote frees that makes the remote batch matter */
#define LLC_HIGH 0.15          /* LLC misses per operation that call for a diet */
#define LOCK_HIGH 0.05         /* share of time waiting on locks that calls for wider batches */
#define WASTE_SHARE 0.5        /* resident beyond in use by this share of it... */
#define WASTE_MIN_MB 32.0      /* ...and by at least 32 MiB: scavenge */
#define CALM_SLOW_TICKS 2      /* calm slow ticks in a row before the rules' changes are undone */
#define P99_TICKS 2            /* ticks over the p99 limit that trip the guard: one is noise */
#define BACKOFF_TICKS 100      /* a guard's first back-off: 100 fast ticks (1 s by default)... */
#define BACKOFF_MAX_SHIFT 6    /* ...doubled with each trip, up to 64 times that */
#define TPUT_CAP 2.0           /* throughput over its running mean counts up to 2x */
#define MEAN_WEIGHT 0.2        /* weight of the newest tick in the running means */
#define LOCK_SCALE 10.0        /* lock-wait share x 10 is the lock penalty (at most 1) */
#define DIET_NONE 100          /* diet factor, %: none */
#define DIET_FIRST 75          /* the diet bandit's first factor, % */
#define DECAY_HOLD 8           /* ticks the decay delay does not fall after a move (2 s) */
#define BUDGET_HOLD 4          /* BigCache's budget: a step per second */
#define BUDGET_STEP 4          /* the budget grows at most 4x per step */
#define HYSTERESIS 0.15        /* a new delay must be this much cheaper than the current */
#define MIN_EVIDENCE_MB 4.0    /* memory gone idle or reused before the delay moves */
#define COLD_MIN_MB 1.0        /* refaulted BigCache MiB (discounted) that say the budget is short */
#define PEAK_SHARE 4           /* idle peak under a quarter of the budget lets it down a step */
#define MEMORY_UNIT 1000.0     /* HAKMEM_ACE_MEMORY_WEIGHT is in us: the models count ns */
#define WEIGHT_FULL 100.0      /* a memory weight this high makes memory count as much as speed */

static const uint32_t k_diet_pct[] = {50, 66, 75, 90, 100};
static const uint32_t k_bundle_arms[] = {8, 16, 32, 64, 128, 256};
static const uint32_t k_decay_arms[] = {10, 50, 200, 500, 1000, 2000, 5000, 20000};
static const uint32_t k_budget_arms[] = {16, 32, 64, 128, 256, 512, 1024};
#define DECAY_ARMS HAK_COUNT(k_decay_arms)

/* The race's candidates (ace_race.c), the defaults first: four times the
 * empty slabs each class keeps (up to the class's limit; 512 blocks for
 * HAKMEM_TCACHE_CAP's 128), twice the remote batch (256 for HAKMEM_BUNDLE's
 * 128, its largest), and both: the settings the oracle's grid found best
 * on the workloads where learning lost to a fixed one. */
#define RACE_CAP_SCALE 4
#define RACE_BUNDLE_SCALE 2
#define RACE_BUNDLE_MAX 256 /* HAKMEM_BUNDLE's largest */
static const struct {
    uint32_t cap_scale, bundle_scale;
} k_race[RACE_CANDIDATES] = {
    {1, 1}, {RACE_CAP_SCALE, 1}, {1, RACE_BUNDLE_SCALE}, {RACE_CAP_SCALE, RACE_BUNDLE_SCALE}};

/* Why each knob changes in one decision (NULL: it does not). */
typedef struct rules {
    const char *cap[HAK_CLASSES], *bundle, *diet, *decay, *budget;
} rules_t;

/* The knobs as configured at start: what guards and calm ticks restore
 * (a forked child inherits them, not the parent's tuned values). */
static knobs_t g_defaults;

void _hak_ace_snapshot_defaults(void) {
    for (unsigned c = 0; c < HAK_CLASSES; c++) g_defaults.cap[c] = _hak_tiers.class_cap(c);
    g_defaults.bundle = (uint32_t)hak_opt(OPT_BUNDLE);
    g_defaults.diet_pct = DIET_NONE;
    g_defaults.decay_ms = (uint32_t)hak_opt(OPT_DECAY_MS);
    g_defaults.bigcache_mb = (uint32_t)hak_opt(OPT_BIGCACHE_MB);
}

/* What a page fault costs until ACE's thread has measured it: 256 faults
 * per MiB at 500 ns, a virtual machine's usual. */
#define FAULT_NS_PER_MIB_GUESS 128000.0

void _hak_ace_reset(ace_t *a) {
    double fault = a->fault_ns_per_mib; /* measured once per process */
    memset(a, 0, sizeof(*a));
    a->fault_ns_per_mib = fault > 0 ? fault : FAULT_NS_PER_MIB_GUESS;
    a->def = g_defaults;
    a->cur = a->def;
    a->phase_decay_ms = a->def.decay_ms;
    a->phase_bigcache_mb = a->def.bigcache_mb;
    _hak_bandit_init(&a->diet, k_diet_pct, HAK_COUNT(k_diet_pct), DIET_FIRST);
    a->race.winner = -1;
    _hak_race_start(&a->race);
}

/* ---- applying decisions: the one place knobs change ---- */

static uint32_t effective_cap(uint32_t cap, uint32_t diet_pct) {
    uint32_t c = (uint32_t)(((uint64_t)cap * diet_pct + DIET_NONE / 2) / DIET_NONE);
    return cap > 0 && c == 0 ? 1 : c;
}

static unsigned apply(ace_t *a, const knobs_t *next, const rules_t *why, const hak_ace_metrics_t *m,
                      const char *loop) {
    unsigned changes = 0;
    for (unsigned c = 0; c < HAK_CLASSES; c++) {
        uint32_t old = effective_cap(a->cur.cap[c], a->cur.diet_pct);
        uint32_t now = effective_cap(next->cap[c], next->diet_pct);
        if (old == now) continue;
        _hak_tiers.set_class_cap(c, now);
        _hak_ace_trace_decision(a, m, loop,
                                why->cap[c] ? why->cap[c] : (why->diet ? why->diet : "restore"),
                                "tcache_cap", (int)c, old, now);
        changes++;
    }
    struct { uint32_t old, now; hak_opt_id_t id; const char *knob, *rule; } g[] = {
        {a->cur.bundle, next->bundle, OPT_BUNDLE, "bundle", why->bundle},
        {a->cur.diet_pct, next->diet_pct, OPT_COUNT, "diet_factor", why->diet},
        {a->cur.decay_ms, next->decay_ms, OPT_DECAY_MS, "decay_ms", why->decay},
        {a->cur.bigcache_mb, next->bigcache_mb, OPT_BIGCACHE_MB, "bigcache_mb", why->budget},
    };
    for (unsigned i = 0; i < HAK_COUNT(g); i++) {
        if (g[i].old == g[i].now) continue;
        if (g[i].id != OPT_COUNT) hak_opt_store(g[i].id, g[i].now);
        _hak_ace_trace_decision(a, m, loop, g[i].rule ? g[i].rule : "restore", g[i].knob, -1,
                                g[i].old, g[i].now);
        changes++;
    }
    a->cur = *next;
    a->decisions += changes;
    return changes;
}

/* ---- rewards ---- */

static uint32_t step(const uint32_t *arms, unsigned count, uint32_t cur, int dir) {
    unsigned i = 0;
    while (i + 1 < count && arms[i] < cur) i++;
    if (dir < 0) return i > 0 && arms[i] >= cur ? arms[i - 1] : arms[i];
    return arms[i] > cur ? arms[i] : (i + 1 < count ? arms[i + 1] : arms[i]);
}

/* The memory weight as a share of a reward: resident memory at its
 * running mean costs this much of the throughput at its own. */
static double memory_share(void) {
    double w = (double)hak_opt(OPT_ACE_MEMORY_WEIGHT) / WEIGHT_FULL;
    return w < 1.0 ? w : 1.0;
}

static double global_reward(ace_t *a, const hak_ace_metrics_t *m) {
    double tput = a->tput_mean > 0 ? m->ops_per_s / a->tput_mean : 1.0;
    if (tput > TPUT_CAP) tput = TPUT_CAP;
    double rss = a->rss_mean > 0 ? m->rss_mb / a->rss_mean : 1.0;
    double lock = m->lock_wait_frac * LOCK_SCALE;
    return tput - memory_share() * rss - (m->llc_miss_rate + (lock < 1.0 ? lock : 1.0));
}

/* ---- guards ---- */

void _hak_ace_restore(ace_t *a, const hak_ace_metrics_t *m, const char *loop) {
    rules_t why;
    for (unsigned c = 0; c < HAK_CLASSES; c++) why.cap[c] = "guard";
    why.bundle = why.diet = why.decay = why.budget = "guard";
    apply(a, &a->def, &why, m, loop);
}

/* The first guard over its limit (p99 only after P99_TICKS ticks over), or
 * -1. */
static int guard_over(ace_t *a, const hak_ace_metrics_t *m, const char **name, double *value,
                      hak_opt_id_t *limit) {
    struct { const char *name; double value; hak_opt_id_t limit; } g[] = {
        {"p99_lat_ns", m->p99_lat_ns, OPT_ACE_MAX_P99_LAT_NS},
        {"rss_mb", m->rss_mb, OPT_ACE_MAX_RSS_MB},
        {"cpu_percent", m->ace_cpu_percent, OPT_ACE_MAX_CPU_PERCENT},
    };
    /* one slow sample is not a trend: p99 must stay over for P99_TICKS */
    a->p99_over = g[0].value > (double)hak_opt(g[0].limit) ? a->p99_over + 1 : 0;
    for (unsigned i = 0; i < HAK_COUNT(g); i++) {
        if (!(g[i].value > (double)hak_opt(g[i].limit)) || (i == 0 && a->p99_over < P99_TICKS))
            continue;
        *name = g[i].name;
        *value = g[i].value;
        *limit = g[i].limit;
        return (int)i;
    }
    return -1;
}

static unsigned backoff_ticks(unsigned trips) {
    unsigned shift = trips > 0 ? trips - 1 : 0;
    return BACKOFF_TICKS << (shift < BACKOFF_MAX_SHIFT ? shift : BACKOFF_MAX_SHIFT);
}

/* A guard over its limit backs ACE off: the defaults restored, no decisions
 * for a while (the thread goes on measuring, and giving idle threads'
 * memory back); true when it did. */
static bool guards(ace_t *a, const hak_ace_metrics_t *m, const char *loop) {
    const char *name;
    double value;
    hak_opt_id_t limit;
    if (guard_over(a, m, &name, &value, &limit) < 0) return false;
    a->stopped = true;
    a->trips++;
    a->backoff = backoff_ticks(a->trips);
    snprintf(a->reason, sizeof(a->reason), "%s %.0f over %s %.0f", name, value, _hak_opt_env(limit),
             (double)hak_opt(limit));
    if (hak_opt(OPT_ACE_LOG_LEVEL) >= 1)
        _hak_warn("[ACE] backed off for %u ticks: %s; defaults restored", a->backoff, a->reason);
    _hak_ace_trace_guard(name, value, (double)hak_opt(limit));
    _hak_ace_restore(a, m, loop);
    return true;
}

/* Backed off: true once the back-off has passed with every guard under its
 * limit; a guard still over starts another back-off, as long as the last. */
static bool resume(ace_t *a, const hak_ace_metrics_t *m) {
    if (a->backoff > 0 && --a->backoff > 0) return false;
    const char *name;
    double value;
    hak_opt_id_t limit;
    if (guard_over(a, m, &name, &value, &limit) >= 0) {
        a->backoff = backoff_ticks(a->trips);
        return false;
    }
    a->stopped = false;
    a->reason[0] = '\0';
    a->resumes++;
    _hak_race_start(&a->race); /* the defaults came back: what was raced before is judged anew */
    if (hak_opt(OPT_ACE_LOG_LEVEL) >= 1) _hak_warn("[ACE] resumed after %u guard trips", a->trips);
    _hak_ace_trace_guard("resumed", 0, 0);
    return true;
}

/* ---- the memory knobs ---- */

static void decide_decay(ace_t *a, knobs_t *next, rules_t *why) {
    bool held = a->mem.decay_hold > 0;
    if (held) a->mem.decay_hold--;
    double seen = a->mem.released;
    for (unsigned k = 0; k < HAK_ACE_REUSE_BUCKETS; k++) seen += a->mem.reuse[k];
    if (seen < MIN_EVIDENCE_MB) return;
    double cost[DECAY_ARMS];
    double lambda = (double)hak_opt(OPT_ACE_MEMORY_WEIGHT) * MEMORY_UNIT;
    unsigned best =
        _hak_ace_best_delay(&a->mem, lambda, a->fault_ns_per_mib, k_decay_arms, DECAY_ARMS, cost);
    unsigned cur = 0;
    while (cur + 1 < DECAY_ARMS && k_decay_arms[cur] < next->decay_ms) cur++;
    if (best == cur || cost[best] > cost[cur] * (1.0 - HYSTERESIS)) return;
    /* Rising is the safe side (memory held longer, no page faults): it may
     * follow the evidence at every tick; falling waits out the hold, so
     * the delay cannot swing back and forth. */
    if (held && best < cur) return;
    next->decay_ms = k_decay_arms[best];
    why->decay = "reuse";
    a->mem.decay_hold = DECAY_HOLD;
}

/* A refaulted BigCache block is one the budget pushed out before it was
 * reused: raising the budget pays when the faults it saves cost more than
 * holding the extra memory for a decay delay would. */
static void decide_budget(ace_t *a, const hak_ace_metrics_t *m, knobs_t *next, rules_t *why) {
    if (a->mem.budget_hold > 0) {
        a->mem.budget_hold--;
        return;
    }
    uint32_t cur = next->bigcache_mb; /* the current one, or a new phase's default */
    double lambda = (double)hak_opt(OPT_ACE_MEMORY_WEIGHT) * MEMORY_UNIT;
    double interval = m->interval_s > 0 ? m->interval_s : 1.0;
    if (a->mem.cold >= COLD_MIN_MB) {
        uint32_t want = cur + (uint32_t)a->mem.cold;
        if (want > cur * BUDGET_STEP) want = cur * BUDGET_STEP;
        unsigned i = 0; /* the smallest arm that holds it */
        while (i + 1 < HAK_COUNT(k_budget_arms) && k_budget_arms[i] < want) i++;
        uint32_t up = k_budget_arms[i];
        double saved = a->mem.cold / interval * a->fault_ns_per_mib; /* ns per second */
        double held = (double)(up - cur) * lambda * (double)next->decay_ms * 1e-3 / interval;
        if (up > cur && saved > held) {
            next->bigcache_mb = up;
            why->budget = "refaults";
            a->mem.budget_hold = BUDGET_HOLD;
            a->mem.cold = 0; /* judged: the new budget earns its own evidence */
        }
    } else if (cur > a->def.bigcache_mb && a->mem.large_peak * PEAK_SHARE < (double)cur) {
        next->bigcache_mb = step(k_budget_arms, HAK_COUNT(k_budget_arms), cur, -1);
        if (next->bigcache_mb < a->def.bigcache_mb) next->bigcache_mb = a->def.bigcache_mb;
        why->budget = "idle";
        a->mem.budget_hold = BUDGET_HOLD;
    }
}

/* ---- the race's knobs ---- */

/* A default scaled up to `most` (a user's default above it stays). */
static uint32_t scaled(uint32_t def, uint32_t scale, uint32_t most) {
    uint64_t v = (uint64_t)def * scale;
    if (most < def) most = def;
    return v < most ? (uint32_t)v : most;
}

/* Candidate k's caps and batch (the batch unless a rule holds it). */
static void race_apply(ace_t *a, unsigned k, knobs_t *next, rules_t *why) {
    for (unsigned c = 0; c < HAK_CLASSES; c++) {
        next->cap[c] = scaled(a->def.cap[c], k_race[k].cap_scale, _hak_tiers.class_cap_limit(c));
        if (next->cap[c] != a->cur.cap[c]) why->cap[c] = "race";
    }
    if (a->bundle_ruled) return;
    next->bundle = scaled(a->def.bundle, k_race[k].bundle_scale, RACE_BUNDLE_MAX);
    if (next->bundle != a->cur.bundle) why->bundle = "race";
}

/* The candidates that differ from candidate k only in knobs out of play
 * (the caps, the batch): a tick of k stands for them too. */
static unsigned race_same(unsigned k, bool caps, bool batch) {
    unsigned same = 0;
    for (unsigned j = 0; j < RACE_CANDIDATES; j++)
        if ((!caps || k_race[j].cap_scale == k_race[k].cap_scale) &&
            (!batch || k_race[j].bundle_scale == k_race[k].bundle_scale))
            same |= 1u << j;
    return same;
}

/* Slab takes and gives back per operation, over every class. */
static double slab_moves(const hak_ace_metrics_t *m) {
    double ops = 0, moves = 0;
    for (unsigned c = 0; c < HAK_CLASSES; c++) {
        ops += m->cls_ops[c];
        moves += m->cls_underflows[c] + m->cls_overflows[c];
    }
    return ops > 0 ? moves / ops : 0;
}

/* ---- the loops ---- */

/* A new phase: the memory evidence and the diet start again, and a race
 * (which a phase seen before ends at once). The memory knobs go back to
 * their defaults: what the last phase's evidence set (a long delay, a
 * large budget) would hold its memory through phases that do not reuse
 * it. The phase that ended keeps them, for its return. */
static void new_phase(ace_t *a, knobs_t *next, rules_t *why) {
    _hak_race_leave(&a->race, a->phase_decay_ms, a->phase_bigcache_mb);
    _hak_bandit_forget(&a->diet);
    memset(&a->mem, 0, sizeof(a->mem));
    _hak_race_start(&a->race);
    _hak_ace_trace_phase(a->phase.changes);
    next->decay_ms = a->def.decay_ms;
    next->bigcache_mb = a->def.bigcache_mb;
    why->decay = why->budget = "phase";
}

/* A phase seen before: its winner (the race's) and its memory knobs. */
static void recall(ace_t *a, knobs_t *next, rules_t *why) {
    const race_memory_t *e = _hak_race_recall(&a->race, a->phase.last);
    if (e == NULL || e->decay_ms == 0) return;
    next->decay_ms = e->decay_ms;
    next->bigcache_mb = e->bigcache_mb;
    why->decay = why->budget = "recall";
}

int _hak_ace_tick_fast(ace_t *a, const hak_ace_metrics_t *m) {
    if (a->stopped && !resume(a, m)) return -1;
    if (guards(a, m, "fast")) return -1;
    a->ticks++;
    a->llc_from_pmu = m->llc_from_pmu != 0.0;
    knobs_t next = a->cur;
    rules_t why = {0};
    if (_hak_ace_phase_feed(&a->phase, m)) new_phase(a, &next, &why);
    _hak_ace_memctl_feed(&a->mem, m);
    double r = global_reward(a, m);
    a->last_reward = r;
    _hak_bandit_reward(&a->diet, r);
    a->tput_mean = a->tput_mean > 0 ? a->tput_mean * (1.0 - MEAN_WEIGHT) + m->ops_per_s * MEAN_WEIGHT
                                    : m->ops_per_s;
    if (m->rss_mb > 0)
        a->rss_mean = a->rss_mean > 0 ? a->rss_mean * (1.0 - MEAN_WEIGHT) + m->rss_mb * MEAN_WEIGHT
                                      : m->rss_mb;
    _hak_ace_trace_tick(a, m, "fast");

    decide_decay(a, &next, &why);
    decide_budget(a, m, &next, &why);
    if (m->lock_wait_frac > LOCK_HIGH) {
        next.bundle = step(k_bundle_arms, HAK_COUNT(k_bundle_arms), a->cur.bundle, 1);
        why.bundle = "bundle";
        a->bundle_ruled = a->alarm = true;
    }
    if (m->llc_miss_rate > LLC_HIGH) {
        next.diet_pct = _hak_bandit_pull(&a->diet);
        why.diet = "diet";
        a->alarm = true;
    }
    /* A tick counts in the race only while its knobs are in play: racing
     * knobs the workload does not exercise measures noise. */
    bool caps = slab_moves(m) > IN_PLAY_MOVES;
    bool batch = m->remote_free_rate > IN_PLAY_REMOTE && !a->bundle_ruled;
    if (a->race.racing && a->race.spent < RACE_RECALL_TICKS) recall(a, &next, &why);
    bool racing = a->race.racing;
    unsigned k = _hak_race_feed(&a->race, m->cpu_ns_per_op,
                                caps || batch ? m->ops_per_s * m->interval_s : 0,
                                race_same((unsigned)a->race.playing, caps, batch));
    if (racing && !a->race.racing) _hak_race_remember(&a->race, a->phase.mean);
    race_apply(a, k, &next, &why);
    if (a->phase.off == 0) {
        a->phase_decay_ms = next.decay_ms;
        a->phase_bigcache_mb = next.bigcache_mb;
    }
    return (int)apply(a, &next, &why, m, "fast");
}

/* Gives back idle memory within the budget, whatever its age: BigCache's
 * resident blocks, then what the heaps hold without a block in use (a
 * busy owner's heap is skipped). */
static void scavenge(ace_t *a) {
    uint64_t budget = (uint64_t)hak_opt(OPT_ACE_SCAVENGE_BUDGET_US) * 1000u;
    uint64_t t0 = _hak_now_ns();
    size_t bytes = _hak_tiers.release(t0 + budget);
    uint64_t ns = _hak_now_ns() - t0;
    a->scavenges++;
    a->scavenged_bytes += bytes;
    a->last_scavenge_ns = ns;
    a->last_scavenge_bytes = bytes;
    a->last_scavenge_complete = ns < budget;
    _hak_ace_trace_scavenge(bytes, ns, budget, a->last_scavenge_complete);
}

int _hak_ace_tick_slow(ace_t *a, const hak_ace_metrics_t *m) {
    if (a->stopped) return -1;
    if (guards(a, m, "slow")) return -1;
    double waste = m->rss_mb - m->in_use_mb;
    double limit = m->in_use_mb * WASTE_SHARE > WASTE_MIN_MB ? m->in_use_mb * WASTE_SHARE
                                                             : WASTE_MIN_MB;
    bool rss_high = m->rss_mb > 0 && m->in_use_mb > 0 && waste > limit;
    _hak_ace_trace_tick(a, m, "slow");

    knobs_t next = a->cur;
    rules_t why = {0};
    bool calm = !rss_high && !a->alarm;
    a->alarm = false;
    a->calm = calm ? a->calm + 1 : 0;
    if (a->calm >= CALM_SLOW_TICKS &&
        (a->bundle_ruled || a->cur.diet_pct != DIET_NONE)) {
        if (a->bundle_ruled) next.bundle = a->def.bundle;
        next.diet_pct = DIET_NONE;
        why.bundle = why.diet = "restore";
        a->bundle_ruled = false;
    }
    int changes = (int)apply(a, &next, &why, m, "slow");
    if (rss_high) scavenge(a);
    return changes;
}
