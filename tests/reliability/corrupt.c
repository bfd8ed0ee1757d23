/* Memory-corruption categories where a hardened allocator stops the
 * process (our own programs, after the categories of an established
 * hardened allocator's public test suite): `corrupt <case>` runs one,
 * `corrupt list` prints the cases. Linked with nothing but libc, so the
 * same binary runs under glibc's malloc or, preloaded, under hakmem.
 *
 * Each case prints "misuse" just before the misuse. The harness counts a
 * stop by any signal after that line as a detection; reaching the end
 * prints "NOT CAUGHT" and exits 2. "Small" blocks are 8 to 128 bytes,
 * "large" ones 256 KiB (past every small size class, as in the suite). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define LARGE (256 * 1024)
#define GARBAGE ((void *)(uintptr_t)0x7f3e11223340ull) /* what uninitialised memory might hold */

static void *launder(void *p) {
    __asm__ volatile("" : "+r"(p) : : "memory");
    return p;
}

static void misuse(void) {
    printf("misuse\n");
    fflush(stdout);
}

static void *xmalloc(size_t n) {
    void *p = malloc(n);
    if (p == NULL && n != 0) {
        printf("FAIL: malloc(%zu)\n", n);
        exit(3);
    }
    return launder(p);
}

static void double_free(size_t size, int delayed) {
    void *p = xmalloc(size), *q = xmalloc(size);
    free(p);
    if (delayed) free(q);
    misuse();
    free(launder(p));
}

static void unaligned_free(size_t size) {
    char *p = xmalloc(size);
    misuse();
    free(launder(p + 1));
}

static void invalid_free_mapping(int prot) {
    free(xmalloc(16));
    char *m = mmap(NULL, 4096 * 16, prot, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (m == MAP_FAILED) exit(3);
    misuse();
    free(launder(m + 4096 * 8));
}

static void invalid_free_near(size_t distance) {
    char *p = xmalloc(16);
    misuse();
    free(launder(p + distance));
}

static void usable_size_of(void *p) {
    misuse();
    printf("usable %zu\n", malloc_usable_size(launder(p)));
}

static void overflow(size_t size, size_t past) {
    unsigned char *p = xmalloc(size);
    size_t usable = malloc_usable_size(p);
    misuse();
    /* xor: whatever the byte held, it changes */
    ((volatile unsigned char *)p)[usable + past] ^= 1;
    free(p);
}

static void read_after_free_large(void) {
    char *p = xmalloc(LARGE);
    memset(p, 'a', LARGE);
    free(p);
    misuse();
    printf("read %d\n", ((volatile char *)launder(p))[LARGE / 2]);
}

static void write_after_free_large(int reuse) {
    char *p = xmalloc(LARGE);
    free(p);
    void *q = reuse ? xmalloc(LARGE) : NULL;
    misuse();
    ((volatile char *)launder(p))[64 * 1024 + 1] = 'a';
    free(q);
}

/* A write into a freed small block, then the size churned until the block
 * is surely handed out again. */
static void write_after_free_small(int reuse) {
    char *p = xmalloc(128);
    free(p);
    void *q = reuse ? xmalloc(128) : NULL;
    misuse();
    ((volatile char *)launder(p))[65] = 'a';
    for (int i = 0; i < 100000; i++) free(xmalloc(128));
    free(q);
}

static void zero_size(int write) {
    char *p = xmalloc(0);
    misuse();
    if (write) ((volatile char *)p)[0] = 'a';
    else printf("read %d\n", ((volatile char *)p)[0]);
    free(p);
}

struct named {
    const char *name;
    void (*run)(void);
};

#define CASE(id, body) static void case_##id(void) { body; }
CASE(double_free_small, double_free(16, 0))
CASE(double_free_small_delayed, double_free(16, 1))
CASE(double_free_large, double_free(LARGE, 0))
CASE(double_free_large_delayed, double_free(LARGE, 1))
CASE(unaligned_free_small, unaligned_free(16))
CASE(unaligned_free_large, unaligned_free(LARGE))
CASE(invalid_free_protected, invalid_free_mapping(PROT_NONE))
CASE(invalid_free_unprotected, invalid_free_mapping(PROT_READ | PROT_WRITE))
CASE(invalid_free_small_region, invalid_free_near(4096 * 4))
CASE(invalid_free_small_region_far, invalid_free_near((size_t)1 << 30))
CASE(uninitialized_free, misuse(); free(launder(GARBAGE)))
CASE(uninitialized_realloc, misuse(); printf("%p\n", realloc(launder(GARBAGE), 16)))
CASE(uninitialized_malloc_usable_size, usable_size_of(GARBAGE))
CASE(unaligned_malloc_usable_size_small, usable_size_of((char *)xmalloc(16) + 1))
CASE(invalid_malloc_usable_size_small, usable_size_of((char *)xmalloc(16) + 4096 * 4))
CASE(freed_malloc_usable_size_small, void *p = xmalloc(16); free(p); usable_size_of(p))
CASE(overflow_small_1_byte, overflow(8, 0))
CASE(overflow_small_8_byte, overflow(8, 7))
CASE(overflow_large_1_byte, overflow(LARGE, 0))
CASE(overflow_large_8_byte, overflow(LARGE, 7))
CASE(read_after_free_large, read_after_free_large())
CASE(write_after_free_large, write_after_free_large(0))
CASE(write_after_free_large_reuse, write_after_free_large(1))
CASE(write_after_free_small, write_after_free_small(0))
CASE(write_after_free_small_reuse, write_after_free_small(1))
CASE(read_zero_size, zero_size(0))
CASE(write_zero_size, zero_size(1))

#define ENTRY(id) {#id, case_##id},
static const struct named k_cases[] = {
    ENTRY(double_free_small) ENTRY(double_free_small_delayed) ENTRY(double_free_large)
    ENTRY(double_free_large_delayed) ENTRY(unaligned_free_small) ENTRY(unaligned_free_large)
    ENTRY(invalid_free_protected) ENTRY(invalid_free_unprotected)
    ENTRY(invalid_free_small_region) ENTRY(invalid_free_small_region_far)
    ENTRY(uninitialized_free) ENTRY(uninitialized_realloc)
    ENTRY(uninitialized_malloc_usable_size) ENTRY(unaligned_malloc_usable_size_small)
    ENTRY(invalid_malloc_usable_size_small) ENTRY(freed_malloc_usable_size_small)
    ENTRY(overflow_small_1_byte) ENTRY(overflow_small_8_byte) ENTRY(overflow_large_1_byte)
    ENTRY(overflow_large_8_byte) ENTRY(read_after_free_large) ENTRY(write_after_free_large)
    ENTRY(write_after_free_large_reuse) ENTRY(write_after_free_small)
    ENTRY(write_after_free_small_reuse) ENTRY(read_zero_size) ENTRY(write_zero_size)
};

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: corrupt list | corrupt <case>\n");
        return 2;
    }
    size_t n = sizeof(k_cases) / sizeof(k_cases[0]);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(argv[1], "list") == 0) {
            printf("%s\n", k_cases[i].name);
        } else if (strcmp(argv[1], k_cases[i].name) == 0) {
            k_cases[i].run();
            printf("NOT CAUGHT\n");
            return 2;
        }
    }
    if (strcmp(argv[1], "list") == 0) return 0;
    fprintf(stderr, "corrupt: unknown case %s\n", argv[1]);
    return 2;
}
