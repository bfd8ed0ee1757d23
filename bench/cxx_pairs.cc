// cxx_pairs — the pair loop of pairs.c through C++'s operators: `--api new` allocates with
// ::operator new(size) and frees with the sized ::operator delete(p, size) (what `new T` and
// `delete p` compile to for a type of that size), `--api malloc` with malloc and free, in the same
// binary, so the two loops differ only in the entry points. Each step allocates --batch blocks of
// --size bytes and frees them in order. Built with the system's g++ (C++17): under LD_PRELOAD the
// operators are the preloaded library's if it defines them, else libstdc++'s (which call malloc).
// Metric: ns_per_op, the mean ns per pair.
#include <new>

#include "common.h"

namespace {

constexpr size_t kMaxBatch = 4096;

template <bool kNew> uint64_t loop(size_t size, size_t batch, uint64_t steps) {
  static void *v[kMaxBatch];
  for (uint64_t s = 0; s < steps; s++) {
    for (size_t i = 0; i < batch; i++) {
      void *p = kNew ? ::operator new(size) : malloc(size);
      if (!kNew && p == nullptr) fatal("malloc(%zu) returned NULL", size);
      bench_escape(p);
      v[i] = p;
    }
    for (size_t i = 0; i < batch; i++) {
      if (kNew) ::operator delete(v[i], size);
      else free(v[i]);
    }
  }
  return steps * batch;
}

} // namespace

int main(int argc, char **argv) {
  static const char *const known[] = {"size", "batch", "api", nullptr};
  bench_args a;
  bench_parse(&a, argc, argv, "cxx_pairs", known, 1);
  size_t size = opt_u64(&a, "size", 40, 1, 1u << 20);
  size_t batch = opt_u64(&a, "batch", 1000, 1, kMaxBatch);
  const char *api = opt_str(&a, "api", "new");
  bool use_new = strcmp(api, "new") == 0;
  if (!use_new && strcmp(api, "malloc") != 0) {
    fprintf(stderr, "cxx_pairs: --api must be new or malloc, got %s\n", api);
    exit(2);
  }
  uint64_t steps = scaled(&a, 100e6, batch) / batch;

  uint64_t t0 = now_ns();
  uint64_t ops = use_new ? loop<true>(size, batch, steps) : loop<false>(size, batch, steps);
  double secs = (double)(now_ns() - t0) * 1e-9;

  json_out j;
  json_begin(&j, &a, "cxx_pairs", "ns_per_op", secs * 1e9 / (double)ops, ops, secs);
  json_u64(&j, "size", size);
  json_u64(&j, "batch", batch);
  json_str(&j, "api", api);
  json_end(&j);
  return 0;
}
