/* Start-up (lazy on the first call, or from the constructor, whichever
 * comes first) and fork safety. */
#include "internal.h"

#include <sched.h>

_Atomic int _hak_init_state;
static pthread_t g_init_thread;

static void fork_prepare(void) {
    _hak_ace_lock();
    _hak_heaps_lock();
    _hak_large_lock();
    _hak_segment_lock();
    _hak_os_lock();
    _hak_elo_lock();
}

static void unlock_allocator(void) {
    _hak_elo_unlock();
    _hak_os_unlock();
    _hak_segment_unlock();
    _hak_large_unlock();
    _hak_heaps_unlock();
}

static void fork_parent(void) {
    unlock_allocator();
    _hak_ace_unlock();
}

/* The forking thread took every lock in fork_prepare and is the only
 * thread of the child: the heaps of the threads that did not survive are
 * marked, ACE will start again when wanted, then the locks are released
 * as in the parent. */
static void fork_child(void) {
    _hak_heaps_child_reset();
    unlock_allocator();
    _hak_ace_child();
}

void _hak_init(void) {
    int expected = 0;
    if (atomic_compare_exchange_strong(&_hak_init_state, &expected, 1)) {
        g_init_thread = pthread_self();
        _hak_os_init();
        _hak_classes_init();
        _hak_options_init();
        _hak_free_key = (uintptr_t)_hak_os_random() | 1;
        _hak_elo_init();
        _hak_ace_init();
        /* From here allocations are served (by the shared heap while this
         * function runs), so the calls below may allocate. */
        _hak_heaps_init();
        /* Registered during start-up, so in fork() these handlers run after
         * those registered later by the program, as glibc's own malloc
         * locks do. */
        pthread_atfork(fork_prepare, fork_parent, fork_child);
        _hak_crash_handlers_install();
        _hak_pmu_init();
        atomic_store_explicit(&_hak_init_state, 2, memory_order_release);
        return;
    }
    if (expected == 1 && pthread_equal(g_init_thread, pthread_self())) return;
    while (atomic_load_explicit(&_hak_init_state, memory_order_acquire) != 2) sched_yield();
}

bool _hak_init_in_progress_here(void) {
    return atomic_load_explicit(&_hak_init_state, memory_order_acquire) == 1 &&
           pthread_equal(g_init_thread, pthread_self());
}

__attribute__((constructor)) static void init_at_load(void) { hak_ensure_init(); }

const char *hak_version(void) { return "1.0.0 " HAK_FLAVOUR; }
