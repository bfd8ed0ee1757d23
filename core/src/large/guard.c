/* Guarded blocks, hardened mode's (HAKMEM_HARDEN=1, the debug flavour).
 * Every block past the mid tier gets a mapping of its own: a header page,
 * the block's pages and a no-access guard page, the block placed so that
 * it ends where the guard page starts (as close as its alignment allows),
 * so a read or write past its end faults. Freed, its pages become
 * no-access, so a read or write after the free faults, and its address
 * range waits among the last GUARD_QUARANTINE freed ones; the header page
 * stays readable, so freeing it again is caught. The oldest range then
 * serves the next block of its size (no new mapping, and while the
 * waiting ranges keep their pages, no page faults either), or is
 * unmapped; decay gives back the pages of ranges waiting longer than its
 * delay. A 0-byte block (every build) is a unique pointer into a
 * no-access region: any access faults; a bitmap in the region's first
 * pages says which are live. One lock: a guarded block costs syscalls
 * anyway. */
#include "guard.h"

#include "block.h" /* hak_ms_now: decay's clock */

#include "segment/segment.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define GUARD_MAGIC ((uintptr_t)0x6472617567616b68ull) /* "hkaguard": a header */
/* Freed ranges wait (no-access) before they serve again: at most this many,
 * keeping their pages (not given back) up to GUARD_KEEP_BYTES in all, so
 * the next block of their size faults none in. */
#define GUARD_QUARANTINE 64
#define GUARD_KEEP_BYTES ((size_t)32 << 20)
#define ZERO_SLOT 16        /* 0-byte blocks are this far apart: aligned as malloc's results */
#define ZERO_SLOTS_MAX (HAK_CHUNK_SIZE / ZERO_SLOT)

enum guard_kind { G_BLOCK = 1, G_ZERO = 2 };
enum guard_state { G_LIVE = 1, G_FREED = 2 };

typedef struct guard_hdr {
    uintptr_t magic; /* GUARD_MAGIC ^ own address */
    uint32_t kind;   /* enum guard_kind */
    uint32_t state;  /* enum guard_state (blocks) */
    size_t len;      /* bytes mapped */
    uintptr_t user;  /* blocks: the block; 0-byte regions: the first slot */
    size_t usable;   /* blocks: bytes from the block to the guard page */
    uint32_t chunks; /* chunks marked in the page map */
    uint32_t kept;   /* freed: its pages are kept (no-access) */
    uint32_t freed_ms; /* freed: when (hak_ms_now), so decay gives back idle ones' pages */
    uint32_t slots, live, cursor; /* 0-byte regions: slots, live ones, where to look next */
    struct guard_hdr *next;       /* 0-byte regions: the list */
    uint64_t bits[];              /* 0-byte regions: a bit per live slot */
} guard_hdr_t;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static guard_hdr_t *g_freed[GUARD_QUARANTINE];
static unsigned g_freed_head, g_freed_count;
static size_t g_kept; /* bytes of pages the freed ranges keep */
static guard_hdr_t *g_zero;
static hak_tier_stats_t g_large, g_tiny;


/* A region's mapping; when the OS refuses, the caches (freed ranges
 * waiting here among them) are released and it is tried once more, unless
 * the caller holds the lock. */
static guard_hdr_t *map_region(size_t len, size_t align, uintptr_t *first_byte, bool locked) {
    size_t page = _hak_page_size;
    uint8_t *base;
    if (align <= HAK_CHUNK_SIZE) {
        base = locked ? _hak_os_map_aligned(len, HAK_CHUNK_SIZE)
                      : _hak_map_aligned(len, HAK_CHUNK_SIZE);
        *first_byte = base ? (uintptr_t)base + page : 0;
        return (guard_hdr_t *)base;
    }
    /* Larger alignments: the header one chunk before an aligned address
     * (the page map finds a region's start only so many chunks back). */
    if (align + len < len) return NULL;
    uint8_t *raw = locked ? _hak_os_map_aligned(align + len, align)
                          : _hak_map_aligned(align + len, align);
    if (raw == NULL) return NULL;
    base = raw + align - HAK_CHUNK_SIZE;
    _hak_os_unmap(raw, (size_t)(base - raw));
    _hak_os_unmap(base + len, HAK_CHUNK_SIZE);
    *first_byte = (uintptr_t)base + HAK_CHUNK_SIZE;
    return (guard_hdr_t *)base;
}

/* The block's place in a range of `len` bytes at h: ending where the
 * guard page starts, as close as the alignment allows. */
static void place(guard_hdr_t *h, size_t len, size_t usable, size_t align, uintptr_t first) {
    uintptr_t guard = (uintptr_t)h + len - _hak_page_size;
    uintptr_t user = hak_align_down(guard - usable, align);
    if (user < first) user = first; /* aligned past a chunk: ends within a page of the guard */
    h->user = user;
    h->usable = guard - user;
    h->state = G_LIVE;
}

/* When the quarantine has no room for another range, one of its oldest
 * GUARD_REUSE_OLDEST with the length wanted: taken out (the oldest takes
 * its place), its pages accessible again. Lock held. */
#define GUARD_REUSE_OLDEST 8
static guard_hdr_t *reuse(size_t len, size_t align) {
    if (g_freed_count == 0 || align > _hak_page_size) return NULL;
    if (g_freed_count < GUARD_QUARANTINE && g_kept + len <= GUARD_KEEP_BYTES) return NULL;
    for (unsigned k = 0; k < g_freed_count && k < GUARD_REUSE_OLDEST; k++) {
        unsigned at = (g_freed_head + k) % GUARD_QUARANTINE;
        guard_hdr_t *h = g_freed[at];
        if (h->len != len) continue;
        size_t page = _hak_page_size;
        if (!_hak_os_protect((uint8_t *)h + page, len - 2 * page, true)) return NULL;
        g_freed[at] = g_freed[g_freed_head];
        g_freed_head = (g_freed_head + 1) % GUARD_QUARANTINE;
        g_freed_count--;
        if (h->kept) g_kept -= len;
        return h;
    }
    return NULL;
}

void *_hak_guard_alloc(size_t size, size_t align, bool zero) {
    size_t page = _hak_page_size;
    if (align < ZERO_SLOT) align = ZERO_SLOT;
    if (size > HAK_MAP_MAX || align > HAK_MAP_MAX) {
        errno = ENOMEM;
        return NULL;
    }
    size_t usable = hak_align_up(size ? size : 1, ZERO_SLOT);
    /* header page, the block's pages (and room to align it), guard page */
    size_t slack = align > page && align <= HAK_CHUNK_SIZE ? align : 0;
    size_t head = align <= HAK_CHUNK_SIZE ? page : HAK_CHUNK_SIZE;
    size_t len = head + hak_align_up(usable, page) + slack + page;
    guard_hdr_t *h = NULL;
    bool dirty = false;
    HAK_LOCKED(&g_lock) {
        h = reuse(len, align);
        dirty = h != NULL && h->kept;
        if (h != NULL) {
            place(h, len, usable, align, (uintptr_t)h + page);
            g_large.hits++;
            g_large.allocs++;
            g_large.bytes_in_use += h->usable;
        }
    }
    if (h != NULL) {
        /* kept pages hold the old block: zeroed out of the lock */
        if (zero && dirty) memset((void *)h->user, 0, size);
        return (void *)h->user;
    }
    uintptr_t first;
    h = map_region(len, align, &first, false);
    if (h == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    uint32_t chunks = (uint32_t)((len + HAK_CHUNK_SIZE - 1) >> HAK_CHUNK_SHIFT);
    if (!_hak_os_noaccess((uint8_t *)h + len - page, page) ||
        !_hak_pagemap_set((uintptr_t)h, chunks, PM_GUARD)) {
        _hak_os_unmap(h, len);
        errno = ENOMEM;
        return NULL;
    }
    h->magic = GUARD_MAGIC ^ (uintptr_t)h;
    h->kind = G_BLOCK;
    h->len = len;
    h->chunks = chunks;
    place(h, len, usable, align, first);
    HAK_LOCKED(&g_lock) {
        g_large.allocs++;
        g_large.misses++;
        g_large.bytes_in_use += h->usable;
        g_large.bytes_reserved += len;
    }
    return (void *)h->user; /* fresh pages: zeroed */
}

/* The header of a guarded region holding p, or a failure naming `call`. */
static guard_hdr_t *header_of(const void *p, const char *call) {
    uintptr_t a = (uintptr_t)p;
    unsigned pm = hak_pagemap_get(a);
    guard_hdr_t *h = (guard_hdr_t *)hak_region_base(a, pm);
    if (hak_pm_kind(pm) != PM_GUARD || h->magic != (GUARD_MAGIC ^ (uintptr_t)h)) {
        char what[96];
        snprintf(what, sizeof(what), "%s of a pointer hakmem did not allocate", call);
        _hak_fail(what, p);
    }
    return h;
}

static void fail(const char *call, const char *problem, const void *p) {
    char what[128];
    snprintf(what, sizeof(what), "%s of %s", call, problem);
    _hak_fail(what, p);
}

/* The slot of a 0-byte block, checked: a live one. */
static uint32_t zero_slot(const guard_hdr_t *z, const void *p, const char *call, bool freeing) {
    uintptr_t off = (uintptr_t)p - z->user;
    if ((uintptr_t)p < z->user || off % ZERO_SLOT != 0 || off / ZERO_SLOT >= z->slots)
        fail(call, "an interior or invalid pointer (0-byte block)", p);
    uint32_t i = (uint32_t)(off / ZERO_SLOT);
    if (!hak_bit_get(z->bits, i)) {
        if (freeing) _hak_fail("double free (0-byte block)", p);
        fail(call, "a freed block (0-byte block)", p);
    }
    return i;
}

static guard_hdr_t *zero_region(void) {
    size_t page = _hak_page_size;
    size_t head = hak_align_up(sizeof(guard_hdr_t) + ZERO_SLOTS_MAX / 8, page);
    uintptr_t first;
    guard_hdr_t *z = map_region(HAK_CHUNK_SIZE, HAK_CHUNK_SIZE, &first, true);
    if (z == NULL) return NULL;
    if (!_hak_os_noaccess((uint8_t *)z + head, HAK_CHUNK_SIZE - head) ||
        !_hak_pagemap_set((uintptr_t)z, 1, PM_GUARD)) {
        _hak_os_unmap(z, HAK_CHUNK_SIZE);
        return NULL;
    }
    z->magic = GUARD_MAGIC ^ (uintptr_t)z;
    z->kind = G_ZERO;
    z->len = HAK_CHUNK_SIZE;
    z->user = (uintptr_t)z + head;
    z->chunks = 1;
    z->slots = (uint32_t)((HAK_CHUNK_SIZE - head) / ZERO_SLOT);
    z->next = g_zero;
    g_zero = z;
    g_tiny.bytes_reserved += HAK_CHUNK_SIZE;
    return z;
}

void *_hak_guard_zero_alloc(void) {
    guard_hdr_t *z = NULL;
    uint32_t i = 0;
    HAK_LOCKED(&g_lock) {
        z = g_zero;
        while (z != NULL && z->live == z->slots) z = z->next;
        if (z == NULL && (z = zero_region()) == NULL) break;
        i = z->cursor;
        while (hak_bit_get(z->bits, i)) i = i + 1 < z->slots ? i + 1 : 0;
        hak_bit_set(z->bits, i);
        z->live++;
        z->cursor = i + 1 < z->slots ? i + 1 : 0;
        g_tiny.allocs++;
        g_tiny.misses++;
    }
    if (z == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    return (void *)(z->user + (uintptr_t)i * ZERO_SLOT);
}

static void unmap(guard_hdr_t *h) {
    g_large.bytes_reserved -= h->len;
    _hak_pagemap_clear((uintptr_t)h, h->chunks);
    _hak_os_unmap(h, h->len);
}

void _hak_guard_free(void *p) {
    HAK_LOCKED(&g_lock) {
        guard_hdr_t *h = header_of(p, "free");
        if (h->kind == G_ZERO) {
            uint32_t i = zero_slot(h, p, "free", true);
            hak_bit_clear(h->bits, i);
            h->live--;
            g_tiny.frees++;
            break;
        }
        if ((uintptr_t)p != h->user)
            fail("free", "an interior or invalid pointer (guarded block)", p);
        if (h->state != G_LIVE) _hak_fail("double free (guarded block)", p);
        h->state = G_FREED;
        g_large.frees++;
        g_large.bytes_in_use -= h->usable;
        size_t page = _hak_page_size;
        /* no access to its pages, kept unless it is bigger than all may keep */
        h->kept = h->len <= GUARD_KEEP_BYTES;
        uint8_t *data = (uint8_t *)h + page;
        bool done = h->kept ? _hak_os_protect(data, h->len - 2 * page, false)
                            : _hak_os_noaccess(data, h->len - 2 * page);
        if (!done) {
            unmap(h); /* the OS refused: unmapped at once (a second free: not ours) */
            break;
        }
        if (h->kept) g_kept += h->len;
        h->freed_ms = hak_ms_now();
        while (g_freed_count == GUARD_QUARANTINE ||
               (g_freed_count != 0 && g_kept > GUARD_KEEP_BYTES)) {
            guard_hdr_t *old = g_freed[g_freed_head];
            if (old->kept) g_kept -= old->len;
            unmap(old);
            g_freed_head = (g_freed_head + 1) % GUARD_QUARANTINE;
            g_freed_count--;
        }
        g_freed[(g_freed_head + g_freed_count) % GUARD_QUARANTINE] = h;
        g_freed_count++;
    }
}

size_t _hak_guard_trim(void) {
    size_t bytes = 0;
    HAK_LOCKED(&g_lock) {
        for (; g_freed_count != 0; g_freed_count--) {
            bytes += g_freed[g_freed_head]->len;
            if (g_freed[g_freed_head]->kept) g_kept -= g_freed[g_freed_head]->len;
            unmap(g_freed[g_freed_head]);
            g_freed_head = (g_freed_head + 1) % GUARD_QUARANTINE;
        }
    }
    return bytes;
}

size_t _hak_guard_decay(uint32_t now_ms, uint32_t delay_ms) {
    size_t bytes = 0, page = _hak_page_size;
    HAK_LOCKED(&g_lock) {
        for (unsigned k = 0; k < g_freed_count; k++) {
            guard_hdr_t *h = g_freed[(g_freed_head + k) % GUARD_QUARANTINE];
            if (!h->kept || (uint32_t)(now_ms - h->freed_ms) < delay_ms) continue;
            /* a fresh no-access mapping over the data pages drops them */
            if (!_hak_os_noaccess((uint8_t *)h + page, h->len - 2 * page)) continue;
            h->kept = 0;
            g_kept -= h->len;
            bytes += h->len - 2 * page;
        }
    }
    return bytes;
}

size_t _hak_guard_usable(const void *p, const char *call) {
    size_t usable = 0;
    HAK_LOCKED(&g_lock) {
        guard_hdr_t *h = header_of(p, call);
        if (h->kind == G_ZERO) {
            zero_slot(h, p, call, false);
        } else {
            if ((uintptr_t)p != h->user)
                fail(call, "an interior or invalid pointer (guarded block)", p);
            if (h->state != G_LIVE) fail(call, "a freed block (guarded block)", p);
            usable = h->usable;
        }
    }
    return usable;
}

void _hak_guard_stats(hak_tier_stats_t *tiny, hak_tier_stats_t *large) {
    HAK_LOCKED(&g_lock) {
        hak_tier_stats_t *mine[2] = {&g_tiny, &g_large}, *out[2] = {tiny, large};
        for (int i = 0; i < 2; i++) {
            out[i]->allocs += mine[i]->allocs;
            out[i]->frees += mine[i]->frees;
            out[i]->misses += mine[i]->misses;
            out[i]->bytes_in_use += mine[i]->bytes_in_use;
            out[i]->bytes_reserved += mine[i]->bytes_reserved;
        }
    }
}

void _hak_guard_lock(void) { pthread_mutex_lock(&g_lock); }
void _hak_guard_unlock(void) { hak_unlock(&g_lock); }
