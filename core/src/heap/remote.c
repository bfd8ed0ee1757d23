/* Frees of small blocks that the fast path does not finish — other
 * threads' blocks, double frees, interior and foreign pointers into a
 * segment — and the owner's side of remote frees. A thread batches its
 * frees of another heap's blocks per owner (snmalloc's message passing):
 * a batch lists the blocks' addresses and is sent with one
 * compare-and-swap onto the owner's queue, which the owner drains on its
 * slow path, linking each block onto its slab's list. */
#include "heap_internal.h"

#include <stdio.h>

/* Slow paths (or batches sent) between sends of a thread's partial
 * batches: a batch that is not filling up still reaches its owner soon. */
#define REMOTE_FLUSH_TICKS 64
/* A batch goes at HAKMEM_BUNDLE blocks or this many bytes, whichever
 * comes first: 128 blocks of 64 B are 8 KiB, 128 of 64 KiB would hold
 * 8 MiB back from their owner per slot. */
#define REMOTE_BATCH_BYTES (256u << 10)
/* A thread's batches go all at once when they hold this many bytes in all:
 * one that frees to many owners and then stops freeing (a thread that only
 * frees reaches no slow path that would send them) holds this much of
 * theirs at most, not a full batch for each of its 64 slots. */
#define REMOTE_PENDING_BYTES (1u << 20)
/* Batches a drain keeps in the owner's own pool at most; the rest go back
 * to the threads that filled them. A record the owner read is in its
 * cache: its next remote frees fill it without a miss, where one sent
 * back home missed on every line the owner had taken (under prodcons, two
 * thirds of the remote free's samples sat on those stores). A thread that
 * receives more than it sends keeps only this many. */
#define DRAIN_KEEP_BATCHES 16

/* Records of threads without a heap (they send one block at a time),
 * taken under the registry lock. */
static _Atomic(hak_batch_t *) g_unowned_batches;

/* One record from a pool whose records only its taker pops (the owner of
 * `pool`, or the holder of the registry lock), the batches sent back first
 * joining it; a new one when none is left (NULL: the OS refused memory).
 * The pool is a list of whole batches (linked by `next`), each a list of
 * records (by `more`), so that returning a batch writes one record.
 * `kept` (NULL: none) counts the batches a drain kept in the pool; the
 * batches its drains keep go on top, so a batch used up is one of those
 * while any is left. */
static hak_batch_t *record_take(hak_batch_t **pool, _Atomic(hak_batch_t *) *back,
                                hak_heap_t *home, uint32_t *kept) {
    if (*pool == NULL) *pool = atomic_exchange_explicit(back, NULL, memory_order_acquire);
    hak_batch_t *c = *pool;
    if (c != NULL && c->more != NULL) {
        *pool = c->more;
        c->more->next = c->next;
    } else if (c != NULL) {
        *pool = c->next;
        if (kept != NULL && *kept != 0) --*kept;
    } else if ((c = _hak_os_meta_alloc(sizeof(hak_batch_t))) == NULL) {
        return NULL;
    }
    c->home = home;
    c->more = NULL;
    c->used = 0;
    return c;
}

/* A batch its owner read goes back whole to the thread that filled it. */
static void batch_return(hak_batch_t *c) {
    _Atomic(hak_batch_t *) *top = c->home != NULL ? &c->home->batch_back : &g_unowned_batches;
    hak_batch_t *head = atomic_load_explicit(top, memory_order_relaxed);
    do {
        c->next = head;
    } while (!atomic_compare_exchange_weak_explicit(top, &head, c, memory_order_release,
                                                    memory_order_relaxed));
}

/* A block of a batch was written after its free: its seal or mark is
 * gone. The process stops, naming the block. */
__attribute__((noreturn, cold)) static void batch_corrupt(const hak_block_t *b) {
    _hak_fail("remote free queue corrupt: a block freed by another thread was written after "
              "its free",
              b);
}

/* k blocks of slab s went onto the front of its free list. A current slab
 * hands them out next, counted as handed out at once (they were out: its
 * count stays). Another slab's count drops by them: the count is linear,
 * so one event after a slab's blocks in a row sees what one per block
 * would have left (a full slab requeued, an empty one emptied). Its free
 * list is one only holders of the heap's lock change (a non-current slab's
 * list counts as not handed out), and it is dated idle since `idle`: decay
 * may give its pages back without waiting for the owner to look at its
 * local frees. */
static void blocks_done(hak_heap_t *h, hak_slab_t *s, int32_t k, uint64_t idle) {
    s->allocs |= HAK_ALLOCS_UNSORTED;
    if (s->current) {
        s->allocs += (uint32_t)k;
        return;
    }
    /* stored only when set: the descriptor's first line is read by every
     * free of the slab's blocks, and a store on each drain would take it
     * from the threads that free them, a miss on each */
    if (s->settled) s->settled = 0;
    if (s->stamp < idle) s->stamp = idle;
    s->used -= k;
    if (s->used <= 0) _hak_slab_event_locked(h, s);
}

/* Blocks a drain asks for ahead of the one it links: each is a line
 * another core wrote last, and the stores go out together. */
#define DRAIN_AHEAD 8

/* n blocks of a record onto the front of their slabs' free lists, the
 * last freed first, so that the owner hands them out in the order they
 * were freed. Each block is checked: a block start of a slab of the heap
 * (the free that sent it found it in a segment, and a block out keeps its
 * slab alive: no page-map lookup), its seal and mark intact (a write after
 * its free stops the process here). Returns the blocks. */
static uint32_t put_blocks(hak_heap_t *h, hak_block_t *const *block, uint32_t n, uint64_t idle) {
    hak_slab_t *s = NULL, *unit = NULL; /* the slab of the blocks in a row, their unit's */
    int32_t k = 0;
    for (uint32_t j = n; j-- > 0;) {
        if (j >= DRAIN_AHEAD) hak_prefetch_write(block[j - DRAIN_AHEAD]);
        hak_block_t *b = block[j];
        uintptr_t a = (uintptr_t)b;
        hak_slab_t *d = hak_slab_at(a);
        if (d != unit) {
            if (k != 0) blocks_done(h, s, k, idle);
            k = 0;
            unit = d;
            s = hak_slab_head_at(a);
            if (unlikely(s->heap != h)) batch_corrupt(b);
        }
        uint32_t i = hak_block_index(s, a - s->start);
        if (unlikely(i >= s->carved || !hak_is_sealed(b) || !hak_is_marked_free(b)))
            batch_corrupt(b);
        hak_link_set(b, s->free);
        s->free = i;
        k++;
    }
    if (k != 0) blocks_done(h, s, k, idle);
    return n;
}

/* The blocks of every record of a batch back onto their slabs: how many.
 * The records come newest first, as their blocks go onto the lists. */
static uint32_t put_batch(hak_heap_t *h, const hak_batch_t *c, uint64_t idle) {
    uint32_t n = 0;
    for (; c != NULL; c = c->more) n += put_blocks(h, c->block, c->used, idle);
    return n;
}

void _hak_remote_drain(hak_heap_t *h) {
    if (atomic_load_explicit(&h->remote, memory_order_relaxed) == NULL) return;
    uint64_t since = atomic_load_explicit(&h->remote_since, memory_order_relaxed);
    hak_batch_t *c = atomic_exchange_explicit(&h->remote, NULL, memory_order_acquire);
    uint64_t now = _hak_coarse_ns();
    uint64_t idle = since != 0 && since < now ? since : now;
    h->drain_since = idle;
    bool mine = h == _hak_tl_heap; /* the pool is its owner's alone */
    uint32_t n = 0;
    while (c != NULL) {
        hak_batch_t *next = c->next;
        n += put_batch(h, c, idle);
        if (mine && h->batch_kept < DRAIN_KEEP_BATCHES) {
            c->next = h->batch_pool;
            h->batch_pool = c;
            h->batch_kept++;
        } else {
            batch_return(c);
        }
        c = next;
    }
    h->drain_since = 0;
    atomic_fetch_sub_explicit(&h->remote_count, n, memory_order_relaxed);
}

/* The blocks of a batch, or one block, of a heap without a thread go
 * straight onto their slabs, under its lock (true); false when a thread
 * owns it. */
static bool put_ownerless(hak_heap_t *owner, const hak_batch_t *c, hak_block_t *one) {
    if (atomic_load_explicit(&owner->state, memory_order_acquire) == HEAP_OWNED) return false;
    int state = HEAP_OWNED;
    HAK_LOCKED(&_hak_heaps_lock_) {
        state = atomic_load_explicit(&owner->state, memory_order_acquire);
        /* A dead heap (another thread's, in a forked child) may be mid-update:
         * its blocks are left alone. */
        if (state != HEAP_OWNED && state != HEAP_DEAD) {
            uint64_t now = _hak_coarse_ns();
            HAK_LOCKED(&owner->lock) {
                if (c != NULL) {
                    owner->freed_ownerless += put_batch(owner, c, now);
                } else {
                    owner->freed_ownerless += put_blocks(owner, &one, 1, now);
                }
            }
        }
    }
    return state != HEAP_OWNED;
}

/* A filled batch goes to its owner: onto its queue when a thread owns it,
 * else its blocks straight onto their slabs. */
static void deliver(hak_heap_t *owner, hak_batch_t *c, uint32_t n) {
    if (put_ownerless(owner, c, NULL)) {
        batch_return(c);
        return;
    }
    hak_batch_t *head = atomic_load_explicit(&owner->remote, memory_order_relaxed);
    do {
        c->next = head;
    } while (!atomic_compare_exchange_weak_explicit(&owner->remote, &head, c,
                                                    memory_order_release, memory_order_relaxed));
    atomic_fetch_add_explicit(&owner->remote_count, n, memory_order_relaxed);
    /* the first batch of a queue dates it: an owner that drains it late
     * (it was idle) frees memory that went idle back then */
    if (head == NULL)
        atomic_store_explicit(&owner->remote_since, _hak_coarse_ns(), memory_order_relaxed);
}

/* Out of line: the free that fills a batch pays for it, the others stay
 * a leaf that saves no register. */
__attribute__((noinline)) static void send(hak_heap_t *me, hak_remote_buf_t *r) {
    hak_ctr_inc(&me->ctr.remote_batches);
    deliver(r->to, r->batch, r->count);
    me->rbuf_pending -= r->bytes;
    r->to = NULL;
    r->batch = NULL;
    r->count = r->bytes = 0;
}

void _hak_remote_flush_all(hak_heap_t *h) {
    for (unsigned i = 0; i < HAK_REMOTE_SLOTS; i++)
        if (h->rbuf[i].count != 0) send(h, &h->rbuf[i]);
    h->rbuf_ticks = 0;
}

void _hak_remote_flush_some(hak_heap_t *h) {
    if (h->rbuf_pending != 0 && ++h->rbuf_ticks >= REMOTE_FLUSH_TICKS) _hak_remote_flush_all(h);
}

/* The batch of slot r is full, or its record is, or the thread's batches
 * hold REMOTE_PENDING_BYTES (all go): the batch is sent, or a new record
 * joins it (without one, the batch goes as it is). */
__attribute__((noinline)) static void batch_full(hak_heap_t *me, hak_remote_buf_t *r) {
    if (me->rbuf_pending >= REMOTE_PENDING_BYTES) {
        _hak_remote_flush_all(me);
        return;
    }
    hak_batch_t *c;
    if (r->count < (uint32_t)hak_opt(OPT_BUNDLE) && r->bytes < REMOTE_BATCH_BYTES &&
        (c = record_take(&me->batch_pool, &me->batch_back, me, &me->batch_kept)) != NULL) {
        c->more = r->batch;
        r->batch = c;
        return;
    }
    send(me, r);
    /* a thread that only frees reaches no malloc slow path: its batches
     * filling up tick the sending of the partial ones instead */
    _hak_remote_flush_some(me);
}

/* b (of slab s) joins the batch of slot r, sealed: the next address of its
 * record. */
HAK_INLINE void batch_push(hak_heap_t *me, hak_remote_buf_t *r, hak_block_t *b,
                           const hak_slab_t *s) {
    hak_batch_t *c = r->batch;
    uint32_t bsize = s->bsize;
    hak_seal(b);
    uint32_t used = c->used;
    c->block[used] = b;
    c->used = ++used;
    me->rbuf_pending += bsize;
    r->bytes += bsize;
    uint32_t in_batch = ++r->count;
    if (unlikely((in_batch >= (uint32_t)hak_opt(OPT_BUNDLE)) | (r->bytes >= REMOTE_BATCH_BYTES) |
                 (me->rbuf_pending >= REMOTE_PENDING_BYTES) | (used == HAK_BATCH_BLOCKS)))
        batch_full(me, r);
}

/* b starts a batch for `owner` in slot r, whose batch for another owner
 * (if any) goes first (a sent batch leaves the slot empty). A block for
 * which no record can be had (the OS refused the memory for one) stays
 * handed out: lost to its slab, never handed out twice. */
__attribute__((noinline)) static void free_remote_switch(hak_heap_t *me, hak_remote_buf_t *r,
                                                         hak_heap_t *owner, hak_block_t *b,
                                                         const hak_slab_t *s) {
    if (r->to != NULL) send(me, r);
    r->batch = record_take(&me->batch_pool, &me->batch_back, me, &me->batch_kept);
    if (r->batch == NULL) return;
    r->to = owner;
    batch_push(me, r, b, s);
}

/* b (of slab s) joins the batch for its owner in heap me's slot. */
HAK_INLINE void free_remote_from(hak_heap_t *me, hak_slab_t *s, hak_block_t *b) {
    hak_heap_t *owner = s->heap;
    hak_ctr_inc(&me->ctr.remote_frees[s->cls]);
    hak_remote_buf_t *r = &me->rbuf[s->heap_slot]; /* on the line the free read */
    if (unlikely(r->to != owner)) {
        free_remote_switch(me, r, owner, b, s);
        return;
    }
    batch_push(me, r, b, s);
}

/* A thread without a heap. One that never had one takes one now, as its
 * first malloc would: a thread that only frees what others allocated (a
 * consumer, a logger, a pool's reaper) batches like any other, where a
 * block sent alone under the registry lock cost it ~15x a batched free.
 * One that exited, or any while hakmem starts up (or without thread
 * heaps): counted on the shared heap, atomically since any number of such
 * threads may free at once, and its block sent alone at once (or lost to
 * its slab without a record, as below): such a thread may never reach a
 * point that would send a batch. */
__attribute__((noinline)) static void free_remote_unowned(hak_slab_t *s, hak_block_t *b) {
    hak_heap_t *me = _hak_heap_for_alloc();
    if (hak_heap_owned(me)) {
        free_remote_from(me, s, b);
        return;
    }
    atomic_fetch_add_explicit((_Atomic uint64_t *)&_hak_heap_shared()->ctr.remote_frees[s->cls], 1,
                              memory_order_relaxed);
    hak_seal(b);
    if (put_ownerless(s->heap, NULL, b)) return;
    static hak_batch_t *pool; /* the registry lock's */
    hak_batch_t *c = NULL;
    HAK_LOCKED(&_hak_heaps_lock_) {
        c = record_take(&pool, &g_unowned_batches, NULL, NULL);
    }
    if (c == NULL) return;
    c->block[0] = b;
    c->used = 1;
    atomic_fetch_add_explicit((_Atomic uint64_t *)&_hak_heap_shared()->ctr.remote_batches, 1,
                              memory_order_relaxed);
    deliver(s->heap, c, 1);
}

/* A free of another heap's block, marked free already (inlined into both
 * callers: the free of another thread's block is as common as a local one
 * in a producer/consumer program). Every call out is a tail call, so the
 * common case, a block added to its owner's batch, saves no register. */
HAK_INLINE void free_remote(hak_slab_t *s, hak_block_t *b) {
    hak_heap_t *me = _hak_tl_heap;
    if (unlikely(!hak_heap_owned(me))) {
        free_remote_unowned(s, b);
        return;
    }
    free_remote_from(me, s, b);
}

void _hak_free_remote(hak_block_t *b, hak_slab_t *s) {
    if (hak_hardened()) { /* every free comes here: no slab has the thread's pointer */
        _hak_harden_free(b, s);
        return;
    }
    hak_mark_free(b);
    free_remote(s, b);
}

void _hak_free_marked(hak_block_t *b, hak_slab_t *s) {
    uint32_t i = hak_block_index(s, (uintptr_t)b - s->start);
    if (atomic_load_explicit(&s->owner, memory_order_relaxed) != hak_owner_tag(hak_thread_id())) {
        free_remote(s, b);
        return;
    }
    hak_slab_free_local(s, b, i, _hak_keys.free ^ (uintptr_t)b);
}

void _hak_small_locate_failed(uintptr_t a, const char *call) {
    const char *what = "an interior or invalid pointer";
    hak_slab_t *d = hak_slab_at(a);
    if (hak_unit_of(a) == 0 || d->kind == SLAB_FREE) what = "a pointer hakmem did not allocate (no live slab)";
    char line[96];
    snprintf(line, sizeof(line), "%s of %s", call, what);
    _hak_fail(line, (void *)a);
}

void _hak_free_slow(void *p) { _hak_free_located(p, _hak_small_locate_or_fail((uintptr_t)p, "free")); }

void _hak_free_located(void *p, hak_slab_t *s) {
    hak_block_t *b = p;
    if (hak_is_marked_free(b)) _hak_fail("double free", p);
    if (hak_hardened()) { /* a block the fast path passed on */
        _hak_harden_free(b, s);
        return;
    }
    hak_mark_free(b);
    _hak_free_marked(b, s);
}
