/* The coverage-guided driver of the random-walk fuzzer: libFuzzer feeds byte
 * strings to the op interpreter (interp.c). Built with Debian's clang,
 * -fsanitize=fuzzer,address,undefined, hakmem's sources compiled into the
 * binary with -DHAK_NO_OVERRIDE=1 (the interpreter calls hak_* directly; ASan
 * keeps malloc), see tasks/test/fuzz.ts.
 *
 * At exit it prints one line:
 *   libfuzzer-ops: inputs=N ops=N stream_ops=N allocs=N cross_frees=N */
#include "interp.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t g_inputs, g_ops, g_stream_ops, g_allocs, g_cross;

static void report(void) {
    fprintf(stderr,
            "libfuzzer-ops: inputs=%" PRIu64 " ops=%" PRIu64 " stream_ops=%" PRIu64
            " allocs=%" PRIu64 " cross_frees=%" PRIu64 "\n",
            g_inputs, g_ops, g_stream_ops, g_allocs, g_cross);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    atexit(report);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_counts_t c;
    fuzz_run(data, size, &c, NULL);
    g_inputs++;
    g_ops += c.ops;
    g_stream_ops += c.stream_ops;
    g_allocs += c.allocs;
    g_cross += c.cross_frees;
    return 0;
}
