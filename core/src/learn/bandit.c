/* UCB1 bandits: each of ACE's knobs is a bandit whose arms are candidate
 * values; the arm with the best mean reward plus an exploration bonus is
 * played, untried arms first. */
#include "ace.h"

#include <string.h>

/* UCB1's exploration constant: sqrt(2), the textbook bound for rewards in
 * [0, 1]. */
#define UCB_C 1.4142135623730951
#define NO_MEAN (-1e300) /* below any reward */

double hak_ucb1_score(double mean, uint64_t n, uint64_t total, double c) {
    if (n == 0) return __builtin_inf();
    if (total < 1) total = 1;
    return mean + c * _hak_sqrt(_hak_ln((double)total) / (double)n);
}

void _hak_bandit_init(bandit_t *b, const uint32_t *values, unsigned count, uint32_t def,
                      uint32_t max) {
    memset(b, 0, sizeof(*b));
    b->pulled = -1;
    for (unsigned i = 0; i < ACE_MAX_ARMS; i++) b->bound[i] = __builtin_inf();
    for (unsigned i = 0; i < count && i < ACE_MAX_ARMS; i++)
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
    double best_mean = NO_MEAN;
    for (unsigned i = 0; i < b->arms; i++)
        if (b->n[i] > 0 && b->mean[i] > best_mean) best_mean = b->mean[i];
    for (unsigned i = 0; i < b->arms; i++) {
        unsigned a = b->order[i];
        if (b->n[a] == 0 && b->bound[a] > best_mean) return a;
    }
    unsigned best = 0;
    double best_score = NO_MEAN;
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

void _hak_bandit_reward(bandit_t *b, double r) {
    if (b->pulled < 0) return;
    unsigned a = (unsigned)b->pulled;
    b->n[a]++;
    b->total++;
    b->mean[a] += (r - b->mean[a]) / (double)b->n[a];
    b->pulled = -1;
}

uint32_t _hak_bandit_pull(bandit_t *b) {
    unsigned a = bandit_select(b);
    b->pulled = (int)a;
    return b->value[a];
}
