/* The top: starts every layer, lowest first, wires the hooks through which
 * lower layers reach upper ones, and keeps the allocator consistent across
 * fork(). os/start.c calls _hak_start once (lazily, or from the library
 * constructor); nothing else calls into this file. */
#include "learn/learn.h"

static void fork_prepare(void) {
    _hak_ace_lock();
    _hak_release_lock();
    _hak_heaps_lock();
    _hak_large_lock();
    _hak_guard_lock();
    _hak_segment_lock();
    _hak_os_lock();
    _hak_elo_lock();
}

static void unlock_allocator(void) {
    _hak_elo_unlock();
    _hak_os_unlock();
    _hak_segment_unlock();
    _hak_guard_unlock();
    _hak_large_unlock();
    _hak_heaps_unlock();
}

static void fork_parent(void) {
    unlock_allocator();
    _hak_release_unlock();
    _hak_ace_unlock();
}

/* The forking thread took every lock in fork_prepare and is the only
 * thread of the child: the heaps of the threads that did not survive are
 * marked, ACE will start again when wanted, then the locks are released
 * as in the parent. */
static void fork_child(void) {
    _hak_heaps_child_reset();
    unlock_allocator();
    _hak_release_unlock();
    _hak_ace_child();
}

void _hak_start(void) {
    _hak_os_init();
    _hak_pagemap_init();
    _hak_classes_init();
    _hak_options_init();
    _hak_keys_init();
    _hak_class_knobs_derive();
    /* The upward hooks, before anything is served:
     *   heap flush          -> large (each thread's stash goes to BigCache)
     *   memory pressure     -> api   (segment and large tiers: release the caches)
     *   large strategy      -> learn (ELO picks each block's cache threshold)
     *   slow path, summary  -> learn (ACE starts from a slow path; its stats line) */
    _hak_large_init();
    _hak_api_init();
    _hak_elo_init();
    _hak_ace_init();
    /* From here allocations are served (by the shared heap while start-up
     * runs), so the calls below may allocate. */
    _hak_heaps_init();
    /* Registered during start-up, so in fork() these handlers run after
     * those registered later by the program, as glibc's own malloc locks
     * do. */
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    _hak_crash_handlers_install();
    _hak_pmu_init();
}
