/* Shared helpers for the native multi-threaded tests: a small PRNG, content
 * patterns derived from a block id (filled on allocation, verified before
 * every free), argument parsing and the "hakmem served it" check.
 *
 * The programs are linked statically with libhakmem.a, so malloc, free,
 * calloc, realloc, ... of the whole binary (libc's internal ones included)
 * are hakmem's. The PRNG and pat_word are in rng.h, shared with the
 * reliability programs. */
#ifndef HAK_NATIVE_COMMON_H
#define HAK_NATIVE_COMMON_H

#include <errno.h>
#include <hakmem.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rng.h"

/* A request size across the tiers: mostly tiny (1..1024 B, skewed to small),
 * some mid (1 KiB..64 KiB), a few large (64 KiB..max_large). Percentages are
 * out of 1000. */
static T_UNUSED size_t rng_size(rng_t *r, unsigned mid_permille, unsigned large_permille,
                                size_t max_large) {
    uint64_t d = rng_below(r, 1000);
    if (d < large_permille) return rng_range(r, 65537, max_large);
    if (d < large_permille + mid_permille) return rng_range(r, 1025, 65536);
    if (rng_below(r, 4) == 0) return rng_range(r, 1, 1024);
    return rng_range(r, 1, 128);
}

/* ---- failure reporting ---- */
static T_UNUSED void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static T_UNUSED void die(const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    /* write(2) directly: stdio may be in any state in a failing thread. */
    size_t n = strlen(buf);
    if (n < sizeof buf - 1) buf[n++] = '\n';
    ssize_t w = write(2, "FAIL: ", 6);
    w = write(2, buf, n);
    (void)w;
    abort();
}

#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        if (!(cond)) die(__VA_ARGS__);                                       \
    } while (0)

/* ---- content patterns (pat_word: rng.h) ---- */

/* Fills `size` bytes at p with the pattern of block `id`. */
static T_UNUSED void pat_fill(void *p, size_t size, uint64_t id) {
    unsigned char *b = (unsigned char *)p;
    size_t words = size / 8;
    for (size_t w = 0; w < words; w++) {
        uint64_t v = pat_word(id, w);
        memcpy(b + w * 8, &v, 8);
    }
    uint64_t last = pat_word(id, words);
    for (size_t i = words * 8; i < size; i++) b[i] = (unsigned char)(last >> ((i & 7) * 8));
}

/* Verifies the first `size` bytes at p against the pattern of block `id`;
 * aborts with a description of the first difference. `what` names the
 * check (e.g. "before free"). */
static T_UNUSED void pat_check(const void *p, size_t size, uint64_t id, const char *what) {
    const unsigned char *b = (const unsigned char *)p;
    size_t words = size / 8;
    for (size_t w = 0; w < words; w++) {
        uint64_t v = pat_word(id, w), got;
        memcpy(&got, b + w * 8, 8);
        if (got != v) {
            size_t i = 0;
            while (i < 8 && ((got >> (i * 8)) & 0xff) == ((v >> (i * 8)) & 0xff)) i++;
            die("content mismatch (%s): block id=%" PRIu64 " ptr=%p size=%zu offset=%zu "
                "expected 0x%016" PRIx64 " got 0x%016" PRIx64,
                what, id, p, size, w * 8 + i, v, got);
        }
    }
    uint64_t last = pat_word(id, words);
    for (size_t i = words * 8; i < size; i++) {
        unsigned char e = (unsigned char)(last >> ((i & 7) * 8));
        if (b[i] != e)
            die("content mismatch (%s): block id=%" PRIu64 " ptr=%p size=%zu offset=%zu "
                "expected 0x%02x got 0x%02x",
                what, id, p, size, i, e, b[i]);
    }
}

static T_UNUSED void zero_check(const void *p, size_t size, uint64_t id, const char *what) {
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = 0; i < size; i++)
        if (b[i] != 0)
            die("calloc memory not zeroed (%s): block id=%" PRIu64 " ptr=%p size=%zu "
                "offset=%zu byte=0x%02x",
                what, id, p, size, i, b[i]);
}

/* Alignment check: C17 wants malloc(n) aligned for any object of size <= n
 * (e.g. a long double or __int128 in 24 bytes), i.e. 16 bytes on x86_64 and
 * aarch64 for every n >= 16, as glibc does; smaller blocks can only hold
 * objects needing at most 8. realloc's result must meet the same rule for the
 * new size, also when it keeps the block in place. */
static T_UNUSED void align_check(const void *p, size_t size, uint64_t id, const char *what) {
    uintptr_t a = size >= 16 ? 16 : 8;
    if (((uintptr_t)p & (a - 1)) != 0)
        die("misaligned block from %s: id=%" PRIu64 " ptr=%p size=%zu (want %zu-byte alignment)",
            what, id, p, size, (size_t)a);
}

/* Allocates with malloc, checks the result and fills the pattern. */
static T_UNUSED void *t_malloc(size_t size, uint64_t id) {
    void *p = malloc(size);
    if (!p) die("malloc(%zu) returned NULL (errno %d)", size, errno);
    align_check(p, size, id, "malloc");
    pat_fill(p, size, id);
    return p;
}

/* Allocates with calloc, checks zeroing and fills the pattern. */
static T_UNUSED void *t_calloc(size_t size, uint64_t id) {
    size_t n = size >= 4 && (size & 3) == 0 ? 4 : 1;
    void *p = calloc(size / n, n);
    if (!p) die("calloc(%zu, %zu) returned NULL (errno %d)", size / n, n, errno);
    align_check(p, size, id, "calloc");
    zero_check(p, size, id, "after calloc");
    pat_fill(p, size, id);
    return p;
}

/* Verifies and frees. */
static T_UNUSED void t_free(void *p, size_t size, uint64_t id) {
    pat_check(p, size, id, "before free");
    free(p);
}

/* Verifies the old content, reallocs, verifies the preserved prefix and
 * refills with the pattern of new_id. */
static T_UNUSED void *t_realloc(void *p, size_t old_size, uint64_t old_id, size_t new_size,
                                uint64_t new_id) {
    pat_check(p, old_size, old_id, "before realloc");
    void *q = realloc(p, new_size);
    if (!q) die("realloc(%p, %zu) returned NULL (errno %d)", p, new_size, errno);
    align_check(q, new_size, new_id, "realloc");
    pat_check(q, old_size < new_size ? old_size : new_size, old_id, "prefix after realloc");
    pat_fill(q, new_size, new_id);
    return q;
}

/* ---- arguments: [seed] [scale] ----
 * seed: decimal or 0x-hex; absent, "0" or "-" picks one from the clock.
 * scale: a positive float multiplying the amount of work (default 1). */
static T_UNUSED void parse_args(int argc, char **argv, const char *name, uint64_t *seed,
                                double *scale) {
    *seed = 0;
    *scale = 1.0;
    if (argc > 1 && strcmp(argv[1], "-") != 0) *seed = strtoull(argv[1], NULL, 0);
    if (*seed == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        *seed = splitmix64((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^
                           (uint64_t)getpid());
    }
    if (argc > 2) {
        *scale = strtod(argv[2], NULL);
        if (!(*scale > 0)) die("bad scale '%s'", argv[2]);
    }
    printf("%s: seed=0x%016" PRIx64 " scale=%g (rerun: %s 0x%016" PRIx64 " %g)\n", name, *seed,
           *scale, argv[0], *seed, *scale);
    fflush(stdout);
}

/* Scaled count, at least `min`. */
static T_UNUSED size_t scaled(double scale, size_t base, size_t min) {
    double v = (double)base * scale;
    size_t n = v < 1 ? 0 : (size_t)v;
    return n < min ? min : n;
}

/* ---- proof that hakmem served the allocations ---- */
static T_UNUSED void stats_check(const char *name, int need_mid, int need_large,
                                 int need_remote) {
    hak_stats_t st;
    memset(&st, 0, sizeof st);
    if (hak_stats_get(&st, sizeof st) != 0) die("hak_stats_get failed (errno %d)", errno);
    CHECK(st.version == HAK_STATS_VERSION, "hak_stats_get: version %u", st.version);
    const hak_tier_stats_t *t = st.tier;
    printf("%s: hakmem %s mode=%s allocs tiny=%" PRIu64 " mid=%" PRIu64 " large=%" PRIu64
           " frees tiny=%" PRIu64 " mid=%" PRIu64 " large=%" PRIu64 " remote_frees tiny=%" PRIu64
           " mid=%" PRIu64 " large=%" PRIu64 " heaps created=%" PRIu64 " reused=%" PRIu64
           " mmap=%" PRIu64 " munmap=%" PRIu64 "\n",
           name, hak_version(), hak_mode(), t[HAK_TIER_TINY].allocs, t[HAK_TIER_MID].allocs,
           t[HAK_TIER_LARGE].allocs, t[HAK_TIER_TINY].frees, t[HAK_TIER_MID].frees,
           t[HAK_TIER_LARGE].frees, t[HAK_TIER_TINY].remote_frees,
           t[HAK_TIER_MID].remote_frees, t[HAK_TIER_LARGE].remote_frees, st.heaps_created,
           st.heaps_reused, st.syscalls[HAK_SYS_MMAP], st.syscalls[HAK_SYS_MUNMAP]);
    CHECK(t[HAK_TIER_TINY].allocs > 0, "hakmem stats show no tiny allocations");
    CHECK(t[HAK_TIER_TINY].frees > 0, "hakmem stats show no tiny frees");
    if (need_mid) CHECK(t[HAK_TIER_MID].allocs > 0, "hakmem stats show no mid allocations");
    if (need_large)
        CHECK(t[HAK_TIER_LARGE].allocs > 0, "hakmem stats show no large allocations");
    if (need_remote)
        CHECK(t[HAK_TIER_TINY].remote_frees + t[HAK_TIER_MID].remote_frees +
                      t[HAK_TIER_LARGE].remote_frees >
                  0,
              "hakmem stats show no remote frees");
    fflush(stdout);
}

#endif
