/* Hardened mode's small blocks (HAKMEM_HARDEN=1; always in the debug
 * flavour). No slab carries its thread's pointer and malloc's fast path
 * sees no current slab, so every small block comes and goes here:
 *  - handed out: its filling is checked (a write after its free stops the
 *    process), its first words cleared, a canary written in its last 8
 *    bytes (hak_canary_room);
 *  - freed: the canary checked (an overflow past the block stops the
 *    process), the block filled (zeros in release, HAK_POISON in debug)
 *    and marked free, then held in the thread's quarantine while the
 *    oldest held block is really freed — a block is not handed out again
 *    soon after its free, so a write after the free lands in a block
 *    nobody uses and is found when it is. */
#include "heap_internal.h"

#include <stdio.h>

/* Freed blocks a thread holds back: at most this many, and this many
 * bytes. */
#define QUARANTINE_SLOTS 256
#define QUARANTINE_BYTES ((uint64_t)2 << 20)

typedef struct hak_quarantine {
    uint32_t head, count; /* a ring, the oldest at head */
    uint64_t bytes;
    hak_block_t *slot[QUARANTINE_SLOTS];
} hak_quarantine_t;

static void block_fail(const char *problem, const hak_slab_t *s, const void *b) {
    char what[160];
    snprintf(what, sizeof(what), "%s (class %u, %u-byte blocks)", problem, (unsigned)s->cls,
             (unsigned)s->bsize);
    _hak_fail(what, b);
}

void _hak_harden_fill(hak_block_t *b, uint32_t bsize) {
    uint64_t *w = (uint64_t *)b, fill = hak_fill_word();
    for (uint32_t i = 2; i < bsize / sizeof(uint64_t); i++) w[i] = fill;
}

void *_hak_harden_alloc(unsigned cls) {
    hak_block_t *b = _hak_class_alloc(cls);
    if (b == NULL) return NULL;
    const hak_slab_t *s = hak_slab_head_at((uintptr_t)b);
    const uint64_t *w = (const uint64_t *)b;
    uint64_t fill = hak_fill_word(), diff = 0;
    for (uint32_t i = 2; i < s->bsize / sizeof(uint64_t); i++) diff |= w[i] ^ fill;
    if (diff != 0) block_fail("a block was written after its free", s, b);
    b->link = 0;
    if (s->usable != s->bsize) *(uint64_t *)((uint8_t *)b + s->usable) = hak_canary_of(b);
    return b;
}

/* The oldest held block is freed for good. */
static void release_oldest(hak_heap_t *h, hak_quarantine_t *q) {
    hak_block_t *b = q->slot[q->head];
    q->head = (q->head + 1) % QUARANTINE_SLOTS;
    q->count--;
    hak_slab_t *s = hak_slab_head_at((uintptr_t)b);
    q->bytes -= s->bsize;
    hak_ctr_add(&h->ctr.held[s->cls], (uint64_t)-1);
    /* held, a block keeps the first words its free gave it */
    if (!hak_is_marked_free(b) || b->link != 0)
        block_fail("a block was written after its free", s, b);
    _hak_free_marked(b, s);
}

void _hak_harden_free(hak_block_t *b, hak_slab_t *s) {
    if (s->usable != s->bsize && *(const uint64_t *)((const uint8_t *)b + s->usable) != hak_canary_of(b))
        block_fail("heap overflow: the canary after a block was overwritten", s, b);
    _hak_harden_fill(b, s->bsize);
    b->link = 0;
    hak_mark_free(b);
    hak_heap_t *h = _hak_tl_heap;
    hak_quarantine_t *q = hak_heap_owned(h) ? h->quarantine : NULL;
    if (q == NULL && hak_heap_owned(h))
        q = h->quarantine = _hak_os_meta_alloc(sizeof(hak_quarantine_t));
    if (q == NULL) { /* a thread without a heap holds nothing back */
        _hak_free_marked(b, s);
        return;
    }
    while (q->count == QUARANTINE_SLOTS || (q->count != 0 && q->bytes + s->bsize > QUARANTINE_BYTES))
        release_oldest(h, q);
    q->slot[(q->head + q->count) % QUARANTINE_SLOTS] = b;
    q->count++;
    q->bytes += s->bsize;
    hak_ctr_inc(&h->ctr.held[s->cls]);
}

void _hak_quarantine_flush(hak_heap_t *h) {
    hak_quarantine_t *q = h->quarantine;
    while (q != NULL && q->count != 0) release_oldest(h, q);
}
