/* Discounted UCB1 bandits (the LLC diet's factor): the arms are candidate
 * values; the arm with the best mean reward plus an
 * exploration bonus is played, untried arms first. Every reward first
 * discounts all the evidence seen so far (D-UCB), so arms that did well in
 * an earlier phase of the program fade and the bandit follows a workload
 * that changes; a phase change the controller detects wipes the evidence
 * at once. */
#include "ace.h"

#include <string.h>

/* UCB1's exploration constant: sqrt(2), the textbook bound for rewards in
 * [0, 1]. */
#define UCB_C 1.4142135623730951
#define NO_MEAN (-1e300) /* below any reward */
/* Evidence kept per reward: 0.9 forgets half of it in about 7 rewards
 * (a couple of seconds of ticks), long enough to average noise out. */
#define DISCOUNT 0.9
/* Below this much (discounted) evidence an arm counts as untried again. */
#define TRIED_MIN 0.05

double hak_ucb1_score(double mean, uint64_t n, uint64_t total, double c) {
    if (n == 0) return __builtin_inf();
    if (total < 1) total = 1;
    return mean + c * _hak_sqrt(_hak_ln((double)total) / (double)n);
}

/* The same bonus on discounted counts (which are not integers). */
static double score(double mean, double n, double total) {
    if (n < TRIED_MIN) return __builtin_inf();
    if (total < 1) total = 1;
    return mean + UCB_C * _hak_sqrt(_hak_ln(total + 1.0) / n);
}

void _hak_bandit_init(bandit_t *b, const uint32_t *values, unsigned count, uint32_t def) {
    memset(b, 0, sizeof(*b));
    b->pulled = -1;
    for (unsigned i = 0; i < count && i < ACE_MAX_ARMS; i++) b->value[b->arms++] = values[i];
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

void _hak_bandit_forget(bandit_t *b) {
    memset(b->n, 0, sizeof(b->n));
    memset(b->mean, 0, sizeof(b->mean));
    b->total = 0;
    b->pulled = -1;
}

/* UCB1, untried arms first. */
static unsigned bandit_select(const bandit_t *b) {
    for (unsigned i = 0; i < b->arms; i++) {
        unsigned a = b->order[i];
        if (b->n[a] < TRIED_MIN) return a;
    }
    unsigned best = 0;
    double best_score = NO_MEAN;
    for (unsigned i = 0; i < b->arms; i++) {
        double s = score(b->mean[i], b->n[i], b->total);
        if (s > best_score) {
            best_score = s;
            best = i;
        }
    }
    return best;
}

void _hak_bandit_reward(bandit_t *b, double r) {
    if (b->pulled < 0) return;
    for (unsigned i = 0; i < b->arms; i++) b->n[i] *= DISCOUNT;
    b->total = b->total * DISCOUNT + 1.0;
    unsigned a = (unsigned)b->pulled;
    b->n[a] += 1.0;
    b->mean[a] += (r - b->mean[a]) / b->n[a];
    b->pulled = -1;
}

uint32_t _hak_bandit_pull(bandit_t *b) {
    unsigned a = bandit_select(b);
    b->pulled = (int)a;
    return b->value[a];
}
