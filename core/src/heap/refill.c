/* The slow path of malloc — the current slab of the class ran dry: its
 * local frees, its released pages or uncarved blocks refill it, else the
 * next slab with blocks takes its place (queued, then an empty one kept,
 * then a new one) — the slab events of free, and the per-class knobs. */
#include "heap_internal.h"

#include <errno.h>
#include <string.h>

_Atomic uint32_t _hak_tcache_cap[HAK_CLASSES];
_Atomic uint32_t _hak_prewarm[HAK_CLASSES];
/* Of the spans' class, whose hot stack is always empty: a tiny malloc pops
 * the hot stack of its slab's class, and a class without a current slab
 * must not pop another's. */
hak_slab_t _hak_no_slab = {.cls = HAK_SPAN_CLASS};
/* Direct slots [lo, hi] of each tiny class: sizes (k - 1) * 16 + 1 .. k * 16. */
static uint8_t g_direct_lo[HAK_TINY_CLASSES], g_direct_hi[HAK_TINY_CLASSES];

uint32_t _hak_class_cap_limit(unsigned cls) {
    uint32_t limit = (uint32_t)(HAK_CLASS_CACHE_BYTES / _hak_class_size[cls]);
    return limit < HAK_CLASS_CACHE_MIN ? HAK_CLASS_CACHE_MIN : limit;
}

void _hak_class_knobs_derive(void) {
    uint32_t cap = hak_opt(OPT_TCACHE) ? (uint32_t)hak_opt(OPT_TCACHE_CAP) : 0;
    for (unsigned c = 0; c < HAK_CLASSES; c++) {
        uint32_t limit = _hak_class_cap_limit(c);
        atomic_store_explicit(&_hak_tcache_cap[c], cap < limit ? cap : limit,
                              memory_order_relaxed);
    }
#define HAK_PREWARM_ROW(size, blocks) \
    atomic_store_explicit(&_hak_prewarm[hak_class_for(size)], blocks, memory_order_relaxed);
#include "os/options.def"
#undef HAK_PREWARM_ROW
}

/* Room on each class's hot stack: at first, and at most (0: spans, which
 * have none). */
static uint8_t g_hot_first[HAK_CLASSES + 1], g_hot_max[HAK_CLASSES + 1];

static uint8_t hot_room_for(unsigned cls, uint32_t depth, uint32_t bytes) {
    uint32_t n = bytes / _hak_class_size[cls];
    return (uint8_t)(n < depth ? n : depth);
}

/* Slot 0 (malloc(0)) never shows a slab: 0-byte blocks are the API's, in
 * a no-access region. */
void _hak_refill_init(void) {
    for (unsigned k = 1; k < HAK_DIRECT_SLOTS; k++) {
        unsigned cls = hak_size_class((size_t)k << 4);
        if (g_direct_hi[cls] == 0) g_direct_lo[cls] = (uint8_t)k;
        g_direct_hi[cls] = (uint8_t)k;
    }
    for (unsigned cls = 0; cls < HAK_CLASSES; cls++) {
        g_hot_first[cls] = hot_room_for(cls, HAK_HOT_DEPTH, HAK_HOT_CLASS_BYTES);
        g_hot_max[cls] = hot_room_for(cls, HAK_HOT_MAX_DEPTH, HAK_HOT_MAX_CLASS_BYTES);
    }
}

/* ---- the hot stacks' room ---- */

/* The grown room of every heap together: many threads that churned mid
 * blocks and then wait hold at most this beyond their first room, as
 * tcmalloc bounds its thread caches together (32 MiB by default). */
_Atomic uint64_t _hak_hot_grown_all;

/* A heap's stacks get their first room back (a new heap, one whose thread
 * exited, a dead one in a forked child: its stacks are empty or unused). */
void _hak_hot_reset(hak_heap_t *h) {
    memcpy(h->hot_room, g_hot_first, sizeof(h->hot_room));
    memset(h->hot_full, 0, sizeof(h->hot_full));
    for (unsigned c = 0; c < HAK_CLASSES; c++) h->hot_pops_seen[c] = (uint32_t)h->hot_pops[c];
    atomic_fetch_sub_explicit(&_hak_hot_grown_all, h->hot_grown, memory_order_relaxed);
    h->hot_grown = 0;
}

/* Frees found the stack full as often as it has room: a class that churns
 * more blocks than the room among slabs that are not current. Its room
 * doubles when malloc took as many blocks from it meanwhile (it is a
 * working set, not a burst of frees that nothing will take again) and the
 * grown room stays within HAK_HOT_GROWN_BYTES for the heap and
 * HAK_HOT_GROWN_ALL_BYTES for all. The owner only. */
static void hot_grow(hak_heap_t *h, unsigned cls) {
    uint32_t room = h->hot_room[cls], want = room * 2, pops = (uint32_t)h->hot_pops[cls];
    h->hot_full[cls] = 1; /* found full since the last pass; counting on */
    if (want > g_hot_max[cls]) want = g_hot_max[cls];
    uint32_t more = (want - room) * _hak_class_size[cls];
    if (want <= room || pops - h->hot_pops_seen[cls] < room ||
        h->hot_grown + more > HAK_HOT_GROWN_BYTES)
        return;
    if (atomic_fetch_add_explicit(&_hak_hot_grown_all, more, memory_order_relaxed) + more >
        HAK_HOT_GROWN_ALL_BYTES) {
        atomic_fetch_sub_explicit(&_hak_hot_grown_all, more, memory_order_relaxed);
        return;
    }
    h->hot_room[cls] = (uint8_t)want;
    h->hot_grown += more;
    h->hot_pops_seen[cls] = pops;
}

void _hak_hot_full(hak_slab_t *s, hak_block_t *b, uint32_t i, uintptr_t mark) {
    hot_grow(s->heap, s->cls);
    hak_slab_free_local(s, b, i, mark);
}

/* ---- a slab's lists of free blocks ---- */

/* A link past the carved blocks (or a list longer than them: a cycle)
 * means a freed block was written after its free: the process stops,
 * naming the class and the block. */
void _hak_list_corrupt(const hak_slab_t *s, const void *holder) {
    char what[112];
    snprintf(what, sizeof(what),
             "free list of class %u (%u-byte blocks) corrupt: a block was written after its free",
             (unsigned)s->cls, (unsigned)s->bsize);
    _hak_fail(what, holder);
}

bool _hak_list_bits(const hak_slab_t *s, uint64_t *bits, uint32_t *bad) {
    uint32_t carved = s->carved;
    memset(bits, 0, ((carved + 63) / 64) * sizeof(uint64_t));
    for (uint32_t i = s->free, prev = HAK_NO_BLOCK; i != HAK_NO_BLOCK;) {
        if (i >= carved || hak_bit_get(bits, i)) {
            *bad = prev;
            return false;
        }
        hak_bit_set(bits, i);
        prev = i;
        i = hak_link_get(hak_block_at(s, i));
    }
    return true;
}

uint32_t _hak_list_length(const hak_slab_t *s, uint32_t head) {
    uint32_t n = 0, carved = s->carved;
    for (uint32_t i = head; i != HAK_NO_BLOCK; n++) {
        hak_block_t *b = hak_block_at(s, i);
        if (i >= carved || n >= carved) _hak_list_corrupt(s, n ? b : (void *)s->start);
        i = hak_link_get(b);
    }
    return n;
}

/* malloc's list starts past the carved blocks and is not the end: the
 * link of the block handed out last decoded to that index. That block is
 * named when its link still says so. */
static void head_corrupt(const hak_slab_t *s) {
    for (uint32_t i = 0; i < s->carved; i++) {
        hak_block_t *b = hak_block_at(s, i);
        if (!hak_is_marked_free(b) && hak_link_get(b) == s->free) _hak_list_corrupt(s, b);
    }
    _hak_list_corrupt(s, (void *)s->start);
}

/* ---- a heap's lists of slabs (its lock held, or the registry lock for an unowned heap) ---- */

void _hak_list_push(hak_slab_t **head, hak_slab_t *s) {
    HAK_DLIST_PUSH(*head, s, prev, next);
}

void _hak_list_remove(hak_slab_t **head, hak_slab_t *s) {
    HAK_DLIST_REMOVE(*head, s, prev, next);
    s->next = s->prev = NULL;
}

/* A queued slab is dated by the next decay pass that sees it (stamp 0), or
 * for a drain of other threads' frees when they were sent: a slab goes
 * back to its queue on every few frees of a churning class, which need
 * not read the clock. */
void _hak_slab_queue(hak_heap_t *h, hak_slab_t *s) {
    _hak_list_push(&h->queue[s->cls], s);
    s->list = SLAB_IN_QUEUE;
    s->settled = 0;
    s->stamp = h->drain_since;
}

/* The most empty slabs a class keeps beyond its cap's: as many as its
 * limit holds of the smallest slabs. */
#define KEEP_MAX ((uint32_t)(HAK_CLASS_CACHE_BYTES >> HAK_UNIT_SHIFT))

/* Empty slabs a class keeps: HAKMEM_TCACHE_CAP blocks' worth (the
 * per-class knob ACE tunes), rounded up to whole slabs, plus those its
 * bursts showed it takes back (sizing.keep), up to the class's limit
 * (HAK_CLASS_CACHE_BYTES). A cap of 0 keeps none. */
static uint32_t retain_limit(const hak_heap_t *h, const hak_slab_t *s) {
    uint64_t cap = atomic_load_explicit(&_hak_tcache_cap[s->cls], memory_order_relaxed);
    if (cap == 0) return 0;
    uint64_t slab_bytes = (uint64_t)s->span << HAK_UNIT_SHIFT;
    uint64_t base = (cap * s->bsize + slab_bytes - 1) / slab_bytes;
    uint64_t most = (uint64_t)_hak_class_cap_limit(s->cls) * s->bsize; /* >= the cap's */
    most = (most + slab_bytes - 1) / slab_bytes;
    uint64_t n = base + h->sizing[s->cls].keep;
    return (uint32_t)(n < most ? n : most);
}

void _hak_kept_remove(hak_heap_t *h, hak_slab_t *s) {
    if (s->cls == HAK_SPAN_CLASS) {
        _hak_list_remove(&h->span_empty, s);
        h->span_empty_units -= s->span;
    } else {
        _hak_list_remove(&h->empty[s->cls], s);
        h->empty_count[s->cls]--;
    }
    s->list = SLAB_IN_NONE;
}

/* The empty slab a class keeps to give its units to a new slab of `units`:
 * the one idle longest of those at least that big (its units make the run
 * at once), else the one idle longest; NULL when the classes keep none.
 * Kept spans stay (2 MiB at most): a second free of one is caught. */
static hak_slab_t *kept_victim(const hak_heap_t *h, uint32_t units) {
    hak_slab_t *big = NULL, *any = NULL;
    for (unsigned c = 0; c < HAK_CLASSES; c++)
        for (hak_slab_t *s = h->empty[c]; s != NULL; s = s->next) {
            if (any == NULL || s->stamp < any->stamp) any = s;
            if (s->span >= units && (big == NULL || s->stamp < big->stamp)) big = s;
        }
    return big != NULL ? big : any;
}

hak_slab_t *_hak_heap_slab_new(hak_heap_t *h, unsigned cls, uint32_t units, uint32_t bsize,
                               bool *fresh) {
    hak_slab_t *s = _hak_slab_new(&h->segs, h, h->owner, cls, units, bsize, false, fresh);
    for (hak_slab_t *kept; s == NULL && (kept = kept_victim(h, units)) != NULL;) {
        _hak_kept_remove(h, kept);
        _hak_slab_retire(h, kept, kept->stamp);
        s = _hak_slab_new(&h->segs, h, h->owner, cls, units, bsize, false, fresh);
    }
    if (s == NULL) s = _hak_slab_new(&h->segs, h, h->owner, cls, units, bsize, true, fresh);
    if (s == NULL && _hak_heap_release_unused(h) != 0)
        s = _hak_slab_new(&h->segs, h, h->owner, cls, units, bsize, true, fresh);
    if (s != NULL) s->heap_slot = h->slot;
    return s;
}

/* Every block of an empty slab that had pages released must be on its
 * lists or released: otherwise one was freed twice. */
static void verify_empty(const hak_slab_t *s) {
    uint64_t n = (uint64_t)s->released + _hak_list_length(s, s->free) +
                 _hak_list_length(s, s->local_free);
    if (n != s->carved) _hak_fail("double free (a block of a slab with released pages)", s);
}

void _hak_slab_retire(hak_heap_t *h, hak_slab_t *s, uint64_t now) {
    unsigned cls = s->cls;
    if (cls == HAK_SPAN_CLASS) {
        hak_ctr_add(&h->ctr.span_allocs, hak_slab_allocs(s));
        hak_ctr_add(&h->ctr.span_frees, hak_slab_allocs(s));
    } else {
        hak_ctr_add(&h->ctr.allocs[cls], hak_slab_allocs(s));
        hak_ctr_add(&h->ctr.frees[cls], hak_slab_allocs(s));
        hak_ctr_inc(&h->ctr.flushes[cls]);
    }
    _hak_slab_free_units(s, now);
}

/* A slab, not current, whose blocks all came back. */
static void slab_empty(hak_heap_t *h, hak_slab_t *s) {
    unsigned cls = s->cls;
    if (s->list == SLAB_IN_QUEUE) _hak_list_remove(&h->queue[cls], s);
    s->list = SLAB_IN_NONE;
    if (cls != HAK_SPAN_CLASS) h->sizing[cls].slabs--;
    if (s->released != 0) verify_empty(s);
    hak_idle_record((uint64_t)s->span << HAK_UNIT_SHIFT);
    if (cls == HAK_SPAN_CLASS) {
        _hak_span_keep(h, s);
        return;
    }
    if (h->empty_count[cls] < retain_limit(h, s)) {
        _hak_list_push(&h->empty[cls], s);
        s->list = SLAB_IN_EMPTY;
        s->stamp = _hak_idle_stamp(h);
        h->empty_count[cls]++;
        return;
    }
    h->sizing[cls].given++;
    _hak_slab_retire(h, s, _hak_idle_stamp(h));
}

#define REQUEUE_FRACTION 8 /* a full slab is queued again once this share of it is free */
static void set_full(hak_slab_t *s) {
    uint32_t k = s->capacity / REQUEUE_FRACTION;
    s->requeue = k ? k : 1;
    s->full = 1;
    s->used = (int32_t)s->requeue;
}

void _hak_slab_event_locked(hak_heap_t *h, hak_slab_t *s) {
    if (s->full) {
        s->full = 0;
        s->used += (int32_t)(s->capacity - s->requeue);
        if (s->used != 0) {
            _hak_slab_queue(h, s);
            return;
        }
    }
    if (s->used == 0 && !s->current) slab_empty(h, s);
}

void _hak_slab_event(hak_slab_t *s) {
    hak_heap_t *h = s->heap;
    /* the owner's free of a span: parked without the lock (span.c) */
    if (s->cls == HAK_SPAN_CLASS && s->used == 0 && _hak_span_park(h, s)) {
        _hak_heap_tick(h);
        return;
    }
    HAK_LOCKED(&h->lock) {
        _hak_slab_event_locked(h, s);
    }
    _hak_heap_tick(h);
}

/* ---- refilling ---- */

/* Blocks joining malloc's list of a slab that is or becomes current count
 * as handed out now (malloc's fast path counts nothing). */
static void count_out(hak_slab_t *s, uint32_t n) {
    s->used += (int32_t)n;
    s->allocs += n;
}

/* Carves the next blocks of a slab onto malloc's list, in front of what it
 * holds: about one OS page worth, at least CARVE_MIN, in address order;
 * returns how many. Out of line: once a page's worth, and slab_refill
 * stays small enough to inline. */
#define CARVE_MIN 4
__attribute__((noinline)) static uint32_t carve(hak_slab_t *s) {
    uint32_t bsize = s->bsize, left = s->capacity - s->carved;
    uint32_t n = (uint32_t)(_hak_page_size / bsize);
    if (n < CARVE_MIN) n = CARVE_MIN;
    if (n > left) n = left;
    uint32_t first = s->carved;
    bool fill = hak_hardened();
    for (uint32_t i = first; i < first + n; i++) {
        hak_block_t *b = hak_block_at(s, i);
        if (fill) _hak_harden_fill(b, bsize);
        hak_mark_free(b);
        hak_link_set(b, i + 1 < first + n ? i + 1 : s->free);
    }
    s->free = first;
    hak_store_relaxed32(&s->carved, s->carved + n);
    return n;
}

/* A slab's list is not empty when it is refilled: a corrupted head (the
 * process stops), other threads' frees drained onto it while it was not
 * current, or what it left when it stopped being current. Every block is
 * out, released, on this list or on the local frees, which wait for
 * malloc's list to run dry, already counted with it: the count needs no
 * walk. A walk read every block of a slab the owner's drain had just
 * filled (producer/consumer pairs: an eighth of the producer's time; a
 * slab with local frees too was still walked: 4 % of scatter's time), and
 * the pops check each link in their turn. Out of line: slab_refill stays
 * small enough to inline. */
__attribute__((noinline)) static uint32_t list_kept(hak_slab_t *s) {
    if (s->free >= s->carved) head_corrupt(s);
    if (s->current) return 0;
    uint32_t n = s->carved - s->released - (uint32_t)s->used;
    if (unlikely(n - 1 >= s->carved)) _hak_list_corrupt(s, (void *)s->start);
    /* the debug build walks the lists the count stands for */
    HAK_ASSERT(_hak_list_length(s, s->free) + _hak_list_length(s, s->local_free) == n,
               "a slab's count of its blocks disagrees with its lists", s);
    return n;
}

/* Gives a slab that is or becomes current blocks on malloc's list, if it
 * has any — its local frees, its released pages' blocks (before any new
 * carving, so a page is never carved into twice), or uncarved ones — and
 * counts them as handed out. A list left from an earlier turn as the
 * current slab is counted again (a walk); a current slab's own list was
 * counted when it joined. */
HAK_INLINE bool slab_refill(hak_slab_t *s) {
    uint32_t n;
    if (unlikely(s->free != HAK_NO_BLOCK)) {
        n = list_kept(s);
        if (n == 0) return true; /* the current slab's own: counted */
    } else if (s->local_free != HAK_NO_BLOCK) {
        if (s->current) { /* counted when the slab became current */
            s->free = s->local_free;
            s->local_free = HAK_NO_BLOCK;
            return true;
        }
        /* with malloc's list empty, every block is out, released, or a
         * local free */
        n = s->carved - s->released - (uint32_t)s->used;
        if (unlikely(n - 1 >= s->carved)) _hak_list_corrupt(s, (void *)s->start);
        /* the debug build walks the list the count stands for */
        HAK_ASSERT(_hak_list_length(s, s->local_free) == n,
                   "a slab's count of its blocks disagrees with its list", s);
        s->free = s->local_free;
        s->local_free = HAK_NO_BLOCK;
    } else if (s->released != 0) {
        n = _hak_slab_recarve(s);
    } else if (s->carved < s->capacity) {
        n = carve(s);
    } else {
        return false;
    }
    count_out(s, n);
    return true;
}

static void set_current(hak_heap_t *h, unsigned cls, hak_slab_t *s) {
    h->cur[cls] = s;
    if (hak_hardened()) return; /* malloc's fast path sees none */
    h->fast[cls] = s;
    if (cls < HAK_TINY_CLASSES)
        for (unsigned k = g_direct_lo[cls]; k <= g_direct_hi[cls]; k++) h->direct[k] = s;
}

/* ---- slab sizes: a class's level (heap.h, hak_slab_sizing_t) ---- */

/* Switches of current slab a sizing decision looks at. */
#define SIZING_WINDOW 8
/* Blocks a switch should yield on average: fewer, and the lock and list
 * work of a switch weigh on every few mallocs. */
#define SIZING_YIELD_MIN 8
/* A class that churns among this many slabs or fewer would fit in a few
 * bigger ones: it grows. One spread over more than SIZING_SHRINK_SLABS
 * (holes among long-lived blocks, or filling fresh slabs) gains little
 * from bigger slabs and would pin more memory with them: it shrinks. */
#define SIZING_GROW_SLABS 8
#define SIZING_SHRINK_SLABS 16

/* Units of the class's next slab: of its level while it holds only a few
 * slabs, level 0 past them (slabs a class fills in numbers are small). */
static uint32_t sizing_units(const hak_heap_t *h, unsigned cls) {
    const hak_slab_sizing_t *z = &h->sizing[cls];
    return _hak_slab_units[z->slabs < SIZING_GROW_SLABS ? z->level : 0][cls];
}

/* The current slab `old` of cls ran dry and gives way: what it yielded
 * counts toward the class's window, which decides the size of its next
 * slabs. */
static void sizing_switch(hak_heap_t *h, unsigned cls, const hak_slab_t *old) {
    hak_slab_sizing_t *z = &h->sizing[cls];
    z->yield += (uint32_t)old->allocs - z->mark;
    if (++z->switches < SIZING_WINDOW) return;
    unsigned level = z->level;
    /* few blocks per switch, and fewer than half a slab: not a class
     * filling fresh slabs, but one churning among partly used ones */
    uint32_t low = _hak_slab_blocks[level][cls] / 2;
    if (low > SIZING_YIELD_MIN) low = SIZING_YIELD_MIN;
    if (z->slabs > SIZING_SHRINK_SLABS) {
        if (level > 0) level--;
    } else if (z->slabs <= SIZING_GROW_SLABS && z->yield < SIZING_WINDOW * low &&
               level + 1 < HAK_SLAB_LEVELS &&
               _hak_slab_blocks[level + 1][cls] > _hak_slab_blocks[level][cls]) {
        level++;
    }
    hak_store_relaxed32(&z->level, level);
    z->switches = 0;
    z->yield = 0;
}

/* Puts the malloc list of slab s (the owner's, or held under its heap's
 * lock) in address order. Called when other threads' frees came onto it
 * (a drain): their blocks come in the order those threads freed them,
 * which is the order the program used them last; each trip through a
 * program's queues in batches that did not line up with hakmem's own cut
 * them and put the pieces in another order, until a batch a producer made
 * held blocks scattered over its slab (prodcons, batches of 32-96 blocks of 64
 * B: 89 % of neighbours not adjacent in memory, 15 pages a batch; jemalloc,
 * which refills lowest address first, 17 % and 5.7), and both the
 * producer's and the consumer's passes over them missed the cache where
 * the prefetchers would have followed (half the frees/s of batches that
 * lined up). The walk reads each block's link once, as the pops would (the
 * drain wrote them: in cache); a list that repeats a block or names no block
 * (corrupted) is left as it is, for malloc's pops to report. */
static void list_sort(hak_slab_t *s) {
    uint32_t carved = s->carved, bad;
    if (!(s->allocs & HAK_ALLOCS_UNSORTED)) return; /* no drain since the last sort */
    s->allocs &= ~HAK_ALLOCS_UNSORTED;
    if (s->free >= carved || carved > HAK_LIST_BITS_MAX) return; /* empty, or too many */
    uint64_t bits[HAK_LIST_BITS_MAX / 64];
    if (!_hak_list_bits(s, bits, &bad)) return;
    uint32_t head = HAK_NO_BLOCK; /* highest first, each at the front: the list runs upward */
    for (uint32_t w = (carved + 63) / 64; w-- > 0;) {
        for (uint64_t m = bits[w]; m != 0;) {
            unsigned hi = 63u - (unsigned)__builtin_clzll(m);
            m &= ~(1ull << hi);
            uint32_t k = w * 64 + hi;
            hak_link_set(hak_block_at(s, k), head);
            head = k;
        }
    }
    s->free = head;
}

/* The current slab of cls ran dry: the next with blocks takes its place.
 * Heap lock held. */
static hak_slab_t *switch_slab(hak_heap_t *h, unsigned cls) {
    _hak_remote_drain(h);
    uint32_t units = sizing_units(h, cls), bsize = _hak_class_stride[cls];
    hak_slab_t *s = h->cur[cls];
    if (s != &_hak_no_slab) {
        list_sort(s); /* the drain brought blocks back */
        if (slab_refill(s)) return s;
        /* smaller than the class's slabs now: grown in place when the
         * units after it are free */
        if (s->span < units && _hak_slab_extend(s, units, bsize)) {
            count_out(s, carve(s));
            return s;
        }
        hak_slab_lifo_settle(s);
        s->current = 0;
        s->local_seen = HAK_NO_BLOCK;
        set_full(s);
        sizing_switch(h, cls, s);
        units = sizing_units(h, cls);
    }
    hak_slab_t *next;
    while ((next = h->queue[cls]) != NULL) {
        _hak_list_remove(&h->queue[cls], next);
        next->list = SLAB_IN_NONE;
        /* decay gave pages of it back, which are faulted in again: what
         * a shorter delay costs, for ACE's choice of it */
        if (next->released != 0)
            HAK_REUSE_RECORD((uint64_t)next->released * next->bsize,
                             _hak_coarse_ns() - next->stamp);
        list_sort(next); /* other threads' frees */
        if (slab_refill(next)) goto found;
        set_full(next);
    }
    while ((next = h->empty[cls]) != NULL) {
        _hak_kept_remove(h, next);
        /* smaller than the class's slabs now: its units go back to the
         * segment, still resident, for the bigger slab made below (their
         * pages go after the decay delay if nothing takes them; given back
         * at once, a program that allocates in bursts faulted them in
         * again every burst) */
        if (next->span < units && !_hak_slab_extend(next, units, bsize)) {
            _hak_slab_retire(h, next, next->stamp);
            continue;
        }
        HAK_REUSE_RECORD((uint64_t)next->span << HAK_UNIT_SHIFT, _hak_coarse_ns() - next->stamp);
        if (!slab_refill(next)) _hak_fail("an empty slab holds no block", next);
        h->sizing[cls].slabs++;
        goto found;
    }
    /* empty slabs given back since the last decay pass, and a new one
     * wanted: keep as many more next time */
    hak_slab_sizing_t *z = &h->sizing[cls];
    z->keep = z->keep + z->given < KEEP_MAX ? z->keep + z->given : KEEP_MAX;
    z->given = 0;
    bool fresh;
    next = _hak_heap_slab_new(h, cls, units, bsize, &fresh);
    if (next == NULL) {
        set_current(h, cls, &_hak_no_slab);
        return NULL;
    }
    slab_refill(next);
    h->sizing[cls].slabs++;
found:
    next->current = 1;
    next->lifo_left = HAK_LIFO_PERIOD;
    next->used++; /* the current slab never looks empty to free */
    h->sizing[cls].mark = (uint32_t)next->allocs;
    set_current(h, cls, next);
    return next;
}

/* A backlog of other threads' frees past the threshold goes back now,
 * before the slabs hold on to memory that is free already. */
static void drain_backlog(hak_heap_t *h) {
    if (atomic_load_explicit(&h->remote_count, memory_order_relaxed) >=
        (uint32_t)hak_opt(OPT_REMOTE_DRAIN_THRESHOLD)) {
        HAK_LOCKED(&h->lock) {
            _hak_remote_drain(h);
        }
    }
}

/* The owner's heartbeat, from its fast paths' countdowns. */
static void heartbeat(hak_heap_t *h) {
    hak_slow_path_seen(); /* ACE starts, or ticks inline, from slow paths */
    drain_backlog(h);
    _hak_remote_flush_some(h);
    _hak_heap_tick(h);
}

void _hak_slab_lifo_tick(hak_slab_t *s) {
    hak_slab_lifo_settle(s);
    heartbeat(s->heap);
}

void *_hak_hot_tick(hak_heap_t *h, hak_block_t *b) {
    heartbeat(h);
    return b;
}

void *_hak_heap_alloc(hak_heap_t *h, unsigned cls) {
    hak_slab_t *cur = h->cur[cls];
    /* hardened mode allocates every block here: a slab with blocks to give */
    if (cur->free < cur->carved) return hak_slab_take(cur, cur->free);
    hak_ctr_inc(&h->ctr.misses[cls]);
    uint64_t t0 = hak_lat_begin(h->ctr.misses[cls]);
    drain_backlog(h);
    hak_slab_t *s = h->cur[cls];
    if (s == cur) list_sort(s); /* the drain brought blocks back */
    /* the current slab is the owner's alone: refilled without the lock */
    if (s == &_hak_no_slab || !slab_refill(s)) {
        HAK_LOCKED(&h->lock) {
            s = switch_slab(h, cls);
        }
    }
    hak_lat_end(t0);
    if (s == NULL) return NULL;
    return hak_slab_take(s, s->free);
}

/* The blocks of class cls's hot stack but the `keep` on top (the last
 * freed) go back onto their slabs' lists (heap lock held), as the fast
 * path's free would have put them: a current slab's malloc list, counted
 * as handed out, or the local frees of another. */
static void hot_trim(hak_heap_t *h, unsigned cls, uint32_t keep) {
    uint32_t n = h->hot_n[cls];
    if (n <= keep) return;
    uint32_t out = n - keep;
    hak_block_t **hot = h->hot[cls];
    for (uint32_t k = 0; k < out; k++) {
        hak_block_t *b = hot[k];
        hak_slab_t *s = hak_slab_head_at((uintptr_t)b);
        uint32_t i = hak_block_index(s, (uintptr_t)b - s->start);
        if (s->current) {
            hak_link_set(b, s->free);
            s->free = i;
            s->allocs++;
            continue;
        }
        hak_link_set(b, s->local_free);
        s->local_free = i;
        if (--s->used <= 0) _hak_slab_event_locked(h, s);
    }
    memmove(hot, hot + out, (n - out) * sizeof(*hot));
    h->hot_n[cls] = (uint8_t)(n - out);
}

/* The owner's decay pass (heap lock held): a class whose frees never
 * found its stack full since the last pass has its grown room halved, the
 * blocks beyond it back on their slabs. */
void _hak_hot_pass(hak_heap_t *h, unsigned cls) {
    uint32_t room = h->hot_room[cls], first = g_hot_first[cls];
    if (room > first && h->hot_full[cls] == 0) {
        uint32_t less = room / 2 > first ? room / 2 : first;
        hot_trim(h, cls, less);
        uint32_t bytes = (room - less) * _hak_class_size[cls];
        h->hot_room[cls] = (uint8_t)less;
        h->hot_grown -= bytes;
        atomic_fetch_sub_explicit(&_hak_hot_grown_all, bytes, memory_order_relaxed);
    }
    h->hot_full[cls] = 0;
}

void _hak_class_uncurrent(hak_heap_t *h, unsigned cls) {
    hot_trim(h, cls, 0);
    hak_slab_t *s = h->cur[cls];
    if (s == &_hak_no_slab) return;
    set_current(h, cls, &_hak_no_slab);
    hak_slab_lifo_settle(s);
    /* what is left on malloc's list, and the local frees counted with
     * it, is not out after all */
    uint32_t rest = _hak_list_length(s, s->free) + _hak_list_length(s, s->local_free);
    s->current = 0;
    s->local_seen = HAK_NO_BLOCK;
    s->used -= (int32_t)rest + 1;
    s->allocs -= rest;
    if (s->used == 0) slab_empty(h, s);
    else _hak_slab_queue(h, s);
}

void _hak_heap_uncurrent(hak_heap_t *h) {
    for (unsigned cls = 0; cls < HAK_CLASSES; cls++) _hak_class_uncurrent(h, cls);
}

void _hak_heap_prewarm(hak_heap_t *h) {
    for (unsigned cls = 0; cls < HAK_CLASSES; cls++) {
        uint32_t want = atomic_load_explicit(&_hak_prewarm[cls], memory_order_relaxed);
        if (want == 0) continue;
        HAK_LOCKED(&h->lock) {
            hak_slab_t *s = switch_slab(h, cls);
            while (s != NULL && s->carved < want && s->carved < s->capacity) {
                /* onto the list malloc pops: carve links it in front */
                count_out(s, carve(s));
            }
        }
    }
}

void *_hak_class_alloc(unsigned cls) {
    hak_slow_path_seen();
    hak_heap_t *h = _hak_heap_for_alloc();
    void *p = NULL;
    if (hak_heap_owned(h)) {
        p = _hak_heap_alloc(h, cls);
        _hak_remote_flush_some(h);
        _hak_heap_tick(h);
    } else {
        HAK_LOCKED(&_hak_heaps_lock_) {
            p = _hak_heap_alloc(_hak_heap_shared(), cls);
        }
    }
    if (p == NULL) errno = ENOMEM;
    return p;
}
