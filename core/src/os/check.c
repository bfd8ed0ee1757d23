/* Failures: one line naming the pointer and the check, then abort; warnings;
 * and a one-line note when the process dies of a crash signal. Nothing here
 * allocates. */
#include "os.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Atomic int _hak_aborting;

void _hak_fail(const char *what, const void *ptr) {
    char line[256];
    int n = snprintf(line, sizeof(line), "hakmem: %s: pointer %p (pid %d, %s build)\n", what, ptr,
                     _hak_os_pid(), HAK_FLAVOUR);
    atomic_store(&_hak_aborting, 1);
    _hak_write_all(STDERR_FILENO, line, n > 0 ? (size_t)n : 0);
    abort();
}

void _hak_fatal(const char *what) {
    char line[256];
    int n = snprintf(line, sizeof(line), "hakmem: %s (pid %d, %s build)\n", what, _hak_os_pid(),
                     HAK_FLAVOUR);
    atomic_store(&_hak_aborting, 1);
    _hak_write_all(STDERR_FILENO, line, n > 0 ? (size_t)n : 0);
    abort();
}

void _hak_warn(const char *fmt, ...) {
    char line[1024]; /* a path of up to 511 bytes and what is wrong with it */
    int n = snprintf(line, sizeof(line), "hakmem: ");
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(line) - 2) n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    _hak_write_all(STDERR_FILENO, line, (size_t)n);
}

static const char *sig_name(int sig) {
    return sig == SIGSEGV ? "SIGSEGV" : sig == SIGBUS ? "SIGBUS" : sig == SIGILL ? "SIGILL" : "SIGABRT";
}

static void crash_note(int sig, siginfo_t *info, void *ctx) {
    (void)ctx;
    if (!atomic_load(&_hak_aborting)) {
        char line[160];
        int n;
        /* kill, tgkill, sigqueue (raise, abort): no fault, a sender */
        if (info != NULL && (info->si_code == SI_USER || info->si_code == SI_TKILL ||
                             info->si_code == SI_QUEUE))
            n = snprintf(line, sizeof(line), "hakmem: crash: signal %d (%s) sent by pid %d, pid %d\n",
                         sig, sig_name(sig), (int)info->si_pid, _hak_os_pid());
        else
            n = snprintf(line, sizeof(line), "hakmem: crash: signal %d (%s) at address %p, pid %d\n",
                         sig, sig_name(sig), info ? info->si_addr : NULL, _hak_os_pid());
        _hak_write_all(STDERR_FILENO, line, n > 0 ? (size_t)n : 0);
    }
    /* SA_RESETHAND restored the default action: the process ends as it
     * would have without hakmem. */
    raise(sig);
}

/* Installs the note only where the program has no handler of its own. */
void _hak_crash_handlers_install(void) {
    if (!hak_opt(OPT_CRASH_NOTE)) return;
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGABRT};
    for (unsigned i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        struct sigaction old;
        if (sigaction(sigs[i], NULL, &old) != 0) continue;
        if (!(old.sa_flags & SA_SIGINFO) && old.sa_handler != SIG_DFL) continue;
        if ((old.sa_flags & SA_SIGINFO) && old.sa_sigaction != NULL) continue;
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_sigaction = crash_note;
        sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER;
        sigemptyset(&sa.sa_mask);
        sigaction(sigs[i], &sa, NULL);
    }
}
