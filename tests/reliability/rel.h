/* Shared helpers of the reliability programs (soak, hostile, oom, memreturn):
 * a small PRNG, content patterns, resident and virtual memory from
 * /proc/self/statm, and a compiler barrier that hides a pointer's origin so
 * the compiler can neither fold nor warn about the deliberate misuse. The
 * PRNG and pat_word come from tests/native/rng.h. */
#ifndef HAK_REL_H
#define HAK_REL_H

#include <errno.h>
#include <fcntl.h>
#include <hakmem.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../native/rng.h"

#define R_UNUSED __attribute__((unused))

/* Fatal error of the test program itself (not of the allocator). */
static R_UNUSED void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static R_UNUSED void die(const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if (n > (int)sizeof buf - 2) n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    ssize_t w = write(2, "FAIL: ", 6);
    w = write(2, buf, (size_t)n);
    (void)w;
    exit(3);
}

/* Hides where a pointer comes from (and that it may be freed already). */
static inline void *launder(void *p) {
    __asm__ volatile("" : "+r"(p) : : "memory");
    return p;
}

/* Pattern of block `id`: a 64-bit word (pat_word) per 8 bytes, the tail
 * bytes from the next word. Only the head, the tail and up to `stride`-spaced words are
 * written and checked, so large blocks cost little; every page gets at least
 * one word, so every page is touched (resident). */
#define PAT_STRIDE 512

static R_UNUSED void pat_fill(void *p, size_t size, uint64_t id) {
    unsigned char *b = (unsigned char *)p;
    size_t words = size / 8;
    for (size_t w = 0; w < words; w += (w < 8 || w + 8 >= words) ? 1 : PAT_STRIDE / 8) {
        uint64_t v = pat_word(id, w);
        memcpy(b + w * 8, &v, 8);
    }
    for (size_t i = words * 8; i < size; i++) b[i] = (unsigned char)(id + i);
}

/* Returns 0 when intact, else the offset of the first bad byte + 1. */
static R_UNUSED size_t pat_bad(const void *p, size_t size, uint64_t id) {
    const unsigned char *b = (const unsigned char *)p;
    size_t words = size / 8;
    for (size_t w = 0; w < words; w += (w < 8 || w + 8 >= words) ? 1 : PAT_STRIDE / 8) {
        uint64_t v = pat_word(id, w), got;
        memcpy(&got, b + w * 8, 8);
        if (got != v) return w * 8 + 1;
    }
    for (size_t i = words * 8; i < size; i++)
        if (b[i] != (unsigned char)(id + i)) return i + 1;
    return 0;
}

/* Total virtual and resident memory of this process, KiB, from
 * /proc/self/statm; read with open/read, so it allocates nothing and works
 * when malloc fails. Returns 0, or -1. */
static R_UNUSED int statm_kib(uint64_t *vm_kib, uint64_t *rss_kib) {
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    char *end;
    unsigned long long size = strtoull(buf, &end, 10);
    unsigned long long res = strtoull(end, NULL, 10);
    uint64_t page_kib = (uint64_t)sysconf(_SC_PAGESIZE) / 1024;
    if (vm_kib) *vm_kib = size * page_kib;
    if (rss_kib) *rss_kib = res * page_kib;
    return 0;
}

static R_UNUSED double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static R_UNUSED uint64_t seed_from_arg(const char *s) {
    uint64_t seed = s && strcmp(s, "-") != 0 ? strtoull(s, NULL, 0) : 0;
    if (seed == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = splitmix64((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)getpid());
    }
    return seed;
}

#endif
