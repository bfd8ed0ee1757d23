/* ELO strategy selection for the large tier's cache threshold: large
 * blocks up to the threshold are BigCache-eligible (kept and reused when
 * freed), larger ones are mapped fresh and unmapped at free, like glibc's
 * mmap threshold. Each candidate carries an ELO rating.
 *
 * The choice is made before the allocation it steers, per window of
 * ELO_WINDOW large allocations: LEARN plays the best-rated candidate and
 * explores another one on 10 % of windows; each measured window is a match
 * against the leader (or the runner-up, when the leader played), won by the
 * lower cost. After ELO_LEARN_ALLOCS allocations, and once every candidate
 * has played, it goes FROZEN on the best rating and measures nothing; after
 * ELO_FROZEN_ALLOCS it goes CANARY for ELO_CANARY_ALLOCS, trying another
 * candidate on 5 % of windows, and moves the confirmed choice when a canary
 * out-rates it. HAKMEM_ELO=frozen keeps the candidate nearest
 * HAKMEM_BIGCACHE_MAX_BLOCK_MB and never learns.
 *
 * Exploring is paid for by the program: a threshold that maps every block
 * fresh faults its pages in on every allocation (here up to 4.6 ms per
 * 2 MiB huge page against a few us for a reused block). A candidate whose
 * mean cost is ELO_HOPELESS times the leader's is not explored again in
 * LEARN (it counts as played), nor those further from the leader (they
 * map fresh, or keep, a superset of its blocks); candidates are explored
 * nearest first. A canary phase tries such a one once, not on every
 * turn: its fresh cost brings it back into play if the workload changed.
 * A window of a candidate other than the leader ends at the allocation
 * where its cost so far is hopeless.
 *
 * Cost of a window, in ns per allocation: the process's CPU time from the
 * window's first allocation to the end of its last (the allocations, the
 * page faults and zeroing of the blocks the program writes meanwhile,
 * whatever a page costs on this machine; idle time is not CPU time), plus
 * the strategy's average free time, plus 20 ns per MiB left idle in
 * BigCache (resident memory nobody uses). */
#include "learn.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define ELO_WINDOW 8            /* allocations per window: one strategy, one cost */
#define ELO_LEARN_ALLOCS 2048   /* LEARN lasts at least this long... */
#define ELO_LEARN_MAX_FACTOR 4  /* ...and at most 4x as long when a candidate is seldom played */
#define ELO_FROZEN_ALLOCS 262144 /* FROZEN until the next canary phase */
#define ELO_CANARY_ALLOCS 8192  /* a canary phase */
#define ELO_MIN_PLAYS 3         /* windows each candidate plays before FROZEN */
#define ELO_EXPLORE_PCT 10      /* LEARN windows that play another than the leader */
#define ELO_CANARY_PCT 5        /* CANARY windows that try another candidate */
#define ELO_REFERENCE_PCT 5     /* CANARY windows of the confirmed choice that are measured too */
#define ELO_FROZEN_BATCH 1024   /* FROZEN allocations accounted under the lock at once */
#define ELO_RATING0 1500.0      /* every candidate's rating at start (any value: only gaps count) */
#define ELO_SCALE 400.0         /* rating gap at which the odds are 10 to 1 (the chess scale) */
#define ELO_K 32.0              /* rating points a match moves at most */
#define ELO_DRAW 0.03           /* costs within 3 % are a draw */
#define ELO_COST_WEIGHT 0.25    /* weight of the newest window in a candidate's mean cost */
#define ELO_FREE_WEIGHT 0.125   /* weight of the newest free in a candidate's mean free time */
#define ELO_HOPELESS 3.0        /* a mean cost this many times the leader's: not worth exploring */
#define ELO_IDLE_NS_PER_MIB 20.0 /* charge per MiB left idle in BigCache, per allocation */
#define LN10 2.302585092994046

/* The candidate thresholds: powers of 4 from 1 MiB (BigCache for nearly
 * nothing) to 64 MiB (the configured default). */
static const size_t k_threshold[HAK_ELO_CANDIDATES] = {1 * HAK_MIB, 4 * HAK_MIB, 16 * HAK_MIB,
                                                       64 * HAK_MIB};

typedef struct elo {
    int state;                          /* hak_elo_state_t */
    bool learns;                        /* HAKMEM_ELO=learn */
    unsigned confirmed;                 /* the frozen choice */
    double rating[HAK_ELO_CANDIDATES];
    double cost[HAK_ELO_CANDIDATES];    /* running mean cost, ns per allocation */
    uint64_t plays[HAK_ELO_CANDIDATES]; /* windows played */
    double free_ns[HAK_ELO_CANDIDATES]; /* running mean time of a free */
    uint64_t frees[HAK_ELO_CANDIDATES];
    uint64_t allocs;                    /* large allocations seen */
    uint64_t phase_start;               /* allocs when the state was entered */
    uint64_t rng;
    unsigned canary;                    /* the last canary's rank by distance from the choice */
    unsigned tried;                     /* candidates a canary window tried in this phase (bits) */
    /* the window being played */
    unsigned win_strategy;
    bool win_measured;
    unsigned win_left;
    uint64_t win_cpu; /* the process's CPU time when the window started */
} elo_t;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static elo_t g_elo;
/* Read without the lock: FROZEN costs one counter, no clock, no lock. */
static _Atomic unsigned g_confirmed;
static _Atomic int g_state;
static _Atomic bool g_learns;
static _Atomic uint64_t g_frozen_allocs;

/* ---- pure arithmetic ---- */

double hak_elo_expected(double ra, double rb) {
    return 1.0 / (1.0 + _hak_exp((rb - ra) / ELO_SCALE * LN10));
}

void hak_elo_update(double *ra, double *rb, double score_a, double k) {
    double ea = hak_elo_expected(*ra, *rb);
    *ra += k * (score_a - ea);
    *rb += k * ((1.0 - score_a) - (1.0 - ea));
}

/* ---- the selector (callers hold g_lock) ---- */

/* xorshift64 (Marsaglia's shifts 13, 7, 17): enough for picking windows. */
static uint64_t next_rand(elo_t *e) {
    uint64_t x = e->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return e->rng = x;
}

static bool chance(elo_t *e, unsigned percent) { return next_rand(e) % 100 < percent; }



/* Highest rating; ties go to the confirmed choice (the default at start). */
static unsigned best(const elo_t *e, int except) {
    unsigned b = (int)e->confirmed != except ? e->confirmed : (except == 0 ? 1 : 0);
    for (unsigned i = 0; i < HAK_ELO_CANDIDATES; i++)
        if ((int)i != except && e->rating[i] > e->rating[b]) b = i;
    return b;
}

static void enter(elo_t *e, int state) {
    e->state = state;
    e->phase_start = e->allocs;
    e->tried = 0;
    atomic_store_explicit(&g_frozen_allocs, 0, memory_order_relaxed);
    atomic_store_explicit(&g_learns, e->learns, memory_order_relaxed);
    atomic_store_explicit(&g_confirmed, e->confirmed, memory_order_relaxed);
    atomic_store_explicit(&g_state, state, memory_order_release);
}

static unsigned nearest(size_t bytes) {
    unsigned i = 0;
    while (i + 1 < HAK_ELO_CANDIDATES && k_threshold[i] < bytes) i++;
    return i;
}

static void reset(elo_t *e, bool learns, unsigned confirmed, uint64_t seed) {
    memset(e, 0, sizeof(*e));
    e->learns = learns;
    e->confirmed = confirmed;
    e->rng = seed | 1;
    for (unsigned i = 0; i < HAK_ELO_CANDIDATES; i++) e->rating[i] = ELO_RATING0;
    enter(e, learns ? HAK_ELO_STATE_LEARN : HAK_ELO_STATE_FROZEN);
}

/* A cost so far above the leader's that exploring further would cost
 * more than it could teach. */
static bool too_costly(const elo_t *e, double cost, unsigned lead) {
    return cost > ELO_HOPELESS * e->cost[lead];
}

static bool hopeless(const elo_t *e, unsigned i, unsigned lead) {
    return i != lead && e->plays[i] > 0 && too_costly(e, e->cost[i], lead);
}

/* Candidate i is out of play: it, or one between the leader and it, is
 * hopeless (among those `seen`, a mask). A threshold further from the
 * leader maps fresh, or keeps, a superset of the blocks a nearer one does:
 * it costs at least as much of what made the nearer one hopeless. */
static bool out_of_play(const elo_t *e, unsigned i, unsigned lead, unsigned seen) {
    for (unsigned j = i; j != lead; j = j < lead ? j + 1 : j - 1)
        if ((seen >> j & 1u) && hopeless(e, j, lead)) return true;
    return false;
}

/* The k-th candidate nearest to `center` (1 <= k < HAK_ELO_CANDIDATES; the
 * lower first at equal distance). */
static unsigned nearest_kth(unsigned center, unsigned k) {
    for (unsigned d = 1; d < HAK_ELO_CANDIDATES; d++) {
        if (d <= center && --k == 0) return center - d;
        if (center + d < HAK_ELO_CANDIDATES && --k == 0) return center + d;
    }
    return HAK_ELO_CANDIDATES;
}

#define ELO_ALL ((1u << HAK_ELO_CANDIDATES) - 1)

/* Strategy of the next window, chosen before any of its allocations, and
 * whether the window is measured: every one in LEARN; in CANARY the canary
 * windows (5 %) and as many reference windows of the confirmed choice. */
static unsigned pick(elo_t *e, bool *measured) {
    *measured = true;
    if (e->state == HAK_ELO_STATE_LEARN) {
        unsigned lead = best(e, -1);
        if (!chance(e, ELO_EXPLORE_PCT)) return lead;
        /* explore: the least-played candidate still in play, the nearest
         * to the leader first, so each gets its turn */
        unsigned pickd = lead;
        for (unsigned k = 1; k < HAK_ELO_CANDIDATES; k++) {
            unsigned i = nearest_kth(lead, k);
            if (!out_of_play(e, i, lead, ELO_ALL) && (pickd == lead || e->plays[i] < e->plays[pickd]))
                pickd = i;
        }
        return pickd;
    }
    unsigned r = (unsigned)(next_rand(e) % 100);
    if (r < ELO_CANARY_PCT) {
        /* the next other candidate in turn, nearest first: one out of play
         * is tried once a phase, and those beyond it not at all */
        for (unsigned k = 1; k < HAK_ELO_CANDIDATES; k++) {
            e->canary = e->canary % (HAK_ELO_CANDIDATES - 1) + 1;
            unsigned c = nearest_kth(e->confirmed, e->canary);
            if (!out_of_play(e, c, e->confirmed, e->tried)) return c;
        }
        return e->confirmed; /* every other is out of play: a reference window */
    }
    *measured = r < ELO_CANARY_PCT + ELO_REFERENCE_PCT;
    return e->confirmed;
}

/* The canary phase ends after ELO_CANARY_ALLOCS: the best rating is
 * confirmed. */
static void canary_check(elo_t *e) {
    if (e->state == HAK_ELO_STATE_CANARY && e->allocs - e->phase_start >= ELO_CANARY_ALLOCS) {
        e->confirmed = best(e, -1);
        enter(e, HAK_ELO_STATE_FROZEN);
    }
}

/* A finished window of strategy s cost `cost` ns per allocation. */
static void window_done(elo_t *e, unsigned s, double cost) {
    unsigned lead = best(e, -1);
    unsigned opp = s == lead ? best(e, (int)s) : lead;
    if (e->plays[opp] > 0) {
        double ref = e->cost[opp];
        double score = cost < ref * (1.0 - ELO_DRAW) ? 1.0 : (cost > ref * (1.0 + ELO_DRAW) ? 0.0 : 0.5);
        hak_elo_update(&e->rating[s], &e->rating[opp], score, ELO_K);
    }
    /* a canary's first window of the phase is a fresh look: the workload
     * may have changed since the candidate last played */
    bool fresh = e->plays[s] == 0 ||
                 (e->state == HAK_ELO_STATE_CANARY && s != e->confirmed && !(e->tried >> s & 1u));
    e->cost[s] = fresh ? cost : e->cost[s] * (1.0 - ELO_COST_WEIGHT) + cost * ELO_COST_WEIGHT;
    e->plays[s]++;
    if (e->state == HAK_ELO_STATE_CANARY) e->tried |= 1u << s;
    uint64_t in_phase = e->allocs - e->phase_start;
    if (e->state == HAK_ELO_STATE_LEARN) {
        bool all = true;
        lead = best(e, -1);
        for (unsigned i = 0; i < HAK_ELO_CANDIDATES; i++)
            all &= e->plays[i] >= ELO_MIN_PLAYS || out_of_play(e, i, lead, ELO_ALL);
        if (in_phase >= ELO_LEARN_ALLOCS &&
            (all || in_phase >= ELO_LEARN_MAX_FACTOR * ELO_LEARN_ALLOCS)) {
            e->confirmed = best(e, -1);
            enter(e, HAK_ELO_STATE_FROZEN);
        }
    } else {
        canary_check(e);
    }
}

/* FROZEN counts allocations only to know when the canary is due. */
static void frozen_tick(elo_t *e, uint64_t allocs) {
    e->allocs += allocs;
    if (e->learns && e->state == HAK_ELO_STATE_FROZEN && e->allocs - e->phase_start >= ELO_FROZEN_ALLOCS)
        enter(e, HAK_ELO_STATE_CANARY);
}

/* ---- the allocator's side ---- */

/* The candidate nearest HAKMEM_BIGCACHE_MAX_BLOCK_MB: the choice at start. */
static unsigned configured(void) {
    return nearest((size_t)hak_opt(OPT_BIGCACHE_MAX_BLOCK_MB) * HAK_MIB);
}

/* Strategies come back from block headers: masked to a candidate. */
static unsigned candidate(unsigned strategy) { return strategy & (HAK_ELO_CANDIDATES - 1); }

static size_t threshold(unsigned strategy) { return k_threshold[candidate(strategy)]; }

static bool measuring(void) {
    return hak_opt(OPT_ELO) == ELO_LEARN_MODE &&
           atomic_load_explicit(&g_state, memory_order_relaxed) != HAK_ELO_STATE_FROZEN;
}

static unsigned choose(bool *measure) {
    *measure = false;
    if (atomic_load_explicit(&g_state, memory_order_acquire) == HAK_ELO_STATE_FROZEN) {
        unsigned s = atomic_load_explicit(&g_confirmed, memory_order_relaxed);
        if (!atomic_load_explicit(&g_learns, memory_order_relaxed)) return s;
        /* a racy count: it only says when the canary is due */
        uint64_t n = atomic_load_explicit(&g_frozen_allocs, memory_order_relaxed) + 1;
        atomic_store_explicit(&g_frozen_allocs, n, memory_order_relaxed);
        if (n % ELO_FROZEN_BATCH != 0) return s;
        /* every batch: account it, maybe start the canary */
        HAK_LOCKED(&g_lock) {
            frozen_tick(&g_elo, ELO_FROZEN_BATCH);
        }
        return s;
    }
    unsigned s = 0;
    HAK_LOCKED(&g_lock) {
        elo_t *e = &g_elo;
        if (e->state == HAK_ELO_STATE_FROZEN) {
            s = e->confirmed;
        } else {
            if (e->win_left == 0) {
                e->win_strategy = pick(e, &e->win_measured);
                e->win_left = ELO_WINDOW;
                if (e->win_measured) e->win_cpu = _hak_process_cpu_ns();
            }
            s = e->win_strategy;
            *measure = e->win_measured;
            if (!e->win_measured) {
                e->allocs++;
                if (--e->win_left == 0) canary_check(e);
            }
        }
    }
    return s;
}

static void alloc_done(unsigned s) {
    size_t idle = _hak_tiers.large_idle();
    HAK_LOCKED(&g_lock) {
        elo_t *e = &g_elo;
        if (e->state != HAK_ELO_STATE_FROZEN && e->win_measured && e->win_left > 0 &&
            s == e->win_strategy) {
            e->allocs++;
            bool last = --e->win_left == 0;
            unsigned done = ELO_WINDOW - e->win_left, lead = best(e, -1);
            /* a window of another candidate ends as soon as it is hopeless:
             * exploring costs an allocation or two, not a window */
            if (last || (s != lead && e->plays[lead] > 0)) {
                double cpu = (double)(_hak_process_cpu_ns() - e->win_cpu) / done;
                if (last || too_costly(e, cpu, lead)) {
                    e->win_left = 0;
                    window_done(e, s, cpu + e->free_ns[s] +
                                          ELO_IDLE_NS_PER_MIB * (double)idle / (double)HAK_MIB);
                }
            }
        }
    }
}

static void free_done(unsigned strategy, uint64_t ns) {
    unsigned s = candidate(strategy);
    HAK_LOCKED(&g_lock) {
        elo_t *e = &g_elo;
        e->free_ns[s] = e->frees[s]++ == 0
                            ? (double)ns
                            : e->free_ns[s] * (1.0 - ELO_FREE_WEIGHT) +
                                  (double)ns * ELO_FREE_WEIGHT;
    }
}

static const hak_large_strategy_t k_strategy = {
    .choose = choose,
    .threshold = threshold,
    .alloc_done = alloc_done,
    .free_done = free_done,
    .measuring = measuring,
};

/* The selector starts on the configured threshold; the large tier asks it
 * for every allocation's threshold unless HAKMEM_ELO=off. */
void _hak_elo_init(void) {
    int mode = (int)hak_opt(OPT_ELO);
    reset(&g_elo, mode == ELO_LEARN_MODE, configured(), _hak_os_random());
    if (mode != ELO_OFF) _hak_tiers.set_large_strategy(&k_strategy);
}

void _hak_elo_lock(void) { hak_lock(&g_lock); }
void _hak_elo_unlock(void) { hak_unlock(&g_lock); }

/* ---- inspection and test hooks ---- */

static const char *const k_state_names[] = {"off", "learn", "frozen", "canary"};

const char *_hak_elo_state_name(int state) { return k_state_names[state]; }

static size_t to_json(const elo_t *e, char *buf, size_t cap) {
    size_t n = 0;
    HAK_PUT("{\"state\":\"%s\",\"allocs\":%llu,\"best\":%zu,\"ratings\":[", k_state_names[e->state],
        (unsigned long long)e->allocs, k_threshold[e->state == HAK_ELO_STATE_LEARN ? best(e, -1)
                                                                                 : e->confirmed]);
    for (unsigned i = 0; i < HAK_ELO_CANDIDATES; i++)
        HAK_PUT("%s{\"threshold\":%zu,\"rating\":%.2f,\"plays\":%llu,\"cost_ns\":%.1f}", i ? "," : "",
            k_threshold[i], e->rating[i], (unsigned long long)e->plays[i], e->cost[i]);
    HAK_PUT("]}");
    return n;
}

size_t _hak_elo_trace_json(char *buf, size_t cap) {
    size_t n = 0;
    HAK_LOCKED(&g_lock) {
        n = to_json(&g_elo, buf, cap);
    }
    return n;
}

int hak_elo_state(void) {
    hak_ensure_init();
    if (hak_opt(OPT_ELO) == ELO_OFF) return HAK_ELO_STATE_OFF;
    return atomic_load_explicit(&g_state, memory_order_acquire);
}

size_t hak_elo_threshold(void) {
    hak_ensure_init();
    if (hak_opt(OPT_ELO) == ELO_OFF) return _hak_tiers.large_threshold(0);
    unsigned s = 0;
    HAK_LOCKED(&g_lock) {
        s = g_elo.state == HAK_ELO_STATE_LEARN ? best(&g_elo, -1) : g_elo.confirmed;
    }
    return _hak_tiers.large_threshold(s);
}

size_t hak_elo_json(char *buf, size_t cap) {
    hak_ensure_init();
    return hak_text_done(buf, cap, _hak_elo_trace_json(buf, cap));
}

void hak_elo_test_reset(int learn, uint64_t seed) {
    hak_ensure_init();
    HAK_LOCKED(&g_lock) {
        reset(&g_elo, learn != 0, configured(), seed);
    }
}

int hak_elo_test_step(const double cost[HAK_ELO_CANDIDATES]) {
    hak_ensure_init();
    if (cost == NULL) {
        errno = EINVAL;
        return -1;
    }
    unsigned s = 0;
    HAK_LOCKED(&g_lock) {
        elo_t *e = &g_elo;
        if (e->state == HAK_ELO_STATE_FROZEN) {
            s = e->confirmed;
            frozen_tick(e, ELO_WINDOW);
        } else {
            bool measured;
            s = pick(e, &measured); /* before the outcome it will be charged */
            e->allocs += ELO_WINDOW;
            if (measured) window_done(e, s, cost[s]);
            else canary_check(e);
        }
    }
    return (int)s;
}
