/* Hostile input, one case per run: `hostile <case>` (`hostile list` prints
 * the cases). Linked statically with libhakmem.a, so malloc/free/... are
 * hakmem's.
 *
 * Misuse cases (double free, foreign and interior pointers, realloc and
 * malloc_usable_size of a freed block) print "ptr=0x..." (the pointer handed to the allocator) on
 * stdout, then misuse it: the allocator must abort with one stderr line
 * "hakmem: <problem>: pointer 0x... (...)". Reaching the end of such a case
 * prints "NOT CAUGHT" and exits 2 (silent success is a failure).
 *
 * API cases (bad alignments, sizes near SIZE_MAX) check NULL + errno for
 * every call and print "OK" (exit 0), or one "FAIL:" line per bad call and
 * exit 1. */
#include "rel.h"

#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>

/* hakmem exports it; the glibc 2.17 headers of the target do not declare it. */
void *reallocarray(void *ptr, size_t count, size_t size);

#define TINY 16
#define MID (8 * 1024)
#define SPAN (256 * 1024) /* past the mid tier: a one-block slab (its free parks it) */
#define LARGE (1024 * 1024)

static char global_buf[256];

static size_t tier_size(const char *tier) {
    if (strcmp(tier, "tiny") == 0) return TINY;
    if (strcmp(tier, "mid") == 0) return MID;
    if (strcmp(tier, "span") == 0) return SPAN;
    if (strcmp(tier, "large") == 0) return LARGE;
    die("unknown tier '%s'", tier);
}

static void announce(const void *p) {
    printf("ptr=%p\n", p);
    fflush(stdout);
}

static void not_caught(const char *what) {
    printf("NOT CAUGHT: %s returned\n", what);
    fflush(stdout);
    exit(2);
}

static void *alloc_filled(size_t size) {
    void *p = malloc(size);
    if (!p) die("malloc(%zu) failed", size);
    memset(p, 0x5a, size);
    return launder(p);
}

/* The usable size of a block of `size` bytes: its size class's (a block
 * freed just before, if of that class, is handed out and freed again). */
static size_t usable_of(size_t size) {
    void *q = alloc_filled(size);
    size_t usable = malloc_usable_size(q);
    free(q);
    return usable;
}

/* Allocations of other size classes than the freed block's, whose usable
 * size is `avoid` (a freed block is the next one its class hands out, so
 * none of these can reuse it): tiny and mid blocks, some freed again, and a
 * 3 MiB large block. They stay allocated (the process ends soon). */
static void unrelated_allocations(size_t avoid) {
    static void *keep[600];
    size_t sizes[] = {24, 48, 100, 512, 1000, 2048, 5000, 12000, 40000, 60000};
    bool other[sizeof sizes / sizeof sizes[0]];
    for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        other[i] = usable_of(sizes[i]) != avoid;
    unsigned k = 0;
    for (unsigned round = 0; round < 60; round++) {
        for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            if (!other[i]) continue;
            void *p = alloc_filled(sizes[i]);
            if (round % 3 == 0) free(p);
            else if (k < 600) keep[k++] = p;
        }
    }
    keep[k < 600 ? k : 599] = alloc_filled(3u << 20);
    launder(keep);
}

struct remote_arg {
    void *p;
};

static void *remote_free_thread(void *arg) {
    struct remote_arg *a = (struct remote_arg *)arg;
    free(launder(a->p));
    return NULL;
}

/* ---- misuse cases ---- */

static void double_free(const char *tier) {
    void *p = alloc_filled(tier_size(tier));
    announce(p);
    free(p);
    free(launder(p));
    not_caught("second free");
}

static void double_free_after(const char *tier) {
    size_t size = tier_size(tier);
    void *p = alloc_filled(size);
    size_t usable = malloc_usable_size(p);
    announce(p);
    free(p);
    unrelated_allocations(usable);
    free(launder(p));
    not_caught("second free after unrelated allocations");
}

/* A block freed by its owner while another slab is its class's current one
 * waits on the class's hot stack (core/src/heap/heap.h, hak_free_owned),
 * still counted out of its slab: its second free must be caught there. The
 * blocks allocated after it, more than its slab holds (a tiny slab is a
 * 64 KiB unit, a mid one holds at most 100 blocks here), stay allocated. */
#define HOT_UNIT (64u << 10)
#define HOT_LATER_MORE 100
#define HOT_LATER_MAX (HOT_UNIT / TINY + HOT_LATER_MORE)

static void double_free_hot(const char *tier) {
    static void *later[HOT_LATER_MAX];
    size_t size = tier_size(tier);
    size_t n = HOT_UNIT / size + HOT_LATER_MORE;
    void *p = alloc_filled(size);
    for (size_t i = 0; i < n; i++) later[i] = alloc_filled(size);
    launder(later);
    announce(p);
    free(p);
    free(launder(p));
    not_caught("second free of a block freed while its slab was not current");
}

/* Allocated and freed by the main thread, freed again by another thread. */
static void double_free_remote(const char *tier) {
    void *p = alloc_filled(tier_size(tier));
    announce(p);
    free(p);
    struct remote_arg a = {launder(p)};
    pthread_t t;
    if (pthread_create(&t, NULL, remote_free_thread, &a) != 0) die("pthread_create");
    pthread_join(t, NULL);
    not_caught("second free on another thread");
}

/* Allocated by the main thread, freed by another thread, freed again by the
 * main thread (the owner). */
static void double_free_remote_owner(const char *tier) {
    void *p = alloc_filled(tier_size(tier));
    announce(p);
    struct remote_arg a = {p};
    pthread_t t;
    if (pthread_create(&t, NULL, remote_free_thread, &a) != 0) die("pthread_create");
    pthread_join(t, NULL);
    free(launder(p));
    not_caught("owner's free after a remote free");
}

static void interior(const char *tier, size_t offset) {
    unsigned char *p = (unsigned char *)alloc_filled(tier_size(tier));
    void *q = launder(p + offset);
    announce(q);
    free(q);
    not_caught("free of an interior pointer");
}

/* A pointer a line before a block: inside a span's colour or a large
 * block's room past its header, which is no block. A span that starts its
 * unit (its colour left no line) is kept and another taken. */
static void before(const char *tier) {
    unsigned char *p = alloc_filled(tier_size(tier));
    for (int i = 0; i < 64 && ((uintptr_t)p & 0xffff) < 64; i++) p = alloc_filled(tier_size(tier));
    void *q = launder(p - 64);
    announce(q);
    free(q);
    not_caught("free of a pointer before a block");
}

static void realloc_freed(const char *tier) {
    void *p = alloc_filled(tier_size(tier));
    announce(p);
    free(p);
    void *q = realloc(launder(p), tier_size(tier) * 2);
    printf("realloc returned %p\n", q);
    not_caught("realloc of a freed block");
}

static void usable_size_freed(const char *tier) {
    void *p = alloc_filled(tier_size(tier));
    announce(p);
    free(p);
    printf("usable %zu\n", malloc_usable_size(launder(p)));
    not_caught("malloc_usable_size of a freed block");
}

static void free_stack(void) {
    char buf[64];
    memset(buf, 1, sizeof buf);
    void *p = launder(buf);
    announce(p);
    free(p);
    not_caught("free of a stack pointer");
}

static void free_global(void) {
    void *p = launder(global_buf);
    announce(p);
    free(p);
    not_caught("free of a global");
}

static void free_wild(uintptr_t addr) {
    void *p = launder((void *)addr);
    announce(p);
    free(p);
    not_caught("free of a wild address");
}

/* ---- API cases: NULL + errno ---- */

static int failures;

static void expect_null(const char *what, void *p, int err, int want) {
    if (p != NULL || err != want) {
        printf("FAIL: %s: got %p errno %d (%s), want NULL errno %d (%s)\n", what, p, err,
               strerror(err), want, strerror(want));
        failures++;
        /* p is not freed: it may be anything */
    }
}

static void expect_rc(const char *what, int rc, void *out, void *sentinel, int want) {
    if (rc != want || out != sentinel) {
        printf("FAIL: %s: returned %d (%s), out %p (want %d, out untouched %p)\n", what, rc,
               strerror(rc), out, want, sentinel);
        failures++;
    }
}

#define NULL_CALL(want, call)                                                                    \
    do {                                                                                         \
        errno = 0;                                                                               \
        void *r_ = (call);                                                                       \
        int e_ = errno;                                                                          \
        expect_null(#call, r_, e_, want);                                                        \
    } while (0)

static void bad_alignments(void) {
    size_t bad[] = {3, 24, 48, 100, 4097, 3 << 12, ((size_t)1 << 40) + 8, SIZE_MAX, 0};
    void *sentinel = (void *)(uintptr_t)0x1234;
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t al = bad[i];
        char what[160];
        errno = 0;
        void *r = aligned_alloc(al, 64);
        int e = errno;
        snprintf(what, sizeof what, "aligned_alloc(%zu, 64)", al);
        expect_null(what, r, e, EINVAL);
        errno = 0;
        r = hak_aligned_alloc(al, 64);
        e = errno;
        snprintf(what, sizeof what, "hak_aligned_alloc(%zu, 64)", al);
        expect_null(what, r, e, EINVAL);

        void *out = sentinel;
        int rc = posix_memalign(&out, al, 64);
        snprintf(what, sizeof what, "posix_memalign(&p, %zu, 64)", al);
        expect_rc(what, rc, out, sentinel, EINVAL);
        out = sentinel;
        rc = hak_posix_memalign(&out, al, 64);
        snprintf(what, sizeof what, "hak_posix_memalign(&p, %zu, 64)", al);
        expect_rc(what, rc, out, sentinel, EINVAL);
    }
    /* posix_memalign: a power of two below sizeof(void *) is invalid too. */
    for (size_t al = 1; al < sizeof(void *); al <<= 1) {
        void *out = sentinel;
        char what[96];
        int rc = posix_memalign(&out, al, 64);
        snprintf(what, sizeof what, "posix_memalign(&p, %zu, 64)", al);
        expect_rc(what, rc, out, sentinel, EINVAL);
    }
    /* memalign: glibc rounds a non-power of two up; hakmem must either do the
     * same (an aligned, usable block) or fail with EINVAL, never crash. */
    size_t mbad[] = {3, 24, 100, 4097};
    for (unsigned i = 0; i < sizeof mbad / sizeof mbad[0]; i++) {
        errno = 0;
        void *r = memalign(mbad[i], 64);
        int e = errno;
        size_t pow2 = 1;
        while (pow2 < mbad[i]) pow2 <<= 1;
        if (r == NULL) {
            if (e != EINVAL) {
                printf("FAIL: memalign(%zu, 64): NULL with errno %d, want EINVAL\n", mbad[i], e);
                failures++;
            }
        } else {
            if ((uintptr_t)r % pow2 != 0) {
                printf("FAIL: memalign(%zu, 64) = %p, not aligned to %zu\n", mbad[i], r, pow2);
                failures++;
            }
            memset(r, 1, 64);
            free(r);
        }
        printf("memalign(%zu, 64): %s\n", mbad[i], r ? "rounded up" : "EINVAL");
    }
    /* Valid, absurdly large alignments: NULL with ENOMEM (or EINVAL). */
    size_t huge_al[] = {(size_t)1 << 62, (size_t)1 << 63};
    for (unsigned i = 0; i < 2; i++) {
        errno = 0;
        void *r = aligned_alloc(huge_al[i], 64);
        int e = errno;
        if (r != NULL || (e != ENOMEM && e != EINVAL)) {
            printf("FAIL: aligned_alloc(%zu, 64): got %p errno %d, want NULL ENOMEM/EINVAL\n",
                   huge_al[i], r, e);
            failures++;
        }
    }
}

static void huge_sizes(void) {
    size_t minus[] = {0, 1, 7, 8, 15, 16, 63, 4095, 4096, 65536, (size_t)1 << 20, (size_t)1 << 30};
    char what[160];
    for (unsigned i = 0; i < sizeof minus / sizeof minus[0]; i++) {
        size_t n = SIZE_MAX - minus[i];
#define CASE(expr, fmt)                                                                          \
    do {                                                                                         \
        errno = 0;                                                                               \
        void *r_ = (expr);                                                                       \
        int e_ = errno;                                                                          \
        snprintf(what, sizeof what, fmt, n);                                                     \
        expect_null(what, r_, e_, ENOMEM);                                                       \
    } while (0)
        CASE(malloc(n), "malloc(%zu)");
        CASE(hak_malloc(n), "hak_malloc(%zu)");
        CASE(calloc(1, n), "calloc(1, %zu)");
        CASE(calloc(n, 1), "calloc(%zu, 1)");
        CASE(aligned_alloc(64, n & ~(size_t)63), "aligned_alloc(64, %zu & ~63)");
        CASE(aligned_alloc(4096, n & ~(size_t)4095), "aligned_alloc(4096, %zu & ~4095)");
        CASE(memalign(16, n), "memalign(16, %zu)");
        CASE(valloc(n), "valloc(%zu)");
        CASE(pvalloc(n), "pvalloc(%zu)");
        void *out = (void *)(uintptr_t)0x1234;
        int rc = posix_memalign(&out, 64, n);
        snprintf(what, sizeof what, "posix_memalign(&p, 64, %zu)", n);
        expect_rc(what, rc, out, (void *)(uintptr_t)0x1234, ENOMEM);
        /* realloc of a live block of each tier: NULL + ENOMEM, block intact. */
        size_t tiers[] = {TINY, MID, LARGE};
        for (unsigned t = 0; t < 3; t++) {
            unsigned char *p = (unsigned char *)malloc(tiers[t]);
            if (!p) die("malloc(%zu) failed", tiers[t]);
            memset(p, 0xa5, tiers[t]);
            errno = 0;
            void *q = realloc(p, n);
            int e = errno;
            snprintf(what, sizeof what, "realloc(%zu-byte block, %%zu)", tiers[t]);
            char w2[200];
            snprintf(w2, sizeof w2, what, n);
            expect_null(w2, q, e, ENOMEM);
            if (q == NULL) {
                for (size_t k = 0; k < tiers[t]; k++)
                    if (p[k] != 0xa5) {
                        printf("FAIL: %s: block changed at offset %zu\n", w2, k);
                        failures++;
                        break;
                    }
                free(p);
            }
            errno = 0;
            p = (unsigned char *)malloc(tiers[t]);
            if (!p) die("malloc(%zu) failed", tiers[t]);
            q = reallocarray(p, n, 2);
            e = errno;
            snprintf(w2, sizeof w2, "reallocarray(%zu-byte block, %zu, 2)", tiers[t], n);
            expect_null(w2, q, e, ENOMEM);
            if (q == NULL) free(p);
        }
    }
    /* Products that overflow, and sizes past PTRDIFF_MAX. */
    size_t halves[] = {SIZE_MAX / 2 + 1, (size_t)PTRDIFF_MAX, (size_t)PTRDIFF_MAX + 1,
                       (size_t)1 << 48};
    for (unsigned i = 0; i < sizeof halves / sizeof halves[0]; i++) {
        size_t n = halves[i];
        CASE(malloc(n), "malloc(%zu)");
        CASE(calloc(n, 2), "calloc(%zu, 2)");
        CASE(calloc(2, n), "calloc(2, %zu)");
        CASE(calloc(n, n), "calloc(%zu, same)");
        CASE(reallocarray(NULL, n, 3), "reallocarray(NULL, %zu, 3)");
        CASE(realloc(NULL, n), "realloc(NULL, %zu)");
    }
#undef CASE
    /* The heap still serves. */
    void *p = malloc(100);
    if (!p) die("malloc(100) failed after the huge requests");
    free(p);
}

static const char *const CASES[] = {
    "double-free-tiny",         "double-free-mid",          "double-free-large",
    "double-free-after-tiny",   "double-free-after-mid",    "double-free-after-large",
    "double-free-remote-tiny",  "double-free-remote-mid",   "double-free-remote-large",
    "double-free-owner-tiny",   "double-free-owner-mid",    "double-free-owner-large",
    "double-free-hot-tiny",     "double-free-hot-mid",
    "double-free-span",         "double-free-after-span",   "double-free-remote-span",
    "double-free-owner-span",   "interior-span",            "realloc-freed-span",
    "usable-size-freed-span",
    "interior-tiny",            "interior-mid",             "interior-large",
    "interior-large-page",      "before-span",              "before-large",
    "realloc-freed-tiny",       "realloc-freed-mid",
    "realloc-freed-large",      "usable-size-freed-tiny",   "usable-size-freed-mid",
    "usable-size-freed-large",  "free-stack",               "free-global",
    "free-wild-low",            "free-wild-high",           "bad-alignment",
    "huge-size",
};

int main(int argc, char **argv) {
    if (argc != 2) die("usage: %s <case> | list", argv[0]);
    const char *c = argv[1];
    if (strcmp(c, "list") == 0) {
        for (unsigned i = 0; i < sizeof CASES / sizeof CASES[0]; i++) printf("%s\n", CASES[i]);
        return 0;
    }
    /* Warm the heap up a little, so the misuse does not hit a fresh one. */
    free(alloc_filled(32));
    const char *tier;
    if (strncmp(c, "double-free-after-", 18) == 0) double_free_after(c + 18);
    else if (strncmp(c, "double-free-remote-", 19) == 0) double_free_remote(c + 19);
    else if (strncmp(c, "double-free-owner-", 18) == 0) double_free_remote_owner(c + 18);
    else if (strncmp(c, "double-free-hot-", 16) == 0) double_free_hot(c + 16);
    else if (strncmp(c, "double-free-", 12) == 0) double_free(c + 12);
    else if (strcmp(c, "interior-large-page") == 0) interior("large", 4096);
    else if (strncmp(c, "interior-", 9) == 0) {
        tier = c + 9;
        interior(tier, strcmp(tier, "tiny") == 0 ? 8 : 64);
    } else if (strncmp(c, "before-", 7) == 0) before(c + 7);
    else if (strncmp(c, "realloc-freed-", 14) == 0) realloc_freed(c + 14);
    else if (strncmp(c, "usable-size-freed-", 18) == 0) usable_size_freed(c + 18);
    else if (strcmp(c, "free-stack") == 0) free_stack();
    else if (strcmp(c, "free-global") == 0) free_global();
    else if (strcmp(c, "free-wild-low") == 0) free_wild(0x10000);
    else if (strcmp(c, "free-wild-high") == 0) free_wild((uintptr_t)0x7e0012345670ull);
    else if (strcmp(c, "bad-alignment") == 0 || strcmp(c, "huge-size") == 0) {
        if (c[0] == 'b') bad_alignments();
        else huge_sizes();
        if (failures) {
            printf("%d failure(s)\n", failures);
            return 1;
        }
        printf("OK\n");
        return 0;
    } else die("unknown case '%s' (try: list)", c);
    return 2;
}
