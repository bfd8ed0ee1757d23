/* Last-level cache misses from the PMU: perf_event_open, read in user
 * space with rdpmc when the kernel allows it (x86_64), else with read(2);
 * compiled out without HAK_PMU. Which source ran is reported in stats. */
#include "os.h"

#if defined(HAK_PMU) && defined(__x86_64__)
#include <linux/perf_event.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int g_fd = -1;
static struct perf_event_mmap_page *g_page;
static pid_t g_tid;
static uint32_t g_source = HAK_PMU_OFF;

void _hak_pmu_init(void) {
    if (hak_opt(OPT_PMU) != PMU_OPT_ON) return;
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.size = sizeof(attr);
    attr.type = PERF_TYPE_HARDWARE;
    attr.config = PERF_COUNT_HW_CACHE_MISSES;
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    g_fd = (int)syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
    if (g_fd < 0) {
        g_source = HAK_PMU_UNAVAILABLE;
        return;
    }
    g_tid = (pid_t)syscall(SYS_gettid);
    g_source = HAK_PMU_READ;
    g_page = _hak_os_map_counter_page(g_fd);
    if (g_page == NULL) return;
    if (g_page->cap_user_rdpmc && g_page->index != 0) g_source = HAK_PMU_RDPMC;
}

static uint64_t rdpmc_read(void) {
    uint64_t count;
    uint32_t seq;
    do {
        seq = g_page->lock;
        __asm__ volatile("" ::: "memory");
        uint32_t idx = g_page->index;
        count = (uint64_t)g_page->offset;
        if (g_page->cap_user_rdpmc && idx != 0) {
            uint32_t lo, hi;
            __asm__ volatile("rdpmc" : "=a"(lo), "=d"(hi) : "c"(idx - 1));
            uint64_t pmc = ((uint64_t)hi << 32) | lo;
            unsigned width = g_page->pmc_width;
            pmc <<= 64 - width;
            count += (uint64_t)((int64_t)pmc >> (64 - width));
        }
        __asm__ volatile("" ::: "memory");
    } while (g_page->lock != seq);
    return count;
}

uint64_t _hak_pmu_read(uint32_t *source) {
    *source = g_source;
    if (g_fd < 0) return 0;
    /* rdpmc counts the opening thread only while it runs: other threads
     * read the kernel's total. */
    if (g_source == HAK_PMU_RDPMC && (pid_t)syscall(SYS_gettid) == g_tid) return rdpmc_read();
    uint64_t v = 0;
    if (read(g_fd, &v, sizeof(v)) != (ssize_t)sizeof(v)) return 0;
    return v;
}
#else
void _hak_pmu_init(void) {}

uint64_t _hak_pmu_read(uint32_t *source) {
    *source = HAK_PMU_COMPILED_OUT;
    return 0;
}
#endif
