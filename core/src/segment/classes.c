/* Size classes: tiny (<= 1 KiB) spaced 16 up to 128 then four per power of
 * two, mid (<= 64 KiB) four per power of two, so internal waste stays
 * <= 25 % and every power of two up to 64 KiB is a class (aligned
 * requests). Every class is a multiple of 16: C17 wants malloc(n) aligned
 * for any object of size <= n (e.g. __int128 in 24 B), and every free
 * block has room for its next pointer and its double-free mark. */
#include "segment.h"

uint32_t _hak_class_size[HAK_CLASSES] = {
    16,    32,    48,    64,    80,    96,    112,   128,   160,   192,   224,
    256,   320,   384,   448,   512,   640,   768,   896,   1024,  1280,  1536,  1792,
    2048,  2560,  3072,  3584,  4096,  5120,  6144,  7168,  8192,  10240, 12288, 14336,
    16384, 20480, 24576, 28672, 32768, 40960, 49152, 57344, 65536,
};
uint32_t _hak_class_stride[HAK_CLASSES];
uint8_t _hak_tiny_class[(HAK_TINY_MAX >> HAK_TINY_STEP_SHIFT) + 1];
uint8_t _hak_slab_units[HAK_SLAB_LEVELS][HAK_CLASSES];
uint32_t _hak_slab_blocks[HAK_SLAB_LEVELS][HAK_CLASSES];

/* Slabs of a class come in sizes: level 0 holds at least SLAB_MIN_BLOCKS
 * blocks (a sparse class keeps little memory in its slabs), each level up
 * doubles that, and the heap moves a class up while its slabs give out
 * few blocks per switch (heap/refill.c). A tiny class's single unit holds
 * 64 blocks or more already, so the levels change only the mid classes. */
#define SLAB_MIN_BLOCKS 8 /* blocks a level-0 slab holds at least */
#define SLAB_MAX_UNITS 8  /* 512 KiB: eight blocks of the largest class */

/* Blocks of a page or more that are a whole number of pages, or of a
 * quarter or half of one, start at one to four offsets into their pages:
 * their first lines, which programs touch most (headers), share a few sets
 * of the first-level cache, whose way covers a page on the cores we target.
 * Such a class's blocks lie CLASS_PAD bytes further apart than their size,
 * so each block of a slab starts at another offset (up to 32 a page), and
 * 128-byte alignment is kept. A loop over the first word of 64 live blocks
 * of 4-64 KiB: 10.3 ns an access, 2.3 padded (jemalloc 1.5). A slab whose
 * units its blocks filled holds one block less (fragment's peak RSS +3 %).
 * The powers of two up to ALIGNED_CLASS_MAX keep their size as stride: they
 * serve page-aligned requests (aligned_class in api/alloc.c), which larger
 * sizes take from spans. */
#define CLASS_PAD 128u
#define PAD_MIN_BYTES 4096u
#define ALIGNED_CLASS_MAX 8192u

static uint32_t class_stride(uint32_t size) {
    bool pow2 = (size & (size - 1)) == 0;
    if (size < PAD_MIN_BYTES || (pow2 && size <= ALIGNED_CLASS_MAX)) return size;
    return size + CLASS_PAD;
}

static unsigned class_units(unsigned cls, unsigned level) {
    size_t want = ((size_t)_hak_class_size[cls] * SLAB_MIN_BLOCKS) << level;
    unsigned units = (unsigned)((want + HAK_UNIT_SIZE - 1) >> HAK_UNIT_SHIFT);
    return units < 1 ? 1 : (units > SLAB_MAX_UNITS ? SLAB_MAX_UNITS : units);
}

void _hak_classes_init(void) {
    for (unsigned c = 0; c < HAK_CLASSES; c++)
        _hak_class_stride[c] = class_stride(_hak_class_size[c]);
    unsigned cls = 0;
    for (unsigned i = 0; i <= (HAK_TINY_MAX >> HAK_TINY_STEP_SHIFT); i++) {
        size_t size = (size_t)i << HAK_TINY_STEP_SHIFT;
        while (_hak_class_size[cls] < size) cls++;
        _hak_tiny_class[i] = (uint8_t)cls;
    }
    for (unsigned l = 0; l < HAK_SLAB_LEVELS; l++)
        for (unsigned c = 0; c < HAK_CLASSES; c++) {
            _hak_slab_units[l][c] = (uint8_t)class_units(c, l);
            _hak_slab_blocks[l][c] = (uint32_t)(((size_t)_hak_slab_units[l][c] << HAK_UNIT_SHIFT) /
                                                _hak_class_stride[c]);
        }
}
