// interp_heap — an interpreter's heap: object graphs of mixed small sizes built and dropped in
// bulk, as a Ruby or Python stress does.
//
// Each of --threads workers (1 and 2 in the suite) runs cycles. A cycle builds a graph of
// --objects objects (20000): each object is a small record — sizes drawn like an interpreter's
// (40 % 16–32 B numbers and short strings, 30 % 40–64 B tuples and small objects, 18 % 72–128 B,
// 9 % 136–256 B, 3 % 264–1024 B dict tables and longer strings) — that refers to up to four
// objects made before it in the cycle; one object in eight is a container whose item array
// (8 B per item, 1–16 items) is allocated apart and grows by realloc as items are appended. The
// cycle then walks the graph from its last objects (a mark), checking every object it reaches,
// and drops it in bulk: every object and item array freed in a scattered order (a sweep visits
// the heap, not the order of creation). One object in sixteen survives into the next cycle and is
// dropped with it (an older generation), so freed memory sits between live objects.
// Metric: ops_per_s summed over threads, one op = one malloc, realloc or free.
#include "common.h"

#define MAX_REFS 4

typedef struct obj {
  struct obj *ref[MAX_REFS];
  struct obj **items; // a container's item array, or NULL
  uint32_t nitems, size, tag, mark;
} obj_t;

typedef struct {
  int id;
  uint64_t seed, cycles, objects, ops, checksum;
  bench_sync *sync;
} worker_t;

// An interpreter's object sizes: numbers and short strings, tuples, small objects, dict tables.
static uint32_t object_size(rng_t *r) {
  uint64_t k = rng_below(r, 100);
  if (k < 40) return (uint32_t)rng_range(r, 16, 32);
  if (k < 70) return (uint32_t)rng_range(r, 40, 64);
  if (k < 88) return (uint32_t)rng_range(r, 72, 128);
  if (k < 97) return (uint32_t)rng_range(r, 136, 256);
  return (uint32_t)rng_range(r, 264, 1024);
}

static obj_t *new_object(rng_t *r, obj_t **made, uint64_t nmade, uint32_t tag, uint64_t *ops) {
  uint32_t size = object_size(r);
  if (size < sizeof(obj_t)) size = sizeof(obj_t);
  obj_t *o = xmalloc(size);
  memset(o, 0, sizeof *o);
  o->size = size;
  o->tag = tag;
  pat_fill((char *)o + sizeof *o, size - sizeof *o, tag, PAT_HEADTAIL);
  for (int i = 0; i < MAX_REFS && nmade > 0; i++) {
    if (rng_below(r, 4) == 0) break;
    o->ref[i] = made[nmade - 1 - rng_below(r, nmade < 256 ? nmade : 256)];
  }
  (*ops)++;
  if (rng_below(r, 8) == 0) { // a container: items appended one at a time
    uint32_t n = (uint32_t)rng_range(r, 1, 16);
    for (uint32_t i = 0; i < n; i++) {
      o->items = xrealloc(o->items, (i + 1) * sizeof *o->items);
      o->items[i] = nmade > 0 ? made[rng_below(r, nmade)] : o;
      (*ops)++;
    }
    o->nitems = n;
  }
  return o;
}

static uint64_t check_object(const obj_t *o) {
  return pat_verify((const char *)o + sizeof *o, o->size - sizeof *o, o->tag, PAT_HEADTAIL,
                    "interp_heap") ^ o->tag;
}

// Marks what is reachable from `o` (an explicit stack: graphs are deep); returns a checksum.
static uint64_t mark(obj_t *root, uint32_t epoch, obj_t **stack) {
  uint64_t sum = 0, top = 0;
  stack[top++] = root;
  while (top > 0) {
    obj_t *o = stack[--top];
    if (o == NULL || o->mark == epoch) continue;
    o->mark = epoch;
    sum += check_object(o);
    for (int i = 0; i < MAX_REFS; i++) stack[top++] = o->ref[i];
    for (uint32_t i = 0; i < o->nitems; i++) stack[top++] = o->items[i];
  }
  return sum;
}

static uint64_t gcd(uint64_t a, uint64_t b) {
  while (b != 0) {
    uint64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

static void drop(obj_t *o, uint64_t *ops) {
  if (o->items) {
    free(o->items);
    (*ops)++;
  }
  free(o);
  (*ops)++;
}

static void *work(void *arg) {
  worker_t *w = arg;
  rng_t r;
  rng_seed(&r, w->seed, (uint64_t)w->id);
  uint64_t n = w->objects, ops = 0, sum = 0;
  obj_t **made = calloc(n, sizeof *made);
  obj_t **old = calloc(n, sizeof *old);
  // every object pushes at most MAX_REFS + 16 entries while its own is popped
  obj_t **stack = calloc(n * (MAX_REFS + 16) + 1, sizeof *stack);
  if (!made || !old || !stack) fatal("out of memory");
  uint64_t nold = 0;
  // a sweep's order: a stride coprime with n walks every slot once, scattered
  uint64_t stride = n / 2 + 1;
  while (gcd(stride, n) != 1) stride++;

  sync_start(w->sync);
  for (uint64_t c = 0; c < w->cycles; c++) {
    for (uint64_t i = 0; i < n; i++) {
      made[i] = new_object(&r, made, i, (uint32_t)((c << 20) ^ i), &ops);
    }
    for (uint64_t i = n > 64 ? n - 64 : 0; i < n; i++) {
      sum += mark(made[i], (uint32_t)(c + 1), stack);
    }
    // the previous cycle's survivors go now; this cycle's survivors move to the old generation
    for (uint64_t i = 0; i < nold; i++) drop(old[i], &ops);
    nold = 0;
    for (uint64_t k = 0, i = 0; k < n; k++, i = (i + stride) % n) {
      if (i % 16 == 0) {
        // a survivor may refer to objects dropped now: it keeps none of them
        memset(made[i]->ref, 0, sizeof made[i]->ref);
        made[i]->nitems = 0;
        old[nold++] = made[i];
      } else {
        drop(made[i], &ops);
      }
    }
  }
  sync_stop(w->sync);
  for (uint64_t i = 0; i < nold; i++) drop(old[i], &ops);
  free(made);
  free(old);
  free(stack);
  w->ops = ops;
  w->checksum = sum;
  return NULL;
}

int main(int argc, char **argv) {
  static const char *const known[] = {"objects", NULL};
  bench_args a;
  bench_parse(&a, argc, argv, "interp_heap", known, 1);
  uint64_t objects = opt_u64(&a, "objects", 20000, 16, 1u << 24);
  uint64_t cycles = scaled(&a, 400, 1); // per thread
  int n = a.threads;

  bench_sync sync;
  worker_t *w = calloc((size_t)n, sizeof *w);
  if (!w) fatal("out of memory");
  for (int t = 0; t < n; t++) {
    w[t].id = t;
    w[t].seed = a.seed;
    w[t].cycles = cycles;
    w[t].objects = objects;
    w[t].sync = &sync;
  }
  uint64_t ns = run_threads_timed(n, work, w, sizeof *w, &sync);
  uint64_t ops = 0, checksum = 0;
  for (int t = 0; t < n; t++) {
    ops += w[t].ops;
    checksum += w[t].checksum;
  }
  free(w);
  double secs = (double)ns * 1e-9;

  json_out j;
  json_begin(&j, &a, "interp_heap", "ops_per_s", (double)ops / secs, ops, secs);
  json_u64(&j, "objects", objects);
  json_u64(&j, "cycles", cycles);
  json_checksum(&j, checksum);
  json_end(&j);
  return 0;
}
