/* What a program sees when the hakmem launcher (or LD_PRELOAD) runs it. It knows nothing of
 * hakmem at build time: it asks the dynamic loader which object its malloc comes from and whether
 * hak_version/hak_mode are defined, allocates blocks of every tier and checks their contents, then
 * prints one line
 *   probe: malloc from <object path>; hakmem <version|absent>, mode <mode|->; LD_PRELOAD=<value>
 * and exits with the status given as argv[1] (default 0), or raises SIGTERM when argv[1] is
 * "sigterm". */
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef const char *(*name_fn)(void);

static const char *call(const char *symbol, const char *absent) {
    void *f = dlsym(RTLD_DEFAULT, symbol);
    return f ? ((name_fn)f)() : absent;
}

int main(int argc, char **argv) {
    /* tiny, mid and large blocks, each filled and checked before it is freed */
    static const size_t sizes[] = {16, 200, 1000, 4096, 40000, 300000, 3000000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *p = malloc(sizes[i]);
        if (!p) {
            fprintf(stderr, "probe: malloc(%zu) failed\n", sizes[i]);
            return 90;
        }
        memset(p, (int)(i + 1), sizes[i]);
        for (size_t j = 0; j < sizes[i]; j += 997) {
            if (p[j] != (unsigned char)(i + 1)) {
                fprintf(stderr, "probe: block of %zu bytes changed at %zu\n", sizes[i], j);
                return 91;
            }
        }
        free(p);
    }
    void *(*m)(size_t) = malloc;
    Dl_info info;
    const char *from = dladdr((void *)m, &info) && info.dli_fname ? info.dli_fname : "?";
    const char *preload = getenv("LD_PRELOAD");
    printf("probe: malloc from %s; hakmem %s, mode %s; LD_PRELOAD=%s\n", from,
           call("hak_version", "absent"), call("hak_mode", "-"), preload ? preload : "");
    fflush(stdout);
    if (argc > 1 && strcmp(argv[1], "sigterm") == 0) raise(SIGTERM);
    return argc > 1 ? atoi(argv[1]) : 0;
}
