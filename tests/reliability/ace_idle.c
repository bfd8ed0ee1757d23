/* Learning mode gives memory back while the program idles, even with ACE
 * backed off: `ace_idle <seed>`. Worker threads allocate small blocks
 * (16 B – 1 KiB, every byte written) and exit; the main thread frees all
 * but a scattered one in KEEP_ONE_IN into the exited threads' heaps, then
 * sleeps without calling the allocator, so only ACE's thread can run decay
 * (a thread's exit gives back what its heap holds free then, not what is
 * freed into it later). The test sets a guard that every tick trips
 * (HAKMEM_ACE_MAX_RSS_MB=1): ACE stays backed off on the defaults the
 * whole time. Prints what was freed, what decay gave back within GIVE_UP_S
 * and ACE's guard trips; before, a tripped guard ended ACE's thread and
 * with it every decay pass for idle threads. */
#include "rel.h"

#include <pthread.h>
#include <time.h>

#define THREADS 2
#define MIB_PER_THREAD 16
#define KEEP_ONE_IN 64
#define POLL_MS 20
#define GIVE_UP_S 20 /* a failure, not a measure: ACE ticks every 10 ms */

typedef struct {
    uint64_t seed, freed;
    void **p;
    size_t *size, n;
    void **keep;
    size_t kept;
} job_t;

static void *worker(void *arg) {
    job_t *j = arg;
    rng_t r;
    rng_init(&r, j->seed, 1);
    size_t cap = (size_t)MIB_PER_THREAD << 12, total = 0;
    j->p = malloc(cap * sizeof *j->p);
    j->size = malloc(cap * sizeof *j->size);
    j->keep = malloc((cap / KEEP_ONE_IN + 1) * sizeof(void *));
    if (j->p == NULL || j->size == NULL || j->keep == NULL) die("out of memory");
    while (total < ((size_t)MIB_PER_THREAD << 20) && j->n < cap) {
        size_t s = 16 + rng_next(&r) % 1009;
        void *b = malloc(s);
        if (b == NULL) die("malloc(%zu) failed", s);
        memset(b, 0x5a, s);
        j->p[j->n] = b;
        j->size[j->n++] = s;
        total += s;
    }
    return NULL;
}

/* The main thread frees a worker's blocks, all but the survivors. */
static void free_blocks(job_t *j) {
    for (size_t i = 0; i < j->n; i++) {
        if (i % KEEP_ONE_IN == 0) {
            j->keep[j->kept++] = j->p[i];
            continue;
        }
        j->freed += j->size[i];
        free(j->p[i]);
    }
    free(j->p);
    free(j->size);
}

/* A field of hak_ace_json's object, or -1. */
static long ace_field(const char *json, const char *name) {
    char key[48];
    snprintf(key, sizeof key, "\"%s\":", name);
    const char *at = strstr(json, key);
    return at ? strtol(at + strlen(key), NULL, 10) : -1;
}

int main(int argc, char **argv) {
    uint64_t seed = seed_from_arg(argc > 1 ? argv[1] : NULL);
    job_t jobs[THREADS];
    pthread_t t[THREADS];
    for (unsigned i = 0; i < THREADS; i++) {
        jobs[i] = (job_t){.seed = seed + i};
        if (pthread_create(&t[i], NULL, worker, &jobs[i]) != 0) die("pthread_create");
    }
    for (unsigned i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    /* what decay gives back from here on: the passes the main thread's own
     * frees run (its slow paths), then ACE's alone */
    hak_stats_t before, now;
    if (hak_stats_get(&before, sizeof before) != 0) die("hak_stats_get");
    uint64_t freed = 0;
    for (unsigned i = 0; i < THREADS; i++) {
        free_blocks(&jobs[i]);
        freed += jobs[i].freed;
    }
    uint64_t given = 0;
    static char json[8192];
    for (unsigned polls = 0; polls < GIVE_UP_S * 1000 / POLL_MS; polls++) {
        struct timespec ts = {0, POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
        if (hak_stats_get(&now, sizeof now) != 0) die("hak_stats_get");
        given = now.decay_bytes - before.decay_bytes;
        if (given >= freed / 2) break;
    }
    hak_ace_json(json, sizeof json);
    printf("{\"freed\":%" PRIu64 ",\"decay_bytes\":%" PRIu64 ",\"trips\":%ld,\"stopped\":%s}\n",
           freed, given, ace_field(json, "trips"), strstr(json, "\"stopped\":true") ? "true" : "false");
    for (unsigned i = 0; i < THREADS; i++) {
        for (size_t k = 0; k < jobs[i].kept; k++) free(jobs[i].keep[k]);
        free(jobs[i].keep);
    }
    return 0;
}
