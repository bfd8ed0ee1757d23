/* The seeded driver of the random-walk fuzzer: cases of PRNG bytes fed to the
 * op interpreter (interp.c), each in a forked child so a crash or an abort is
 * caught; on a failure the input is shrunk (cut after the failing op, then
 * chunks of ops removed while it still fails) and written to a file.
 *
 * Linked statically with libhakmem.a (the interpreter calls hak_* directly).
 *
 * usage: fuzz_seeded [--seed S] [--seconds N] [--case I] [--max-bytes B]
 *                    [--replay FILE] [--out DIR] [--shrink-seconds N]
 *                    [--case-timeout N] [--replay-prefix "CMD"] [--no-fork 1]
 *
 * Case i of seed S is the same bytes on every machine: splitmix64 of
 * (S, i), length between 64 and --max-bytes. The run goes on until --seconds
 * have passed (at least one case); --case I runs only case I. --no-fork 1 runs
 * the cases in this process (for ThreadSanitizer runs, whose fork support is
 * limited): a failure then ends the run without shrinking.
 *
 * Prints "fuzz: ..." lines and, last, one JSON line
 *   {"fuzz":"seeded","ok":true,"seed":"0x..","cases":N,"ops":N,...}
 * Exit 0 when every case passed, 1 on a failure (after shrinking), 2 on a
 * usage error. */
#include "interp.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct shared {
    fuzz_progress_t progress;
    fuzz_counts_t counts;
} shared_t;

static shared_t *g_sh;
static unsigned g_case_timeout = 60;
static int g_nofork; /* --no-fork: cases run in this process (a failure ends it, unshrunk) */

static uint64_t splitmix64(uint64_t *s) {
    uint64_t x = (*s += 0x9E3779B97F4A7C15ull);
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The bytes of case `idx` of `seed`; returns the length. */
static size_t make_case(uint64_t seed, uint64_t idx, size_t max_bytes, uint8_t *buf) {
    uint64_t s = seed ^ (idx * 0xD1B54A32D192ED03ull);
    (void)splitmix64(&s);
    size_t len = 64 + (size_t)(splitmix64(&s) % (max_bytes > 64 ? max_bytes - 64 + 1 : 1));
    for (size_t i = 0; i < len; i += 8) {
        uint64_t v = splitmix64(&s);
        for (size_t j = 0; j < 8 && i + j < len; j++) buf[i + j] = (uint8_t)(v >> (8 * j));
    }
    return len;
}

typedef struct outcome {
    int failed;
    char status[96];    /* "exit 1", "signal 6 (Aborted)", "timeout" */
    char message[512];  /* the last line of the child's stderr that looks like the failure */
} outcome_t;

/* Runs the input in a child; `quiet`: do not relay the child's stderr. */
static outcome_t run_child(const uint8_t *data, size_t len, int quiet) {
    outcome_t o;
    memset(&o, 0, sizeof o);
    memset(g_sh, 0, sizeof *g_sh);
    if (g_nofork) {
        fuzz_run(data, len, &g_sh->counts, &g_sh->progress);
        (void)quiet;
        return o;
    }
    int pfd[2];
    if (pipe(pfd) != 0) {
        perror("pipe");
        exit(2);
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(2);
    }
    if (pid == 0) {
        close(pfd[0]);
        dup2(pfd[1], 2);
        close(pfd[1]);
        alarm(g_case_timeout);
        fuzz_counts_t c;
        fuzz_run(data, len, &c, &g_sh->progress);
        g_sh->counts = c;
        _exit(0);
    }
    close(pfd[1]);
    /* keep the child's stderr: the whole of it (capped) for relaying, its last failure line */
    static char err[65536];
    size_t got = 0;
    for (;;) {
        char chunk[4096];
        ssize_t n = read(pfd[0], chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (got + (size_t)n >= sizeof err) { /* keep the tail */
            size_t drop = got + (size_t)n - (sizeof err - 1);
            if (drop > got) drop = got;
            memmove(err, err + drop, got - drop);
            got -= drop;
        }
        size_t take = (size_t)n < sizeof err - 1 - got ? (size_t)n : sizeof err - 1 - got;
        memcpy(err + got, chunk, take);
        got += take;
    }
    err[got] = '\0';
    close(pfd[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && g_sh->progress.done) return o;
    o.failed = 1;
    if (WIFSIGNALED(st)) {
        int sig = WTERMSIG(st);
        if (sig == SIGALRM)
            snprintf(o.status, sizeof o.status, "timeout (%u s)", g_case_timeout);
        else
            snprintf(o.status, sizeof o.status, "signal %d (%s)", sig, strsignal(sig));
    } else {
        snprintf(o.status, sizeof o.status, "exit %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    }
    /* the failure line: the first one starting with "hakmem" (ours or the allocator's) that is
     * not the allocator's crash note, else that note */
    const char *best = NULL, *note = NULL;
    for (const char *line = err; *line;) {
        const char *nl = strchr(line, '\n');
        if (strncmp(line, "hakmem: crash:", 14) == 0) {
            if (!note) note = line;
        } else if (strncmp(line, "hakmem", 6) == 0 && !best) {
            best = line;
        }
        if (!nl) break;
        line = nl + 1;
    }
    if (!best) best = note;
    if (best) {
        size_t l = strcspn(best, "\n");
        if (l >= sizeof o.message) l = sizeof o.message - 1;
        memcpy(o.message, best, l);
    }
    if (!quiet && got > 0) fprintf(stderr, "%s", err);
    return o;
}

static size_t count_ops(const uint8_t *d, size_t len) {
    size_t n = 0;
    for (size_t off = 0; off < len;) {
        size_t l = fuzz_op_len(d[off]);
        if (off + l > len) break;
        off += l;
        n++;
    }
    return n;
}

/* Byte offsets of the op boundaries (n + 1 of them for n whole ops). */
static size_t op_bounds(const uint8_t *d, size_t len, size_t *bounds) {
    size_t n = 0, off = 0;
    bounds[0] = 0;
    while (off < len) {
        size_t l = fuzz_op_len(d[off]);
        if (off + l > len) break;
        off += l;
        bounds[++n] = off;
    }
    return n;
}

/* Shrinks a failing input in place; returns its new length. */
static size_t shrink(uint8_t *d, size_t len, double budget_s) {
    double t0 = now();
    unsigned tries = 0;
    /* 1: cut after the op that was running when the child died */
    size_t cut = (size_t)g_sh->progress.op_end;
    if (cut > 0 && cut < len) {
        outcome_t o = run_child(d, cut, 1);
        tries++;
        if (o.failed) len = cut;
    }
    /* 2: the shortest failing prefix, by bisection over op boundaries */
    size_t *bounds = malloc((len + 1) * sizeof *bounds);
    uint8_t *tmp = malloc(len ? len : 1);
    if (!bounds || !tmp) return len;
    size_t n = op_bounds(d, len, bounds);
    size_t lo = 0, hi = n; /* prefix of hi ops fails; of lo ops assumed to pass */
    while (lo + 1 < hi && now() - t0 < budget_s) {
        size_t mid = lo + (hi - lo) / 2;
        outcome_t o = run_child(d, bounds[mid], 1);
        tries++;
        if (o.failed) hi = mid;
        else lo = mid;
    }
    len = bounds[hi];
    /* 3: remove chunks of ops, halving the chunk size down to one op */
    n = op_bounds(d, len, bounds);
    for (size_t chunk = n / 2 ? n / 2 : 1; chunk >= 1 && now() - t0 < budget_s; chunk /= 2) {
        size_t i = 0;
        while (i < n && now() - t0 < budget_s) {
            size_t j = i + chunk < n ? i + chunk : n;
            size_t a = bounds[i], b = bounds[j];
            memcpy(tmp, d, a);
            memcpy(tmp + a, d + b, len - b);
            size_t tlen = len - (b - a);
            if (tlen > 0) {
                outcome_t o = run_child(tmp, tlen, 1);
                tries++;
                if (o.failed) {
                    memcpy(d, tmp, tlen);
                    len = tlen;
                    n = op_bounds(d, len, bounds);
                    continue; /* same i: the next chunk moved here */
                }
            }
            i = j;
        }
        if (chunk == 1) break;
    }
    fprintf(stderr, "fuzz: shrinking: %u runs in %.1f s\n", tries, now() - t0);
    free(bounds);
    free(tmp);
    return len;
}

static int write_file(const char *path, const uint8_t *d, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(d, 1, len, f);
    int rc = fclose(f);
    return w == len && rc == 0 ? 0 : -1;
}

static uint8_t *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    uint8_t *b = malloc(cap);
    for (;;) {
        if (n == cap) b = realloc(b, cap *= 2);
        if (!b) return NULL;
        size_t r = fread(b + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    fclose(f);
    *len = n;
    return b;
}

static void usage(void) {
    fprintf(stderr, "usage: fuzz_seeded [--seed S] [--seconds N] [--case I] [--max-bytes B] "
                    "[--replay FILE] [--out DIR] [--shrink-seconds N] [--case-timeout N] "
                    "[--replay-prefix CMD] [--no-fork 1]\n");
    exit(2);
}

int main(int argc, char **argv) {
    uint64_t seed = 0;
    int have_seed = 0;
    double seconds = 10, shrink_s = 120;
    long long only_case = -1;
    size_t max_bytes = 16384;
    const char *replay = NULL, *out = ".", *prefix = NULL;
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) usage();
        if (strcmp(a, "--seed") == 0) {
            seed = strtoull(v, NULL, 0);
            have_seed = 1;
        } else if (strcmp(a, "--seconds") == 0) {
            seconds = strtod(v, NULL);
        } else if (strcmp(a, "--case") == 0) {
            only_case = strtoll(v, NULL, 0);
        } else if (strcmp(a, "--max-bytes") == 0) {
            max_bytes = strtoull(v, NULL, 0);
        } else if (strcmp(a, "--replay") == 0) {
            replay = v;
        } else if (strcmp(a, "--out") == 0) {
            out = v;
        } else if (strcmp(a, "--shrink-seconds") == 0) {
            shrink_s = strtod(v, NULL);
        } else if (strcmp(a, "--case-timeout") == 0) {
            g_case_timeout = (unsigned)strtoul(v, NULL, 0);
        } else if (strcmp(a, "--no-fork") == 0) {
            g_nofork = strcmp(v, "0") != 0;
        } else if (strcmp(a, "--replay-prefix") == 0) {
            prefix = v;
        } else {
            usage();
        }
    }
    if (max_bytes < 64) max_bytes = 64;
    if (!have_seed) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t s = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)getpid();
        seed = splitmix64(&s);
    }
    char pre[512];
    snprintf(pre, sizeof pre, "%s", prefix ? prefix : argv[0]);

    g_sh = mmap(NULL, sizeof *g_sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (g_sh == MAP_FAILED) {
        perror("mmap");
        return 2;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    double t0 = now();
    uint64_t cases = 0, ops = 0, stream_ops = 0, bytes = 0;
    fuzz_counts_t tot;
    memset(&tot, 0, sizeof tot);
    long long failed_case = -1;
    outcome_t fail;
    memset(&fail, 0, sizeof fail);

    if (replay) {
        buf = read_file(replay, &len);
        if (!buf) {
            fprintf(stderr, "fuzz: cannot read %s: %s\n", replay, strerror(errno));
            return 2;
        }
        printf("fuzz: replay %s: %zu bytes, %zu ops\n", replay, len, count_ops(buf, len));
        fflush(stdout);
        fail = run_child(buf, len, 0);
        if (fail.failed) {
            printf("fuzz: FAIL replay %s after %" PRIu64 " ops: %s%s%s\n", replay,
                   (uint64_t)g_sh->progress.ops, fail.status, fail.message[0] ? ": " : "",
                   fail.message);
            printf("{\"fuzz\":\"seeded\",\"ok\":false,\"replay\":\"%s\",\"ops\":%" PRIu64 "}\n",
                   replay, (uint64_t)g_sh->progress.ops);
            free(buf);
            return 1;
        }
        printf("fuzz: replay %s passed: %" PRIu64 " ops\n", replay, g_sh->counts.ops);
        printf("{\"fuzz\":\"seeded\",\"ok\":true,\"replay\":\"%s\",\"ops\":%" PRIu64 "}\n", replay,
               g_sh->counts.ops);
        free(buf);
        return 0;
    }

    buf = malloc(max_bytes);
    if (!buf) return 2;
    printf("fuzz: seed=0x%016" PRIx64 " seconds=%g max-bytes=%zu%s\n", seed, seconds, max_bytes,
           only_case >= 0 ? " (one case)" : "");
    fflush(stdout);
    for (uint64_t idx = only_case >= 0 ? (uint64_t)only_case : 0;; idx++) {
        len = make_case(seed, idx, max_bytes, buf);
        outcome_t o = run_child(buf, len, 0);
        cases++;
        bytes += len;
        if (o.failed) {
            failed_case = (long long)idx;
            fail = o;
            break;
        }
        const fuzz_counts_t *c = &g_sh->counts;
        ops += c->ops;
        stream_ops += c->stream_ops;
        tot.allocs += c->allocs;
        tot.frees += c->frees;
        tot.reallocs += c->reallocs;
        tot.aligned += c->aligned;
        tot.cross_frees += c->cross_frees;
        tot.thread_exits += c->thread_exits;
        tot.bursts += c->bursts;
        tot.error_checks += c->error_checks;
        tot.bytes_checked += c->bytes_checked;
        if (only_case >= 0 || now() - t0 >= seconds) break;
    }
    double dur = now() - t0;
    if (failed_case < 0) {
        printf("fuzz: OK seed=0x%016" PRIx64 ": %" PRIu64 " cases, %" PRIu64 " ops (%" PRIu64
               " from the stream) in %.1f s: allocs %" PRIu64 ", frees %" PRIu64
               " (cross-thread %" PRIu64 "), reallocs %" PRIu64 ", aligned %" PRIu64
               ", thread exits %" PRIu64 ", bursts %" PRIu64 ", failing calls %" PRIu64
               ", %" PRIu64 " MiB checked\n",
               seed, cases, ops, stream_ops, dur, tot.allocs, tot.frees, tot.cross_frees,
               tot.reallocs, tot.aligned, tot.thread_exits, tot.bursts, tot.error_checks,
               tot.bytes_checked >> 20);
        printf("{\"fuzz\":\"seeded\",\"ok\":true,\"seed\":\"0x%016" PRIx64 "\",\"cases\":%" PRIu64
               ",\"ops\":%" PRIu64 ",\"stream_ops\":%" PRIu64 ",\"bytes\":%" PRIu64
               ",\"allocs\":%" PRIu64 ",\"frees\":%" PRIu64 ",\"cross_frees\":%" PRIu64
               ",\"thread_exits\":%" PRIu64 ",\"bursts\":%" PRIu64 ",\"seconds\":%.2f}\n",
               seed, cases, ops, stream_ops, bytes, tot.allocs, tot.frees, tot.cross_frees,
               tot.thread_exits, tot.bursts, dur);
        free(buf);
        return 0;
    }

    uint64_t fail_ops = g_sh->progress.ops;
    printf("fuzz: FAIL seed=0x%016" PRIx64 " case=%lld (%zu bytes, %zu ops) at op %" PRIu64
           ": %s%s%s\n",
           seed, failed_case, len, count_ops(buf, len), fail_ops, fail.status,
           fail.message[0] ? ": " : "", fail.message);
    printf("fuzz: before it %" PRIu64 " cases passed (%" PRIu64 " ops) in %.1f s\n", cases - 1,
           ops, dur);
    printf("fuzz: reproduce the case: %s --seed 0x%016" PRIx64 " --case %lld\n", pre, seed,
           failed_case);
    fflush(stdout);
    char path[1024];
    snprintf(path, sizeof path, "%s/crash-%016" PRIx64 "-%lld.bin", out, seed, failed_case);
    mkdir(out, 0777);
    if (write_file(path, buf, len) == 0) printf("fuzz: the failing input: %s\n", path);
    /* is it reproducible? */
    outcome_t again = run_child(buf, len, 1);
    size_t small = len;
    if (!again.failed) {
        printf("fuzz: the case passed when run again: the failure depends on timing; not "
               "shrunk\n");
    } else {
        small = shrink(buf, len, shrink_s);
        outcome_t last = run_child(buf, small, 1);
        snprintf(path, sizeof path, "%s/crash-%016" PRIx64 "-%lld-min.bin", out, seed,
                 failed_case);
        if (write_file(path, buf, small) == 0) {
            printf("fuzz: shortest failing input found: %zu ops (%zu bytes): %s%s%s\n",
                   count_ops(buf, small), small, last.status, last.message[0] ? ": " : "",
                   last.message);
            printf("fuzz: replay: %s --replay %s   (HAK_FUZZ_TRACE=1 lists the ops)\n", pre,
                   path);
        }
    }
    printf("{\"fuzz\":\"seeded\",\"ok\":false,\"seed\":\"0x%016" PRIx64 "\",\"case\":%lld"
           ",\"cases\":%" PRIu64 ",\"ops\":%" PRIu64 ",\"min_ops\":%zu,\"seconds\":%.2f}\n",
           seed, failed_case, cases, ops, count_ops(buf, small), dur);
    free(buf);
    return 1;
}
