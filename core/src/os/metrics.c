/* Where the OS layer's primitives meet learning: the sample hooks learning
 * installs, and the waits on hakmem's locks, timed only while they are
 * installed and only when a lock is contended, so the fast path pays
 * nothing. */
#include "os.h"

const hak_sample_hooks_t *_Atomic _hak_sample_hooks;

static void waited(uint64_t t0) {
    const hak_sample_hooks_t *h = hak_sampling();
    if (h != NULL) h->lock_wait(_hak_now_ns() - t0);
}

/* The holder is usually a few hundred instructions from done: spin that
 * long, then yield the CPU. */
#define SPIN_BEFORE_YIELD 128

void _hak_spin_wait(hak_spin_t *l) {
    uint64_t t0 = hak_sampling() != NULL ? _hak_now_ns() : 0;
    for (unsigned i = 0;; i++) {
        if (atomic_load_explicit(&l->v, memory_order_relaxed) == 0 &&
            atomic_exchange_explicit(&l->v, 1, memory_order_acquire) == 0)
            break;
        if (i < SPIN_BEFORE_YIELD) _hak_os_cpu_relax();
        else _hak_os_yield();
    }
    if (t0 != 0) waited(t0);
}

void _hak_lock_slow(pthread_mutex_t *m) {
    uint64_t t0 = _hak_now_ns();
    pthread_mutex_lock(m);
    waited(t0);
}
