/* The random-walk fuzzer's op interpreter: one byte string in, a
 * deterministic sequence of allocator operations out, executed on worker
 * threads with every block's content checked. Two drivers feed it: seeded.c
 * (bytes from a PRNG, each case in a child process, failures shrunk) and
 * libfuzzer.c (bytes from libFuzzer, hakmem compiled in with ASan+UBSan).
 *
 * Input format: a sequence of ops; the first byte of an op is
 *   bits 0-3  kind (see fuzz_op_kind_t)
 *   bits 4-5  thread (worker 0..3 executes it)
 *   bits 6-7  variant (meaning depends on the kind)
 * and the kind alone fixes how many bytes the op takes (fuzz_op_len), so an
 * input can be cut at op boundaries. An op whose bytes run past the end of the
 * input is not executed: every prefix of an input is a valid input.
 *
 * Determinism: ops run one at a time in stream order (the dispatching thread
 * waits for the worker to finish each one), so a block allocated by worker 1
 * and freed by worker 3 is a real cross-thread free, yet the order of events
 * never depends on scheduling. The one concurrent op, "burst", lets every
 * worker run a PRNG-driven batch on its own partition of the slot table at
 * the same time: the allocator's internal interleaving varies, the logical
 * outcome (which block holds which content) does not.
 *
 * Every allocation is filled with a pattern derived from its block id and
 * offset and verified before free and realloc (the whole block up to 64 KiB,
 * head, middle and tail 4 KiB windows beyond). A mismatch, an unexpected NULL,
 * a misaligned block or a short usable size prints one line starting with
 * "hakmem-fuzz: FAIL" and aborts. HAK_FUZZ_TRACE=1 prints every op to stderr. */
#ifndef HAK_FUZZ_INTERP_H
#define HAK_FUZZ_INTERP_H

#include <stddef.h>
#include <stdint.h>

#define FUZZ_THREADS 4
#define FUZZ_SLOTS 64

typedef enum fuzz_op_kind {
    FOP_MALLOC0 = 0,
    FOP_MALLOC1 = 1,
    FOP_MALLOC2 = 2,
    FOP_CALLOC = 3,
    FOP_FREE0 = 4,
    FOP_FREE1 = 5,
    FOP_FREE2 = 6,
    FOP_REALLOC0 = 7,
    FOP_REALLOC1 = 8,
    FOP_REALLOCARRAY = 9,
    FOP_ALIGNED = 10, /* variant: aligned_alloc, posix_memalign, memalign, posix_memalign */
    FOP_USABLE = 11,  /* usable size >= size; the slack is written */
    FOP_EXIT = 12,    /* variant 0: the worker thread exits (a fresh one takes its place);
                         else: verify every live block */
    FOP_BURST = 13,   /* all workers at once, each on its own slots */
    FOP_ERRORS = 14,  /* requests that must fail cleanly (ENOMEM, EINVAL) */
    FOP_FLUSH = 15    /* variant 0-1: hak_thread_flush, 2: hak_trim, 3: verify all */
} fuzz_op_kind_t;

typedef struct fuzz_counts {
    uint64_t ops;          /* ops executed, burst sub-ops included */
    uint64_t stream_ops;   /* ops read from the input */
    uint64_t allocs;       /* successful allocations of every kind */
    uint64_t frees;        /* blocks freed (free, realloc to 0, final clean-up) */
    uint64_t reallocs;     /* realloc and reallocarray calls on a live block */
    uint64_t aligned;      /* aligned allocations */
    uint64_t cross_frees;  /* frees by a thread other than the allocating one */
    uint64_t thread_exits; /* worker threads ended and replaced */
    uint64_t bursts;       /* concurrent bursts */
    uint64_t error_checks; /* requests checked to fail cleanly */
    uint64_t bytes_checked;
} fuzz_counts_t;

/* Progress, updated before each op: a parent can read it from shared memory
 * after its child crashed, to know which op failed. */
typedef struct fuzz_progress {
    volatile uint64_t ops;      /* stream ops started */
    volatile uint64_t op_start; /* byte offset of the op being executed */
    volatile uint64_t op_end;   /* byte offset just past it */
    volatile uint64_t done;     /* 1 once the whole input ran and was cleaned up */
} fuzz_progress_t;

/* Number of bytes the op starting with byte `first` takes. */
size_t fuzz_op_len(uint8_t first);

/* Runs the input: executes every op, then verifies and frees every live
 * block and ends every worker thread, so the process is back where it was.
 * `counts` (optional) receives what was done; `progress` (optional) is
 * updated as the ops run. Returns 0; a failed check aborts. */
int fuzz_run(const uint8_t *data, size_t len, fuzz_counts_t *counts, fuzz_progress_t *progress);

#endif
