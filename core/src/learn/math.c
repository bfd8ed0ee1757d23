/* ln, exp and sqrt for the learning layer (ELO expectations, UCB1 bounds),
 * so that libhakmem needs no libm. Accurate to about 1e-12 relative over
 * the ranges used, which is far below the noise of what they weigh. */
#include "learn.h"

#include <string.h>

static double scale2(double x, int k) { /* x * 2^k */
    uint64_t bits;
    memcpy(&bits, &x, sizeof(bits));
    int e = (int)((bits >> 52) & 0x7ff);
    if (x == 0.0 || e == 0 || e + k <= 0 || e + k >= 0x7ff) {
        while (k > 0) { x *= 2.0; k--; }
        while (k < 0) { x *= 0.5; k++; }
        return x;
    }
    bits = (bits & ~((uint64_t)0x7ff << 52)) | ((uint64_t)(e + k) << 52);
    memcpy(&x, &bits, sizeof(x));
    return x;
}

#define LN2 0.6931471805599453

double _hak_exp(double x) {
    if (x != x) return x; /* NaN */
    if (x > 709.0) x = 709.0;
    if (x < -708.0) x = -708.0;
    /* x = k ln2 + r with |r| <= ln2 / 2, then a Taylor series for e^r. */
    int k = (int)(x / LN2 + (x >= 0 ? 0.5 : -0.5));
    double r = x - k * LN2, term = 1.0, sum = 1.0;
    for (int i = 1; i < 18; i++) {
        term *= r / i;
        sum += term;
    }
    return scale2(sum, k);
}

double _hak_ln(double x) {
    /* x = m 2^e with m in [sqrt(1/2), sqrt(2)), then ln m = 2 atanh((m-1)/(m+1)). */
    if (x <= 0.0) return -1e300;
    uint64_t bits;
    memcpy(&bits, &x, sizeof(bits));
    int e = (int)((bits >> 52) & 0x7ff) - 1023;
    double m = scale2(x, -e);
    if (m > 1.4142135623730951) {
        m *= 0.5;
        e++;
    }
    double z = (m - 1.0) / (m + 1.0), z2 = z * z, p = z, sum = 0.0;
    for (int i = 1; i < 40; i += 2) {
        sum += p / i;
        p *= z2;
    }
    return e * LN2 + 2.0 * sum;
}

double _hak_sqrt(double x) {
    if (x <= 0.0) return 0.0;
    double y = _hak_exp(0.5 * _hak_ln(x));
    for (int i = 0; i < 3; i++) y = 0.5 * (y + x / y); /* Newton polishes the last bits */
    return y;
}
