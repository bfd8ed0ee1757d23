/* Process services: clocks, CPU time, page faults, resident memory, the
 * cache size, the write loop, the process id, sleeping, a background
 * thread, the random seed and the symbols of other loaded objects (the C++
 * runtime's). With mem.c (mappings), pmu.c (the cache-miss counter), out.c
 * (the files hakmem writes) and check.c (failures, signals) this is
 * everything hakmem asks of the kernel and the C library. */
#include "os.h"

#include <dlfcn.h>
#include <link.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_S 1000000000u
#define LLC_GUESS ((size_t)8 << 20) /* when the CPU does not say: a common L3 size */

static uint64_t ns_of(const struct timespec *ts) {
    return (uint64_t)ts->tv_sec * NS_PER_S + (uint64_t)ts->tv_nsec;
}

uint64_t _hak_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ns_of(&ts);
}

uint64_t _hak_coarse_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return ns_of(&ts);
}

void _hak_os_yield(void) { sched_yield(); }

void _hak_os_cpu_relax(void) {
#if defined(__x86_64__)
    __asm__ volatile("pause");
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

uint64_t _hak_thread_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ns_of(&ts);
}

uint64_t _hak_process_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ns_of(&ts);
}

bool _hak_os_faults(uint64_t *minor, uint64_t *major) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return false;
    *minor = (uint64_t)ru.ru_minflt;
    *major = (uint64_t)ru.ru_majflt;
    return true;
}

uint64_t _hak_os_rss_bytes(void) {
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    char buf[128];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = '\0';
    unsigned long long size = 0, resident = 0;
    if (sscanf(buf, "%llu %llu", &size, &resident) != 2) return 0;
    return (uint64_t)resident * _hak_page_size;
}

/* Whether /proc/self/task/<tid> is a thread still running: a main thread
 * that called pthread_exit stays there as a zombie (state Z) until the
 * process ends. */
static bool task_live(const char *tid) {
    char path[64], buf[256];
    snprintf(path, sizeof(path), "/proc/self/task/%s/stat", tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false; /* gone meanwhile */
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) return false;
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command may hold any byte */
    return p != NULL && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

/* Read with getdents64 rather than opendir, which would allocate. */
unsigned _hak_os_live_threads(void) {
    int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return 0;
    char buf[4096] __attribute__((aligned(8)));
    unsigned live = 0;
    long n;
    while ((n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
        for (long off = 0; off < n;) {
            struct {
                uint64_t ino;
                int64_t off;
                unsigned short reclen;
                unsigned char type;
                char name[];
            } *d = (void *)(buf + off);
            if (d->name[0] != '.' && task_live(d->name)) live++;
            off += d->reclen;
        }
    }
    close(fd);
    return n < 0 ? 0 : live;
}

size_t _hak_os_llc_bytes(void) {
    long v = sysconf(_SC_LEVEL3_CACHE_SIZE);
    if (v <= 0) v = sysconf(_SC_LEVEL2_CACHE_SIZE);
    return v > 0 ? (size_t)v : LLC_GUESS;
}

static bool write_loop(int fd, const char *s, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR) continue;
        if (w == 0) errno = EIO; /* nothing written, nothing said: not a full write */
        if (w <= 0) return false;
        s += w;
        n -= (size_t)w;
    }
    return true;
}

/* hakmem's output never kills the process: a reader that has gone away (a
 * closed pipe) makes the write fail with EPIPE, and the SIGPIPE it raises
 * is taken back unless one was pending already. */
bool _hak_write_all(int fd, const char *s, size_t n) {
    sigset_t pipe_set, old, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigpending(&pending);
    bool was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    bool ok = write_loop(fd, s, n);
    int err = errno;
    if (!ok && err == EPIPE && !was_pending) {
        static const struct timespec now = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &now) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = err;
    return ok;
}

int _hak_os_pid(void) { return (int)getpid(); }

struct symbol_search {
    const char *name;
    void *found;
};

/* One loaded object: its definition of the name, if it has one (an object
 * loaded RTLD_LOCAL, outside the global scope, is searched too). */
static int search_object(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size;
    struct symbol_search *s = arg;
    if (info->dlpi_name == NULL || info->dlpi_name[0] == '\0') return 0;
    void *h = dlopen(info->dlpi_name, RTLD_LAZY | RTLD_NOLOAD);
    if (h == NULL) return 0;
    s->found = dlsym(h, s->name);
    dlclose(h);
    return s->found != NULL;
}

void *_hak_os_symbol(const char *name, bool after_self) {
    if (after_self) return dlsym(RTLD_NEXT, name);
    void *f = dlsym(RTLD_DEFAULT, name);
    if (f != NULL) return f;
    struct symbol_search s = {name, NULL};
    dl_iterate_phdr(search_object, &s);
    return s.found;
}

void _hak_os_sleep_ms(uint64_t ms) {
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* The thread starts with every signal blocked: the program's signals go
 * to its own threads. */
bool _hak_os_thread_start(void *(*fn)(void *), size_t stack_bytes) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, stack_bytes);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t t;
    int rc = pthread_create(&t, &attr, fn, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    return rc == 0;
}

/* The kernel's 16 random bytes given to every process (AT_RANDOM), mixed
 * with an address (ASLR); the same value on every call. */
uint64_t _hak_os_random(void) {
    static const char anchor = 0;
    uint64_t key = (uintptr_t)&anchor;
    const uint8_t *rnd = (const uint8_t *)getauxval(AT_RANDOM);
    if (rnd != NULL) {
        uint64_t r;
        memcpy(&r, rnd + 8, sizeof(r));
        key ^= r;
    }
    return key;
}
