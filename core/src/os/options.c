/* The options table (options.def) read once at start: HAKMEM_MODE picks a
 * preset, individual variables override it, a bad value warns once and
 * keeps the default. Runtime knobs are atomics that setters may change
 * (api/config.c holds the public calls). */
#include "os.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OT_BOOL, OT_INT, OT_ENUM, OT_STR };
static const char *const k_type_names[] = {"bool", "int", "enum", "string"};

/* The choice names of each option, NULL-terminated (just NULL when it is
 * not enumerated). */
#define HAK_CHOICE_NAME(id, name) name,
#define HAK_OPTION(id, env, type, choices, min, max, d0, d1, d2, d3, d4, rt, desc)                \
    static const char *const k_choices_##id[] = {choices(HAK_CHOICE_NAME) NULL};                  \
    _Static_assert(type != OT_ENUM || (min == 0 && max == OPT_##id##_CHOICES - 1),               \
                   env ": an enumeration's range is its choices");
#include "options.def"
#undef HAK_OPTION

_Static_assert(OPT_MODE_CHOICES == 5, "each option row has one default per mode");

typedef struct opt_def {
    const char *env;
    int type;
    const char *const *choices;
    int64_t min, max;
    int64_t def[OPT_MODE_CHOICES];
    bool runtime;
    const char *desc;
} opt_def_t;

static const opt_def_t k_opts[OPT_COUNT] = {
#define HAK_OPTION(id, env, type, choices, min, max, d0, d1, d2, d3, d4, rt, desc) \
    [OPT_##id] = {env, type, k_choices_##id, min, max, {d0, d1, d2, d3, d4}, rt, desc},
#include "options.def"
#undef HAK_OPTION
};

typedef struct class_knob_def {
    unsigned id; /* hak_class_knob_t */
    const char *name;
    int64_t min, max;
    const char *desc;
} class_knob_def_t;

static const class_knob_def_t k_class_knobs[HAK_CLASS_KNOBS] = {
#define HAK_CLASS_KNOB(id, name, min, max, desc) [id] = {id, name, min, max, desc},
#include "options.def"
#undef HAK_CLASS_KNOB
};

/* The pre-warm rows, for the table's export (heap/refill.c applies them). */
static const struct { uint32_t size, blocks; } k_prewarm[] = {
#define HAK_PREWARM_ROW(size, blocks) {size, blocks},
#include "options.def"
#undef HAK_PREWARM_ROW
};

_Atomic int64_t _hak_opt[OPT_COUNT];
#define OPT_TEXT_MAX 512 /* a text option (a path) as given, before "%p" is expanded */
static char g_strings[OPT_COUNT][OPT_TEXT_MAX];

const char *_hak_opt_str(hak_opt_id_t id) { return g_strings[id]; }

/* One rule for every option (README "Options"): a value is accepted only
 * as the table writes it. A boolean is 0 or 1; an integer is written in
 * decimal as hakmem prints it (digits, no leading zero, a '-' only where
 * the range goes below zero) within the range; an enumeration is one of
 * its names; a path is 1 to OPT_TEXT_MAX - 1 bytes. No spaces, '+', 0x,
 * units, yes/no/on/off or other spellings. */
static bool parse_int(const opt_def_t *d, const char *text, int64_t *out) {
    bool negative = text[0] == '-' && d->min < 0;
    const char *p = text + negative;
    if (p[0] == '\0' || (p[0] == '0' && (p[1] != '\0' || negative))) return false;
    int64_t v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9') return false;
        int digit = *p - '0';
        if (v > (INT64_MAX - digit) / 10) return false;
        v = v * 10 + digit;
    }
    if (negative) v = -v;
    if (v < d->min || v > d->max) return false;
    *out = v;
    return true;
}

/* Parses `text` for option `d`; false when it is not accepted. */
static bool parse(const opt_def_t *d, const char *text, int64_t *out) {
    if (d->type == OT_STR) return text[0] != '\0' && strlen(text) < OPT_TEXT_MAX;
    if (d->type == OT_ENUM) {
        for (int i = 0; d->choices[i] != NULL; i++) {
            if (strcmp(text, d->choices[i]) == 0) {
                *out = i;
                return true;
            }
        }
        return false;
    }
    return parse_int(d, text, out); /* a boolean is the integer 0 or 1 */
}

static void accepted(const opt_def_t *d, char *buf, size_t cap) {
    if (d->type == OT_ENUM) {
        size_t n = 0;
        for (int i = 0; d->choices[i] != NULL && n < cap; i++)
            n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? "|" : "", d->choices[i]);
    } else if (d->type == OT_BOOL) {
        snprintf(buf, cap, "0|1");
    } else if (d->type == OT_STR) {
        snprintf(buf, cap, "a path of 1 to %d bytes", OPT_TEXT_MAX - 1);
    } else {
        snprintf(buf, cap, "an integer from %lld to %lld in decimal digits", (long long)d->min,
                 (long long)d->max);
    }
}

static void format_value(const opt_def_t *d, int64_t v, char *buf, size_t cap) {
    if (d->type == OT_STR) snprintf(buf, cap, "(unset)");
    else if (d->type == OT_ENUM) snprintf(buf, cap, "%s", d->choices[v]);
    else snprintf(buf, cap, "%lld", (long long)v);
}

void _hak_options_init(void) {
    /* The mode first: it decides every other default. */
    int64_t mode = HAK_DEFAULT_MODE;
    for (int pass = 0; pass < 2; pass++) {
        for (int id = 0; id < OPT_COUNT; id++) {
            if ((pass == 0) != (id == OPT_MODE)) continue;
            const opt_def_t *d = &k_opts[id];
            int64_t v = d->def[mode];
            const char *text = getenv(d->env);
            if (text != NULL && !parse(d, text, &v)) {
                char acc[160], def[32];
                accepted(d, acc, sizeof(acc));
                format_value(d, d->def[mode], def, sizeof(def));
                /* quoted when the value has blanks a reader would not see */
                const char *q = text[0] == '\0' || strpbrk(text, " \t\n") ? "\"" : "";
                _hak_warn("warning: %s=%s%s%s is not accepted (accepted: %s); using default %s",
                          d->env, q, text, q, acc, def);
                v = d->def[mode];
            } else if (text != NULL && d->type == OT_STR) {
                snprintf(g_strings[id], sizeof(g_strings[id]), "%s", text);
            }
            hak_opt_store((hak_opt_id_t)id, v);
            if (id == OPT_MODE) mode = v;
        }
    }
#ifdef HAK_DEBUG
    /* The debug flavour always hardens. */
    const char *harden = getenv(k_opts[OPT_HARDEN].env);
    if (harden != NULL && strcmp(harden, "0") == 0)
        _hak_warn("warning: %s=%s has no effect in the debug build, which always hardens",
                  k_opts[OPT_HARDEN].env, harden);
    hak_opt_store(OPT_HARDEN, 1);
#endif
    /* Options that do nothing alone. */
    if (g_strings[OPT_ACE_TRACE][0] != '\0' && !hak_opt(OPT_ACE_ENABLED))
        _hak_warn("warning: %s=%s is set but ACE is off (%s=0, mode %s); no trace written",
                  k_opts[OPT_ACE_TRACE].env, g_strings[OPT_ACE_TRACE],
                  k_opts[OPT_ACE_ENABLED].env, k_choices_MODE[mode]);
}

int _hak_opt_find(const char *name) {
    if (name == NULL) return -1;
    for (int id = 0; id < OPT_COUNT; id++)
        if (strcmp(name, k_opts[id].env) == 0) return id;
    return -1;
}

const char *_hak_opt_env(hak_opt_id_t id) { return k_opts[id].env; }

bool _hak_opt_runtime(hak_opt_id_t id) { return k_opts[id].runtime; }

bool _hak_opt_in_range(hak_opt_id_t id, int64_t value) {
    return value >= k_opts[id].min && value <= k_opts[id].max;
}

bool _hak_class_knob_valid(unsigned knob) { return knob < HAK_CLASS_KNOBS; }

bool _hak_class_knob_in_range(unsigned knob, int64_t value) {
    return value >= k_class_knobs[knob].min && value <= k_class_knobs[knob].max;
}

const char *_hak_mode_name(void) { return k_choices_MODE[hak_opt(OPT_MODE)]; }

/* JSON string escape for free text (paths, descriptions). */
static size_t put_escaped(char *buf, size_t cap, size_t n, const char *s) {
    for (; *s; s++) {
        char c = *s;
        if (c == '"' || c == '\\') HAK_PUT("\\%c", c);
        else if ((unsigned char)c < 0x20) HAK_PUT("\\u%04x", c);
        else HAK_PUT("%c", c);
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

static size_t choices_json(const opt_def_t *d, char *buf, size_t cap, size_t n) {
    for (int i = 0; d->choices[i] != NULL; i++) HAK_PUT("%s\"%s\"", i ? "," : "", d->choices[i]);
    return n;
}

static size_t option_def_json(const opt_def_t *d, char *buf, size_t cap, size_t n) {
    HAK_PUT("{\"name\":\"%s\",\"type\":\"%s\",\"choices\":[", d->env, k_type_names[d->type]);
    n = choices_json(d, buf, cap, n);
    HAK_PUT("],\"min\":%lld,\"max\":%lld,\"defaults\":{", (long long)d->min, (long long)d->max);
    for (unsigned m = 0; m < OPT_MODE_CHOICES; m++) {
        if (d->type == OT_STR) HAK_PUT("%s\"%s\":\"\"", m ? "," : "", k_choices_MODE[m]);
        else HAK_PUT("%s\"%s\":%lld", m ? "," : "", k_choices_MODE[m], (long long)d->def[m]);
    }
    HAK_PUT("},\"runtime\":%s,\"description\":\"", d->runtime ? "true" : "false");
    n = put_escaped(buf, cap, n, d->desc);
    HAK_PUT("\"}");
    return n;
}

size_t _hak_options_table_json(char *buf, size_t cap) {
    size_t n = 0;
    HAK_PUT("{\"modes\":[");
    n = choices_json(&k_opts[OPT_MODE], buf, cap, n);
    HAK_PUT("],\"default_mode\":\"%s\",\"options\":[", k_choices_MODE[HAK_DEFAULT_MODE]);
    for (int id = 0; id < OPT_COUNT; id++) {
        HAK_PUT("%s", id ? "," : "");
        n = option_def_json(&k_opts[id], buf, cap, n);
    }
    HAK_PUT("],\"class_knobs\":[");
    for (unsigned k = 0; k < HAK_CLASS_KNOBS; k++) {
        const class_knob_def_t *c = &k_class_knobs[k];
        HAK_PUT("%s{\"id\":%u,\"name\":\"%s\",\"min\":%lld,\"max\":%lld,\"description\":\"",
                k ? "," : "", c->id, c->name, (long long)c->min, (long long)c->max);
        n = put_escaped(buf, cap, n, c->desc);
        HAK_PUT("\"}");
    }
    HAK_PUT("],\"prewarm\":[");
    for (unsigned i = 0; i < HAK_COUNT(k_prewarm); i++)
        HAK_PUT("%s{\"size\":%u,\"blocks\":%u}", i ? "," : "", k_prewarm[i].size,
                k_prewarm[i].blocks);
    HAK_PUT("]}");
    return n;
}
