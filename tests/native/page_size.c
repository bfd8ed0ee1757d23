/* page_size: prints the page size the process sees and checks the
 * page-related allocation calls against it.
 *
 * hakmem reads the page size at run time (sysconf), never from a compile-time
 * constant: aarch64 kernels may use 4 KiB, 16 KiB or 64 KiB pages. Under
 * qemu-user the guest sees the host's page size (4 KiB on x86_64 hosts), so
 * this run shows that the aarch64 build works with whatever the process is
 * given, not that it was tested on 16/64 KiB kernels.
 *
 * usage: page_size [seed] [scale] */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "common.h"

#include <malloc.h>

int main(int argc, char **argv) {
    uint64_t seed;
    double scale;
    parse_args(argc, argv, "page_size", &seed, &scale);
    long ps = sysconf(_SC_PAGESIZE);
    printf("page_size: sysconf(_SC_PAGESIZE)=%ld\n", ps);
    CHECK(ps >= 4096 && (ps & (ps - 1)) == 0, "odd page size %ld", ps);
    size_t page = (size_t)ps;
    rng_t r;
    rng_init(&r, seed, 1);

    size_t rounds = scaled(scale, 2000, 50);
    uint64_t id = 1;
    for (size_t i = 0; i < rounds; i++, id += 8) {
        size_t n = rng_range(&r, 1, 3 * page);

        void *v = valloc(n);
        CHECK(v != NULL, "valloc(%zu) returned NULL", n);
        CHECK(((uintptr_t)v & (page - 1)) == 0, "valloc(%zu)=%p not page aligned", n, v);
        pat_fill(v, n, id);

        void *pv = pvalloc(n);
        CHECK(pv != NULL, "pvalloc(%zu) returned NULL", n);
        CHECK(((uintptr_t)pv & (page - 1)) == 0, "pvalloc(%zu)=%p not page aligned", n, pv);
        size_t rounded = (n + page - 1) / page * page;
        size_t us = malloc_usable_size(pv);
        CHECK(us >= rounded, "pvalloc(%zu): usable size %zu < %zu", n, us, rounded);
        pat_fill(pv, rounded, id + 1);

        void *pm = NULL;
        CHECK(posix_memalign(&pm, page, n) == 0, "posix_memalign(page, %zu) failed", n);
        CHECK(((uintptr_t)pm & (page - 1)) == 0, "posix_memalign(page)=%p not aligned", pm);
        pat_fill(pm, n, id + 2);

        void *ma = memalign(page * 2, n);
        CHECK(ma != NULL, "memalign(2*page, %zu) returned NULL", n);
        CHECK(((uintptr_t)ma & (2 * page - 1)) == 0, "memalign(2*page)=%p not aligned", ma);
        pat_fill(ma, n, id + 3);

        /* exact multiples of the page size, across the tiers */
        size_t k = (size_t)rng_range(&r, 1, 64) * page;
        void *m = t_malloc(k, id + 4);
        size_t ss = rng_range(&r, 1, 1024);
        void *s = t_malloc(ss, id + 5); /* tiny, to interleave */
        pat_check(v, n, id, "valloc block");
        pat_check(pv, rounded, id + 1, "pvalloc block");
        pat_check(pm, n, id + 2, "posix_memalign block");
        pat_check(ma, n, id + 3, "memalign block");
        t_free(m, k, id + 4);
        free(v); /* all four were verified just above */
        free(pv);
        free(pm);
        free(ma);
        t_free(s, ss, id + 5);
    }
    void *z = pvalloc(0);
    CHECK(z != NULL && ((uintptr_t)z & (page - 1)) == 0, "pvalloc(0)=%p", z);
    CHECK(malloc_usable_size(z) >= page, "pvalloc(0) usable %zu < page", malloc_usable_size(z));
    free(z);
    stats_check("page_size", 1, 1, 0);
    printf("page_size: OK\n");
    return 0;
}
