/* Thread heaps. Each thread allocates from the current slab of each size
 * class of its own heap and frees onto the block's slab (free-list
 * sharding: a slab's `free` list is what malloc pops, its `local_free`
 * what its owner's frees push unless the slab is current), so neither
 * fast path takes a lock or an atomic read-modify-write; api/alloc.c
 * inlines both. This layer holds the slow path of malloc (refill.c: the
 * current slab ran dry), the slab events of free (a slab emptied, or a
 * full one got blocks back), frees of other threads' blocks batched per
 * owner (remote.c), the return of idle memory to the OS (decay.c), the
 * life of a heap (heap.c: acquired by a thread, abandoned at thread exit,
 * adopted by a new thread) and what the statistics read (census.c). Calls
 * the segment layer and those below; upward only through the hooks at the
 * end, which upper layers set at start-up. */
#ifndef HAKMEM_HEAP_H
#define HAKMEM_HEAP_H

#include "segment/segment.h"

typedef struct hak_counters {
    /* spans (blocks past the mid tier up to HAK_SPAN_MAX, one per slab):
     * those no longer live; the census adds the live ones */
    uint64_t span_allocs, span_frees, span_bytes_in_use;
    uint64_t allocs[HAK_CLASSES];       /* of slabs no longer live (live ones count their own) */
    uint64_t frees[HAK_CLASSES];        /* likewise */
    uint64_t misses[HAK_CLASSES];       /* slow-path refills: the current slab ran dry */
    /* frees of other threads' blocks, by the freeing thread; spans' at
     * HAK_SPAN_CLASS, so that a remote free indexes by its slab's class */
    uint64_t remote_frees[HAK_CLASSES + 1];
    uint64_t remote_batches; /* sent, by the freeing thread: remote_frees / this blocks each */
    uint64_t flushes[HAK_CLASSES];      /* empty slabs given back to their segment */
    uint64_t held[HAK_CLASSES];         /* freed blocks waiting in the heap's quarantine (hardened
                                         * mode): freed for the statistics, out for their slabs */
} hak_counters_t;

/* Who may touch a heap: its thread (OWNED); anyone holding the registry
 * lock (ABANDONED: its thread exited, SHARED: the heap of threads without
 * one); nobody (DEAD: its thread did not survive a fork); EMPTY: the
 * heaps with no slab a thread sees before it has one and after its exit. */
enum hak_heap_state {
    HEAP_OWNED = 0, HEAP_ABANDONED = 1, HEAP_SHARED = 2, HEAP_DEAD = 3, HEAP_EMPTY = 4
};

/* Room the heap keeps for the large tier's per-thread state (large.c: its
 * stash of freed blocks and their counters), so that one TLS pointer
 * reaches both; this layer never reads it. */
#define HAK_HEAP_TIER_WORDS 6
#define HAK_DIRECT_SLOTS ((HAK_TINY_MAX >> 4) + 1) /* malloc's table: (size + 15) / 16 */
/* Owners a thread batches its remote frees for at once, a slot per heap by
 * the order heaps were made (threads reuse the heaps of exited ones): up
 * to this many threads free to each other without two owners taking
 * turns in one slot, each turn sending a batch of a few blocks (16
 * threads freeing to each other with 8 slots hashed by address: 6 M frees
 * per second, where mimalloc 3 makes 39-46 M). */
#define HAK_REMOTE_SLOTS 64

/* Frees of one owner's blocks by another thread travel in batches
 * (remote.c): records of the blocks' addresses, which the freeing thread
 * writes in turn (a line per 8 blocks, its own). The owner's drain links
 * each block onto its slab's list itself: the stores to lines another core
 * wrote last go out together, where links the freeing thread had written
 * were read back one after the other by malloc's pops, each a miss that
 * waited for the one before (a chain of misses: producer/consumer pairs
 * spent most of malloc's time on that load). A batch is a list of records;
 * a record belongs to the heap of the thread that filled it (`home`: NULL
 * for threads without a heap) and goes back there once read, so records
 * are made once and reused. */
#define HAK_BATCH_BLOCKS 128
typedef struct hak_batch {
    struct hak_batch *next; /* the next batch on its owner's queue, or record of its home's pool */
    struct hak_batch *more; /* the batch's record before this one */
    struct hak_heap *home;
    uint32_t used;          /* blocks in the record */
    hak_block_t *block[HAK_BATCH_BLOCKS];
} hak_batch_t;

typedef struct hak_remote_buf {
    struct hak_heap *to;
    hak_batch_t *batch; /* the record being filled for `to` (NULL: none yet) */
    uint32_t count;
    uint32_t bytes; /* of the blocks in the batch: a batch of large blocks goes sooner */
} hak_remote_buf_t;

/* A block its owner frees to a slab that is not current waits on its
 * class's hot stack in the heap, which the class's next malloc pops before
 * its current slab: the block comes back while its lines are still in
 * cache, and neither the free nor the malloc touches the slab's written
 * line. On the slab's lists it waited for the slab to become current
 * again, cold by then: a mid slab holds few blocks (8 to 16 of 32 KiB), so
 * most of a mid class's frees land there (each of 2 threads replacing
 * 8-32 KiB blocks among 256 live: 55-72 -> 62-88 M ops/s), and so do a
 * program's frees of small blocks it allocated long ago (random
 * replacement over 256 MiB of small blocks: 3 misses of the second-level
 * cache per replacement in the allocator, 1.4 with the stacks). A stack
 * has room for HAK_HOT_DEPTH blocks and HAK_HOT_CLASS_BYTES at first; a
 * class whose frees keep finding it full while malloc keeps popping it
 * doubles its room, up to HAK_HOT_MAX_DEPTH and HAK_HOT_MAX_CLASS_BYTES,
 * within HAK_HOT_GROWN_BYTES of grown room per heap and
 * HAK_HOT_GROWN_ALL_BYTES for every heap together (refill.c), and the
 * owner's decay passes halve the room of a class that never found it full
 * since the last pass (decay.c). A thread that stops allocating holds at
 * most its stacks' room until its exit; one that goes on gives an unused
 * stack back with its idle class. Its blocks stay marked free (a double
 * free is caught) and count as handed out to their slabs, as free to the
 * statistics. */
#define HAK_HOT_DEPTH 8
#define HAK_HOT_CLASS_BYTES (256u << 10)
#define HAK_HOT_MAX_DEPTH 32
#define HAK_HOT_MAX_CLASS_BYTES (1u << 20)
#define HAK_HOT_GROWN_BYTES (4u << 20)
#define HAK_HOT_GROWN_ALL_BYTES (32u << 20)

/* How big a class's new slabs are (refill.c): a switch of current slab
 * costs the heap's lock and list work, so a class that churns among a few
 * slabs for few blocks per switch gets bigger slabs, and one spread over
 * many slabs smaller ones again, which long-lived blocks pin less of. */
typedef struct hak_slab_sizing {
    uint32_t mark;    /* the current slab's `allocs` when it became current */
    uint32_t yield;   /* blocks handed out by the slabs of this window's switches */
    uint32_t switches; /* switches in this window */
    uint32_t level;   /* new slabs get _hak_slab_units[level][cls] (the census reads it) */
    uint32_t slabs;   /* slabs of the class with blocks out (current, queued or full) */
    /* Empty slabs kept beyond HAKMEM_TCACHE_CAP's (refill.c): the class
     * gave `given` back for lack of room since the last decay pass and then
     * had to make a new one, so its bursts outgrow the cap; the slabs the
     * decay passes find idle take it back down. */
    uint32_t keep, given;
} hak_slab_sizing_t;

/* What the owner's decay pass last saw of a class's current slab
 * (decay.c): a class that took nothing from it for the decay delay gives
 * it up, so that its free pages can go back like any other slab's. */
typedef struct hak_class_watch {
    const struct hak_slab *slab; /* the current slab then */
    uint64_t allocs;             /* its count then: every refill and every free onto it moves it */
    uint32_t free;               /* the head of malloc's list then: every pop moves it */
    const hak_block_t *hot;      /* the top of the class's hot stack then (NULL: empty) */
    uint64_t hot_pops;           /* its pops then: a block freed and taken again between two
                                  * passes leaves the top as it was */
    uint64_t since;              /* ns: when the pass first saw all five as they are */
} hak_class_watch_t;

struct hak_quarantine; /* hardened mode's freed blocks held back (harden.c) */

typedef struct hak_heap {
    /* malloc's fast path sees the current slabs through these two (none in
     * hardened mode, so every allocation takes the hardened path) */
    hak_slab_t *direct[HAK_DIRECT_SLOTS]; /* current slab by (size + 15) / 16, sizes <= 1 KiB */
    hak_slab_t *fast[HAK_CLASSES];        /* current slab by class */
    uint8_t hot_n[HAK_CLASSES + 1];       /* blocks on each class's hot stack (spans': none) */
    uint8_t hot_room[HAK_CLASSES + 1];    /* room on it (0: spans) */
    uint8_t hot_full[HAK_CLASSES + 1];    /* frees that found it full since it last grew or
                                           * the owner's decay pass (1: some, counted anew) */
    hak_block_t *hot[HAK_CLASSES][HAK_HOT_MAX_DEPTH]; /* the hot stacks */
    uint64_t hot_pops[HAK_CLASSES];       /* blocks malloc took from them (the census's) */
    uint32_t hot_pops_seen[HAK_CLASSES];  /* hot_pops when the room last grew or was reset */
    uint32_t hot_grown;                   /* bytes of room beyond the first, every class */
    hak_slab_t *cur[HAK_CLASSES];         /* current slab of each class */
    hak_slab_t *queue[HAK_CLASSES];       /* other slabs of the class with blocks to give */
    hak_slab_t *empty[HAK_CLASSES];       /* empty slabs kept for reuse */
    uint32_t empty_count[HAK_CLASSES];
    hak_slab_sizing_t sizing[HAK_CLASSES];
    hak_class_watch_t watch[HAK_CLASSES]; /* the owner's decay passes only */
    hak_slab_t *span_empty;               /* freed spans kept (freed twice: caught) */
    _Atomic(hak_slab_t *) span_parked;    /* the owner's last freed span, off every list */
    uint32_t span_empty_units;
    uint16_t span_colour;                 /* new spans so far: the last one's colour (span.c) */
    _Atomic(hak_batch_t *) remote;        /* other threads' frees, in batches */
    _Atomic(hak_batch_t *) batch_back;    /* its records their owners read, back */
    _Atomic uint32_t remote_count;
    _Atomic uint64_t remote_since;        /* ns: when the queue last went from empty to not */
    uint64_t drain_since;                 /* while the owner gives back memory that went idle
                                           * earlier (a drain, an idle class): since when */
    _Atomic int state;                    /* enum hak_heap_state */
    uint32_t freed_ownerless;             /* blocks freed into it since its thread exited */
    uintptr_t owner;                      /* thread pointer of its thread, 0 when none */
    hak_seglist_t segs;                   /* the heap's segments */
    uint32_t slow_events;                 /* slow paths since the clock was last read */
    hak_batch_t *batch_pool;              /* records to fill: the owner's, off others' lines */
    uint32_t batch_kept;                  /* batches of the pool its drains kept */
    uint32_t rbuf_pending;                /* bytes of the blocks waiting in rbuf */
    uint32_t rbuf_ticks;                  /* slow paths since rbuf was last sent in full */
    uint64_t next_decay;                  /* ns: this heap's next decay pass */
    struct hak_heap *next_all;            /* registry of every heap */
    uint16_t slot;                        /* its slabs' heap_slot: made n-th, n % HAK_REMOTE_SLOTS */
    struct hak_heap *next_pool;           /* pool of abandoned heaps */
    hak_remote_buf_t rbuf[HAK_REMOTE_SLOTS]; /* this thread's frees of other heaps' blocks */
    /* Held by the owner while it changes its slabs' lists, descriptors or
     * segments (slow paths only), by threads that give its idle memory
     * back, and by the statistics' census. */
    hak_spin_t lock;
    void *tier_local[HAK_HEAP_TIER_WORDS]; /* the large tier's; opaque here */
    struct hak_quarantine *quarantine;     /* hardened mode: made on the first free */
    hak_counters_t ctr;                    /* written by the owner (or under the lock) */
} hak_heap_t;

/* The calling thread's heap: the empty heap before its first allocation,
 * the exited heap once its exit hook ran; never NULL, so malloc's fast
 * path needs no test (the empty heaps' slabs hold nothing). */
extern __thread hak_heap_t *_hak_tl_heap __attribute__((tls_model("initial-exec")));

/* The calling thread's own heap (not an empty, exited or shared one). */
HAK_INLINE bool hak_heap_owned(const hak_heap_t *h) {
    return atomic_load_explicit(&h->state, memory_order_relaxed) == HEAP_OWNED;
}

/* The calling thread's identity without a TLS lookup: the thread pointer,
 * which slabs keep as their owner. */
HAK_INLINE uintptr_t hak_thread_id(void) {
#if defined(__x86_64__)
    /* the TCB's first word points to itself (x86_64 TLS ABI): a load the
     * compiler may fold into a compare. __seg_fs is gcc's named address
     * space (a GNU dialect keyword) and clang's macro for its
     * address_space(257); a compiler that ignored the qualifier would read
     * address 0, hence no fallback. gcc's UBSan null check takes address 0
     * of any address space for NULL and traps here: gcc's debug builds
     * leave that check out (tasks/build/cc.ts). */
#if defined(__SEG_FS) && (defined(__clang__) || !defined(__STRICT_ANSI__))
    return *(const __seg_fs uintptr_t *)0;
#elif defined(__SEG_FS)
#error "hakmem: gcc has __seg_fs only in its GNU dialects: compile with -std=gnu11 (free reads the thread pointer through it)"
#else
#error "hakmem: this compiler has no __seg_fs (gcc >= 6 and clang have it): free reads the thread pointer through it"
#endif
#elif defined(__aarch64__)
    uintptr_t tp;
    __asm__("mrs %0, tpidr_el0" : "=r"(tp));
    return tp;
#else
#error "hakmem: no thread pointer for this architecture"
#endif
}

/* --*count <= 0 as one decrement and its flags: the count never overflows,
 * which the compiler cannot know. */
HAK_INLINE bool hak_dec_le0(int32_t *count) {
#if defined(__x86_64__)
    __asm__ goto("decl %0\n\tjle %l[yes]" : "+m"(*count) : : "cc" : yes);
    return false;
yes:
    return true;
#else
    return --*count <= 0;
#endif
}

/* Hands out block i, the first of the slab's malloc list (i < carved,
 * counted as handed out when it joined the list). Its link, decoded, is
 * the next index: checked when it is popped in its turn. The next block's
 * line is asked for now: the next malloc of the class reads its link, and
 * a block freed long ago is a cache miss there (python's dicts and lists
 * under PYTHONMALLOC=malloc spent two thirds of malloc's time on that one
 * load). Past the list's end the address is only prefetched, never read. */
HAK_INLINE void *hak_slab_take(hak_slab_t *s, uint32_t i) {
    hak_block_t *b = hak_block_at(s, i);
    /* one register for the block: clang otherwise keeps the slab's start
     * and the offset apart to address it, two instructions more */
    __asm__("" : "+r"(b));
    uint32_t next = hak_link_get(b);
    b->mark = 0;
    s->free = next;
    hak_prefetch_write(hak_block_at(s, next));
    return b;
}

/* The top bit of a slab's `allocs` (a count that never nears 2^63): a
 * drain put other threads' frees on its malloc list since the list was
 * last put in address order (refill.c), so that the walk that does it runs
 * only where it has something to do. */
#define HAK_ALLOCS_UNSORTED (1ull << 63)
HAK_INLINE uint64_t hak_slab_allocs(const hak_slab_t *s) {
    return s->allocs & ~HAK_ALLOCS_UNSORTED;
}

/* ---- per-class knobs (refill.c): runtime variables ACE and
 * hak_class_knob_set change ---- */
extern _Atomic uint32_t _hak_tcache_cap[HAK_CLASSES];
extern _Atomic uint32_t _hak_prewarm[HAK_CLASSES];
/* Empty slabs a class keeps hold at most 1 MiB of blocks per thread (and 4
 * blocks at least): the most a capacity of the class may be. */
#define HAK_CLASS_CACHE_BYTES HAK_MIB
#define HAK_CLASS_CACHE_MIN 4
uint32_t _hak_class_cap_limit(unsigned cls);
/* Capacities from HAKMEM_TCACHE(_CAP), pre-warm counts from the table's
 * rows: at start-up and when HAKMEM_TCACHE_CAP changes. */
void _hak_class_knobs_derive(void);

/* ---- spans (span.c) ---- */
/* A span of at least `size` bytes (HAK_MID_MAX < size <= HAK_SPAN_MAX),
 * zeroed when asked, starting its unit when `aligned` (else a colour into
 * it); NULL + ENOMEM when the OS refuses memory. */
void *_hak_span_alloc(size_t size, bool zero, bool aligned);
/* Grows the span `s` (whose block is p) in place to hold `size`, when the
 * units after it are free and the caller's thread owns it; false if not. */
bool _hak_span_grow(hak_slab_t *s, size_t size);

/* ---- the slow paths (refill.c, remote.c) ---- */
/* malloc's slow path for a block of class cls (start-up done); NULL +
 * ENOMEM when there is no memory. */
void *_hak_class_alloc(unsigned cls);
/* A free the fast path did not finish: a double free, an interior or
 * invalid pointer into a segment (the block's head is looked up again). */
void _hak_free_slow(void *p);
/* The same for p, found a block's start in head slab s. */
void _hak_free_located(void *p, hak_slab_t *s);
/* Stops the process naming the call ("free", "realloc", ...) and what is
 * wrong with pointer a: into no live slab, or not at a block's start. */
__attribute__((noreturn, cold)) void _hak_small_locate_failed(uintptr_t a, const char *call);
/* The head slab of small block a, or fails naming the call (inline: realloc
 * and malloc_usable_size look a block up on every call). */
HAK_INLINE hak_slab_t *_hak_small_locate_or_fail(uintptr_t a, const char *call) {
    hak_slab_t *s = hak_small_locate(a);
    if (unlikely(s == NULL)) _hak_small_locate_failed(a, call);
    return s;
}
void _hak_slab_event(hak_slab_t *s); /* a free took `used` to 0 */

/* Frees onto a current slab's malloc list between two heartbeats of its
 * owner. A thread that frees what it allocates may never see malloc's list
 * run dry, and the slow path is where a thread looks at the clock (decay),
 * drains other threads' frees to it, sends its own and lets ACE start or
 * tick: every this many such frees, that heartbeat runs
 * (_hak_slab_lifo_tick). */
#define HAK_LIFO_PERIOD 64

/* A current slab's frees onto malloc's list since its last heartbeat join
 * its count of blocks handed out (as a refill counts the blocks it puts on
 * the list). */
HAK_INLINE void hak_slab_lifo_settle(hak_slab_t *s) {
    s->allocs += (uint32_t)(HAK_LIFO_PERIOD - s->lifo_left);
    s->lifo_left = HAK_LIFO_PERIOD;
}
void _hak_slab_lifo_tick(hak_slab_t *s);
/* Pops of a class's hot stack between two heartbeats (HAK_LIFO_PERIOD,
 * counted by its `hot_pops`): a thread whose frees all wait on its hot
 * stacks and whose mallocs all pop them never ran a slow path, so never
 * looked at the clock for its decay passes nor drained other threads'
 * frees to it. Returns b, the block popped (a tail call: malloc's fast
 * path keeps no frame for it). The branch costs random replacement over
 * 256 MiB (large_ws) about a fifth of its speed, as did every countdown
 * tried on the push side, though callgrind counts 0.1 % of its
 * instructions in the tick and cachegrind the same misses: a branch on
 * the stack's count, loaded already, costs nothing there. */
__attribute__((returns_nonnull)) void *_hak_hot_tick(hak_heap_t *h, hak_block_t *b);

/* The one local free: block b, index i of the caller's own slab s, marked
 * free with `mark` (the key in hand). A block of the class's current slab
 * goes on malloc's list, which hands it out next, its lines still in cache
 * (pushed onto the local list, it came back only after the rest of the
 * slab); one of another slab onto the slab's list of local frees, and the
 * free that takes the count to 0 tells the heap. */
HAK_INLINE void hak_slab_free_local(hak_slab_t *s, hak_block_t *b, uint32_t i, uintptr_t mark) {
    if (likely(s->current)) {
        b->link = s->free ^ (uint32_t)mark; /* hak_link_set with the key in hand */
        s->free = i;
        if (unlikely(hak_dec_le0(&s->lifo_left))) _hak_slab_lifo_tick(s);
        return;
    }
    b->link = s->local_free ^ (uint32_t)mark;
    s->local_free = i;
    if (unlikely(hak_dec_le0(&s->used))) _hak_slab_event(s);
}

/* The free of block b (hak_free_owned's arguments) found its class's hot
 * stack full as often as it has room since the room last grew: the room
 * may grow (refill.c), then the one local free. Out of line and last, so
 * the fast path keeps no frame for it. */
void _hak_hot_full(hak_slab_t *s, hak_block_t *b, uint32_t i, uintptr_t mark);

/* free's fast path for block b, index i of the caller's own slab s, marked
 * free with `mark`: onto the class's hot stack when the slab is not
 * current and the stack has room, else the one local free. */
HAK_INLINE void hak_free_owned(hak_slab_t *s, hak_block_t *b, uint32_t i, uintptr_t mark) {
    if (unlikely(!s->current)) {
        unsigned cls = s->cls;
        hak_heap_t *h = s->heap;
        uint32_t n = h->hot_n[cls], room = h->hot_room[cls];
        if (n < room) {
            h->hot[cls][n] = b;
            h->hot_n[cls] = (uint8_t)(n + 1);
            return;
        }
        if (room != 0 && unlikely(++h->hot_full[cls] >= room)) {
            _hak_hot_full(s, b, i, mark);
            return;
        }
    }
    hak_slab_free_local(s, b, i, mark);
}

/* malloc's pop from the hot stack of class cls: NULL when empty. */
HAK_INLINE void *hak_hot_pop(hak_heap_t *h, unsigned cls) {
    uint32_t n = h->hot_n[cls];
    if (n == 0) return NULL;
    hak_block_t *b = h->hot[cls][n - 1];
    h->hot_n[cls] = (uint8_t)(n - 1);
    uint64_t pops = hak_ctr_inc(&h->hot_pops[cls]);
    b->mark = 0;
    if (unlikely((pops & (HAK_LIFO_PERIOD - 1)) == 0)) return _hak_hot_tick(h, b);
    return b;
}

/* A free of block b of another thread's slab s (the head slab, the block
 * checked by the fast path: a block start, not marked free). The block
 * comes first, where free's pointer already is. */
void _hak_free_remote(hak_block_t *b, hak_slab_t *s);
/* A free of block b of slab s (its head), checked and marked free: onto
 * the slab's local list when the calling thread owns it, else to its
 * owner's batch. */
void _hak_free_marked(hak_block_t *b, hak_slab_t *s);

/* ---- hardened mode (harden.c) ---- */
/* A block of class cls, its filling checked (a write after its free stops
 * the process), its first words cleared, its canary written; NULL +
 * ENOMEM when there is no memory. */
void *_hak_harden_alloc(unsigned cls);
/* A free of block b of slab s, checked by the fast path (a block start,
 * not free): its canary checked, the block filled and marked, then held
 * in the thread's quarantine while the oldest held one is freed. */
void _hak_harden_free(hak_block_t *b, hak_slab_t *s);
/* Fills a free block from its third word on (carving, recarving). */
void _hak_harden_fill(hak_block_t *b, uint32_t bsize);

/* ---- heaps (heap.c) ---- */
void _hak_heaps_init(void);
void _hak_heap_thread_exit(void *heap);
void _hak_heaps_lock(void);
void _hak_heaps_unlock(void);
void _hak_heaps_child_reset(void);
hak_heap_t *_hak_heap_shared(void); /* threads without a heap: guarded by the registry lock */
/* The calling thread's heap, made now when it has none (as its first small
 * malloc makes it); the empty heap while hakmem starts up or without
 * thread caches. */
hak_heap_t *_hak_heap_mine(void);
/* Calls fn on every heap under the registry lock (the large tier sums its
 * per-thread counters so). */
void _hak_heaps_each(void (*fn)(hak_heap_t *h, void *arg), void *arg);
void _hak_thread_flush(void);

/* ---- idle memory back to the OS (decay.c) ---- */
/* hak_trim: the caller's heap flushed, then everything idle released. */
size_t _hak_heaps_trim(void);
/* Memory idle for at least `delay_ns` (0: all of it) given back to the OS in
 * every heap whose lock is free, until the deadline: empty slabs kept,
 * free units, segments without a slab, and the pages of partly used slabs
 * whose blocks are all free. */
size_t _hak_heaps_release(uint64_t deadline_ns, uint64_t delay_ns);
void _hak_release_lock(void); /* held by releases across heaps; fork takes it */
void _hak_release_unlock(void);
/* What decay did: passes, bytes given back, purged bytes handed out again. */
extern _Atomic uint64_t _hak_decay_runs, _hak_decay_bytes;
/* Bytes of room the hot stacks grew beyond their first, every heap (refill.c). */
extern _Atomic uint64_t _hak_hot_grown_all;

/* ---- what the statistics and ACE read (census.c) ---- */
void _hak_heaps_sum(hak_counters_t *out, uint64_t *created, uint64_t *reused, uint64_t *live);
/* Bytes idle in the empty slabs heaps keep, remote frees queued, heaps
 * with a thread. */
void _hak_heaps_probe(uint64_t *cached_bytes, uint64_t *backlog, uint64_t *live);
uint64_t _hak_heaps_made(void); /* heaps made or adopted by a thread so far: a racy read */

/* ---- upward hooks, set at start-up ---- */
/* Called on the tiers' slow paths (a refill, a large allocation) while
 * set: ACE sets it while it waits to start, so that its thread starts from
 * an allocation and never from inside start-up. */
typedef void (*hak_hook_fn)(void);
extern _Atomic(hak_hook_fn) _hak_slow_path_hook;
void _hak_on_slow_path(hak_hook_fn fn); /* NULL: none */

HAK_INLINE void hak_slow_path_seen(void) {
    hak_hook_fn hook = atomic_load_explicit(&_hak_slow_path_hook, memory_order_relaxed);
    if (unlikely(hook != NULL)) hook();
}

/* Called with every heap that flushes its caches (thread exit,
 * hak_thread_flush, trim): the large tier empties its stash so. */
void _hak_heap_on_flush(void (*fn)(hak_heap_t *h));
/* Called when the heaps decay: with the owner's heap from its slow path,
 * with NULL from a pass over every heap; the large tier decays its stash
 * and BigCache so, with the same delay. */
typedef size_t (*hak_decay_fn)(hak_heap_t *h, uint64_t delay_ns); /* returns bytes released */
void _hak_heap_on_decay(hak_decay_fn fn);

#endif
