/* Racing whole configurations of the speed knobs (a pure function of the
 * evidence it is fed, so tests drive it with synthetic ticks). Knob by knob
 * bandits rewarded with proxies (slab moves) lost to one fixed setting:
 * the knobs act together and the program's speed is what counts. So the
 * candidates are whole configurations, each plays whole ticks of the live
 * program in turn, and the evidence is what the program paid: the
 * process's CPU time per allocator operation over the tick (idle time is no
 * CPU time, so a program between bursts does not blur it).
 *
 * Successive halving: every candidate still in the race plays its ticks of
 * the round (interleaved, so a drift of the workload weighs on all alike),
 * the cheaper half goes on to a round of twice the ticks, until one is
 * left. It stays until the phase detector sees a new phase; a phase seen
 * before gets its winner back at once. A tick that exercised only some of
 * the knobs counts for every candidate that differs from the one in force
 * only in the others: a workload without remote frees races the kept
 * slabs alone, in half the ticks. The defaults win unless another
 * candidate is RACE_MARGIN cheaper: noise does not move a knob. A race's
 * first tick does not count: it carries the start-up or the last phase. */
#include "ace.h"

#include <string.h>

#define RACE_FIRST_TICKS 1 /* ticks each candidate plays in the first round */
#define RACE_WARMUP_TICKS 1 /* ticks at a race's start that do not count */
#define RACE_MIN_OPS 1000.0 /* operations in a tick for it to count */
#define RACE_MARGIN 0.03    /* a winner other than the defaults must be 3 % cheaper */

void _hak_race_start(race_t *r) {
    r->racing = true;
    r->alive = (1u << RACE_CANDIDATES) - 1;
    r->ticks = RACE_FIRST_TICKS;
    r->playing = 0;
    r->spent = 0;
    r->current = -1;
    memset(r->played, 0, sizeof(r->played));
    memset(r->cpu, 0, sizeof(r->cpu));
    memset(r->ops, 0, sizeof(r->ops));
    for (unsigned i = 0; i < RACE_CANDIDATES; i++) r->cost[i] = -1;
    r->races++;
}

static unsigned alive_count(const race_t *r) { return (unsigned)__builtin_popcount(r->alive); }

/* The round is over: the cheaper half goes on; the last one left wins. */
static void round_done(race_t *r) {
    unsigned n = alive_count(r), keep = (n + 1) / 2;
    for (unsigned i = 0; i < RACE_CANDIDATES; i++)
        if (r->alive >> i & 1u) r->cost[i] = r->cpu[i] / r->ops[i];
    unsigned next = 0;
    for (unsigned k = 0; k < keep; k++) { /* the keep cheapest, in turn */
        int best = -1;
        for (unsigned i = 0; i < RACE_CANDIDATES; i++)
            if ((r->alive >> i & 1u) && !(next >> i & 1u) &&
                (best < 0 || r->cost[i] < r->cost[best]))
                best = (int)i;
        next |= 1u << best;
    }
    r->alive = next;
    if (keep == 1) {
        unsigned w = (unsigned)__builtin_ctz(next);
        if (w != 0 && r->cost[0] >= 0 && r->cost[0] <= r->cost[w] * (1.0 + RACE_MARGIN)) w = 0;
        r->winner = (int)w;
        r->playing = (int)w;
        r->racing = false;
        return;
    }
    r->ticks *= 2;
    memset(r->played, 0, sizeof(r->played));
    memset(r->cpu, 0, sizeof(r->cpu));
    memset(r->ops, 0, sizeof(r->ops));
}

unsigned _hak_race_feed(race_t *r, double cpu_ns_per_op, double ops, unsigned same) {
    if (!r->racing) return (unsigned)r->playing;
    if (++r->spent > RACE_WARMUP_TICKS && ops >= RACE_MIN_OPS && cpu_ns_per_op > 0) {
        unsigned credit = (same | 1u << r->playing) & r->alive;
        for (unsigned p = 0; p < RACE_CANDIDATES; p++) {
            if (!(credit >> p & 1u)) continue;
            r->cpu[p] += cpu_ns_per_op * ops;
            r->ops[p] += ops;
            r->played[p]++;
        }
    }
    bool done = true;
    for (unsigned i = 0; i < RACE_CANDIDATES; i++)
        if ((r->alive >> i & 1u) && r->played[i] < r->ticks) done = false;
    if (done) round_done(r);
    if (!r->racing) return (unsigned)r->playing;
    /* the candidate still in the race with the fewest ticks this round */
    int next = -1;
    for (unsigned i = 0; i < RACE_CANDIDATES; i++)
        if ((r->alive >> i & 1u) && (next < 0 || r->played[i] < r->played[next])) next = (int)i;
    r->playing = next;
    return (unsigned)next;
}

void _hak_race_remember(race_t *r, const double sig[ACE_PHASE_DIMS]) {
    race_memory_t *m = &r->seen[r->seen_next];
    memcpy(m->sig, sig, sizeof(m->sig));
    m->winner = r->winner;
    m->decay_ms = m->bigcache_mb = 0;
    r->current = (int)r->seen_next;
    r->seen_next = (r->seen_next + 1) % RACE_MEMORY;
    if (r->seen_count < RACE_MEMORY) r->seen_count++;
}

void _hak_race_leave(race_t *r, uint32_t decay_ms, uint32_t bigcache_mb) {
    if (r->current < 0) return;
    r->seen[r->current].decay_ms = decay_ms;
    r->seen[r->current].bigcache_mb = bigcache_mb;
}

const race_memory_t *_hak_race_recall(race_t *r, const double sig[ACE_PHASE_DIMS]) {
    for (unsigned k = 0; k < r->seen_count; k++) {
        if (!_hak_ace_phase_near(r->seen[k].sig, sig)) continue;
        r->racing = false;
        r->winner = r->playing = r->seen[k].winner;
        r->current = (int)k;
        r->recalls++;
        return &r->seen[k];
    }
    return NULL;
}
