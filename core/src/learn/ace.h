/* What ACE's files share (private to the learning layer): the bandits,
 * the controller's state, and the calls between the controller
 * (ace_rules.c), the probe (ace_probe.c), the trace (ace_trace.c) and the
 * thread (ace.c). */
#ifndef HAKMEM_ACE_H
#define HAKMEM_ACE_H

#include "learn.h"

/* ---- discounted UCB1 bandits (bandit.c) ---- */
#define ACE_MAX_ARMS 8

typedef struct bandit {
    unsigned arms;
    uint32_t value[ACE_MAX_ARMS];
    unsigned order[ACE_MAX_ARMS]; /* untried arms are played nearest the default first */
    double n[ACE_MAX_ARMS];       /* discounted plays */
    double mean[ACE_MAX_ARMS];
    double total;
    int pulled;   /* arm applied since the last reward, -1 none */
} bandit_t;

/* Arms are the values given; `def` is played first, then the others by
 * steps away from it. */
void _hak_bandit_init(bandit_t *b, const uint32_t *values, unsigned count, uint32_t def);
uint32_t _hak_bandit_pull(bandit_t *b);      /* an arm's value, to be rewarded next */
void _hak_bandit_reward(bandit_t *b, double r); /* the arm pulled last earned r */
void _hak_bandit_forget(bandit_t *b);        /* a new phase: every arm untried again */

/* ---- the memory controllers (ace_memory.c): decay delay, BigCache budget,
 * and the phase detector. Pure functions of their evidence. ---- */
#define ACE_PHASE_DIMS 4

typedef struct memctl {
    double reuse[HAK_ACE_REUSE_BUCKETS]; /* MiB reused by idle time, discounted */
    double idle_in;                      /* MiB that went idle, discounted */
    double cold;                         /* MiB of BigCache blocks refaulted, discounted */
    double released, refault;            /* MiB decay gave back, and of it reused, discounted */
    double large_peak;                   /* MiB idle in BigCache: discounted peak */
    unsigned decay_hold, budget_hold;    /* ticks before the knob may move again */
} memctl_t;

typedef struct phase {
    double mean[ACE_PHASE_DIMS], dev[ACE_PHASE_DIMS];
    double last[ACE_PHASE_DIMS]; /* the latest tick's signature */
    unsigned seen, off; /* ticks seen; consecutive ticks off the running mean */
    uint64_t changes;
} phase_t;

/* The decay delay of `arms` (ms) that would have cost least: memory reused
 * after idling t costs lambda * t while it waits (t below the delay), or
 * lambda * delay plus a refault (fault_ns_per_mib) when the delay gave it
 * back first; memory never reused costs lambda * delay. "Never reused" is
 * only what decay gave back and nobody took again: memory idle for less
 * than the current delay may still be reused, and counting it as never
 * would shorten the delay on every program's first free. lambda: ns per
 * MiB held a second (HAKMEM_ACE_MEMORY_WEIGHT). Writes each arm's cost. */
unsigned _hak_ace_best_delay(const memctl_t *mc, double lambda, double fault_ns_per_mib,
                             const uint32_t *arms, unsigned count, double *cost);
/* Feeds one tick's evidence; true when the workload changed phase. */
void _hak_ace_memctl_feed(memctl_t *mc, const hak_ace_metrics_t *m);
bool _hak_ace_phase_feed(phase_t *p, const hak_ace_metrics_t *m);
/* Two phase signatures the detector would not tell apart. */
bool _hak_ace_phase_near(const double a[ACE_PHASE_DIMS], const double b[ACE_PHASE_DIMS]);

/* ---- racing whole configurations of the speed knobs (ace_race.c) ----
 * Candidate 0 is the defaults; the others are named in ace_rules.c. */
#define RACE_CANDIDATES 4
#define RACE_MEMORY 8 /* phases whose winners are remembered */

/* A phase raced before: its signature, its winner, and the memory knobs
 * in force when it ended (0: it has not ended yet). */
typedef struct race_memory {
    double sig[ACE_PHASE_DIMS];
    int winner;
    uint32_t decay_ms, bigcache_mb;
} race_memory_t;

typedef struct race {
    bool racing;
    int winner;       /* the last race's, -1 before one ended */
    int playing;      /* the candidate in force, whose tick is being measured */
    unsigned alive;   /* bit i: candidate i is still in the race */
    unsigned ticks;   /* ticks each candidate plays in this round */
    unsigned spent;   /* ticks this race has taken */
    unsigned played[RACE_CANDIDATES];
    double cpu[RACE_CANDIDATES], ops[RACE_CANDIDATES]; /* this round's sums (ns, operations) */
    double cost[RACE_CANDIDATES]; /* CPU ns per operation in its last round; -1 none */
    race_memory_t seen[RACE_MEMORY];
    unsigned seen_count, seen_next;
    int current;      /* the entry of the phase in force, -1 none */
    uint64_t races, recalls;
} race_t;

void _hak_race_start(race_t *r); /* every candidate in a new race, the defaults first */
/* One tick of the candidate in force: CPU ns per operation over it and its
 * operations (too few: the tick does not count), which stand for every
 * candidate of `same` too (bit i: candidate i differs from the one in force
 * only in knobs the tick did not exercise). Returns the candidate to put in
 * force, the winner once the race is over. */
unsigned _hak_race_feed(race_t *r, double cpu_ns_per_op, double ops, unsigned same);
void _hak_race_remember(race_t *r, const double sig[ACE_PHASE_DIMS]); /* the winner's phase */
/* The phase in force ends: its entry keeps the memory knobs it ended with. */
void _hak_race_leave(race_t *r, uint32_t decay_ms, uint32_t bigcache_mb);
/* A phase seen before: its winner in force, the race over; its entry, or
 * NULL when unknown. Looked for in the first ticks of a race (a phase's
 * first tick still carries the last one's leftovers). */
#define RACE_RECALL_TICKS 3
const race_memory_t *_hak_race_recall(race_t *r, const double sig[ACE_PHASE_DIMS]);

/* ---- the controller (ace_rules.c) ---- */
typedef struct knobs {
    uint32_t cap[HAK_CLASSES]; /* before the diet */
    uint32_t bundle, diet_pct;
    uint32_t decay_ms, bigcache_mb;
} knobs_t;

typedef struct ace {
    knobs_t def, cur;
    bandit_t diet;
    race_t race;
    memctl_t mem;
    phase_t phase;
    /* the memory knobs after the last tick that fit the phase in force:
     * what it keeps when it ends (a tick off it already belongs to the next) */
    uint32_t phase_decay_ms, phase_bigcache_mb;
    double fault_ns_per_mib; /* what a page fault costs here, per MiB faulted in */
    bool bundle_ruled; /* set by the lock rule, until a calm restore */
    bool alarm;                     /* a fast-loop rule fired since the last slow tick */
    unsigned calm;
    double tput_mean, rss_mean;
    bool stopped;      /* a guard tripped: backed off on the defaults */
    unsigned backoff;  /* fast ticks before it looks whether it may resume */
    unsigned trips;    /* guard trips: each backs off twice as long, up to a limit */
    uint64_t resumes;  /* times it came back after a trip */
    unsigned p99_over; /* consecutive ticks over the p99 limit */
    char reason[128];
    uint64_t ticks, decisions, scavenges, scavenged_bytes;
    uint64_t last_scavenge_ns, last_scavenge_bytes;
    bool last_scavenge_complete;
    int llc_from_pmu;
    double last_reward;
} ace_t;

void _hak_ace_snapshot_defaults(void); /* the knobs as configured at start-up */
void _hak_ace_reset(ace_t *a);         /* a fresh controller on those defaults */
/* One tick on the metrics given, decisions applied: the knob changes made,
 * or -1 while ACE is backed off after a guard tripped (it resumes once the
 * back-off has passed and no guard is over its limit). */
int _hak_ace_tick_fast(ace_t *a, const hak_ace_metrics_t *m);
int _hak_ace_tick_slow(ace_t *a, const hak_ace_metrics_t *m);
void _hak_ace_restore(ace_t *a, const hak_ace_metrics_t *m, const char *loop);

/* ---- samples the slow paths report while ACE runs (samples.c) ----
 * Sums since start: lock waits, memory that became idle, slow-path
 * latencies in buckets of [2^k, 2^(k+1)) ns, and bytes of idle memory
 * handed out again by how long it sat idle, [2^k, 2^(k+1)) ms. */
#define HAK_LAT_BUCKETS 40 /* the last holds 9 min and more */
#define HAK_REUSE_BUCKETS HAK_ACE_REUSE_BUCKETS
typedef struct hak_samples {
    uint64_t lock_wait_ns, idle_in_bytes;
    uint64_t lat[HAK_LAT_BUCKETS];
    uint64_t reuse[HAK_REUSE_BUCKETS];
} hak_samples_t;

void _hak_samples_enable(bool on); /* installs the hooks, or takes them away */
void _hak_samples_read(hak_samples_t *out);

/* ---- metrics of the running process (ace_probe.c) ---- */
void _hak_ace_probe_init(void);   /* the cache size, at start-up */
void _hak_ace_probe_start(void);  /* the baseline when the thread starts */
void _hak_ace_probe_add_cpu(uint64_t cpu_ns); /* CPU time of a tick: ACE's own */
void _hak_ace_measure(hak_ace_metrics_t *m, bool slow);

/* ---- trace and log (ace_trace.c) ---- */
void _hak_ace_trace_start(void);  /* opens HAKMEM_ACE_TRACE (once) and restarts the clock */
void _hak_ace_trace_restart(void); /* restarts the clock (test hooks) */
void _hak_ace_trace_child(void);  /* a forked child keeps off the parent's trace */
void _hak_ace_trace_decision(const ace_t *a, const hak_ace_metrics_t *m, const char *loop,
                             const char *rule, const char *knob, int cls, uint64_t old,
                             uint64_t now);
void _hak_ace_trace_tick(const ace_t *a, const hak_ace_metrics_t *m, const char *loop);
void _hak_ace_trace_guard(const char *name, double value, double limit);
void _hak_ace_trace_scavenge(size_t bytes, uint64_t ns, uint64_t budget_ns, bool complete);
void _hak_ace_trace_elo(void);
void _hak_ace_trace_phase(uint64_t changes);

#endif
