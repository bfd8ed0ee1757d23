/* glibc's introspection calls answered with hakmem's statistics, so that
 * monitoring which calls mallinfo2, mallinfo or malloc_info under
 * LD_PRELOAD sees hakmem's memory instead of glibc's empty arena (the
 * README's "Statistics" says what each field means here).
 *
 * The mapping keeps glibc's sums: arena + hblkhd is everything hakmem has
 * mapped; arena = uordblks + fordblks; uordblks + hblkhd is every byte in
 * use. "arena" is what is mapped besides the large blocks in use (the
 * segments tiny and mid blocks are carved from, metadata, the large blocks
 * BigCache keeps), like glibc's heap beside its mmapped chunks. */
#include "api.h"

#include <errno.h>

static uint64_t minus(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

static struct mallinfo2 figures(const hak_stats_t *s) {
    const hak_tier_stats_t *large = &s->tier[HAK_TIER_LARGE];
    uint64_t small_in_use = s->tier[HAK_TIER_TINY].bytes_in_use + s->tier[HAK_TIER_MID].bytes_in_use;
    uint64_t arena = minus(s->bytes_mapped, large->bytes_in_use);
    return (struct mallinfo2){
        .arena = arena,
        .ordblks = s->segments,    /* no free-chunk lists: the chunks hakmem has */
        .smblks = 0,               /* no fastbins */
        .hblks = minus(large->allocs, large->frees),
        .hblkhd = large->bytes_in_use,
        .usmblks = s->peak_mapped, /* glibc's old meaning: the most ever mapped */
        .fsmblks = 0,              /* no fastbins */
        .uordblks = small_in_use,
        .fordblks = minus(arena, small_in_use),
        .keepcost = _hak_large_idle_bytes(), /* what malloc_trim gives back at least */
    };
}

struct mallinfo2 _hak_mallinfo(void) {
    hak_ensure_init();
    hak_stats_t s;
    _hak_stats_collect(&s);
    return figures(&s);
}

#define XML_FIELD_(field, meaning) fprintf(fp, " " #field "=\"%llu\"", (unsigned long long)from->field);

/* glibc's document: one heap (hakmem's heaps are one pool), the totals,
 * then hakmem's own figures from the statistics lists. */
int _hak_malloc_info(int options, FILE *fp) {
    if (options != 0 || fp == NULL) return EINVAL;
    hak_ensure_init();
    hak_stats_t s;
    _hak_stats_collect(&s);
    struct mallinfo2 m = figures(&s);
    unsigned long long arena = m.arena, free_bytes = m.fordblks, chunks = m.ordblks,
                       peak = m.usmblks, mapped = s.bytes_mapped;
    fprintf(fp, "<malloc version=\"1\">\n<heap nr=\"0\">\n<sizes>\n</sizes>\n");
    fprintf(fp, "<total type=\"fast\" count=\"0\" size=\"0\"/>\n");
    fprintf(fp, "<total type=\"rest\" count=\"%llu\" size=\"%llu\"/>\n", chunks, free_bytes);
    fprintf(fp, "<system type=\"current\" size=\"%llu\"/>\n<system type=\"max\" size=\"%llu\"/>\n",
            arena, peak);
    fprintf(fp, "<aspace type=\"total\" size=\"%llu\"/>\n<aspace type=\"mprotect\" size=\"%llu\"/>\n",
            arena, arena);
    fprintf(fp, "</heap>\n<total type=\"fast\" count=\"0\" size=\"0\"/>\n");
    fprintf(fp, "<total type=\"rest\" count=\"%llu\" size=\"%llu\"/>\n", chunks, free_bytes);
    fprintf(fp, "<total type=\"mmap\" count=\"%llu\" size=\"%llu\"/>\n",
            (unsigned long long)m.hblks, (unsigned long long)m.hblkhd);
    fprintf(fp, "<system type=\"current\" size=\"%llu\"/>\n<system type=\"max\" size=\"%llu\"/>\n",
            mapped, peak);
    fprintf(fp, "<aspace type=\"total\" size=\"%llu\"/>\n<aspace type=\"mprotect\" size=\"%llu\"/>\n",
            mapped, mapped);
    fprintf(fp, "<hakmem version=\"%s\" mode=\"%s\">\n", hak_version(), hak_mode());
    for (unsigned t = 0; t < HAK_TIER_COUNT; t++) {
        const hak_tier_stats_t *from = &s.tier[t];
        fprintf(fp, "<tier name=\"%s\"", _hak_tier_name(t));
        HAK_TIER_FIELD_LIST(XML_FIELD_)
        fprintf(fp, "/>\n");
    }
    const hak_stats_t *from = &s;
    fprintf(fp, "<counters");
    HAK_COUNTER_LIST(XML_FIELD_)
    fprintf(fp, "/>\n</hakmem>\n</malloc>\n");
    return 0;
}
