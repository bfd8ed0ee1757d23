/* ACE's controller: a function of the metrics it is given and its own
 * state (ace.c runs it on measured metrics, the test hooks on synthetic
 * ones). Every knob change goes through apply(), as single relaxed stores
 * that allocating threads pick up on their next slow path: nobody waits
 * for ACE.
 *
 * Fast loop: a remote-free backlog above half the drain threshold lowers
 * the threshold one step; an LLC miss rate above 0.15 puts the thread
 * caches on a diet (the factor is a bandit's); lock waits above 5 % of
 * the time widen the bundle one step. Otherwise UCB1 bandits pick the
 * per-class cache capacity, the drain threshold and the bundle width.
 * Slow loop: fragmentation (in use / resident below 0.5) triggers a
 * partial release of free units (how many per segment is a bandit's);
 * resident memory far above what is in use triggers a scavenge bounded by
 * HAKMEM_ACE_SCAVENGE_BUDGET_US; two calm slow ticks in a row restore what
 * the rules changed. Guards stop ACE and restore every default.
 *
 * Rewards. Per class: 1 / (1 + blocks moved to or from the slabs per
 * operation) minus 0.05 x min(1, capacity x block size / 1 MiB): what a
 * capacity controls is how often the thread cache runs dry or overflows
 * (each time a bundle of blocks moves), against the memory it holds idle;
 * this is measured per class, where a throughput reward would mix every
 * class and every phase of the program. Global knobs: SPEC's throughput -
 * (miss + lock + fragmentation) penalties, throughput normalised by its
 * running mean so that phases of the program do not read as the knob's
 * doing. */
#include "ace.h"

#include <string.h>

#define MIN_CLASS_OPS 256.0    /* operations in a tick for a class's bandit to play */
#define IN_PLAY_MOVES 0.002    /* under/overflows per operation that make a knob matter */
#define IN_PLAY_REMOTE 0.01    /* share of remote frees that makes the drain threshold matter */
#define IN_PLAY_HELD (256u << 10) /* bytes a class's cache may hold before memory matters */
#define BACKLOG_FRACTION 0.5   /* backlog high: above this share of the drain threshold */
#define LLC_HIGH 0.15          /* LLC misses per operation that call for a diet */
#define LOCK_HIGH 0.05         /* share of time waiting on locks that calls for wider bundles */
#define FRAG_LOW 0.5           /* in use / resident below this: release free units */
#define WASTE_SHARE 0.5        /* resident beyond in use by this share of it... */
#define WASTE_MIN_MB 32.0      /* ...and by at least 32 MiB: scavenge */
#define CALM_SLOW_TICKS 2      /* calm slow ticks in a row before the rules' changes are undone */
#define P99_TICKS 2            /* ticks over the p99 limit that trip the guard: one is noise */
#define MEM_WEIGHT 0.05        /* a class's reward: cost of holding 1 MiB idle (at most) */
#define TPUT_CAP 2.0           /* throughput over its running mean counts up to 2x */
#define TPUT_WEIGHT 0.2        /* weight of the newest tick in the running mean */
#define LOCK_SCALE 10.0        /* lock-wait share x 10 is the lock penalty (at most 1) */
#define FRAG_WEIGHT 0.2        /* the fragmentation penalty at in use / resident = 0 */
#define DIET_NONE 100          /* diet factor, %: none */
#define DIET_FIRST 75          /* the diet bandit's first factor, % */
#define DIRECTION_MIN_ARMS 3   /* with fewer arms there is no order of exploration to choose */

static const uint32_t k_cap_arms[] = {4, 8, 16, 32, 64, 128, 256, 512};
static const uint32_t k_drain_arms[] = {32, 64, 128, 256, 512, 1024};
static const uint32_t k_release_arms[] = {1, 2, 4, 8};
static const uint32_t k_diet_pct[] = {50, 66, 75, 90, 100};
static const uint32_t k_bundle_arms[] = {16, 32, 64, 128};

/* Why each knob changes in one decision (NULL: it does not). */
typedef struct rules {
    const char *cap[HAK_CLASSES], *drain, *bundle, *release, *diet;
} rules_t;

/* The knobs as configured at start: what guards and calm ticks restore
 * (a forked child inherits them, not the parent's tuned values). */
static knobs_t g_defaults;

void _hak_ace_snapshot_defaults(void) {
    for (unsigned c = 0; c < HAK_CLASSES; c++) g_defaults.cap[c] = _hak_tiers.class_cap(c);
    g_defaults.drain = (uint32_t)hak_opt(OPT_REMOTE_DRAIN_THRESHOLD);
    g_defaults.bundle = (uint32_t)hak_opt(OPT_BUNDLE);
    g_defaults.release = (uint32_t)hak_opt(OPT_PARTIAL_RELEASE_UNITS);
    g_defaults.diet_pct = DIET_NONE;
}

void _hak_ace_reset(ace_t *a) {
    memset(a, 0, sizeof(*a));
    a->def = g_defaults;
    for (unsigned c = 0; c < HAK_CLASSES; c++)
        _hak_bandit_init(&a->cap[c], k_cap_arms, HAK_COUNT(k_cap_arms), a->def.cap[c],
                         _hak_tiers.class_cap_limit(c));
    a->cur = a->def;
    _hak_bandit_init(&a->drain, k_drain_arms, HAK_COUNT(k_drain_arms), a->def.drain, UINT32_MAX);
    _hak_bandit_init(&a->bundle, k_bundle_arms, HAK_COUNT(k_bundle_arms), a->def.bundle,
                     UINT32_MAX);
    _hak_bandit_init(&a->release, k_release_arms, HAK_COUNT(k_release_arms), a->def.release,
                     UINT32_MAX);
    _hak_bandit_init(&a->diet, k_diet_pct, HAK_COUNT(k_diet_pct), DIET_FIRST, UINT32_MAX);
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
        {a->cur.drain, next->drain, OPT_REMOTE_DRAIN_THRESHOLD, "drain_threshold", why->drain},
        {a->cur.bundle, next->bundle, OPT_BUNDLE, "bundle", why->bundle},
        {a->cur.release, next->release, OPT_PARTIAL_RELEASE_UNITS, "partial_release_pages",
         why->release},
        {a->cur.diet_pct, next->diet_pct, OPT_COUNT, "diet_factor", why->diet},
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

/* Blocks moved between the thread cache and the slabs per operation (each
 * under- or overflow moves up to a bundle) is the work a capacity saves;
 * idle bytes held are what it costs. */
static double class_reward(const hak_ace_metrics_t *m, unsigned c, uint32_t cap, uint32_t bundle) {
    double ops = m->cls_ops[c];
    double moves = ops > 0 ? (m->cls_underflows[c] + m->cls_overflows[c]) * bundle / ops : 0;
    double mem = (double)cap * _hak_class_size[c] / (double)HAK_MIB;
    return 1.0 / (1.0 + moves) - MEM_WEIGHT * (mem < 1.0 ? mem : 1.0);
}

/* A smaller capacity never moves fewer blocks than a larger one (the
 * thread cache only holds less), so it can earn at most 1 / (1 + moves
 * seen at the larger one). */
static void cap_bound(bandit_t *b, unsigned arm, const hak_ace_metrics_t *m, unsigned c,
                      uint32_t bundle) {
    double ops = m->cls_ops[c];
    if (ops <= 0) return;
    double ub = 1.0 / (1.0 + (m->cls_underflows[c] + m->cls_overflows[c]) * bundle / ops);
    for (unsigned i = 0; i < arm; i++)
        if (ub < b->bound[i]) b->bound[i] = ub;
}

/* After the default has played once: a class that under/overflows tries
 * the larger capacities first, a quiet one the smaller (memory) first. */
static void cap_direction(bandit_t *b, const hak_ace_metrics_t *m, unsigned c) {
    if (b->total != 1 || b->arms < DIRECTION_MIN_ARMS) return;
    double ops = m->cls_ops[c];
    bool up = ops > 0 && (m->cls_underflows[c] + m->cls_overflows[c]) / ops > IN_PLAY_MOVES;
    unsigned d = b->order[0], k = 1;
    for (unsigned dist = 1; k < b->arms; dist++) {
        unsigned lo = d >= dist ? d - dist : UINT32_MAX, hi = d + dist;
        unsigned first = up ? hi : lo, second = up ? lo : hi;
        if (first < b->arms) b->order[k++] = first;
        if (second < b->arms) b->order[k++] = second;
    }
}

static double global_reward(ace_t *a, const hak_ace_metrics_t *m) {
    double tput = a->tput_mean > 0 ? m->ops_per_s / a->tput_mean : 1.0;
    if (tput > TPUT_CAP) tput = TPUT_CAP;
    double lock = m->lock_wait_frac * LOCK_SCALE;
    return tput - (m->llc_miss_rate + (lock < 1.0 ? lock : 1.0) + a->frag_pen);
}

/* ---- guards ---- */

void _hak_ace_restore(ace_t *a, const hak_ace_metrics_t *m, const char *loop) {
    rules_t why;
    for (unsigned c = 0; c < HAK_CLASSES; c++) why.cap[c] = "guard";
    why.drain = why.bundle = why.release = why.diet = "guard";
    apply(a, &a->def, &why, m, loop);
}

/* Trips when a guard's limit is passed; true when ACE stopped. */
static bool guards(ace_t *a, const hak_ace_metrics_t *m, const char *loop) {
    struct { const char *name; double value; hak_opt_id_t limit; } g[] = {
        {"p99_lat_ns", m->p99_lat_ns, OPT_ACE_MAX_P99_LAT_NS},
        {"rss_mb", m->rss_mb, OPT_ACE_MAX_RSS_MB},
        {"cpu_percent", m->ace_cpu_percent, OPT_ACE_MAX_CPU_PERCENT},
    };
    /* one slow sample is not a trend: p99 must stay over for P99_TICKS */
    a->p99_over = g[0].value > (double)hak_opt(g[0].limit) ? a->p99_over + 1 : 0;
    for (unsigned i = 0; i < HAK_COUNT(g); i++) {
        double limit = (double)hak_opt(g[i].limit);
        if (!(g[i].value > limit) || (i == 0 && a->p99_over < P99_TICKS)) continue;
        a->stopped = true;
        snprintf(a->reason, sizeof(a->reason), "%s %.0f over %s %.0f", g[i].name, g[i].value,
                 _hak_opt_env(g[i].limit), limit);
        _hak_warn("[ACE] stopped: %s; defaults restored", a->reason);
        _hak_ace_trace_guard(g[i].name, g[i].value, limit);
        _hak_ace_restore(a, m, loop);
        return true;
    }
    return false;
}

/* ---- the loops ---- */

int _hak_ace_tick_fast(ace_t *a, const hak_ace_metrics_t *m) {
    if (a->stopped) return -1;
    if (guards(a, m, "fast")) return -1;
    a->ticks++;
    a->llc_from_pmu = m->llc_from_pmu != 0.0;
    /* rewards for what the last tick applied */
    for (unsigned c = 0; c < HAK_CLASSES; c++) {
        if (a->cap[c].pulled < 0) continue;
        if (m->cls_ops[c] < MIN_CLASS_OPS) { /* a quiet tick says nothing of the arm */
            a->cap[c].pulled = -1;
            continue;
        }
        cap_bound(&a->cap[c], (unsigned)a->cap[c].pulled, m, c, a->cur.bundle);
        _hak_bandit_reward(&a->cap[c], class_reward(m, c, a->cur.cap[c], a->cur.bundle));
        cap_direction(&a->cap[c], m, c);
    }
    double r = global_reward(a, m);
    a->last_reward = r;
    _hak_bandit_reward(&a->drain, r);
    _hak_bandit_reward(&a->bundle, r);
    _hak_bandit_reward(&a->diet, r);
    a->tput_mean = a->tput_mean > 0 ? a->tput_mean * (1.0 - TPUT_WEIGHT) + m->ops_per_s * TPUT_WEIGHT
                                    : m->ops_per_s;
    _hak_ace_trace_tick(a, m, "fast");

    knobs_t next = a->cur;
    rules_t why = {0};
    /* A bandit plays only while its knob is in play: exploring a knob the
     * workload does not exercise costs and teaches nothing. */
    double ops = 0, moves = 0;
    for (unsigned c = 0; c < HAK_CLASSES; c++) {
        ops += m->cls_ops[c];
        moves += m->cls_underflows[c] + m->cls_overflows[c];
    }
    bool caches_move = ops > 0 && moves / ops > IN_PLAY_MOVES;
    if (m->remote_backlog > BACKLOG_FRACTION * a->cur.drain) {
        next.drain = step(k_drain_arms, HAK_COUNT(k_drain_arms), a->cur.drain, -1);
        why.drain = "backlog";
        a->drain_ruled = a->alarm = true;
    } else if (!a->drain_ruled && m->remote_free_rate > IN_PLAY_REMOTE) {
        next.drain = _hak_bandit_pull(&a->drain);
        why.drain = "ucb1";
    }
    if (m->lock_wait_frac > LOCK_HIGH) {
        next.bundle = step(k_bundle_arms, HAK_COUNT(k_bundle_arms), a->cur.bundle, 1);
        why.bundle = "bundle";
        a->bundle_ruled = a->alarm = true;
    } else if (!a->bundle_ruled && caches_move) {
        next.bundle = _hak_bandit_pull(&a->bundle);
        why.bundle = "ucb1";
    }
    if (m->llc_miss_rate > LLC_HIGH) {
        next.diet_pct = _hak_bandit_pull(&a->diet);
        why.diet = "diet";
        a->alarm = true;
    }
    for (unsigned c = 0; c < HAK_CLASSES; c++) {
        if (a->def.cap[c] == 0 || m->cls_ops[c] < MIN_CLASS_OPS) continue;
        bool moving = (m->cls_underflows[c] + m->cls_overflows[c]) / m->cls_ops[c] > IN_PLAY_MOVES;
        bool holding = (uint64_t)a->cur.cap[c] * _hak_class_size[c] >= IN_PLAY_HELD;
        if (!moving && !holding && a->cap[c].total > 0) continue;
        next.cap[c] = _hak_bandit_pull(&a->cap[c]);
        why.cap[c] = "ucb1";
    }
    return (int)apply(a, &next, &why, m, "fast");
}

/* Gives back idle memory within the budget: BigCache's resident blocks,
 * then the free units of every heap's segments (a busy owner's are
 * skipped). */
static void scavenge(ace_t *a, uint32_t units) {
    uint64_t budget = (uint64_t)hak_opt(OPT_ACE_SCAVENGE_BUDGET_US) * 1000u;
    uint64_t t0 = _hak_now_ns();
    size_t bytes = _hak_tiers.release(t0 + budget, units);
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
    _hak_bandit_reward(&a->release, a->last_reward);
    bool frag_high = m->frag_ratio > 0 && m->frag_ratio < FRAG_LOW;
    a->frag_pen = m->frag_ratio > 0 ? FRAG_WEIGHT * (1.0 - m->frag_ratio) : 0;
    double waste = m->rss_mb - m->in_use_mb;
    double limit = m->in_use_mb * WASTE_SHARE > WASTE_MIN_MB ? m->in_use_mb * WASTE_SHARE
                                                             : WASTE_MIN_MB;
    bool rss_high = m->rss_mb > 0 && waste > limit;
    _hak_ace_trace_tick(a, m, "slow");

    knobs_t next = a->cur;
    rules_t why = {0};
    if (frag_high) {
        next.release = _hak_bandit_pull(&a->release);
        why.release = "ucb1";
    }
    bool calm = !frag_high && !rss_high && !a->alarm;
    a->alarm = false;
    a->calm = calm ? a->calm + 1 : 0;
    if (a->calm >= CALM_SLOW_TICKS &&
        (a->drain_ruled || a->bundle_ruled || a->cur.diet_pct != DIET_NONE)) {
        if (a->drain_ruled) next.drain = a->def.drain;
        if (a->bundle_ruled) next.bundle = a->def.bundle;
        next.diet_pct = DIET_NONE;
        why.drain = why.bundle = why.diet = "restore";
        a->drain_ruled = a->bundle_ruled = false;
    }
    int changes = (int)apply(a, &next, &why, m, "slow");
    if (frag_high || rss_high) scavenge(a, rss_high ? UINT32_MAX : next.release);
    return changes;
}
