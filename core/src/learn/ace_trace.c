/* ACE's trace (HAKMEM_ACE_TRACE: one JSON line per tick, decision, guard,
 * scavenge and ELO state) and its messages on stderr
 * (HAKMEM_ACE_LOG_LEVEL). Called with ACE's lock held. */
#include "ace.h"

#include <string.h>

#define LOG_DECISIONS 1 /* HAKMEM_ACE_LOG_LEVEL: each knob change */
#define LOG_TICKS 2     /* HAKMEM_ACE_LOG_LEVEL: every tick too */
#define LINE_MAX 1024   /* a trace line, the metrics included */

static hak_out_t g_out = HAK_OUT_CLOSED;
static bool g_off; /* a forked child whose trace path has no %p */
static uint64_t g_t0;

static double since_start(void) { return (double)(_hak_now_ns() - g_t0) * 1e-9; }

static void line(const char *buf, size_t n) { _hak_out_write(&g_out, buf, n); }

/* A line of one snprintf, written when it fits. */
#define TRACE_LINE(...)                                                  \
    do {                                                                 \
        char line_[LINE_MAX];                                            \
        int n_ = snprintf(line_, sizeof(line_), __VA_ARGS__);            \
        if (n_ > 0 && (size_t)n_ < sizeof(line_)) line(line_, (size_t)n_); \
    } while (0)

static void open_trace(void) {
    if (_hak_opt_str(OPT_ACE_TRACE)[0] == '\0') return;
    if (!_hak_out_open(&g_out, OPT_ACE_TRACE, true, "trace")) return;
    TRACE_LINE("{\"t\":0,\"kind\":\"start\",\"pid\":%d,\"mode\":\"%s\",\"fast_ms\":%lld,"
               "\"slow_ms\":%lld}\n",
               _hak_os_pid(), _hak_mode_name(), (long long)hak_opt(OPT_ACE_FAST_INTERVAL_MS),
               (long long)hak_opt(OPT_ACE_SLOW_INTERVAL_MS));
}

void _hak_ace_trace_start(void) {
    g_t0 = _hak_now_ns();
    if (g_out.fd < 0 && !g_off) open_trace();
}

void _hak_ace_trace_restart(void) { g_t0 = _hak_now_ns(); }

/* The parent's trace stays the parent's: a child traces only to its own
 * file, when the path names the pid. */
void _hak_ace_trace_child(void) {
    if (g_out.fd < 0) return;
    _hak_out_close(&g_out);
    g_off = strstr(_hak_opt_str(OPT_ACE_TRACE), "%p") == NULL;
}

static size_t metrics_json(const hak_ace_metrics_t *m, char *buf, size_t cap, size_t n) {
    HAK_PUT("{\"ops_per_s\":%.1f,\"llc_miss_rate\":%.4f,\"llc_source\":\"%s\",\"lock_wait_frac\":%.4f,"
        "\"remote_backlog\":%.1f,\"p99_lat_ns\":%.0f,\"ace_cpu_percent\":%.3f,"
        "\"cpu_ns_per_op\":%.2f,",
        m->ops_per_s, m->llc_miss_rate, m->llc_from_pmu != 0.0 ? "pmu" : "estimate",
        m->lock_wait_frac, m->remote_backlog, m->p99_lat_ns, m->ace_cpu_percent, m->cpu_ns_per_op);
    HAK_PUT("\"idle_in_mb\":%.3f,\"large_idle_mb\":%.3f,\"large_cold_mb\":%.3f,"
            "\"released_mb\":%.3f,\"refault_mb\":%.3f,",
        m->idle_in_mb, m->large_idle_mb, m->large_cold_mb, m->released_mb, m->refault_mb);
    if (m->in_use_mb > 0) HAK_PUT("\"frag_ratio\":%.4f,", m->frag_ratio);
    else HAK_PUT("\"frag_ratio\":null,");
    if (m->rss_mb > 0) HAK_PUT("\"rss_mb\":%.2f}", m->rss_mb);
    else HAK_PUT("\"rss_mb\":null}");
    return n;
}

void _hak_ace_trace_decision(const ace_t *a, const hak_ace_metrics_t *m, const char *loop,
                             const char *rule, const char *knob, int cls, uint64_t old,
                             uint64_t now) {
    if (hak_opt(OPT_ACE_LOG_LEVEL) >= LOG_DECISIONS) {
        char label[48];
        if (cls >= 0) snprintf(label, sizeof(label), "TLS cap[%d]", cls);
        else snprintf(label, sizeof(label), "%s", knob);
        _hak_warn("[ACE] Adjusting %s: %llu \xe2\x86\x92 %llu (%s)", label, (unsigned long long)old,
                  (unsigned long long)now, rule);
    }
    if (g_out.fd < 0) return;
    char buf[LINE_MAX];
    size_t cap = sizeof(buf), n = 0;
    HAK_PUT("{\"t\":%.3f,\"kind\":\"decision\",\"loop\":\"%s\",\"rule\":\"%s\",\"knob\":\"%s\","
        "\"cls\":%d,\"old\":%llu,\"new\":%llu,\"reward\":%.4f,\"metrics\":",
        since_start(), loop, rule, knob, cls, (unsigned long long)old, (unsigned long long)now,
        a->last_reward);
    n = metrics_json(m, buf, cap, n);
    HAK_PUT("}\n");
    if (n < cap) line(buf, n);
}

void _hak_ace_trace_tick(const ace_t *a, const hak_ace_metrics_t *m, const char *loop) {
    char buf[LINE_MAX];
    size_t cap = sizeof(buf), n = 0;
    HAK_PUT("{\"t\":%.3f,\"kind\":\"tick\",\"loop\":\"%s\",\"reward\":%.4f,\"knobs\":{\"decay_ms\":%u,"
        "\"bigcache_mb\":%u,\"bundle\":%u,\"drain_threshold\":%u},"
        "\"race\":{\"racing\":%s,\"playing\":%d},\"metrics\":",
        since_start(), loop, a->last_reward, a->cur.decay_ms, a->cur.bigcache_mb, a->cur.bundle,
        (unsigned)hak_opt(OPT_REMOTE_DRAIN_THRESHOLD), a->race.racing ? "true" : "false",
        a->race.playing);
    n = metrics_json(m, buf, cap, n);
    HAK_PUT("}\n");
    if (n < cap) line(buf, n);
    if (hak_opt(OPT_ACE_LOG_LEVEL) >= LOG_TICKS)
        _hak_warn("[ACE] %s tick: %.0f ops/s, llc %.3f (%s), lock %.4f, backlog %.0f, reward %.3f",
                  loop, m->ops_per_s, m->llc_miss_rate, m->llc_from_pmu != 0.0 ? "pmu" : "estimate",
                  m->lock_wait_frac, m->remote_backlog, a->last_reward);
}

void _hak_ace_trace_guard(const char *name, double value, double limit) {
    TRACE_LINE("{\"t\":%.3f,\"kind\":\"guard\",\"guard\":\"%s\",\"value\":%.2f,\"limit\":%.2f}\n",
               since_start(), name, value, limit);
}

void _hak_ace_trace_scavenge(size_t bytes, uint64_t ns, uint64_t budget_ns, bool complete) {
    TRACE_LINE("{\"t\":%.3f,\"kind\":\"scavenge\",\"bytes\":%zu,\"ns\":%llu,\"budget_ns\":%llu,"
               "\"complete\":%s}\n",
               since_start(), bytes, (unsigned long long)ns, (unsigned long long)budget_ns,
               complete ? "true" : "false");
}

void _hak_ace_trace_phase(uint64_t changes) {
    TRACE_LINE("{\"t\":%.3f,\"kind\":\"phase\",\"changes\":%llu}\n", since_start(),
               (unsigned long long)changes);
}

void _hak_ace_trace_elo(void) {
    if (g_out.fd < 0 || hak_opt(OPT_ELO) == ELO_OFF) return;
    char elo[768];
    size_t len = _hak_elo_trace_json(elo, sizeof(elo));
    if (len >= sizeof(elo)) return;
    /* the selector's object, opened with the line's own fields */
    TRACE_LINE("{\"t\":%.3f,\"kind\":\"elo\",%s\n", since_start(), elo + 1);
}
