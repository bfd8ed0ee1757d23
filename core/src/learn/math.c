/* ln, exp and sqrt for the learning layer (ELO expectations, UCB1 bounds),
 * so that libhakmem needs no libm. Accurate to about 1e-12 relative over
 * the ranges used, which is far below the noise of what they weigh. */
#include "learn.h"

#include <string.h>

/* IEEE 754 double: 52 fraction bits, then 11 exponent bits biased by 1023. */
#define FRAC_BITS 52
#define EXP_MASK 0x7ff
#define EXP_BIAS 1023
#define EXP_MAX 709.0   /* e^709 is near DBL_MAX */
#define EXP_MIN (-708.0) /* e^-708 is near DBL_MIN */
#define EXP_TERMS 18    /* Taylor terms for |r| <= ln2/2: the 18th is below 1e-17 */
#define LN_TERMS 40     /* atanh series up to z^39, |z| <= 0.172: below 1e-30 */
#define SQRT_POLISH 3   /* Newton steps after exp(ln(x)/2) */
#define LN2 0.6931471805599453
#define SQRT2 1.4142135623730951
#define LN_OF_ZERO (-1e300) /* ln of x <= 0: below anything it is compared with */

static double scale2(double x, int k) { /* x * 2^k */
    uint64_t bits;
    memcpy(&bits, &x, sizeof(bits));
    int e = (int)((bits >> FRAC_BITS) & EXP_MASK);
    if (x == 0.0 || e == 0 || e + k <= 0 || e + k >= EXP_MASK) {
        while (k > 0) { x *= 2.0; k--; }
        while (k < 0) { x *= 0.5; k++; }
        return x;
    }
    bits = (bits & ~((uint64_t)EXP_MASK << FRAC_BITS)) | ((uint64_t)(e + k) << FRAC_BITS);
    memcpy(&x, &bits, sizeof(x));
    return x;
}

double _hak_exp(double x) {
    if (x != x) return x; /* NaN */
    if (x > EXP_MAX) x = EXP_MAX;
    if (x < EXP_MIN) x = EXP_MIN;
    /* x = k ln2 + r with |r| <= ln2 / 2, then a Taylor series for e^r. */
    int k = (int)(x / LN2 + (x >= 0 ? 0.5 : -0.5));
    double r = x - k * LN2, term = 1.0, sum = 1.0;
    for (int i = 1; i < EXP_TERMS; i++) {
        term *= r / i;
        sum += term;
    }
    return scale2(sum, k);
}

double _hak_ln(double x) {
    /* x = m 2^e with m in [sqrt(1/2), sqrt(2)), then ln m = 2 atanh((m-1)/(m+1)). */
    if (x <= 0.0) return LN_OF_ZERO;
    uint64_t bits;
    memcpy(&bits, &x, sizeof(bits));
    int e = (int)((bits >> FRAC_BITS) & EXP_MASK) - EXP_BIAS;
    double m = scale2(x, -e);
    if (m > SQRT2) {
        m *= 0.5;
        e++;
    }
    double z = (m - 1.0) / (m + 1.0), z2 = z * z, p = z, sum = 0.0;
    for (int i = 1; i < LN_TERMS; i += 2) {
        sum += p / i;
        p *= z2;
    }
    return e * LN2 + 2.0 * sum;
}

double _hak_sqrt(double x) {
    if (x <= 0.0) return 0.0;
    double y = _hak_exp(0.5 * _hak_ln(x));
    for (int i = 0; i < SQRT_POLISH; i++) y = 0.5 * (y + x / y); /* Newton polishes the last bits */
    return y;
}
