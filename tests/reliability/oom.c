/* Out of memory: under RLIMIT_AS = (current address space + headroom), each
 * tier is allocated until malloc returns NULL. Checks: the failure is NULL
 * with errno ENOMEM (never a crash), the other entry points fail cleanly too
 * while memory is exhausted, and after everything is freed the heap serves
 * every tier again. Then two threads exhaust memory together with mixed
 * sizes, free, and allocate again.
 *
 * `oom [headroom_mib]` (default 64). Prints one line per phase and "OK". The
 * blocks of a phase are chained through their first word (no bookkeeping
 * memory is needed while the heap is exhausted). */
#include "rel.h"

#include <malloc.h>
#include <pthread.h>
#include <sys/resource.h>

static int failures;

#define FAILF(...)                                                                               \
    do {                                                                                         \
        printf("FAIL: " __VA_ARGS__);                                                            \
        printf("\n");                                                                            \
        fflush(stdout);                                                                          \
        failures++;                                                                              \
    } while (0)

struct chain {
    void *head;
    size_t count;
    size_t bytes;
};

static void chain_push(struct chain *c, void *p, size_t size) {
    *(void **)p = c->head;
    c->head = p;
    c->count++;
    c->bytes += size;
}

static void chain_free(struct chain *c) {
    void *p = c->head;
    while (p) {
        void *next = *(void **)p;
        free(p);
        p = next;
    }
    c->head = NULL;
    c->count = 0;
    c->bytes = 0;
}

/* Touches one byte per page so the memory is real, not only reserved. */
static void touch(void *p, size_t size) {
    unsigned char *b = (unsigned char *)p;
    for (size_t i = 0; i < size; i += 4096) b[i] = (unsigned char)i;
    b[size - 1] = 1;
}

/* Allocates `size` bytes with the entry point `how` until it fails (or
 * `limit` blocks). Returns 1 when it ended with NULL + ENOMEM. */
static int exhaust(struct chain *c, const char *how, size_t size, size_t limit) {
    for (size_t i = 0; i < limit; i++) {
        errno = 0;
        void *p;
        if (strcmp(how, "calloc") == 0) p = calloc(1, size);
        else if (strcmp(how, "aligned_alloc") == 0) p = aligned_alloc(256, size);
        else p = malloc(size);
        int e = errno;
        if (p == NULL) {
            if (e != ENOMEM) {
                FAILF("%s(%zu) returned NULL with errno %d (%s), want ENOMEM", how, size, e,
                      strerror(e));
                return 0;
            }
            return 1;
        }
        touch(p, size);
        chain_push(c, p, size);
    }
    FAILF("%s(%zu) never failed after %zu blocks (%zu MiB)", how, size, c->count,
          c->bytes >> 20);
    return 0;
}

/* While memory is exhausted: every entry point and tier must return a block
 * or NULL with ENOMEM. Blocks it gets are added to `c`. */
static void probe_all(struct chain *c, const char *when) {
    static const size_t sizes[] = {16, 1000, 8192, 60000, 1 << 20, 16 << 20};
    for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        for (int how = 0; how < 5; how++) {
            void *p = NULL;
            int rc = 0;
            errno = 0;
            switch (how) {
            case 0: p = malloc(n); break;
            case 1: p = calloc(n / 8, 8); break;
            case 2: p = aligned_alloc(4096, n); break;
            case 3: rc = posix_memalign(&p, 64, n); if (rc) errno = rc; break;
            case 4: p = memalign(128, n); break;
            }
            int e = errno;
            if (p) chain_push(c, p, n);
            else if (e != ENOMEM)
                FAILF("%s: entry %d size %zu: NULL with errno %d (%s), want ENOMEM", when, how, n,
                      e, strerror(e));
        }
    }
    /* realloc growth of a block that exists: NULL + ENOMEM leaves it intact. */
    if (c->head) {
        void *old = c->head;
        errno = 0;
        void *q = realloc(old, 64 << 20);
        int e = errno;
        if (q) {
            /* it grew (some memory was left): keep it as the chain head */
            c->head = q;
        } else if (e != ENOMEM) {
            FAILF("%s: realloc growth: NULL with errno %d, want ENOMEM", when, e);
        }
    }
}

/* After a phase freed everything: each tier must serve again. */
static void serves_again(const char *after) {
    static const size_t sizes[] = {16, 1000, 8192, 60000, 1 << 20};
    struct chain c = {0};
    for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        for (int k = 0; k < 2; k++) {
            errno = 0;
            void *p = malloc(sizes[i]);
            if (!p) {
                FAILF("after %s: malloc(%zu) #%d returned NULL (errno %d) after everything was "
                      "freed",
                      after, sizes[i], k, errno);
                break;
            }
            touch(p, sizes[i]);
            chain_push(&c, p, sizes[i]);
        }
    }
    chain_free(&c);
}

static void phase(const char *how, size_t size) {
    struct chain c = {0};
    char name[64];
    snprintf(name, sizeof name, "%s(%zu)", how, size);
    int ok = exhaust(&c, how, size, (size_t)1 << 26);
    uint64_t vm = 0, rss = 0, vm_freed = 0;
    statm_kib(&vm, &rss);
    size_t n = c.count, mib = c.bytes >> 20;
    probe_all(&c, name);
    chain_free(&c);
    statm_kib(&vm_freed, NULL);
    serves_again(name);
    printf("phase %-22s %s after %6zu MiB in %7zu blocks; address space %3" PRIu64
           " MiB exhausted, %3" PRIu64 " MiB after the frees\n",
           name, ok ? "ENOMEM" : "no ENOMEM", mib, n, vm >> 10, vm_freed >> 10);
    fflush(stdout);
}

/* ---- two threads exhausting memory together ---- */
struct mt_arg {
    unsigned id;
    struct chain c;
    int bad_errno;
};

static pthread_barrier_t barrier;

static void *mt_worker(void *arg) {
    struct mt_arg *a = (struct mt_arg *)arg;
    rng_t r;
    rng_init(&r, 12345, a->id);
    pthread_barrier_wait(&barrier);
    int fails = 0;
    for (size_t i = 0; i < ((size_t)1 << 24) && fails < 1000; i++) {
        uint64_t d = rng_below(&r, 100);
        size_t n = d < 70 ? rng_range(&r, 8, 1024)
                 : d < 95 ? rng_range(&r, 1025, 65536)
                          : rng_range(&r, 65537, 4 << 20);
        errno = 0;
        void *p = malloc(n);
        if (!p) {
            if (errno != ENOMEM) a->bad_errno = errno;
            fails++;
            continue;
        }
        touch(p, n);
        chain_push(&a->c, p, n);
    }
    pthread_barrier_wait(&barrier); /* both exhausted */
    chain_free(&a->c);
    return NULL;
}

int main(int argc, char **argv) {
    size_t headroom = (argc > 1 ? strtoull(argv[1], NULL, 0) : 64) << 20;
    /* Warm up (library init, stdio buffer, a thread heap of each kind). */
    free(malloc(16));
    free(malloc(8192));
    free(malloc(1 << 20));
    printf("oom: start\n");
    fflush(stdout);

    uint64_t vm_kib = 0;
    if (statm_kib(&vm_kib, NULL) != 0) die("cannot read /proc/self/statm");
    /* The threads of the last phase need their stacks (8 MiB each, reserved
     * at creation): create them before the limit, they wait at the barrier. */
    pthread_barrier_init(&barrier, NULL, 3);
    static struct mt_arg args[2];
    pthread_t th[2];
    for (unsigned i = 0; i < 2; i++) {
        args[i].id = i;
        if (pthread_create(&th[i], NULL, mt_worker, &args[i]) != 0) die("pthread_create");
    }
    if (statm_kib(&vm_kib, NULL) != 0) die("cannot read /proc/self/statm");
    struct rlimit rl;
    rl.rlim_cur = rl.rlim_max = (rlim_t)(vm_kib * 1024 + headroom);
    if (setrlimit(RLIMIT_AS, &rl) != 0) die("setrlimit(RLIMIT_AS): %s", strerror(errno));
    printf("oom: RLIMIT_AS = %" PRIu64 " MiB (address space %" PRIu64 " MiB + %zu MiB)\n",
           (uint64_t)rl.rlim_cur >> 20, vm_kib >> 10, headroom >> 20);
    fflush(stdout);

    phase("malloc", 16);
    phase("malloc", 1000);
    phase("calloc", 48);
    phase("malloc", 8192);
    phase("malloc", 60000);
    phase("aligned_alloc", 32768);
    phase("malloc", 1 << 20);
    phase("calloc", 3 << 20);
    phase("malloc", 16 << 20);
    /* once more, in another order: nothing leaked between the phases */
    phase("malloc", 1 << 20);
    phase("malloc", 16);

    pthread_barrier_wait(&barrier); /* start the threads */
    pthread_barrier_wait(&barrier); /* both exhausted */
    for (unsigned i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        if (args[i].bad_errno) FAILF("thread %u: NULL with errno %d", i, args[i].bad_errno);
    }
    serves_again("two threads");
    uint64_t vm_end = 0, vm_trim = 0;
    statm_kib(&vm_end, NULL);
    int released = hak_trim();
    statm_kib(&vm_trim, NULL);
    printf("phase two-threads mixed   done; address space %" PRIu64 " MiB, after hak_trim() %"
           PRIu64 " MiB (returned %d)\n",
           vm_end >> 10, vm_trim >> 10, released);
    /* After the trim the whole headroom is usable again by one tier. */
    struct chain c = {0};
    exhaust(&c, "malloc", 16, (size_t)1 << 26);
    printf("after hak_trim: malloc(16) until ENOMEM: %zu MiB\n", c.bytes >> 20);
    chain_free(&c);

    if (failures) {
        printf("oom: %d failure(s)\n", failures);
        return 1;
    }
    printf("oom: OK\n");
    return 0;
}
