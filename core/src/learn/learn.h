/* The learning layer, the top of the allocator: ELO's choice of the large
 * tier's cache threshold (elo.c) and ACE, the adaptive control engine
 * (ace*.c, bandit.c). Calls every layer below: the tiers only through the
 * API layer's table (_hak_tiers) and the runtime knobs, the large tier's
 * strategy slot and the hooks it registers at start-up. */
#ifndef HAKMEM_LEARN_H
#define HAKMEM_LEARN_H

#include "api/api.h"

/* ---- arithmetic without libm, so a static link needs no -lm (math.c) ---- */
double _hak_ln(double x);   /* x > 0 */
double _hak_exp(double x);  /* |x| < 700 */
double _hak_sqrt(double x); /* x >= 0 */

/* ---- ELO choice of the large-block cache threshold (elo.c) ---- */
#define HAK_ELO_CANDIDATES 4 /* a power of two: header values are masked with it */
_Static_assert(HAK_ELO_CANDIDATE_COUNT == HAK_ELO_CANDIDATES, "public candidate count");
void _hak_elo_init(void); /* registers the large tier's strategy unless HAKMEM_ELO=off */
const char *_hak_elo_state_name(int state);
size_t _hak_elo_trace_json(char *buf, size_t cap);
void _hak_elo_lock(void);
void _hak_elo_unlock(void);

/* ---- ACE, the adaptive control engine (ace.c) ---- */
_Static_assert(HAK_ACE_CLASSES == HAK_CLASSES, "public class count");
/* Snapshots the knobs' defaults; when HAKMEM_ACE_ENABLED, sets the
 * slow-path hook that starts the thread; sets the statistics' summary. */
void _hak_ace_init(void);
void _hak_ace_lock(void);
void _hak_ace_unlock(void);
void _hak_ace_child(void); /* in a forked child; unlocks */

#endif
