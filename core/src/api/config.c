/* Configuration calls of hakmem.h: options by name, the per-class knobs,
 * the mode and version, the configuration and the options table as JSON,
 * and the size classes. The table itself is os/options.def. */
#include "api.h"

#include <errno.h>

int hak_option_get(const char *name, int64_t *value) {
    hak_ensure_init();
    int id = _hak_opt_find(name);
    if (id < 0 || value == NULL) {
        errno = ENOENT;
        return -1;
    }
    *value = hak_opt((hak_opt_id_t)id);
    return 0;
}

int hak_option_set(const char *name, int64_t value) {
    hak_ensure_init();
    int id = _hak_opt_find(name);
    if (id < 0) {
        errno = ENOENT;
        return -1;
    }
    if (!_hak_opt_runtime((hak_opt_id_t)id)) {
        errno = EPERM;
        return -1;
    }
    if (!_hak_opt_in_range((hak_opt_id_t)id, value)) {
        errno = ERANGE;
        return -1;
    }
    hak_opt_store((hak_opt_id_t)id, value);
    if (id == OPT_TCACHE_CAP) _hak_class_knobs_derive();
    return 0;
}

static _Atomic uint32_t *knob_slot(hak_class_knob_t knob, unsigned cls) {
    return knob == HAK_KNOB_TCACHE_CAP ? &_hak_tcache_cap[cls] : &_hak_prewarm[cls];
}

int hak_class_knob_set(hak_class_knob_t knob, unsigned cls, int64_t value) {
    hak_ensure_init();
    if (cls >= HAK_CLASSES || !_hak_class_knob_valid(knob)) {
        errno = EINVAL;
        return -1;
    }
    if (!_hak_class_knob_in_range(knob, value)) {
        errno = ERANGE;
        return -1;
    }
    atomic_store_explicit(knob_slot(knob, cls), (uint32_t)value, memory_order_relaxed);
    return 0;
}

int64_t hak_class_knob_get(hak_class_knob_t knob, unsigned cls) {
    hak_ensure_init();
    if (cls >= HAK_CLASSES || !_hak_class_knob_valid(knob)) {
        errno = EINVAL;
        return -1;
    }
    return atomic_load_explicit(knob_slot(knob, cls), memory_order_relaxed);
}

const char *hak_mode(void) {
    hak_ensure_init();
    return _hak_mode_name();
}

#define HAK_STR_(x) #x
#define HAK_STR(x) HAK_STR_(x)
/* The version comes from the public header, the one source of it. */
const char *hak_version(void) {
    return HAK_STR(HAKMEM_VERSION_MAJOR) "." HAK_STR(HAKMEM_VERSION_MINOR) "." HAK_STR(
        HAKMEM_VERSION_PATCH) " " HAK_FLAVOUR;
}

size_t hak_config_json(char *buf, size_t cap) {
    hak_ensure_init();
    return hak_text_done(buf, cap, _hak_options_json(buf, cap));
}

size_t hak_options_table_json(char *buf, size_t cap) {
    return hak_text_done(buf, cap, _hak_options_table_json(buf, cap));
}

unsigned hak_class_count(void) { return HAK_CLASSES; }

size_t hak_class_size(unsigned cls) { return cls < HAK_CLASSES ? _hak_class_size[cls] : 0; }

int hak_class_of(size_t size) {
    hak_ensure_init();
    return size <= HAK_MID_MAX ? (int)hak_class_for(size) : -1;
}

size_t hak_tiny_max(void) { return HAK_TINY_MAX; }
size_t hak_mid_max(void) { return HAK_MID_MAX; }
