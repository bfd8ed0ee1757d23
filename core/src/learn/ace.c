/* ACE, the adaptive control engine: a background thread (only when
 * HAKMEM_ACE_ENABLED, on in the learning and research modes) that
 * observes the allocator's counters, decides knob values and applies them.
 *
 * The controller (ace_tick_fast, ace_tick_slow) is a function of the
 * metrics it is given and its own state; the thread only gathers metrics,
 * and the test hooks feed synthetic ones to the same functions. Every knob
 * change goes through apply(), as single relaxed stores that allocating
 * threads pick up on their next slow path: nobody waits for ACE.
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
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define MAX_ARMS 8
#define UCB_C 1.4142135623730951
#define MIN_CLASS_OPS 256.0    /* operations in a tick for a class's bandit to play */
#define IN_PLAY_MOVES 0.002    /* under/overflows per operation that make a knob matter */
#define IN_PLAY_REMOTE 0.01    /* share of remote frees that makes the drain threshold matter */
#define IN_PLAY_HELD (256u << 10) /* bytes a class's cache may hold before memory matters */
#define BACKLOG_FRACTION 0.5   /* backlog high: above this share of the drain threshold */
#define LLC_HIGH 0.15
#define LOCK_HIGH 0.05
#define FRAG_LOW 0.5
#define CALM_SLOW_TICKS 2
#define ACE_STACK ((size_t)256 << 10) /* the thread's stack: its deepest frame is a 1 KiB line */

static const uint32_t k_cap_arms[] = {4, 8, 16, 32, 64, 128, 256, 512};
static const uint32_t k_drain_arms[] = {32, 64, 128, 256, 512, 1024};
static const uint32_t k_release_arms[] = {1, 2, 4, 8};
static const uint32_t k_diet_pct[] = {50, 66, 75, 90, 100};
static const uint32_t k_bundle_arms[] = {16, 32, 64, 128};

typedef struct bandit {
    unsigned arms;
    uint32_t value[MAX_ARMS];
    unsigned order[MAX_ARMS]; /* untried arms are played nearest the default first */
    uint64_t n[MAX_ARMS];
    double mean[MAX_ARMS];
    double bound[MAX_ARMS]; /* known upper bound of an arm's reward */
    uint64_t total;
    int pulled; /* arm applied since the last reward, -1 none */
} bandit_t;

typedef struct knobs {
    uint32_t cap[HAK_CLASSES]; /* before the diet */
    uint32_t drain, bundle, release, diet_pct;
} knobs_t;

typedef struct rules {
    const char *cap[HAK_CLASSES], *drain, *bundle, *release, *diet;
} rules_t;

typedef struct ace {
    knobs_t def, cur;
    bandit_t cap[HAK_CLASSES], drain, bundle, release, diet;
    bool drain_ruled, bundle_ruled; /* set by a rule, until a calm restore */
    bool alarm;                     /* a fast-loop rule fired since the last slow tick */
    unsigned calm;
    double tput_mean, frag_pen;
    bool stopped;
    unsigned p99_over; /* consecutive ticks over the p99 limit */
    char reason[128];
    uint64_t ticks, decisions, scavenges, scavenged_bytes;
    uint64_t last_scavenge_ns, last_scavenge_bytes;
    bool last_scavenge_complete;
    int llc_from_pmu;
    double last_reward;
} ace_t;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static ace_t g_ace;
static int g_trace_fd = -1;
static bool g_trace_off; /* a forked child whose trace path has no %p */
static uint64_t g_t0;
/* 0 off, 1 wanted (started lazily from a slow path), 2 running, 3 manual (tests) */
static _Atomic int g_run;

/* ---- UCB1 ---- */

double hak_ucb1_score(double mean, uint64_t n, uint64_t total, double c) {
    if (n == 0) return __builtin_inf();
    if (total < 1) total = 1;
    return mean + c * _hak_sqrt(_hak_ln((double)total) / (double)n);
}

static void bandit_init(bandit_t *b, const uint32_t *values, unsigned count, uint32_t def,
                        uint32_t max) {
    memset(b, 0, sizeof(*b));
    b->pulled = -1;
    for (unsigned i = 0; i < MAX_ARMS; i++) b->bound[i] = __builtin_inf();
    for (unsigned i = 0; i < count && i < MAX_ARMS; i++)
        if (values[i] <= max || b->arms == 0) b->value[b->arms++] = values[i];
    /* untried arms go by steps away from the default, the lower one first */
    unsigned d = 0;
    while (d + 1 < b->arms && b->value[d] < def) d++;
    unsigned k = 0;
    b->order[k++] = d;
    for (unsigned dist = 1; k < b->arms; dist++) {
        if (d >= dist) b->order[k++] = d - dist;
        if (d + dist < b->arms) b->order[k++] = d + dist;
    }
}

/* UCB1, untried arms first; an arm whose known bound is below the best
 * mean seen cannot win and is not played. */
static unsigned bandit_select(bandit_t *b) {
    double best_mean = -1e300;
    for (unsigned i = 0; i < b->arms; i++)
        if (b->n[i] > 0 && b->mean[i] > best_mean) best_mean = b->mean[i];
    for (unsigned i = 0; i < b->arms; i++) {
        unsigned a = b->order[i];
        if (b->n[a] == 0 && b->bound[a] > best_mean) return a;
    }
    unsigned best = 0;
    double best_score = -1e300;
    for (unsigned i = 0; i < b->arms; i++) {
        double s = hak_ucb1_score(b->mean[i], b->n[i], b->total, UCB_C);
        if (s > b->bound[i]) s = b->bound[i];
        if (s > best_score) {
            best_score = s;
            best = i;
        }
    }
    return best;
}

static void bandit_reward(bandit_t *b, double r) {
    if (b->pulled < 0) return;
    unsigned a = (unsigned)b->pulled;
    b->n[a]++;
    b->total++;
    b->mean[a] += (r - b->mean[a]) / (double)b->n[a];
    b->pulled = -1;
}

static uint32_t bandit_pull(bandit_t *b) {
    unsigned a = bandit_select(b);
    b->pulled = (int)a;
    return b->value[a];
}

/* ---- trace and log ---- */

static double since_start(void) { return (double)(_hak_now_ns() - g_t0) * 1e-9; }

static void trace_line(const char *line, size_t n) {
    if (g_trace_fd >= 0) _hak_write_all(g_trace_fd, line, n);
}


static size_t metrics_json(const hak_ace_metrics_t *m, char *buf, size_t cap) {
    size_t n = 0;
    HAK_PUT("{\"ops_per_s\":%.1f,\"llc_miss_rate\":%.4f,\"llc_source\":\"%s\",\"lock_wait_frac\":%.4f,"
        "\"remote_backlog\":%.1f,\"p99_lat_ns\":%.0f,\"ace_cpu_percent\":%.3f,",
        m->ops_per_s, m->llc_miss_rate, m->llc_from_pmu != 0.0 ? "pmu" : "estimate",
        m->lock_wait_frac, m->remote_backlog, m->p99_lat_ns, m->ace_cpu_percent);
    if (m->rss_mb > 0) HAK_PUT("\"frag_ratio\":%.4f,\"rss_mb\":%.2f}", m->frag_ratio, m->rss_mb);
    else HAK_PUT("\"frag_ratio\":null,\"rss_mb\":null}");
    return n;
}

static void log_decision(const ace_t *a, const hak_ace_metrics_t *m, const char *loop,
                         const char *rule, const char *knob, int cls, uint64_t old, uint64_t new_) {
    int level = (int)hak_opt(OPT_ACE_LOG_LEVEL);
    if (level >= 1) {
        char label[48];
        if (cls >= 0) snprintf(label, sizeof(label), "TLS cap[%d]", cls);
        else snprintf(label, sizeof(label), "%s", knob);
        _hak_warn("[ACE] Adjusting %s: %llu \xe2\x86\x92 %llu (%s)", label, (unsigned long long)old,
                  (unsigned long long)new_, rule);
    }
    if (g_trace_fd < 0) return;
    char buf[1024];
    size_t cap = sizeof(buf), n = 0;
    HAK_PUT("{\"t\":%.3f,\"kind\":\"decision\",\"loop\":\"%s\",\"rule\":\"%s\",\"knob\":\"%s\","
        "\"cls\":%d,\"old\":%llu,\"new\":%llu,\"reward\":%.4f,\"metrics\":",
        since_start(), loop, rule, knob, cls, (unsigned long long)old, (unsigned long long)new_,
        a->last_reward);
    n += metrics_json(m, n < cap ? buf + n : NULL, n < cap ? cap - n : 0);
    HAK_PUT("}\n");
    if (n < cap) trace_line(buf, n);
}

/* ---- applying decisions: the one place knobs change ---- */

static uint32_t effective_cap(uint32_t cap, uint32_t diet_pct) {
    uint32_t c = (uint32_t)(((uint64_t)cap * diet_pct + 50) / 100);
    return cap > 0 && c == 0 ? 1 : c;
}

static unsigned apply(ace_t *a, const knobs_t *next, const rules_t *why, const hak_ace_metrics_t *m,
                      const char *loop) {
    unsigned changes = 0;
    for (unsigned c = 0; c < HAK_CLASSES; c++) {
        uint32_t old = effective_cap(a->cur.cap[c], a->cur.diet_pct);
        uint32_t now = effective_cap(next->cap[c], next->diet_pct);
        if (old == now) continue;
        atomic_store_explicit(&_hak_tcache_cap[c], now, memory_order_relaxed);
        log_decision(a, m, loop, why->cap[c] ? why->cap[c] : (why->diet ? why->diet : "restore"),
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
        if (g[i].id != OPT_COUNT)
            atomic_store_explicit(&_hak_opt[g[i].id], g[i].now, memory_order_relaxed);
        log_decision(a, m, loop, g[i].rule ? g[i].rule : "restore", g[i].knob, -1, g[i].old,
                     g[i].now);
        changes++;
    }
    a->cur = *next;
    a->decisions += changes;
    return changes;
}

/* ---- the controller ---- */

static uint32_t class_budget(unsigned c) {
    uint32_t b = (uint32_t)((1u << 20) / _hak_class_size[c]);
    return b < 4 ? 4 : b;
}

/* The knobs as configured at start: what guards and calm ticks restore
 * (a forked child inherits them, not the parent's tuned values). */
static knobs_t g_defaults;

static void controller_reset(ace_t *a) {
    memset(a, 0, sizeof(*a));
    a->def = g_defaults;
    for (unsigned c = 0; c < HAK_CLASSES; c++)
        bandit_init(&a->cap[c], k_cap_arms, HAK_COUNT(k_cap_arms), a->def.cap[c], class_budget(c));
    a->cur = a->def;
    bandit_init(&a->drain, k_drain_arms, HAK_COUNT(k_drain_arms), a->def.drain, UINT32_MAX);
    bandit_init(&a->bundle, k_bundle_arms, HAK_COUNT(k_bundle_arms), a->def.bundle, UINT32_MAX);
    bandit_init(&a->release, k_release_arms, HAK_COUNT(k_release_arms), a->def.release, UINT32_MAX);
    bandit_init(&a->diet, k_diet_pct, HAK_COUNT(k_diet_pct), 75, UINT32_MAX);
}

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
    double mem = (double)cap * _hak_class_size[c] / (double)(1u << 20);
    return 1.0 / (1.0 + moves) - 0.05 * (mem < 1.0 ? mem : 1.0);
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
    if (b->total != 1 || b->arms < 3) return;
    double ops = m->cls_ops[c];
    bool up = ops > 0 && (m->cls_underflows[c] + m->cls_overflows[c]) / ops > 0.002;
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
    if (tput > 2.0) tput = 2.0;
    double lock = m->lock_wait_frac * 10.0;
    return tput - (m->llc_miss_rate + (lock < 1.0 ? lock : 1.0) + a->frag_pen);
}

static void restore_defaults(ace_t *a, const hak_ace_metrics_t *m, const char *loop) {
    rules_t why;
    for (unsigned c = 0; c < HAK_CLASSES; c++) why.cap[c] = "guard";
    why.drain = why.bundle = why.release = why.diet = "guard";
    apply(a, &a->def, &why, m, loop);
}

/* Trips when a guard's limit is passed; true when ACE stopped. */
static bool guards(ace_t *a, const hak_ace_metrics_t *m, const char *loop) {
    struct { const char *name; double value, limit; } g[] = {
        {"p99_lat_ns", m->p99_lat_ns, (double)hak_opt(OPT_ACE_MAX_P99_LAT_NS)},
        {"rss_mb", m->rss_mb, (double)hak_opt(OPT_ACE_MAX_RSS_MB)},
        {"cpu_percent", m->ace_cpu_percent, (double)hak_opt(OPT_ACE_MAX_CPU_PERCENT)},
    };
    /* one slow sample is not a trend: p99 must stay over for two ticks */
    a->p99_over = g[0].value > g[0].limit ? a->p99_over + 1 : 0;
    for (unsigned i = 0; i < HAK_COUNT(g); i++) {
        if (!(g[i].value > g[i].limit) || (i == 0 && a->p99_over < 2)) continue;
        a->stopped = true;
        snprintf(a->reason, sizeof(a->reason), "%s %.0f over HAKMEM_ACE_MAX_%s %.0f", g[i].name,
                 g[i].value,
                 i == 0 ? "P99_LAT_NS" : (i == 1 ? "RSS_MB" : "CPU_PERCENT"), g[i].limit);
        _hak_warn("[ACE] stopped: %s; defaults restored", a->reason);
        char buf[256];
        int n = snprintf(buf, sizeof(buf),
                         "{\"t\":%.3f,\"kind\":\"guard\",\"guard\":\"%s\",\"value\":%.2f,"
                         "\"limit\":%.2f}\n",
                         since_start(), g[i].name, g[i].value, g[i].limit);
        if (n > 0 && (size_t)n < sizeof(buf)) trace_line(buf, (size_t)n);
        restore_defaults(a, m, loop);
        return true;
    }
    return false;
}

static void trace_tick(const ace_t *a, const hak_ace_metrics_t *m, const char *loop) {
    char buf[1024];
    size_t cap = sizeof(buf), n = 0;
    HAK_PUT("{\"t\":%.3f,\"kind\":\"tick\",\"loop\":\"%s\",\"reward\":%.4f,\"metrics\":", since_start(),
        loop, a->last_reward);
    n += metrics_json(m, n < cap ? buf + n : NULL, n < cap ? cap - n : 0);
    HAK_PUT("}\n");
    if (n < cap) trace_line(buf, n);
    if (hak_opt(OPT_ACE_LOG_LEVEL) >= 2)
        _hak_warn("[ACE] %s tick: %.0f ops/s, llc %.3f (%s), lock %.4f, backlog %.0f, reward %.3f",
                  loop, m->ops_per_s, m->llc_miss_rate, m->llc_from_pmu != 0.0 ? "pmu" : "estimate",
                  m->lock_wait_frac, m->remote_backlog, a->last_reward);
}

static int tick_fast(ace_t *a, const hak_ace_metrics_t *m) {
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
        bandit_reward(&a->cap[c], class_reward(m, c, a->cur.cap[c], a->cur.bundle));
        cap_direction(&a->cap[c], m, c);
    }
    double r = global_reward(a, m);
    a->last_reward = r;
    bandit_reward(&a->drain, r);
    bandit_reward(&a->bundle, r);
    bandit_reward(&a->diet, r);
    a->tput_mean = a->tput_mean > 0 ? a->tput_mean * 0.8 + m->ops_per_s * 0.2 : m->ops_per_s;
    trace_tick(a, m, "fast");

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
        next.drain = bandit_pull(&a->drain);
        why.drain = "ucb1";
    }
    if (m->lock_wait_frac > LOCK_HIGH) {
        next.bundle = step(k_bundle_arms, HAK_COUNT(k_bundle_arms), a->cur.bundle, 1);
        why.bundle = "bundle";
        a->bundle_ruled = a->alarm = true;
    } else if (!a->bundle_ruled && caches_move) {
        next.bundle = bandit_pull(&a->bundle);
        why.bundle = "ucb1";
    }
    if (m->llc_miss_rate > LLC_HIGH) {
        next.diet_pct = bandit_pull(&a->diet);
        why.diet = "diet";
        a->alarm = true;
    }
    for (unsigned c = 0; c < HAK_CLASSES; c++) {
        if (a->def.cap[c] == 0 || m->cls_ops[c] < MIN_CLASS_OPS) continue;
        bool moving = (m->cls_underflows[c] + m->cls_overflows[c]) / m->cls_ops[c] > IN_PLAY_MOVES;
        bool holding = (uint64_t)a->cur.cap[c] * _hak_class_size[c] >= IN_PLAY_HELD;
        if (!moving && !holding && a->cap[c].total > 0) continue;
        next.cap[c] = bandit_pull(&a->cap[c]);
        why.cap[c] = "ucb1";
    }
    return (int)apply(a, &next, &why, m, "fast");
}

/* Gives back idle memory within the budget: BigCache's resident blocks,
 * then the free units of every heap's segments (the owners' slab tables
 * are guarded by their segment locks; a busy owner is skipped). */
static void scavenge(ace_t *a, uint32_t units) {
    uint64_t budget = (uint64_t)hak_opt(OPT_ACE_SCAVENGE_BUDGET_US) * 1000u;
    uint64_t t0 = _hak_now_ns(), deadline = t0 + budget;
    size_t bytes = _hak_large_scavenge(deadline);
    if (_hak_now_ns() < deadline) bytes += _hak_heaps_release(deadline, units);
    uint64_t ns = _hak_now_ns() - t0;
    a->scavenges++;
    a->scavenged_bytes += bytes;
    a->last_scavenge_ns = ns;
    a->last_scavenge_bytes = bytes;
    a->last_scavenge_complete = ns < budget;
    char buf[256];
    int n = snprintf(buf, sizeof(buf),
                     "{\"t\":%.3f,\"kind\":\"scavenge\",\"bytes\":%zu,\"ns\":%llu,"
                     "\"budget_ns\":%llu,\"complete\":%s}\n",
                     since_start(), bytes, (unsigned long long)ns, (unsigned long long)budget,
                     a->last_scavenge_complete ? "true" : "false");
    if (n > 0 && (size_t)n < sizeof(buf)) trace_line(buf, (size_t)n);
}

static int tick_slow(ace_t *a, const hak_ace_metrics_t *m) {
    if (a->stopped) return -1;
    if (guards(a, m, "slow")) return -1;
    bandit_reward(&a->release, a->last_reward);
    bool frag_high = m->frag_ratio > 0 && m->frag_ratio < FRAG_LOW;
    a->frag_pen = m->frag_ratio > 0 ? 0.2 * (1.0 - m->frag_ratio) : 0;
    double waste = m->rss_mb - m->in_use_mb;
    double limit = m->in_use_mb * 0.5 > 32.0 ? m->in_use_mb * 0.5 : 32.0;
    bool rss_high = m->rss_mb > 0 && waste > limit;
    trace_tick(a, m, "slow");

    knobs_t next = a->cur;
    rules_t why = {0};
    if (frag_high) {
        next.release = bandit_pull(&a->release);
        why.release = "ucb1";
    }
    bool calm = !frag_high && !rss_high && !a->alarm;
    a->alarm = false;
    a->calm = calm ? a->calm + 1 : 0;
    if (a->calm >= CALM_SLOW_TICKS && (a->drain_ruled || a->bundle_ruled || a->cur.diet_pct != 100)) {
        if (a->drain_ruled) next.drain = a->def.drain;
        if (a->bundle_ruled) next.bundle = a->def.bundle;
        next.diet_pct = 100;
        why.drain = why.bundle = why.diet = "restore";
        a->drain_ruled = a->bundle_ruled = false;
    }
    int changes = (int)apply(a, &next, &why, m, "slow");
    if (frag_high || rss_high) {
        scavenge(a, rss_high ? UINT32_MAX : next.release);
    }
    return changes;
}

/* ---- metrics of the running process ---- */

typedef struct probe {
    uint64_t t, cpu, lock_ns, llc, ops;
    hak_counters_t c;
    uint64_t lat[HAK_LAT_BUCKETS];
} probe_t;

static probe_t g_prev;
static double g_llc_bytes;

static void probe(probe_t *p) {
    uint64_t created, reused, live;
    _hak_heaps_sum(&p->c, &created, &reused, &live);
    p->t = _hak_now_ns();
    p->cpu = _hak_thread_cpu_ns();
    p->lock_ns = atomic_load_explicit(&_hak_lock_wait_ns, memory_order_relaxed);
    uint32_t source;
    p->llc = _hak_pmu_read(&source);
    p->ops = 0;
    for (unsigned c = 0; c < HAK_CLASSES; c++) p->ops += p->c.allocs[c] + p->c.frees[c];
    for (unsigned k = 0; k < HAK_LAT_BUCKETS; k++)
        p->lat[k] = atomic_load_explicit(&_hak_lat_hist[k], memory_order_relaxed);
}

static void measure(hak_ace_metrics_t *m, bool slow) {
    probe_t now;
    probe(&now);
    memset(m, 0, sizeof(*m));
    double dt = (double)(now.t - g_prev.t) * 1e-9;
    if (dt <= 0) dt = 1e-9;
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
    m->remote_free_rate = frees > 0 ? remote / frees : 0;
    uint64_t cached, backlog, live;
    _hak_heaps_probe(&cached, &backlog, &live);
    if (live == 0) live = 1;
    m->remote_backlog = (double)backlog / (double)live;
    m->lock_wait_frac = (double)(now.lock_ns - g_prev.lock_ns) * 1e-9 / (dt * (double)live);
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
    for (unsigned k = 0; k < HAK_LAT_BUCKETS; k++) samples += now.lat[k] - g_prev.lat[k];
    if (samples >= 20) { /* fewer samples make no percentile */
        uint64_t seen = 0;
        for (unsigned k = 0; k < HAK_LAT_BUCKETS; k++) {
            seen += now.lat[k] - g_prev.lat[k];
            if ((double)seen >= 0.99 * (double)samples) {
                m->p99_lat_ns = (double)((uint64_t)1 << k); /* the bucket's lower bound */
                break;
            }
        }
    }
    m->ace_cpu_percent = (double)(now.cpu - g_prev.cpu) * 1e-9 / dt * 100.0;
    if (slow) {
        hak_stats_t s;
        hak_stats_get(&s, sizeof(s));
        uint64_t in_use = 0;
        for (unsigned t = 0; t < HAK_TIER_COUNT; t++) in_use += s.tier[t].bytes_in_use;
        m->in_use_mb = (double)in_use / (double)(1u << 20);
        m->rss_mb = (double)_hak_os_rss_bytes() / (double)(1u << 20);
        /* in use / resident: what releasing free memory improves */
        m->frag_ratio = m->rss_mb > 0 ? m->in_use_mb / m->rss_mb : 1.0;
        if (m->frag_ratio > 1.0) m->frag_ratio = 1.0;
    }
    g_prev = now;
}

static void trace_elo(void) {
    if (g_trace_fd < 0 || hak_opt(OPT_ELO) == ELO_OFF) return;
    char elo[768], buf[1024];
    size_t len = _hak_elo_trace_json(elo, sizeof(elo));
    if (len >= sizeof(elo)) return;
    /* the selector's object, opened with the line's own fields */
    int n = snprintf(buf, sizeof(buf), "{\"t\":%.3f,\"kind\":\"elo\",%s\n", since_start(), elo + 1);
    if (n > 0 && (size_t)n < sizeof(buf)) trace_line(buf, (size_t)n);
}

/* ---- the thread ---- */

static void open_trace(void) {
    const char *path = _hak_opt_str(OPT_ACE_TRACE);
    if (path[0] == '\0') return;
    char file[HAK_PATH_MAX];
    _hak_expand_pid(file, sizeof(file), path);
    g_trace_fd = _hak_os_create(file, true);
    if (g_trace_fd < 0) {
        _hak_warn("warning: HAKMEM_ACE_TRACE=%s cannot be opened; no trace written", file);
        return;
    }
    char buf[256];
    int n = snprintf(buf, sizeof(buf),
                     "{\"t\":0,\"kind\":\"start\",\"pid\":%d,\"mode\":\"%s\",\"fast_ms\":%lld,"
                     "\"slow_ms\":%lld}\n",
                     _hak_os_pid(), hak_mode(),
                     (long long)hak_opt(OPT_ACE_FAST_INTERVAL_MS),
                     (long long)hak_opt(OPT_ACE_SLOW_INTERVAL_MS));
    if (n > 0 && (size_t)n < sizeof(buf)) trace_line(buf, (size_t)n);
}

static void *ace_main(void *arg) {
    (void)arg;
    uint64_t fast = (uint64_t)hak_opt(OPT_ACE_FAST_INTERVAL_MS);
    uint64_t slow = (uint64_t)hak_opt(OPT_ACE_SLOW_INTERVAL_MS);
    uint64_t since_slow = 0;
    hak_lock(&g_lock);
    g_prev.cpu = _hak_thread_cpu_ns(); /* the CPU clock is this thread's own */
    pthread_mutex_unlock(&g_lock);
    while (atomic_load_explicit(&g_run, memory_order_acquire) == 2) {
        _hak_os_sleep_ms(fast);
        since_slow += fast;
        bool is_slow = since_slow >= slow;
        hak_lock(&g_lock);
        if (atomic_load_explicit(&g_run, memory_order_relaxed) != 2 || g_ace.stopped) {
            pthread_mutex_unlock(&g_lock);
            break;
        }
        hak_ace_metrics_t m;
        measure(&m, is_slow);
        tick_fast(&g_ace, &m);
        if (is_slow) {
            since_slow = 0;
            tick_slow(&g_ace, &m);
        }
        trace_elo();
        pthread_mutex_unlock(&g_lock);
    }
    atomic_store_explicit(&_hak_sampling, 0, memory_order_relaxed);
    return NULL;
}

void _hak_ace_init(void) {
    g_llc_bytes = (double)_hak_os_llc_bytes();
    for (unsigned c = 0; c < HAK_CLASSES; c++)
        g_defaults.cap[c] = atomic_load_explicit(&_hak_tcache_cap[c], memory_order_relaxed);
    g_defaults.drain = (uint32_t)hak_opt(OPT_REMOTE_DRAIN_THRESHOLD);
    g_defaults.bundle = (uint32_t)hak_opt(OPT_BUNDLE);
    g_defaults.release = (uint32_t)hak_opt(OPT_PARTIAL_RELEASE_UNITS);
    g_defaults.diet_pct = 100;
    if (hak_opt(OPT_ACE_ENABLED)) atomic_store_explicit(&g_run, 1, memory_order_release);
}

/* Started from an allocation's slow path once start-up is over, never
 * from inside it: creating a thread allocates. */
void _hak_ace_start(void) {
    int want = 1;
    if (!atomic_compare_exchange_strong(&g_run, &want, 2)) return;
    hak_lock(&g_lock);
    controller_reset(&g_ace);
    g_t0 = _hak_now_ns();
    if (g_trace_fd < 0 && !g_trace_off) open_trace();
    probe(&g_prev);
    atomic_store_explicit(&_hak_sampling, 1, memory_order_relaxed);
    pthread_mutex_unlock(&g_lock);
    if (!_hak_os_thread_start(ace_main, ACE_STACK)) {
        atomic_store_explicit(&g_run, 0, memory_order_relaxed);
        atomic_store_explicit(&_hak_sampling, 0, memory_order_relaxed);
        _hak_warn("warning: HAKMEM_ACE_ENABLED=1 but the ACE thread could not start");
    }
}

bool _hak_ace_wanted(void) { return atomic_load_explicit(&g_run, memory_order_relaxed) == 1; }

void _hak_ace_lock(void) { hak_lock(&g_lock); }
void _hak_ace_unlock(void) { pthread_mutex_unlock(&g_lock); }

/* In a forked child the thread is gone: it starts again on demand. */
void _hak_ace_child(void) {
    if (atomic_load_explicit(&g_run, memory_order_relaxed) == 2 && !g_ace.stopped)
        atomic_store_explicit(&g_run, 1, memory_order_relaxed);
    if (g_trace_fd >= 0) {
        /* the parent's trace stays the parent's: a child traces only to
         * its own file, when the path names the pid */
        _hak_os_close(g_trace_fd);
        g_trace_fd = -1;
        g_trace_off = strstr(_hak_opt_str(OPT_ACE_TRACE), "%p") == NULL;
    }
    pthread_mutex_unlock(&g_lock);
}

/* ---- inspection and test hooks ---- */

static size_t state_json(const ace_t *a, char *buf, size_t cap) {
    static const char *const runs[] = {"off", "wanted", "running", "manual"};
    size_t n = 0;
    HAK_PUT("{\"run\":\"%s\",\"stopped\":%s,\"reason\":\"%s\",\"ticks\":%llu,\"decisions\":%llu,"
        "\"llc_source\":\"%s\",\"reward\":%.4f,",
        runs[atomic_load_explicit(&g_run, memory_order_relaxed)], a->stopped ? "true" : "false",
        a->reason, (unsigned long long)a->ticks, (unsigned long long)a->decisions,
        a->llc_from_pmu ? "pmu" : "estimate", a->last_reward);
    HAK_PUT("\"drain\":%u,\"bundle\":%u,\"release\":%u,\"diet_pct\":%u,\"drain_ruled\":%s,"
        "\"bundle_ruled\":%s,\"calm\":%u,",
        a->cur.drain, a->cur.bundle, a->cur.release, a->cur.diet_pct,
        a->drain_ruled ? "true" : "false", a->bundle_ruled ? "true" : "false", a->calm);
    HAK_PUT("\"scavenges\":%llu,\"scavenged_bytes\":%llu,\"last_scavenge\":{\"ns\":%llu,\"bytes\":%llu,"
        "\"complete\":%s},",
        (unsigned long long)a->scavenges, (unsigned long long)a->scavenged_bytes,
        (unsigned long long)a->last_scavenge_ns, (unsigned long long)a->last_scavenge_bytes,
        a->last_scavenge_complete ? "true" : "false");
    HAK_PUT("\"cap\":[");
    for (unsigned c = 0; c < HAK_CLASSES; c++) HAK_PUT("%s%u", c ? "," : "", a->cur.cap[c]);
    HAK_PUT("],\"bandits\":{");
    const bandit_t *bs[] = {&a->drain, &a->bundle, &a->release, &a->diet, &a->cap[0]};
    const char *names[] = {"drain", "bundle", "release", "diet", "cap0"};
    for (unsigned i = 0; i < HAK_COUNT(bs); i++) {
        HAK_PUT("%s\"%s\":{\"total\":%llu,\"arms\":[", i ? "," : "", names[i],
            (unsigned long long)bs[i]->total);
        for (unsigned k = 0; k < bs[i]->arms; k++)
            HAK_PUT("%s{\"value\":%u,\"n\":%llu,\"mean\":%.4f}", k ? "," : "", bs[i]->value[k],
                (unsigned long long)bs[i]->n[k], bs[i]->mean[k]);
        HAK_PUT("]}");
    }
    HAK_PUT("}}");
    return n;
}

/* One line for HAKMEM_STATS. */
size_t _hak_learn_summary(char *buf, size_t cap) {
    static const char *const runs[] = {"off", "not started", "running", "manual"};
    hak_lock(&g_lock);
    const ace_t *a = &g_ace;
    size_t n = 0;
    HAK_PUT("learning: ELO %s, threshold %zu KiB; ACE %s, %llu ticks, %llu decisions, %llu KiB "
        "scavenged, LLC from %s%s%s\n",
        _hak_elo_state_name(hak_elo_state()), hak_elo_threshold() >> 10,
        a->stopped ? "stopped" : runs[atomic_load_explicit(&g_run, memory_order_relaxed)],
        (unsigned long long)a->ticks, (unsigned long long)a->decisions,
        (unsigned long long)(a->scavenged_bytes >> 10),
        a->llc_from_pmu ? "the PMU" : "the estimate", a->stopped ? ": " : "", a->reason);
    pthread_mutex_unlock(&g_lock);
    return n;
}

size_t hak_ace_json(char *buf, size_t cap) {
    hak_ensure_init();
    hak_lock(&g_lock);
    size_t n = state_json(&g_ace, buf, cap);
    pthread_mutex_unlock(&g_lock);
    if (cap > 0 && n >= cap) buf[cap - 1] = '\0';
    return n;
}

int hak_ace_running(void) {
    hak_ensure_init();
    hak_lock(&g_lock);
    int running = atomic_load_explicit(&g_run, memory_order_relaxed) == 2 && !g_ace.stopped;
    pthread_mutex_unlock(&g_lock);
    return running;
}

void hak_ace_test_reset(void) {
    hak_ensure_init();
    atomic_store_explicit(&g_run, 3, memory_order_release); /* a running thread exits */
    hak_lock(&g_lock);
    restore_defaults(&g_ace, &(hak_ace_metrics_t){0}, "test");
    controller_reset(&g_ace);
    g_t0 = _hak_now_ns();
    pthread_mutex_unlock(&g_lock);
}

int hak_ace_test_tick(const hak_ace_metrics_t *m, int slow) {
    hak_ensure_init();
    if (m == NULL) {
        errno = EINVAL;
        return -1;
    }
    hak_lock(&g_lock);
    int r = slow ? tick_slow(&g_ace, m) : tick_fast(&g_ace, m);
    pthread_mutex_unlock(&g_lock);
    return r;
}
