/* Start-up, once: lazily on the first call into hakmem, or from the
 * library constructor, whichever comes first. _hak_start (init/init.c, the
 * top layer) starts every layer; this file makes it run once, lets the
 * starting thread allocate meanwhile, and makes other threads wait. */
#include "os.h"

#include <sched.h>

_Atomic int _hak_init_state;
static pthread_t g_init_thread;

void _hak_init(void) {
    int expected = HAK_INIT_NONE;
    if (atomic_compare_exchange_strong(&_hak_init_state, &expected, HAK_INIT_RUNNING)) {
        g_init_thread = pthread_self();
        _hak_start();
        atomic_store_explicit(&_hak_init_state, HAK_INIT_DONE, memory_order_release);
        return;
    }
    if (expected == HAK_INIT_RUNNING && pthread_equal(g_init_thread, pthread_self())) return;
    while (atomic_load_explicit(&_hak_init_state, memory_order_acquire) != HAK_INIT_DONE)
        sched_yield();
}

bool _hak_init_in_progress_here(void) {
    return atomic_load_explicit(&_hak_init_state, memory_order_acquire) == HAK_INIT_RUNNING &&
           pthread_equal(g_init_thread, pthread_self());
}

__attribute__((constructor)) static void init_at_load(void) { hak_ensure_init(); }
