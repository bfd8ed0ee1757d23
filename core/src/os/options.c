/* The options table (options.def) read once at start: HAKMEM_MODE picks a
 * preset, individual variables override it, a bad value warns once and
 * keeps the default. Runtime knobs are atomics that setters may change. */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OT_BOOL, OT_INT, OT_ENUM, OT_STR };

static const char *const k_mode_names[] = {"minimal", "fast", "balanced", "learning", "research",
                                           NULL};
static const char *const k_thp_names[] = {"off", "auto", "on", NULL};
static const char *const k_free_names[] = {"batch", "immediate", "unmap", NULL};
static const char *const k_pmu_names[] = {"off", "on", NULL};
static const char *const k_elo_names[] = {"off", "frozen", "learn", NULL};

typedef struct opt_def {
    const char *env;
    int type;
    const char *const *choices;
    int64_t min, max;
    int64_t def[5]; /* per mode */
    bool runtime;
    const char *desc;
} opt_def_t;

static const opt_def_t k_opts[OPT_COUNT] = {
#define HAK_OPT_ENUM(id, env, type, choices, min, max, d0, d1, d2, d3, d4, rt, desc) \
    [OPT_##id] = {env, type, choices, min, max, {d0, d1, d2, d3, d4}, rt, desc},
#include "options.def"
#undef HAK_OPT_ENUM
};

_Atomic int64_t _hak_opt[OPT_COUNT];
_Atomic uint32_t _hak_tcache_cap[HAK_CLASSES];
_Atomic uint32_t _hak_prewarm[HAK_CLASSES];
static char g_strings[OPT_COUNT][512]; /* values of the text options (paths) */

const char *_hak_opt_str(hak_opt_id_t id) { return g_strings[id]; }

/* Parses `text` for option `d`; false when it is not accepted. */
static bool parse(const opt_def_t *d, const char *text, int64_t *out) {
    if (d->type == OT_ENUM) {
        for (int i = 0; d->choices[i] != NULL; i++) {
            if (strcmp(text, d->choices[i]) == 0) {
                *out = i;
                return true;
            }
        }
        return false;
    }
    if (d->type == OT_BOOL) {
        if (!strcmp(text, "1") || !strcmp(text, "on") || !strcmp(text, "true") ||
            !strcmp(text, "yes"))
            *out = 1;
        else if (!strcmp(text, "0") || !strcmp(text, "off") || !strcmp(text, "false") ||
                 !strcmp(text, "no"))
            *out = 0;
        else
            return false;
        return true;
    }
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0') return false;
    if (v < d->min || v > d->max) return false;
    *out = v;
    return true;
}

static void accepted(const opt_def_t *d, char *buf, size_t cap) {
    if (d->type == OT_ENUM) {
        size_t n = 0;
        for (int i = 0; d->choices[i] != NULL && n < cap; i++)
            n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? "|" : "", d->choices[i]);
    } else if (d->type == OT_BOOL) {
        snprintf(buf, cap, "0|1");
    } else {
        snprintf(buf, cap, "an integer from %lld to %lld", (long long)d->min, (long long)d->max);
    }
}

static void format_value(const opt_def_t *d, int64_t v, char *buf, size_t cap) {
    if (d->type == OT_ENUM) snprintf(buf, cap, "%s", d->choices[v]);
    else snprintf(buf, cap, "%lld", (long long)v);
}

static void derive_class_knobs(void) {
    uint32_t cap = hak_opt(OPT_TCACHE) ? (uint32_t)hak_opt(OPT_TCACHE_CAP) : 0;
    for (unsigned c = 0; c < HAK_CLASSES; c++) {
        /* Mid classes cache at most 1 MiB of blocks per thread. */
        uint32_t budget = (uint32_t)((1u << 20) / _hak_class_size[c]);
        if (budget < 4) budget = 4;
        atomic_store_explicit(&_hak_tcache_cap[c], cap < budget ? cap : budget,
                              memory_order_relaxed);
    }
    /* SPEC's pre-warm: 8-24 KiB 16/16/12 blocks, 32-40 KiB 8, 48 KiB 4. */
    static const struct { uint32_t size, count; } warm[] = {
        {8192, 16}, {16384, 16}, {24576, 12}, {32768, 8}, {40960, 8}, {49152, 4}};
    for (unsigned i = 0; i < sizeof(warm) / sizeof(warm[0]); i++)
        atomic_store_explicit(&_hak_prewarm[hak_size_class(warm[i].size)], warm[i].count,
                              memory_order_relaxed);
}

void _hak_options_init(void) {
    /* The mode first: it decides every other default. */
    int64_t mode = MODE_BALANCED;
    for (int pass = 0; pass < 2; pass++) {
        for (int id = 0; id < OPT_COUNT; id++) {
            if ((pass == 0) != (id == OPT_MODE)) continue;
            const opt_def_t *d = &k_opts[id];
            int64_t v = d->def[mode];
            const char *text = getenv(d->env);
            if (d->type == OT_STR) {
                if (text != NULL) snprintf(g_strings[id], sizeof(g_strings[id]), "%s", text);
                continue;
            }
            if (text != NULL && !parse(d, text, &v)) {
                char acc[160], def[32];
                accepted(d, acc, sizeof(acc));
                format_value(d, d->def[mode], def, sizeof(def));
                _hak_warn("warning: %s=%s is not accepted (accepted: %s); using default %s",
                          d->env, text, acc, def);
                v = d->def[mode];
            }
            atomic_store_explicit(&_hak_opt[id], v, memory_order_relaxed);
            if (id == OPT_MODE) mode = v;
        }
    }
    derive_class_knobs();
}

static int find(const char *name) {
    if (name == NULL) return -1;
    for (int id = 0; id < OPT_COUNT; id++)
        if (strcmp(name, k_opts[id].env) == 0) return id;
    return -1;
}

int hak_option_get(const char *name, int64_t *value) {
    hak_ensure_init();
    int id = find(name);
    if (id < 0 || value == NULL) {
        errno = ENOENT;
        return -1;
    }
    *value = hak_opt((hak_opt_id_t)id);
    return 0;
}

int hak_option_set(const char *name, int64_t value) {
    hak_ensure_init();
    int id = find(name);
    if (id < 0) {
        errno = ENOENT;
        return -1;
    }
    const opt_def_t *d = &k_opts[id];
    if (!d->runtime) {
        errno = EPERM;
        return -1;
    }
    if (value < d->min || value > d->max) {
        errno = ERANGE;
        return -1;
    }
    atomic_store_explicit(&_hak_opt[id], value, memory_order_relaxed);
    if (id == OPT_TCACHE_CAP) derive_class_knobs();
    return 0;
}

int hak_class_knob_set(hak_class_knob_t knob, unsigned cls, int64_t value) {
    hak_ensure_init();
    if (cls >= HAK_CLASSES || (knob != HAK_KNOB_TCACHE_CAP && knob != HAK_KNOB_PREWARM)) {
        errno = EINVAL;
        return -1;
    }
    if (value < 0 || value > 512) {
        errno = ERANGE;
        return -1;
    }
    _Atomic uint32_t *slot = knob == HAK_KNOB_TCACHE_CAP ? &_hak_tcache_cap[cls] : &_hak_prewarm[cls];
    atomic_store_explicit(slot, (uint32_t)value, memory_order_relaxed);
    return 0;
}

int64_t hak_class_knob_get(hak_class_knob_t knob, unsigned cls) {
    hak_ensure_init();
    if (cls >= HAK_CLASSES || (knob != HAK_KNOB_TCACHE_CAP && knob != HAK_KNOB_PREWARM)) {
        errno = EINVAL;
        return -1;
    }
    _Atomic uint32_t *slot = knob == HAK_KNOB_TCACHE_CAP ? &_hak_tcache_cap[cls] : &_hak_prewarm[cls];
    return atomic_load_explicit(slot, memory_order_relaxed);
}

const char *hak_mode(void) {
    hak_ensure_init();
    return k_mode_names[hak_opt(OPT_MODE)];
}

/* JSON string escape for the free-text values (paths). */
static size_t put_escaped(char *buf, size_t cap, size_t n, const char *s) {
    for (; *s; s++) {
        char c = *s;
        if (c == '"' || c == '\\') n += (size_t)snprintf(n < cap ? buf + n : NULL, n < cap ? cap - n : 0, "\\%c", c);
        else if ((unsigned char)c < 0x20) n += (size_t)snprintf(n < cap ? buf + n : NULL, n < cap ? cap - n : 0, "\\u%04x", c);
        else n += (size_t)snprintf(n < cap ? buf + n : NULL, n < cap ? cap - n : 0, "%c", c);
    }
    return n;
}

size_t _hak_options_json(char *buf, size_t cap) {
    size_t n = 0;
    HAK_PUT("{");
    for (int id = 0; id < OPT_COUNT; id++) {
        const opt_def_t *d = &k_opts[id];
        HAK_PUT("%s\"%s\":", id ? "," : "", d->env);
        if (d->type == OT_STR) {
            HAK_PUT("\"");
            n = put_escaped(buf, cap, n, g_strings[id]);
            HAK_PUT("\"");
        } else if (d->type == OT_ENUM) {
            HAK_PUT("\"%s\"", d->choices[hak_opt((hak_opt_id_t)id)]);
        } else {
            HAK_PUT("%lld", (long long)hak_opt((hak_opt_id_t)id));
        }
    }
    HAK_PUT("}");
    return n;
}

size_t hak_config_json(char *buf, size_t cap) {
    hak_ensure_init();
    size_t n = _hak_options_json(buf, cap);
    if (cap > 0 && n >= cap) buf[cap - 1] = '\0';
    return n;
}
