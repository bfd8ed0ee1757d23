/* Size classes: tiny (<= 1 KiB) spaced 16 up to 128 then four per power of
 * two, mid (<= 64 KiB) four per power of two, so internal waste stays
 * <= 25 % and every power of two up to 64 KiB is a class (aligned
 * requests). Every class is a multiple of 16: C17 wants malloc(n) aligned
 * for any object of size <= n (e.g. __int128 in 24 B), and every free
 * block has room for its next pointer and its double-free mark. */
#include "internal.h"

uint32_t _hak_class_size[HAK_CLASSES] = {
    16,    32,    48,    64,    80,    96,    112,   128,   160,   192,   224,
    256,   320,   384,   448,   512,   640,   768,   896,   1024,  1280,  1536,  1792,
    2048,  2560,  3072,  3584,  4096,  5120,  6144,  7168,  8192,  10240, 12288, 14336,
    16384, 20480, 24576, 28672, 32768, 40960, 49152, 57344, 65536,
};
uint8_t _hak_tiny_class[(HAK_TINY_MAX >> 3) + 1];

void _hak_classes_init(void) {
    unsigned cls = 0;
    for (unsigned i = 0; i <= (HAK_TINY_MAX >> 3); i++) {
        size_t size = (size_t)i << 3;
        while (_hak_class_size[cls] < size) cls++;
        _hak_tiny_class[i] = (uint8_t)cls;
    }
}

/* Units (64 KiB) per slab: at least eight blocks for mid classes. */
unsigned _hak_class_units(unsigned cls) {
    size_t want = (size_t)_hak_class_size[cls] * 8;
    unsigned units = (unsigned)((want + HAK_UNIT_SIZE - 1) >> HAK_UNIT_SHIFT);
    return units < 1 ? 1 : (units > 8 ? 8 : units);
}

unsigned hak_class_count(void) { return HAK_CLASSES; }

size_t hak_class_size(unsigned cls) { return cls < HAK_CLASSES ? _hak_class_size[cls] : 0; }

int hak_class_of(size_t size) {
    hak_ensure_init();
    return size <= HAK_MID_MAX ? (int)hak_size_class(size) : -1;
}

size_t hak_tiny_max(void) { return HAK_TINY_MAX; }
size_t hak_mid_max(void) { return HAK_MID_MAX; }
