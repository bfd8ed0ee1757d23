/* Frees of small blocks that the fast path does not finish — other
 * threads' blocks, double frees, interior and foreign pointers into a
 * segment — and the owner's side of remote frees. A thread batches its
 * frees of another heap's blocks per owner (snmalloc's message passing):
 * a batch lists runs of blocks of one slab, which the sender links as it
 * frees them, and is sent with one compare-and-swap onto the owner's
 * queue, which the owner drains on its slow path, writing the last block
 * of each run only. */
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

/* The slab of a batch's block, found from its address: a live slab of the
 * heap (a free unit, or the segment's header, has nothing carved). */
static hak_slab_t *batch_slab(const hak_heap_t *h, hak_block_t *b) {
    uintptr_t a = (uintptr_t)b;
    if (likely(hak_pagemap_get(a) == PM_SEGMENT)) {
        hak_slab_t *s = hak_slab_head_at(a);
        if (likely(s->heap == h && s->carved != 0)) return s;
    }
    batch_corrupt(b);
}

/* A run of k blocks of slab s, linked in the order they were freed
 * (`first` the index of its first block, `tail` its last block), goes onto
 * the front of s's free list. Only the tail is read and written: the
 * thread that freed the run linked the others as it freed them, and its
 * seal and mark say that nothing wrote it since (a write to another block
 * of the run is caught by malloc, as on any free list). A current slab
 * hands them out next, counted as handed out at once (they were out: its
 * count stays). Another slab's count drops by them: the count is linear,
 * so one event after a run sees what one per block would have left (a
 * full slab requeued, an empty one emptied). Its free list is one only
 * holders of the heap's lock change (a non-current slab's list counts as
 * not handed out), and it is dated idle since `idle`: decay may give its
 * pages back without waiting for the owner to look at its local frees. */
static void run_done(hak_heap_t *h, hak_slab_t *s, uint32_t first, hak_block_t *tail, int32_t k,
                     uint64_t idle) {
    if (unlikely(!hak_is_sealed(tail) || !hak_is_marked_free(tail))) batch_corrupt(tail);
    hak_link_set(tail, s->free);
    s->free = first;
    if (s->current) {
        s->allocs += (uint32_t)k;
        return;
    }
    /* stored only when set: the descriptor's first line is read by every
     * free of the slab's blocks, and a store on each run would take it
     * from the threads that free them, a miss on each */
    if (s->settled) s->settled = 0;
    if (s->stamp < idle) s->stamp = idle;
    s->used -= k;
    if (s->used <= 0) _hak_slab_event_locked(h, s);
}

/* A run back onto its slab, found from its first block's address. A run
 * keeps its order on the list: the records of a batch come newest first
 * and their runs go to the front, so the owner hands its blocks out again
 * in the order they were freed. Pushed one by one, each run came out
 * reversed, and a program whose batches changed size (ACE racing
 * HAKMEM_BUNDLE) found its blocks scattered for good: producer/consumer
 * pairs ran 15-25 % slower for the rest of the run. */
static void put_run(hak_heap_t *h, const hak_run_t *run, uint64_t idle) {
    hak_slab_t *s = batch_slab(h, run->first);
    uint32_t first = hak_block_index(s, (uintptr_t)run->first - s->start);
    if (unlikely(first >= s->carved)) batch_corrupt(run->first);
    run_done(h, s, first, run->tail, (int32_t)run->count, idle);
}

/* The tail of each run of a batch, which the drain writes, and its first
 * block, which malloc takes first, are asked for while the batch before
 * it is put back: each is a line another thread wrote last (malloc asks
 * for each next block as it takes one). */
static void batch_prefetch(const hak_batch_t *c) {
    for (; c != NULL; c = c->more) {
        for (uint32_t m = c->used; m != 0; m &= m - 1) {
            const hak_run_t *run = &c->run[__builtin_ctz(m)];
            hak_prefetch_write(run->tail);
            hak_prefetch_write(run->first);
        }
    }
}

/* The blocks of every record of a batch back onto their slabs: how many. */
static uint32_t put_batch(hak_heap_t *h, const hak_batch_t *c, uint64_t idle) {
    uint32_t n = 0;
    for (; c != NULL; c = c->more) {
        for (uint32_t m = c->used; m != 0; m &= m - 1) {
            const hak_run_t *run = &c->run[__builtin_ctz(m)];
            put_run(h, run, idle);
            n += run->count;
        }
    }
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
    batch_prefetch(c);
    while (c != NULL) {
        hak_batch_t *next = c->next;
        batch_prefetch(next);
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
                    hak_run_t run = {one, one, NULL, 1};
                    put_run(owner, &run, now);
                    owner->freed_ownerless++;
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

/* The batch of slot r is full, or its record's run for a block is another
 * slab's, or the thread's batches hold REMOTE_PENDING_BYTES (all go): the
 * batch is sent, or a new record joins it (without one, the batch goes as
 * it is). */
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

static void free_remote_switch(hak_heap_t *me, hak_remote_buf_t *r, hak_heap_t *owner,
                               hak_block_t *b, const hak_slab_t *s, uint32_t i);

/* b (index i of slab s) joins the batch of slot r: the run of its slab's
 * slot in the record, its tail linked to b (in the cache of the thread
 * that just freed both), or a run of its own. */
HAK_INLINE void batch_push(hak_heap_t *me, hak_remote_buf_t *r, hak_block_t *b,
                           const hak_slab_t *s, uint32_t i);

/* b joins `run`, slot `bit` of r's record: s's run, or a new one when the
 * slot is free. */
HAK_INLINE void batch_add(hak_heap_t *me, hak_remote_buf_t *r, hak_run_t *run, uint32_t bit,
                          hak_block_t *b, const hak_slab_t *s, uint32_t i) {
    hak_batch_t *c = r->batch;
    uint32_t bsize = s->bsize;
    if (c->used & bit) {
        hak_link_set(run->tail, i);
        run->tail = b;
        run->count++;
    } else {
        *run = (hak_run_t){b, b, s, 1};
        c->used |= bit;
    }
    hak_seal(b);
    me->rbuf_pending += bsize;
    r->bytes += bsize;
    uint32_t in_batch = ++r->count;
    if (unlikely((in_batch >= (uint32_t)hak_opt(OPT_BUNDLE)) | (r->bytes >= REMOTE_BATCH_BYTES) |
                 (me->rbuf_pending >= REMOTE_PENDING_BYTES)))
        batch_full(me, r);
}

/* Both of s's slots in r's record hold other slabs' runs: the batch goes on
 * in a new record, or is sent and b starts the next. */
__attribute__((noinline)) static void batch_collide(hak_heap_t *me, hak_remote_buf_t *r,
                                                    hak_block_t *b, const hak_slab_t *s,
                                                    uint32_t i) {
    hak_heap_t *owner = r->to;
    batch_full(me, r);
    if (r->batch == NULL) free_remote_switch(me, r, owner, b, s, i);
    else batch_push(me, r, b, s, i);
}

/* A slab's run takes the slot of its unit, or when another slab's run has
 * it (a slab of the same unit in another of the owner's segments) the slot
 * half a record away. With one slot, a thread that freed blocks of many
 * sizes to one owner (xthread) found it taken on one free in eight; two
 * slabs that took turns at a slot started a record each time, and runs
 * averaged 1.4 blocks (6.4 with two slots, and 12 % fewer instructions). */
HAK_INLINE void batch_push(hak_heap_t *me, hak_remote_buf_t *r, hak_block_t *b,
                           const hak_slab_t *s, uint32_t i) {
    unsigned j = hak_run_slot(s);
    hak_run_t *run = &r->batch->run[j];
    uint32_t bit = 1u << j;
    if (unlikely((r->batch->used & bit) && run->slab != s)) {
        j = (j + HAK_BATCH_RUNS / 2) & (HAK_BATCH_RUNS - 1);
        run = &r->batch->run[j];
        bit = 1u << j;
        if ((r->batch->used & bit) && run->slab != s) {
            batch_collide(me, r, b, s, i);
            return;
        }
    }
    batch_add(me, r, run, bit, b, s, i);
}

/* b starts a batch for `owner` in slot r, whose batch for another owner
 * (if any) goes first (a sent batch leaves the slot empty). A block for
 * which no record can be had (the OS refused the memory for one) stays
 * handed out: lost to its slab, never handed out twice. */
__attribute__((noinline)) static void free_remote_switch(hak_heap_t *me, hak_remote_buf_t *r,
                                                         hak_heap_t *owner, hak_block_t *b,
                                                         const hak_slab_t *s, uint32_t i) {
    if (r->to != NULL) send(me, r);
    r->batch = record_take(&me->batch_pool, &me->batch_back, me, &me->batch_kept);
    if (r->batch == NULL) return;
    r->to = owner;
    batch_push(me, r, b, s, i);
}

/* b (index i of slab s) joins the batch for its owner in heap me's slot. */
HAK_INLINE void free_remote_from(hak_heap_t *me, hak_slab_t *s, hak_block_t *b, uint32_t i) {
    hak_heap_t *owner = s->heap;
    hak_ctr_inc(&me->ctr.remote_frees[s->cls]);
    hak_remote_buf_t *r = &me->rbuf[s->heap_slot]; /* on the line the free read */
    if (unlikely(r->to != owner)) {
        free_remote_switch(me, r, owner, b, s, i);
        return;
    }
    batch_push(me, r, b, s, i);
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
__attribute__((noinline)) static void free_remote_unowned(hak_slab_t *s, hak_block_t *b,
                                                          uint32_t i) {
    hak_heap_t *me = _hak_heap_for_alloc();
    if (hak_heap_owned(me)) {
        free_remote_from(me, s, b, i);
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
    c->run[0] = (hak_run_t){b, b, s, 1};
    c->used = 1;
    atomic_fetch_add_explicit((_Atomic uint64_t *)&_hak_heap_shared()->ctr.remote_batches, 1,
                              memory_order_relaxed);
    deliver(s->heap, c, 1);
}

/* A free of another heap's block, marked free already (inlined into both
 * callers: the free of another thread's block is as common as a local one
 * in a producer/consumer program). Every call out is a tail call, so the
 * common case, a block added to its owner's batch, saves no register. */
HAK_INLINE void free_remote(hak_slab_t *s, hak_block_t *b, uint32_t i) {
    hak_heap_t *me = _hak_tl_heap;
    if (unlikely(!hak_heap_owned(me))) {
        free_remote_unowned(s, b, i);
        return;
    }
    free_remote_from(me, s, b, i);
}

void _hak_free_remote(hak_block_t *b, hak_slab_t *s, uint32_t i) {
    if (hak_hardened()) { /* every free comes here: no slab has the thread's pointer */
        _hak_harden_free(b, s);
        return;
    }
    hak_mark_free(b);
    free_remote(s, b, i);
}

void _hak_free_marked(hak_block_t *b, hak_slab_t *s) {
    uint32_t i = hak_block_index(s, (uintptr_t)b - s->start);
    if (atomic_load_explicit(&s->owner, memory_order_relaxed) != hak_owner_tag(hak_thread_id())) {
        free_remote(s, b, i);
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
