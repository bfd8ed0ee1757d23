/* The PRNG and the pattern word shared by the native tests (common.h) and the
 * reliability programs (tests/reliability/rel.h): splitmix64 seeding, an
 * xorshift64* stream, and the 64-bit content word of block `id`. */
#ifndef HAK_TEST_RNG_H
#define HAK_TEST_RNG_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define T_UNUSED __attribute__((unused))
#else
#define T_UNUSED
#endif

/* ---- PRNG (splitmix64 seeding, xorshift64* stream) ---- */
typedef struct rng {
    uint64_t s;
} rng_t;

static T_UNUSED uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static T_UNUSED void rng_init(rng_t *r, uint64_t seed, uint64_t stream) {
    r->s = splitmix64(seed ^ splitmix64(stream + 1));
    if (r->s == 0) r->s = 1;
}

static T_UNUSED uint64_t rng_next(rng_t *r) {
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* Uniform in [0, n) (n > 0; the tiny modulo bias does not matter here). */
static T_UNUSED uint64_t rng_below(rng_t *r, uint64_t n) { return rng_next(r) % n; }

/* Uniform in [lo, hi]. */
static T_UNUSED size_t rng_range(rng_t *r, size_t lo, size_t hi) {
    return lo + (size_t)rng_below(r, (uint64_t)(hi - lo) + 1);
}

/* ---- content patterns: the word at index `w` of block `id` ---- */
static inline uint64_t pat_word(uint64_t id, size_t w) {
    return splitmix64(id * 0x100000001B3ull + (uint64_t)w);
}

#endif
