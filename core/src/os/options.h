/* The options (options.def): read once from the environment at start-up
 * (options.c); every layer reads them with hak_opt, and the runtime knobs
 * among them change while the program runs (hak_option_set, ACE). */
#ifndef HAKMEM_OPTIONS_H
#define HAKMEM_OPTIONS_H

#include "base.h"

typedef enum hak_opt_id {
#define HAK_OPTION(id, env, type, choices, min, max, d_min, d_fast, d_bal, d_learn, d_res, rt, desc) \
    OPT_##id,
#include "options.def"
#undef HAK_OPTION
    OPT_COUNT
} hak_opt_id_t;

/* Each option's choices as an enumeration (MODE_BALANCED, THP_OFF, ...)
 * ending with OPT_<id>_CHOICES, how many there are (0: not enumerated). */
#define HAK_CHOICE_ENUMERATOR(id, name) id,
#define HAK_OPTION(id, env, type, choices, min, max, d_min, d_fast, d_bal, d_learn, d_res, rt, desc) \
    enum { choices(HAK_CHOICE_ENUMERATOR) OPT_##id##_CHOICES };
#include "options.def"
#undef HAK_OPTION

enum {
    HAK_CLASS_KNOBS = 0 /* per-class knobs (hak_class_knob_t) */
#define HAK_CLASS_KNOB(id, name, min, max, desc) +1
#include "options.def"
#undef HAK_CLASS_KNOB
};

extern _Atomic int64_t _hak_opt[OPT_COUNT];

HAK_INLINE int64_t hak_opt(hak_opt_id_t id) {
    return atomic_load_explicit(&_hak_opt[id], memory_order_relaxed);
}

/* A runtime knob's new value (hak_option_set, ACE): a relaxed store that
 * threads pick up on their next slow path. */
HAK_INLINE void hak_opt_store(hak_opt_id_t id, int64_t value) {
    atomic_store_explicit(&_hak_opt[id], value, memory_order_relaxed);
}

/* HAKMEM_HARDEN: the protections too dear for release (the debug flavour
 * always has them). Read on slow paths only: in hardened mode the fast
 * paths find nothing to hand out and no block of their own to free, so
 * every small block takes the hardened path. */
HAK_INLINE bool hak_hardened(void) {
#ifdef HAK_DEBUG
    return true;
#else
    return hak_opt(OPT_HARDEN) != 0;
#endif
}

void _hak_options_init(void);
const char *_hak_opt_str(hak_opt_id_t id); /* text options: "" when unset */
const char *_hak_mode_name(void);
/* The option named by its environment variable, or -1. */
int _hak_opt_find(const char *name);
const char *_hak_opt_env(hak_opt_id_t id); /* its environment variable */
bool _hak_opt_runtime(hak_opt_id_t id);
bool _hak_opt_in_range(hak_opt_id_t id, int64_t value);
bool _hak_class_knob_valid(unsigned knob);
bool _hak_class_knob_in_range(unsigned knob, int64_t value);
size_t _hak_options_json(char *buf, size_t cap);       /* the values in force */
size_t _hak_options_table_json(char *buf, size_t cap); /* the table itself */

#endif
