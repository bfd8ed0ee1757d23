/* Free-list poisoning, one case per run: `poison <case>` (`poison list`
 * prints the cases). Linked with nothing but libc: preloaded, hakmem
 * serves it.
 *
 * Block cases (tiny and mid sizes): two blocks of a size are freed, a
 * one-word write after free puts an address (a buffer of the program's
 * own, as an attacker would) into the second one's first word, then the
 * size is allocated and freed until the block has surely come round. The
 * program prints "ptr=<the written block>" first; malloc returning the
 * buffer prints "STEERED" and exits 2; reaching the end prints "NOT
 * CAUGHT" and exits 2. hakmem must stop the process naming the block.
 *
 * Remote cases: the block is freed by another thread, and the write
 * happens while it waits in the owner's remote-free queue (remote-*) or
 * in the freeing thread's batch for that owner (remote-batch); the
 * owner's slow paths drain the queue (HAKMEM_REMOTE_DRAIN_THRESHOLD=1).
 * The freeing thread frees two blocks of one slab: the write hits the
 * last one it freed, or the first (remote-run).
 *
 * first-words: the first two words of a fresh block and of a block handed
 * out again, each printed as "word <hex> address" when it points into a
 * mapping of the process (/proc/self/maps), else "word <hex> none".
 *
 * Hardening: "quarantine" frees a block and prints "held" when the next
 * 200 allocations of its size, each freed at once, all miss it ("reused
 * after N" otherwise); "fill" prints the bytes of a freed block past its
 * first two words ("filled 00", "filled df", or "stale" when they still
 * hold what the program wrote). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROUNDS 200000 /* allocations until the written block surely came round */

static char g_target[256] __attribute__((aligned(64)));

static void *launder(void *p) {
    __asm__ volatile("" : "+r"(p) : : "memory");
    return p;
}

static void say(const char *fmt, void *p) {
    printf(fmt, p);
    fflush(stdout);
}

/* Allocates `size` until malloc hands out the target (steered) or the
 * rounds are done; each block is freed 64 allocations later, so the block
 * whose link was written is still live when its link is found out. */
static void churn(size_t size) {
    void *ring[64] = {0};
    for (int i = 0; i < ROUNDS; i++) {
        void *q = malloc(size);
        if (q == NULL) {
            printf("FAIL: malloc(%zu)\n", size);
            exit(3);
        }
        if (q == (void *)g_target) {
            say("STEERED: malloc returned %p\n", q);
            exit(2);
        }
        free(ring[i % 64]);
        ring[i % 64] = launder(q);
    }
}

static void block_case(size_t size) {
    void *a = malloc(size), *b = malloc(size);
    free(a);
    free(b);
    say("ptr=%p\n", b);
    *(void **)launder(b) = g_target; /* the one-word write after free */
    churn(size);
}

static volatile int g_step;

static void wait_step(int step) {
    while (g_step < step) __asm__ volatile("" ::: "memory");
}

struct remote {
    void *p, *q;
    int batch;
};

enum { REMOTE_LAST, REMOTE_FIRST }; /* the block of the two that is written */

static void *free_them(void *arg) {
    struct remote *r = arg;
    if (r->batch) free(malloc(16)); /* a heap of its own: frees batch up per owner */
    free(r->q);
    free(r->p);
    g_step = 1;
    if (r->batch) wait_step(2); /* the write happens while they wait in this thread's batch */
    return NULL;
}

static void remote_case(size_t size, int batch, int which) {
    void *keep = malloc(size); /* the slab stays in use */
    struct remote r = {malloc(size), malloc(size), batch};
    void *written = which == REMOTE_LAST ? r.p : r.q; /* free_them frees q, then p */
    say("ptr=%p\n", written); /* before: printing may allocate, and a slow path drains */
    pthread_t t;
    if (pthread_create(&t, NULL, free_them, &r) != 0) exit(3);
    wait_step(1);
    if (!batch) pthread_join(t, NULL); /* its frees are in this thread's queue */
    *(void **)launder(written) = g_target;
    g_step = 2;
    if (batch) pthread_join(t, NULL); /* its exit sends them */
    churn(size == 16 ? 4096 : 16); /* another size: slow paths, which drain the queue */
    churn(size);
    free(keep);
}

static void remote_queue_case(size_t size) { remote_case(size, 0, REMOTE_LAST); }
static void remote_batch_case(size_t size) { remote_case(size, 1, REMOTE_LAST); }
static void remote_run_case(size_t size) { remote_case(size, 0, REMOTE_FIRST); }

/* Whether v points into a mapping of the process. */
static int mapped(uint64_t v) {
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL) exit(3);
    unsigned long long lo, hi;
    int found = 0;
    char line[512];
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "%llx-%llx", &lo, &hi) == 2 && v >= lo && v < hi) found = 1;
    fclose(f);
    return found;
}

static void words(const void *p) {
    uint64_t w[2];
    memcpy(w, p, sizeof(w));
    for (int i = 0; i < 2; i++)
        printf("word %016llx %s\n", (unsigned long long)w[i], mapped(w[i]) ? "address" : "none");
}

static void first_words(void) {
    void *fresh = malloc(8);
    words(fresh);
    void *blocks[64];
    for (int i = 0; i < 64; i++) blocks[i] = malloc(48);
    for (int i = 0; i < 64; i++) free(blocks[i]);
    for (int i = 0; i < 400; i++) free(malloc(48)); /* freed blocks come round */
    void *again = malloc(48);
    words(again);
    free(again);
    free(fresh);
}

static void quarantine_case(size_t size) {
    void *p = malloc(size);
    free(p);
    for (int i = 0; i < 200; i++) {
        void *q = malloc(size);
        if (q == p) {
            printf("reused after %d\n", i);
            exit(0);
        }
        free(q);
    }
    printf("held\n");
    exit(0);
}

static void fill_case(size_t size) {
    unsigned char *p = malloc(size);
    memset(p, 0xab, size);
    free(p);
    unsigned char first = ((volatile unsigned char *)launder(p))[16];
    for (size_t i = 16; i < size; i++)
        if (((volatile unsigned char *)p)[i] != first || first == 0xab) {
            printf("stale\n");
            exit(0);
        }
    printf("filled %02x\n", first);
    exit(0);
}

struct named {
    const char *name;
    size_t size;
    void (*run)(size_t);
};

static void first_words_case(size_t size) {
    (void)size;
    first_words();
}

static const struct named k_cases[] = {
    {"tiny-16", 16, block_case},     {"tiny-48", 48, block_case},
    {"tiny-512", 512, block_case},   {"tiny-1024", 1024, block_case},
    {"mid-8192", 8192, block_case},  {"mid-40000", 40000, block_case},
    {"remote-tiny", 16, remote_queue_case}, {"remote-mid", 8192, remote_queue_case},
    {"remote-batch", 16, remote_batch_case}, {"remote-run", 48, remote_run_case},
    {"first-words", 0, first_words_case},
    {"quarantine", 48, quarantine_case},  {"fill", 100, fill_case},
};

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: poison list | poison <case>\n");
        return 2;
    }
    for (size_t i = 0; i < sizeof(k_cases) / sizeof(k_cases[0]); i++) {
        if (strcmp(argv[1], "list") == 0) {
            printf("%s\n", k_cases[i].name);
        } else if (strcmp(argv[1], k_cases[i].name) == 0) {
            k_cases[i].run(k_cases[i].size);
            if (k_cases[i].run == first_words_case) return 0;
            printf("NOT CAUGHT\n");
            return 2;
        }
    }
    if (strcmp(argv[1], "list") == 0) return 0;
    fprintf(stderr, "poison: unknown case %s\n", argv[1]);
    return 2;
}
