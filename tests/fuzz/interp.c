/* The random-walk fuzzer's op interpreter (see interp.h for the format). */
#include "interp.h"

#include <errno.h>
#include <hakmem.h>
#include <inttypes.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the content patterns assume a little-endian machine"
#endif

#define FULL_MAX 65536u /* blocks up to this size are filled and checked whole */
#define WIN 4096u       /* else head, middle and tail windows of this size */
#define SLACK_MAX ((size_t)1 << 20)

static const uint8_t OP_LEN[16] = {
    5, 5, 5, /* malloc: b0 slot t lo hi */
    5,       /* calloc */
    2, 2, 2, /* free: b0 slot */
    5, 5,    /* realloc */
    5,       /* reallocarray */
    6,       /* aligned: b0 slot align t lo hi */
    2,       /* usable */
    1,       /* exit / verify all */
    3,       /* burst: b0 seed count */
    3,       /* errors: b0 slot what */
    1,       /* flush / trim / verify all */
};

static const char *const OP_NAME[16] = {
    "malloc",  "malloc",       "malloc",  "calloc", "free",  "free",   "free",   "realloc",
    "realloc", "reallocarray", "aligned", "usable", "exit",  "burst",  "errors", "flush",
};

size_t fuzz_op_len(uint8_t first) { return OP_LEN[first & 15]; }

/* ---- state of one run ---- */

typedef struct slot {
    uint8_t *p;   /* NULL: empty */
    size_t size;  /* requested size */
    uint64_t id;  /* pattern id */
    size_t align; /* requested alignment (0: malloc's) */
    int owner;    /* worker that allocated it */
} slot_t;

typedef struct worker worker_t;
typedef void (*job_fn)(worker_t *w, const void *arg);

struct worker {
    int index;
    int alive;
    int quit;
    pthread_t th;
    sem_t go, done;
    job_fn fn;
    const void *arg;
    fuzz_counts_t c; /* this worker's counts during a burst */
};

typedef struct op {
    unsigned kind, variant, thread, slot;
    uint8_t b[6];
    size_t size;
    size_t align;
} op_t;

static slot_t g_slots[FUZZ_SLOTS];
static worker_t g_workers[FUZZ_THREADS];
static fuzz_counts_t g_c;
static uint64_t g_next_id;
static int g_trace = -1;
static int g_plant = -1; /* HAK_FUZZ_PLANT=1: a planted fault, to test the drivers */
static fuzz_progress_t *g_progress;
static uint64_t g_op_no;   /* stream op being executed (1-based) */
static uint64_t g_op_off;  /* its byte offset */
static unsigned g_op_kind; /* its kind */

#define NEDGES 48
static size_t g_edges[NEDGES];
static unsigned g_nclasses;

/* ---- failure ---- */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...) {
    char buf[640];
    int n = snprintf(buf, sizeof buf, "hakmem-fuzz: FAIL at op #%" PRIu64 " (%s, byte %" PRIu64 "): ",
                     g_op_no, OP_NAME[g_op_kind & 15], g_op_off);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof buf) n = (int)sizeof buf - 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
    va_end(ap);
    size_t len = strlen(buf);
    if (len < sizeof buf - 1) buf[len++] = '\n';
    ssize_t w = write(2, buf, len);
    (void)w;
    abort();
}

static void trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void trace(const char *fmt, ...) {
    if (!g_trace) return;
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "#%" PRIu64 " @%" PRIu64 " %s\n", g_op_no, g_op_off, buf);
}

/* ---- content patterns ---- */

static inline uint64_t mix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static inline uint64_t pat_word(uint64_t id, uint64_t w) {
    return mix64(id * 0x100000001B3ull + w);
}

static inline uint8_t pat_byte(uint64_t id, size_t off) {
    return (uint8_t)(pat_word(id, off >> 3) >> ((off & 7) * 8));
}

static void fill_range(uint8_t *p, size_t from, size_t to, uint64_t id) {
    size_t o = from;
    for (; o < to && (o & 7) != 0; o++) p[o] = pat_byte(id, o);
    for (; o + 8 <= to; o += 8) {
        uint64_t v = pat_word(id, o >> 3);
        memcpy(p + o, &v, 8);
    }
    for (; o < to; o++) p[o] = pat_byte(id, o);
}

/* Offset of the first byte in [from, to) that differs from the pattern, or SIZE_MAX. */
static size_t check_range(const uint8_t *p, size_t from, size_t to, uint64_t id) {
    size_t o = from;
    for (; o < to && (o & 7) != 0; o++)
        if (p[o] != pat_byte(id, o)) return o;
    for (; o + 8 <= to; o += 8) {
        uint64_t v = pat_word(id, o >> 3), got;
        memcpy(&got, p + o, 8);
        if (got != v) {
            while (p[o] == pat_byte(id, o)) o++;
            return o;
        }
    }
    for (; o < to; o++)
        if (p[o] != pat_byte(id, o)) return o;
    return SIZE_MAX;
}

typedef struct range {
    size_t a, b;
} range_t;

/* The parts of a block of `size` bytes that carry the pattern. */
static int regions(size_t size, range_t r[3]) {
    if (size <= FULL_MAX) {
        r[0].a = 0;
        r[0].b = size;
        return 1;
    }
    size_t m = (size / 2) & ~(size_t)7;
    r[0].a = 0;
    r[0].b = WIN;
    r[1].a = m - WIN / 2;
    r[1].b = m + WIN / 2;
    r[2].a = size - WIN;
    r[2].b = size;
    return 3;
}

static void fill_block(uint8_t *p, size_t size, uint64_t id) {
    range_t r[3];
    int n = regions(size, r);
    for (int i = 0; i < n; i++) fill_range(p, r[i].a, r[i].b, id);
}

/* Checks the pattern of a block of `size` bytes (id), looking only below `limit`. */
static void check_block(const uint8_t *p, size_t size, uint64_t id, size_t limit, const char *what,
                        fuzz_counts_t *c) {
    range_t r[3];
    int n = regions(size, r);
    for (int i = 0; i < n; i++) {
        size_t b = r[i].b < limit ? r[i].b : limit;
        if (r[i].a >= b) continue;
        size_t bad = check_range(p, r[i].a, b, id);
        if (bad != SIZE_MAX)
            die("content mismatch (%s): block id=%" PRIu64 " ptr=%p size=%zu offset=%zu "
                "expected 0x%02x got 0x%02x",
                what, id, (const void *)p, size, bad, pat_byte(id, bad), p[bad]);
        c->bytes_checked += b - r[i].a;
    }
}

static void check_zero(const uint8_t *p, size_t size, uint64_t id) {
    range_t r[3];
    int n = regions(size, r);
    for (int i = 0; i < n; i++)
        for (size_t o = r[i].a; o < r[i].b; o++)
            if (p[o] != 0)
                die("calloc memory not zeroed: block id=%" PRIu64 " ptr=%p size=%zu offset=%zu "
                    "byte=0x%02x",
                    id, (const void *)p, size, o, p[o]);
}

static void check_fresh(const uint8_t *p, size_t size, size_t align, uint64_t id,
                        const char *what) {
    uintptr_t a = align ? align : (size >= 16 ? 16 : 8);
    if (((uintptr_t)p & (a - 1)) != 0)
        die("%s: misaligned block id=%" PRIu64 " ptr=%p size=%zu (want %zu-byte alignment)", what,
            id, (const void *)p, size, (size_t)a);
    size_t us = hak_usable_size(p);
    if (us < size)
        die("%s: hak_usable_size(%p)=%zu < requested %zu (id=%" PRIu64 ")", what,
            (const void *)p, us, size, id);
}

/* ---- sizes ---- */

static void init_edges(void) {
    static const size_t fixed[] = {
        0,     1,     7,     8,     9,     15,     16,     17,     24,        32,
        48,    64,    127,   128,   129,   255,    256,    257,    512,       1000,
        1023,  1024,  1025,  2048,  4095,  4096,   4097,   8192,   16384,     32768,
        65535, 65536, 65537, 65536 + 4096, 131072, 262144, 524288, 1u << 20, (2u << 20) - 1,
        2u << 20, (2u << 20) + 1, (2u << 20) + 4096, (4u << 20) - 4096, 4u << 20,
    };
    size_t n = sizeof fixed / sizeof fixed[0];
    for (size_t i = 0; i < NEDGES; i++) g_edges[i] = fixed[i % n];
    g_nclasses = hak_class_count();
}

static size_t decode_size(uint8_t t, uint8_t lo, uint8_t hi) {
    unsigned v = (unsigned)lo | (unsigned)hi << 8;
    switch (t & 15) {
    case 0:
    case 1:
    case 2:
    case 3:
    case 4:
        return v % 129; /* tiny, 0 included */
    case 5:
    case 6:
    case 7:
        return v % 1025; /* tiny */
    case 8:
    case 9:
    case 10:
        return 1025 + v % 64512; /* mid, up to 64 KiB */
    case 11:
        return 65537 + (size_t)v * 8; /* large, up to ~576 KiB */
    case 12:
        return 65537 + (size_t)v * 64; /* large, up to ~4 MiB */
    case 13: {                          /* a class size, or one byte either side */
        if (g_nclasses == 0) return v % 1025;
        size_t s = hak_class_size(v % g_nclasses);
        unsigned d = (t >> 4) % 3;
        if (d == 0 && s > 0) return s - 1;
        return d == 1 ? s : s + 1;
    }
    default:
        return g_edges[v % NEDGES];
    }
}

/* ---- worker threads ---- */

static void sem_wait_retry(sem_t *s) {
    while (sem_wait(s) != 0) {
        if (errno != EINTR) die("sem_wait failed: errno %d", errno);
    }
}

static void *worker_main(void *arg) {
    worker_t *w = arg;
    for (;;) {
        sem_wait_retry(&w->go);
        if (w->quit) return NULL;
        w->fn(w, w->arg);
        sem_post(&w->done);
    }
}

static void worker_start(worker_t *w) {
    if (w->alive) return;
    w->quit = 0;
    if (sem_init(&w->go, 0, 0) != 0 || sem_init(&w->done, 0, 0) != 0)
        die("sem_init failed: errno %d", errno);
    int rc = pthread_create(&w->th, NULL, worker_main, w);
    if (rc != 0) die("pthread_create failed: %d", rc);
    w->alive = 1;
}

static void worker_exit(worker_t *w) {
    if (!w->alive) return;
    w->quit = 1;
    sem_post(&w->go);
    int rc = pthread_join(w->th, NULL);
    if (rc != 0) die("pthread_join failed: %d", rc);
    sem_destroy(&w->go);
    sem_destroy(&w->done);
    w->alive = 0;
}

/* Runs fn(arg) on worker k and waits for it. */
static void run_on(unsigned k, job_fn fn, const void *arg) {
    worker_t *w = &g_workers[k];
    worker_start(w);
    w->fn = fn;
    w->arg = arg;
    sem_post(&w->go);
    sem_wait_retry(&w->done);
}

/* ---- block operations (on the executing worker) ---- */

static void free_slot(worker_t *w, slot_t *s, fuzz_counts_t *c, const char *what) {
    /* the planted fault: blocks of 1000..1009 bytes come back with a flipped byte, as an
     * allocator that overlapped two blocks would */
    if (g_plant && s->size >= 1000 && s->size < 1010) s->p[s->size / 2] ^= 0x40;
    check_block(s->p, s->size, s->id, SIZE_MAX, what, c);
    hak_free(s->p);
    c->frees++;
    if (s->owner != w->index) c->cross_frees++;
    s->p = NULL;
}

static void put_block(worker_t *w, slot_t *s, void *p, size_t size, size_t align, uint64_t id) {
    s->p = p;
    s->size = size;
    s->id = id;
    s->align = align;
    s->owner = w->index;
}

static void verify_all(worker_t *w) {
    for (unsigned i = 0; i < FUZZ_SLOTS; i++)
        if (g_slots[i].p) check_block(g_slots[i].p, g_slots[i].size, g_slots[i].id, SIZE_MAX,
                                      "verify all", &g_c);
    (void)w;
}

/* realloc of slot s to n bytes, through realloc (how 0) or reallocarray (how 1..3). */
static void realloc_slot(worker_t *w, slot_t *s, size_t n, unsigned how, uint64_t id,
                         fuzz_counts_t *c) {
    size_t cnt = 1, el = n;
    if (how == 2) {
        cnt = n;
        el = 1;
    } else if (how == 3 && n % 8 == 0) {
        cnt = n / 8;
        el = 8;
    }
    void *old = s->p;
    if (old) check_block(s->p, s->size, s->id, SIZE_MAX, "before realloc", c);
    errno = 0;
    void *q = how == 0 ? hak_realloc(old, n) : hak_reallocarray(old, cnt, el);
    if (old == NULL) {
        if (q == NULL)
            die("realloc(NULL, %zu) returned NULL (errno %d)", n, errno);
        check_fresh(q, n, 0, id, "realloc(NULL)");
        fill_block(q, n, id);
        put_block(w, s, q, n, 0, id);
        c->allocs++;
        return;
    }
    c->reallocs++;
    if (n == 0) { /* glibc semantics: frees, returns NULL */
        if (q != NULL) die("realloc(%p, 0) returned %p, expected NULL", old, q);
        c->frees++;
        if (s->owner != w->index) c->cross_frees++;
        s->p = NULL;
        return;
    }
    if (q == NULL) die("realloc(%p, %zu) returned NULL (errno %d)", old, n, errno);
    check_fresh(q, n, 0, id, "realloc");
    check_block(q, s->size, s->id, n, "prefix after realloc", c);
    fill_block(q, n, id);
    /* counted whether or not the block moved: a large block grows in place only when the
     * address space after it happens to be free, which differs from run to run */
    if (s->owner != w->index) c->cross_frees++;
    put_block(w, s, q, n, 0, id);
}

/* Allocates into slot s (freeing what it held first). kind: 0 malloc, 1 calloc, 2 aligned. */
static void alloc_slot(worker_t *w, slot_t *s, unsigned kind, unsigned variant, size_t size,
                       size_t align, uint64_t id, fuzz_counts_t *c) {
    if (s->p) free_slot(w, s, c, "before free (slot reused)");
    void *p = NULL;
    errno = 0;
    const char *what = "malloc";
    if (kind == 0) {
        p = hak_malloc(size);
    } else if (kind == 1) {
        what = "calloc";
        size_t cnt = 1, el = size;
        if (variant == 1) {
            cnt = size;
            el = 1;
        } else if (variant == 2 && size % 4 == 0) {
            cnt = size / 4;
            el = 4;
        } else if (variant == 3 && size % 16 == 0) {
            cnt = size / 16;
            el = 16;
        }
        p = hak_calloc(cnt, el);
    } else {
        switch (variant) {
        case 0:
            what = "aligned_alloc";
            p = hak_aligned_alloc(align, size);
            break;
        case 2:
            what = "memalign";
            p = hak_memalign(align, size);
            break;
        default: {
            what = "posix_memalign";
            int rc = hak_posix_memalign(&p, align, size);
            if (rc != 0) die("posix_memalign(%zu, %zu) failed: %d", align, size, rc);
            break;
        }
        }
        c->aligned++;
    }
    if (p == NULL) die("%s(size %zu, align %zu) returned NULL (errno %d)", what, size, align, errno);
    check_fresh(p, size, kind == 2 ? align : 0, id, what);
    if (kind == 1) check_zero(p, size, id);
    fill_block(p, size, id);
    put_block(w, s, p, size, kind == 2 ? align : 0, id);
    c->allocs++;
}

static void usable_slot(slot_t *s, fuzz_counts_t *c) {
    if (s->p == NULL) {
        size_t us = hak_usable_size(NULL);
        if (us != 0) die("hak_usable_size(NULL) = %zu, expected 0", us);
        return;
    }
    size_t us = hak_usable_size(s->p);
    if (us < s->size) die("hak_usable_size(%p)=%zu < requested %zu", (void *)s->p, us, s->size);
    /* the slack is the program's to use: write it (a neighbour's pattern catches an overstated
     * usable size) */
    size_t slack = us - s->size;
    if (slack > 0) {
        size_t n = slack < SLACK_MAX ? slack : SLACK_MAX;
        memset(s->p + s->size, 0xA5, n);
        s->p[us - 1] = 0x5A;
    }
    check_block(s->p, s->size, s->id, SIZE_MAX, "after writing the usable slack", c);
}

static void expect_fail(void *q, int want_errno, const char *what) {
    if (q != NULL) die("%s returned %p, expected NULL", what, q);
    if (errno != want_errno) die("%s: errno %d, expected %d", what, errno, want_errno);
}

static void errors_op(worker_t *w, slot_t *s, uint8_t what) {
    unsigned k = what >> 3;
    errno = 0;
    switch (what & 7) {
    case 0:
        expect_fail(hak_malloc(SIZE_MAX - k), ENOMEM, "malloc(SIZE_MAX - k)");
        break;
    case 1:
        expect_fail(hak_calloc(SIZE_MAX / 16 + 1 + k, 32), ENOMEM, "calloc overflowing");
        break;
    case 2:
        expect_fail(hak_reallocarray(s->p, SIZE_MAX / 2 + 1 + k, 4), ENOMEM,
                    "reallocarray overflowing");
        break;
    case 3:
        expect_fail(hak_realloc(s->p, SIZE_MAX - (size_t)4096 * k), ENOMEM,
                    "realloc(p, SIZE_MAX - k*4096)");
        break;
    case 4:
        expect_fail(hak_aligned_alloc((size_t)3 << (1 + k % 12), 64), EINVAL,
                    "aligned_alloc(non power of two)");
        break;
    case 5: {
        void *q = (void *)s;
        size_t a = (k & 1) ? (size_t)3 << (1 + k % 12) : 4;
        int rc = hak_posix_memalign(&q, a, 64);
        if (rc != EINVAL) die("posix_memalign(&q, %zu, 64) returned %d, expected EINVAL", a, rc);
        if (q != (void *)s) die("posix_memalign with a bad alignment changed *out");
        break;
    }
    case 6: {
        if (hak_usable_size(NULL) != 0) die("hak_usable_size(NULL) != 0");
        hak_free(NULL);
        void *q = hak_realloc(NULL, 0);
        if (q == NULL) die("realloc(NULL, 0) returned NULL");
        hak_free(q);
        break;
    }
    default: {
        void *q = NULL;
        int rc = hak_posix_memalign(&q, (size_t)4096 << (k % 8), SIZE_MAX - (size_t)k * 8);
        if (rc != ENOMEM) die("posix_memalign(huge size) returned %d, expected ENOMEM", rc);
        break;
    }
    }
    /* the block passed to the failing calls must be intact */
    if (s->p) check_block(s->p, s->size, s->id, SIZE_MAX, "after a failed call", &g_c);
    g_c.error_checks++;
    (void)w;
}

/* ---- jobs ---- */

static void job_op(worker_t *w, const void *arg) {
    const op_t *op = arg;
    slot_t *s = &g_slots[op->slot];
    switch (op->kind) {
    case FOP_MALLOC0:
    case FOP_MALLOC1:
    case FOP_MALLOC2:
    case FOP_CALLOC: {
        unsigned k = op->kind == FOP_CALLOC;
        trace("t%u %s slot=%u size=%zu v=%u", op->thread, k ? "calloc" : "malloc", op->slot,
              op->size, op->variant);
        alloc_slot(w, s, k, op->variant, op->size, 0, g_next_id++, &g_c);
        break;
    }
    case FOP_ALIGNED:
        trace("t%u aligned v=%u slot=%u align=%zu size=%zu", op->thread, op->variant, op->slot,
              op->align, op->size);
        alloc_slot(w, s, 2, op->variant, op->size, op->align, g_next_id++, &g_c);
        break;
    case FOP_FREE0:
    case FOP_FREE1:
    case FOP_FREE2:
        trace("t%u free slot=%u%s", op->thread, op->slot, s->p ? "" : " (empty)");
        if (s->p) free_slot(w, s, &g_c, "before free");
        break;
    case FOP_REALLOC0:
    case FOP_REALLOC1:
    case FOP_REALLOCARRAY: {
        unsigned how = op->kind == FOP_REALLOCARRAY ? 1 + op->variant % 3 : 0;
        trace("t%u %s slot=%u %zu -> %zu", op->thread, how ? "reallocarray" : "realloc", op->slot,
              s->p ? s->size : 0, op->size);
        realloc_slot(w, s, op->size, how, g_next_id++, &g_c);
        break;
    }
    case FOP_USABLE:
        trace("t%u usable slot=%u", op->thread, op->slot);
        usable_slot(s, &g_c);
        break;
    case FOP_ERRORS:
        trace("t%u errors slot=%u what=%u", op->thread, op->slot, op->b[2]);
        errors_op(w, s, op->b[2]);
        break;
    case FOP_FLUSH:
        trace("t%u %s", op->thread,
              op->variant < 2 ? "flush" : op->variant == 2 ? "trim" : "verify all");
        if (op->variant < 2) hak_thread_flush();
        else if (op->variant == 2) (void)hak_trim();
        else verify_all(w);
        break;
    default: /* FOP_EXIT with a non-zero variant */
        trace("t%u verify all", op->thread);
        verify_all(w);
        break;
    }
}

typedef struct burst {
    uint64_t seed;
    unsigned n;
    uint64_t id_base;
} burst_t;

static size_t burst_size(uint64_t r) {
    unsigned d = (unsigned)(r % 100);
    r >>= 8;
    if (d < 70) return (r & 3) ? r % 129 : r % 1025;
    if (d < 95) return 1025 + r % 64512;
    return 65537 + r % (512u << 10);
}

/* One worker's share of a burst: n ops on the slots k, k + T, k + 2T, ... */
static void job_burst(worker_t *w, const void *arg) {
    const burst_t *b = arg;
    uint64_t r = mix64(b->seed ^ mix64((uint64_t)w->index + 1));
    fuzz_counts_t *c = &w->c;
    for (unsigned j = 0; j < b->n; j++) {
        r = mix64(r);
        uint64_t id = b->id_base + (uint64_t)w->index + (uint64_t)FUZZ_THREADS * j;
        unsigned si = w->index + FUZZ_THREADS * (unsigned)((r >> 8) % (FUZZ_SLOTS / FUZZ_THREADS));
        slot_t *s = &g_slots[si];
        unsigned what = (unsigned)(r & 7);
        uint64_t r2 = mix64(r + 1);
        c->ops++;
        if (s->p == NULL || what == 0) {
            if ((r2 & 7) == 0) {
                size_t align = (size_t)16 << ((r2 >> 3) % 9);
                alloc_slot(w, s, 2, (unsigned)((r2 >> 8) & 3), burst_size(r2 >> 12), align, id, c);
            } else {
                alloc_slot(w, s, (r2 & 7) == 1, (unsigned)((r2 >> 8) & 3), burst_size(r2 >> 12), 0,
                           id, c);
            }
        } else if (what < 4) {
            free_slot(w, s, c, "before free (burst)");
        } else if (what < 6) {
            realloc_slot(w, s, burst_size(r2 >> 12), 0, id, c);
        } else {
            usable_slot(s, c);
        }
    }
}

static void job_free_slot(worker_t *w, const void *arg) {
    slot_t *s = (slot_t *)arg;
    if (s->p) free_slot(w, s, &g_c, "before free (clean-up)");
}

static void add_counts(fuzz_counts_t *to, const fuzz_counts_t *c) {
    to->ops += c->ops;
    to->allocs += c->allocs;
    to->frees += c->frees;
    to->reallocs += c->reallocs;
    to->aligned += c->aligned;
    to->cross_frees += c->cross_frees;
    to->bytes_checked += c->bytes_checked;
}

/* ---- the run ---- */

int fuzz_run(const uint8_t *data, size_t len, fuzz_counts_t *counts, fuzz_progress_t *progress) {
    if (g_trace < 0) {
        const char *t = getenv("HAK_FUZZ_TRACE");
        g_trace = t != NULL && t[0] != '\0' && t[0] != '0';
        const char *pl = getenv("HAK_FUZZ_PLANT");
        g_plant = pl != NULL && pl[0] == '1';
    }
    init_edges();
    memset(g_slots, 0, sizeof g_slots);
    memset(&g_c, 0, sizeof g_c);
    for (int k = 0; k < FUZZ_THREADS; k++) {
        memset(&g_workers[k], 0, sizeof g_workers[k]);
        g_workers[k].index = k;
    }
    g_next_id = 1;
    g_progress = progress;
    g_op_no = 0;

    size_t off = 0;
    while (off < len) {
        uint8_t b0 = data[off];
        size_t n = fuzz_op_len(b0);
        if (off + n > len) break; /* a cut op is not executed */
        op_t op;
        memset(&op, 0, sizeof op);
        memcpy(op.b, data + off, n);
        op.kind = b0 & 15;
        op.thread = (b0 >> 4) & 3;
        op.variant = b0 >> 6;
        op.slot = n > 1 ? data[off + 1] % FUZZ_SLOTS : 0;
        g_op_no++;
        g_op_off = off;
        g_op_kind = op.kind;
        if (progress) {
            progress->ops = g_op_no;
            progress->op_start = off;
            progress->op_end = off + n;
        }
        g_c.stream_ops++;
        g_c.ops++;
        switch (op.kind) {
        case FOP_ALIGNED:
            op.align = (size_t)8 << (op.b[2] % 20);
            op.size = decode_size(op.b[3], op.b[4], op.b[5]);
            break;
        case FOP_MALLOC0:
        case FOP_MALLOC1:
        case FOP_MALLOC2:
        case FOP_CALLOC:
        case FOP_REALLOC0:
        case FOP_REALLOC1:
        case FOP_REALLOCARRAY:
            op.size = decode_size(op.b[2], op.b[3], op.b[4]);
            break;
        default:
            break;
        }
        if (op.kind == FOP_EXIT && op.variant == 0) {
            trace("t%u thread exit%s", op.thread, g_workers[op.thread].alive ? "" : " (not running)");
            if (g_workers[op.thread].alive) {
                worker_exit(&g_workers[op.thread]);
                g_c.thread_exits++;
            }
        } else if (op.kind == FOP_BURST) {
            burst_t b;
            b.seed = ((uint64_t)op.b[0] << 8 | op.b[1]) * 0x9E3779B97F4A7C15ull;
            b.n = 1 + op.b[2] % 64u;
            b.id_base = g_next_id;
            g_next_id += (uint64_t)FUZZ_THREADS * b.n;
            trace("burst seed=%u n=%u", (unsigned)(op.b[0] << 8 | op.b[1]), b.n);
            for (int k = 0; k < FUZZ_THREADS; k++) {
                worker_t *w = &g_workers[k];
                worker_start(w);
                memset(&w->c, 0, sizeof w->c);
                w->fn = job_burst;
                w->arg = &b;
                sem_post(&w->go);
            }
            for (int k = 0; k < FUZZ_THREADS; k++) {
                sem_wait_retry(&g_workers[k].done);
                add_counts(&g_c, &g_workers[k].c);
            }
            g_c.bursts++;
        } else {
            run_on(op.thread, job_op, &op);
        }
        off += n;
    }

    /* clean-up: every live block verified and freed, slot i by worker i % T */
    g_op_kind = FOP_FREE0;
    for (unsigned i = 0; i < FUZZ_SLOTS; i++)
        if (g_slots[i].p) run_on(i % FUZZ_THREADS, job_free_slot, &g_slots[i]);
    for (int k = 0; k < FUZZ_THREADS; k++) worker_exit(&g_workers[k]);
    if (progress) progress->done = 1;
    if (counts) *counts = g_c;
    return 0;
}
