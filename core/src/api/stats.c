/* Statistics from one set of counters: per-heap class counters summed on
 * read, the OS boundary's call counts, the large tier's, and rusage. Read
 * as a versioned struct, as JSON, or printed at exit (HAKMEM_STATS=1,
 * HAKMEM_STATS_FILE). The struct, the JSON and the layout the bindings
 * decode with all come from the lists of hakmem.h. */
#include "api.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define STATS_LINE_MAX 2048 /* the JSON of HAKMEM_STATS_FILE, with room to spare */
#define STATS_TEXT_MAX 8192 /* the text of HAKMEM_STATS=1, the configuration included */

/* The struct of HAK_STATS_VERSION 4, the same on every LP64 target: a
 * layout change is a new version. */
_Static_assert(sizeof(hak_stats_t) == 344 && offsetof(hak_stats_t, pmu_source) == 336,
               "hak_stats_t changed: bump HAK_STATS_VERSION");

#define NAME_(id, name) name,
#define NAME_MEANING_(id, name, meaning) name,
static const char *const k_tier_names[HAK_TIER_COUNT] = {HAK_TIER_LIST(NAME_)};
static const char *const k_sys_names[HAK_SYS_COUNT] = {HAK_SYSCALL_LIST(NAME_)};
static const char *const k_pmu_names[HAK_PMU_SOURCE_COUNT] = {HAK_PMU_SOURCE_LIST(NAME_MEANING_)};
#undef NAME_
#undef NAME_MEANING_

static size_t (*g_summary)(char *buf, size_t cap);

void _hak_stats_on_summary(size_t (*line)(char *buf, size_t cap)) { g_summary = line; }

void _hak_stats_collect(hak_stats_t *s) {
    memset(s, 0, sizeof(*s));
    s->version = HAK_STATS_VERSION;
    s->size = sizeof(*s);
    hak_counters_t c;
    _hak_heaps_sum(&c, &s->heaps_created, &s->heaps_reused, &s->threads_live);
    s->remote_batches = c.remote_batches;
    for (unsigned cls = 0; cls < HAK_CLASSES; cls++) {
        hak_tier_stats_t *t = &s->tier[hak_class_tier(cls)];
        t->allocs += c.allocs[cls];
        t->frees += c.frees[cls];
        t->misses += c.misses[cls];
        t->hits += c.allocs[cls] > c.misses[cls] ? c.allocs[cls] - c.misses[cls] : 0;
        t->remote_frees += c.remote_frees[cls];
        /* Counters are read one by one, so a free may be seen before its
         * allocation: clamp at zero. */
        if (c.allocs[cls] > c.frees[cls])
            t->bytes_in_use += (c.allocs[cls] - c.frees[cls]) * _hak_class_size[cls];
    }
    s->tier[HAK_TIER_TINY].bytes_reserved =
        atomic_load_explicit(&_hak_tier_reserved[HAK_TIER_TINY], memory_order_relaxed);
    s->tier[HAK_TIER_MID].bytes_reserved =
        atomic_load_explicit(&_hak_tier_reserved[HAK_TIER_MID], memory_order_relaxed);
    _hak_large_stats(&s->tier[HAK_TIER_LARGE]);
    /* spans are large blocks served from the threads' segments */
    hak_tier_stats_t *l = &s->tier[HAK_TIER_LARGE];
    l->allocs += c.span_allocs;
    l->hits += c.span_allocs;
    l->frees += c.span_frees;
    l->remote_frees += c.remote_frees[HAK_SPAN_CLASS];
    l->bytes_in_use += c.span_bytes_in_use;
    l->bytes_reserved +=
        atomic_load_explicit(&_hak_tier_reserved[HAK_TIER_LARGE], memory_order_relaxed);
    /* hardened mode's guarded blocks are large ones, its 0-byte blocks tiny ones */
    _hak_guard_stats(&s->tier[HAK_TIER_TINY], l);
    _hak_os_counts(s->syscalls, &s->bytes_mapped, &s->peak_mapped, &s->madvised_bytes);
    s->segments = atomic_load_explicit(&_hak_segments_live, memory_order_relaxed);
    _hak_os_faults(&s->minor_faults, &s->major_faults);
    s->llc_misses = _hak_pmu_read(&s->pmu_source);
    s->decay_runs = atomic_load_explicit(&_hak_decay_runs, memory_order_relaxed);
    s->decay_bytes = atomic_load_explicit(&_hak_decay_bytes, memory_order_relaxed);
    s->refault_bytes = atomic_load_explicit(&_hak_refault_bytes, memory_order_relaxed);
    s->os_failures = _hak_os_failures();
    s->hot_grown_bytes = atomic_load_explicit(&_hak_hot_grown_all, memory_order_relaxed);
}

int hak_stats_get(hak_stats_t *out, size_t out_size) {
    if (out == NULL || out_size < sizeof(hak_stats_t)) {
        errno = EINVAL;
        return -1;
    }
    hak_ensure_init();
    _hak_stats_collect(out);
    return 0;
}


/* "a":1,"b":2 for each field of a list, from `from`. */
#define FIELD_JSON_(field, meaning)                                                \
    HAK_PUT("%s\"" #field "\":%llu", sep, (unsigned long long)from->field);       \
    sep = ",";

static size_t to_json(const hak_stats_t *s, char *buf, size_t cap) {
    size_t n = 0;
    const char *sep;
    HAK_PUT("{\"version\":%u,\"mode\":\"%s\",\"build\":\"%s\",\"tiers\":{", s->version, hak_mode(),
        HAK_FLAVOUR);
    for (int i = 0; i < HAK_TIER_COUNT; i++) {
        const hak_tier_stats_t *from = &s->tier[i];
        HAK_PUT("%s\"%s\":{", i ? "," : "", k_tier_names[i]);
        sep = "";
        HAK_TIER_FIELD_LIST(FIELD_JSON_)
        HAK_PUT("}");
    }
    HAK_PUT("},\"syscalls\":{");
    for (int i = 0; i < HAK_SYS_COUNT; i++)
        HAK_PUT("%s\"%s\":%llu", i ? "," : "", k_sys_names[i], (unsigned long long)s->syscalls[i]);
    HAK_PUT("},");
    const hak_stats_t *from = s;
    sep = "";
    HAK_COUNTER_LIST(FIELD_JSON_)
    HAK_PUT(",\"pmu\":\"%s\"}", k_pmu_names[s->pmu_source]);
    return n;
}

/* {"name":"a","offset":0,"description":"..."} for each field of a list in `type`. */
#define FIELD_LAYOUT_(field, meaning)                                                          \
    HAK_PUT("%s{\"name\":\"" #field "\",\"offset\":%zu,\"description\":\"%s\"}", sep,             \
            offsetof(LAYOUT_TYPE_, field), meaning);                                           \
    sep = ",";

/* "key":{"offset":o,"names":[...] of an array of the struct; the caller
 * closes the object. */
static size_t array_json(const char *key, size_t offset, const char *const *names, unsigned count,
                         char *buf, size_t cap, size_t n) {
    HAK_PUT("\"%s\":{\"offset\":%zu,\"names\":[", key, offset);
    for (unsigned i = 0; i < count; i++) HAK_PUT("%s\"%s\"", i ? "," : "", names[i]);
    HAK_PUT("]");
    return n;
}

static size_t layout_json(char *buf, size_t cap) {
    size_t n = 0;
    const char *sep;
    HAK_PUT("{\"version\":%u,\"size\":%zu,\"head\":[{\"name\":\"version\",\"offset\":%zu,"
            "\"type\":\"u32\"},{\"name\":\"size\",\"offset\":%zu,\"type\":\"u32\"}],",
            HAK_STATS_VERSION, sizeof(hak_stats_t), offsetof(hak_stats_t, version),
            offsetof(hak_stats_t, size));
    n = array_json("tiers", offsetof(hak_stats_t, tier), k_tier_names, HAK_TIER_COUNT, buf, cap, n);
    HAK_PUT(",\"stride\":%zu,\"fields\":[", sizeof(hak_tier_stats_t));
    sep = "";
#define LAYOUT_TYPE_ hak_tier_stats_t
    HAK_TIER_FIELD_LIST(FIELD_LAYOUT_)
#undef LAYOUT_TYPE_
    HAK_PUT("]},");
    n = array_json("syscalls", offsetof(hak_stats_t, syscalls), k_sys_names, HAK_SYS_COUNT, buf,
                   cap, n);
    HAK_PUT("},\"counters\":[");
    sep = "";
#define LAYOUT_TYPE_ hak_stats_t
    HAK_COUNTER_LIST(FIELD_LAYOUT_)
#undef LAYOUT_TYPE_
    HAK_PUT("],");
    n = array_json("pmu_source", offsetof(hak_stats_t, pmu_source), k_pmu_names,
                   HAK_PMU_SOURCE_COUNT, buf, cap, n);
    HAK_PUT("}}");
    return n;
}

size_t hak_stats_layout_json(char *buf, size_t cap) { return hak_text_done(buf, cap, layout_json(buf, cap)); }

size_t hak_stats_json(char *buf, size_t cap) {
    hak_ensure_init();
    hak_stats_t s;
    _hak_stats_collect(&s);
    return hak_text_done(buf, cap, to_json(&s, buf, cap));
}

static size_t human(const hak_stats_t *s, char *buf, size_t cap) {
    size_t n = 0;
    HAK_PUT("hakmem stats (pid %d, mode %s, %s build)\n", _hak_os_pid(), hak_mode(), HAK_FLAVOUR);
    HAK_PUT("%-6s %14s %14s %14s %12s %12s %12s %12s\n", "tier", "allocs", "frees", "cache hits",
        "misses", "remote", "in use KiB", "reserved KiB");
    for (int i = 0; i < HAK_TIER_COUNT; i++) {
        const hak_tier_stats_t *t = &s->tier[i];
        HAK_PUT("%-6s %14llu %14llu %14llu %12llu %12llu %12llu %12llu\n", k_tier_names[i],
            (unsigned long long)t->allocs, (unsigned long long)t->frees,
            (unsigned long long)t->hits, (unsigned long long)t->misses,
            (unsigned long long)t->remote_frees, (unsigned long long)(t->bytes_in_use >> 10),
            (unsigned long long)(t->bytes_reserved >> 10));
    }
    HAK_PUT("syscalls:");
    for (int i = 0; i < HAK_SYS_COUNT; i++)
        HAK_PUT("%s %s %llu", i ? "," : "", k_sys_names[i], (unsigned long long)s->syscalls[i]);
    HAK_PUT("\n");
    HAK_PUT("mapped: %llu KiB now, %llu KiB peak, %llu KiB given back with MADV_DONTNEED\n",
        (unsigned long long)(s->bytes_mapped >> 10), (unsigned long long)(s->peak_mapped >> 10),
        (unsigned long long)(s->madvised_bytes >> 10));
    HAK_PUT("page faults: %llu minor, %llu major; LLC misses: %llu (pmu: %s)\n",
        (unsigned long long)s->minor_faults, (unsigned long long)s->major_faults,
        (unsigned long long)s->llc_misses, k_pmu_names[s->pmu_source]);
    HAK_PUT("heaps: %llu created, %llu reused, %llu live; segments: %llu; remote batches: %llu\n",
        (unsigned long long)s->heaps_created, (unsigned long long)s->heaps_reused,
        (unsigned long long)s->threads_live, (unsigned long long)s->segments,
        (unsigned long long)s->remote_batches);
    HAK_PUT("decay: %llu passes, %llu KiB given back, %llu KiB of it handed out again\n",
        (unsigned long long)s->decay_runs, (unsigned long long)(s->decay_bytes >> 10),
        (unsigned long long)(s->refault_bytes >> 10));
    if (g_summary != NULL) n += g_summary(n < cap ? buf + n : NULL, n < cap ? cap - n : 0);
    HAK_PUT("config: ");
    n += _hak_options_json(n < cap ? buf + n : NULL, n < cap ? cap - n : 0);
    HAK_PUT("\n");
    return n;
}

const char *_hak_tier_name(unsigned tier) { return k_tier_names[tier]; }

static size_t stats_text(char *buf, size_t cap) {
    hak_ensure_init();
    hak_stats_t s;
    _hak_stats_collect(&s);
    size_t n = human(&s, buf, cap);
    return n < cap ? n : cap - 1;
}

void hak_stats_print(int fd) {
    char buf[STATS_TEXT_MAX];
    _hak_write_all(fd, buf, stats_text(buf, sizeof(buf)));
}

void _hak_stats_fprint(FILE *f) {
    char buf[STATS_TEXT_MAX];
    fwrite(buf, 1, stats_text(buf, sizeof(buf)), f);
}

/* HAKMEM_STATS=1: a duplicate of the stderr the process started with, so
 * that the statistics reach it even when the program closes its stderr
 * before it exits (coreutils do) or opens another file under number 2. */
static hak_out_t g_stderr = HAK_OUT_CLOSED;

void _hak_stats_init(void) {
    if (hak_opt(OPT_STATS)) _hak_out_keep(&g_stderr, STDERR_FILENO);
}

static void print_at_exit(void) {
    /* the duplicate; when the program closed it too (daemons close every
     * descriptor above 2), fd 2 if it is still the stderr of the start */
    int fd = _hak_out_same(&g_stderr, g_stderr.fd)         ? g_stderr.fd
             : _hak_out_same(&g_stderr, STDERR_FILENO) ? STDERR_FILENO
                                                       : -1;
    if (fd < 0) return;
    char buf[STATS_TEXT_MAX];
    _hak_write_all(fd, buf, stats_text(buf, sizeof(buf)));
}

/* At exit, after the program's own exit handlers (a preloaded library is
 * finalised last). */
__attribute__((destructor)) static void stats_at_exit(void) {
    if (!hak_init_done()) return;
    if (hak_opt(OPT_STATS)) print_at_exit();
    if (_hak_opt_str(OPT_STATS_FILE)[0] == '\0') return;
    hak_stats_t s;
    _hak_stats_collect(&s);
    char buf[STATS_LINE_MAX];
    size_t n = to_json(&s, buf, sizeof(buf) - 1);
    if (n >= sizeof(buf) - 1) return;
    buf[n++] = '\n';
    hak_out_t out = HAK_OUT_CLOSED;
    if (!_hak_out_open(&out, OPT_STATS_FILE, false, "statistics")) return;
    _hak_out_write(&out, buf, n);
    _hak_out_close(&out);
}
