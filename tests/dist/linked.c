/* A program built against an unpacked release tarball with the flags of its pkg-config file
 * (`pkg-config --cflags --libs hakmem`): the header's version macros must agree with the library's
 * hak_version(), and the hak_* API must work. Prints
 *   linked: header <major.minor.patch>, library <hak_version()>, malloc from <object path>
 * and exits 0, or prints what failed and exits 1. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr */
#endif
#include <dlfcn.h>
#include <hakmem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
    unsigned char *p = hak_malloc(1000);
    if (!p || hak_usable_size(p) < 1000) {
        fprintf(stderr, "linked: hak_malloc(1000) gave %p\n", (void *)p);
        return 1;
    }
    memset(p, 0x5a, 1000);
    p = hak_realloc(p, 100000);
    if (!p || p[999] != 0x5a) {
        fprintf(stderr, "linked: hak_realloc lost the contents\n");
        return 1;
    }
    hak_free(p);
    void *(*m)(size_t) = malloc;
    Dl_info info;
    const char *from = dladdr((void *)m, &info) && info.dli_fname ? info.dli_fname : "?";
    printf("linked: header %d.%d.%d, library %s, malloc from %s\n", HAKMEM_VERSION_MAJOR,
           HAKMEM_VERSION_MINOR, HAKMEM_VERSION_PATCH, hak_version(), from);
    return 0;
}
