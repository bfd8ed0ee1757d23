// cxx_objects — a C++ service's objects: polymorphic objects of mixed sizes owned by containers,
// replaced at random, all through operator new and delete.
//
// Each thread (--threads) keeps its own working set: --live objects in a
// std::vector<std::unique_ptr<Obj>> (destroyed through the base's virtual destructor, so g++
// calls the sized delete with the dynamic type's size), a std::map<uint64_t, std::string> and a
// std::unordered_map<uint64_t, uint64_t> of a quarter as many entries (std::allocator's nodes
// and buckets: sized delete too; names past the short-string buffer are heap strings), a
// std::deque<std::string> of messages and a std::vector that grows and is cleared. Objects are
// 24 B to 1 KiB (13 types, about log-uniform), one in 64 owns a 2–32 KiB buffer (new[] and an
// unsized delete[]), one in 2048 a 64–256 KiB one.
// Every object and string carries a pattern derived from its id, checked when it is destroyed
// (a mismatch exits 1).
// Metric: ops_per_s, one op = one object replaced (its delete and a new) with one step of every
// container (a map insert and erase, a message queued and one taken, a push onto the vector).
// Built with the system's g++ (C++17), like the C++ programs users preload hakmem into.
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common.h"

namespace {

constexpr uint64_t kBufferEvery = 64;   // one object in 64 is a 2–32 KiB buffer
constexpr uint64_t kSpanEvery = 2048;   // one in 2048 a 64–256 KiB buffer
constexpr uint64_t kVectorReset = 4096; // the growing vector is cleared this often
constexpr size_t kQueueMax = 256;       // messages waiting at most

struct Obj {
  explicit Obj(uint64_t id) : id(id) {}
  virtual ~Obj() = default;
  virtual uint64_t check() const = 0;
  uint64_t id;
};

// An object of N payload words: 16 + 8 N bytes with the vtable pointer and the id.
template <size_t N> struct Words final : Obj {
  explicit Words(uint64_t id) : Obj(id) {
    for (size_t i = 0; i < N; i++) w[i] = mix64(id + i);
  }
  uint64_t check() const override {
    if (w[0] != mix64(id) || w[N - 1] != mix64(id + N - 1)) fatal("object %" PRIu64 " damaged", id);
    return w[N / 2];
  }
  uint64_t w[N];
};

// A heap buffer owned by an object (new[] of trivial words, freed by an unsized delete[]),
// written at its ends as a network or file buffer would be filled.
struct Buffer final : Obj {
  Buffer(uint64_t id, size_t bytes) : Obj(id), n(bytes / sizeof(uint64_t)), data(new uint64_t[n]) {
    data[0] = mix64(id);
    data[n - 1] = mix64(~id);
  }
  uint64_t check() const override {
    if (data[0] != mix64(id) || data[n - 1] != mix64(~id)) fatal("buffer %" PRIu64 " damaged", id);
    return n;
  }
  size_t n;
  std::unique_ptr<uint64_t[]> data;
};

using Maker = std::unique_ptr<Obj> (*)(uint64_t);
template <size_t N> std::unique_ptr<Obj> make(uint64_t id) {
  return std::make_unique<Words<N>>(id);
}
// 24 B … 1040 B, about log-uniform
const Maker kMakers[] = {make<1>,  make<2>,  make<3>,   make<5>,   make<7>,  make<11>,
                         make<15>, make<23>, make<31>,  make<47>,  make<63>, make<95>,
                         make<127>};

std::unique_ptr<Obj> make_any(rng_t *r, uint64_t id) {
  if (rng_below(r, kSpanEvery) == 0) {
    return std::make_unique<Buffer>(id, rng_range(r, 64 << 10, 256 << 10));
  }
  if (rng_below(r, kBufferEvery) == 0) {
    return std::make_unique<Buffer>(id, rng_logsize(r, 2 << 10, 32 << 10));
  }
  return kMakers[rng_below(r, sizeof kMakers / sizeof kMakers[0])](id);
}

// A name of 8–120 characters derived from id (the short ones stay in the string itself).
std::string name_of(uint64_t id) {
  uint64_t h = mix64(id);
  std::string s(8 + (size_t)(h % 113), (char)('a' + id % 26));
  s.back() = (char)('a' + (h >> 8) % 26);
  return s;
}

void check_name(const std::string &s, uint64_t id) {
  uint64_t h = mix64(id);
  if (s.size() != 8 + h % 113 || s.front() != (char)('a' + id % 26) ||
      s.back() != (char)('a' + (h >> 8) % 26)) {
    fatal("string of %" PRIu64 " damaged", id);
  }
}

struct Ctx {
  const bench_args *a;
  uint64_t ops, live, seed_stream;
  bench_sync *sync;
  uint64_t checksum;
};

void *worker(void *arg) {
  Ctx *c = static_cast<Ctx *>(arg);
  rng_t r;
  rng_seed(&r, c->a->seed, c->seed_stream);
  uint64_t next = (c->seed_stream + 1) << 40, sum = 0;
  {
    std::vector<std::unique_ptr<Obj>> pool;
    std::map<uint64_t, std::string> names;
    std::unordered_map<uint64_t, uint64_t> counts;
    std::deque<std::string> queue;
    std::vector<uint64_t> log;
    pool.reserve(c->live);
    for (uint64_t i = 0; i < c->live; i++) pool.push_back(make_any(&r, next++));
    for (uint64_t i = 0; i < c->live / 4; i++, next++) {
      names.emplace(next, name_of(next));
      counts.emplace(next, next);
    }
    sync_start(c->sync);
    for (uint64_t i = 0; i < c->ops; i++) {
      std::unique_ptr<Obj> &slot = pool[rng_below(&r, c->live)];
      sum += slot->check();
      slot = make_any(&r, next); // the old object's virtual destructor: sized delete

      auto victim = names.lower_bound(mix64(next) % next);
      if (victim == names.end()) victim = names.begin();
      check_name(victim->second, victim->first);
      if (counts.erase(victim->first) != 1) fatal("count of %" PRIu64 " lost", victim->first);
      names.erase(victim);
      names.emplace(next, name_of(next));
      counts.emplace(next, next);

      queue.push_back(name_of(next ^ 1));
      if (queue.size() > kQueueMax || rng_below(&r, 2) == 0) {
        sum += queue.front().size();
        queue.pop_front();
      }
      log.push_back(next);
      if (log.size() == kVectorReset) {
        sum += log[kVectorReset / 2];
        std::vector<uint64_t>().swap(log);
      }
      next++;
    }
    sync_stop(c->sync);
    for (const auto &o : pool) sum += o->check();
    for (const auto &[id, s] : names) check_name(s, id);
  }
  c->checksum = sum;
  return nullptr;
}

} // namespace

int main(int argc, char **argv) {
  static const char *const known[] = {"live", NULL};
  bench_args a;
  bench_parse(&a, argc, argv, "cxx_objects", known, 1);
  uint64_t live = opt_u64(&a, "live", 20000, 16, 1u << 24);
  uint64_t ops = scaled(&a, 4e6, 1);
  std::vector<Ctx> ctx((size_t)a.threads);
  bench_sync sync;
  for (int t = 0; t < a.threads; t++) ctx[(size_t)t] = Ctx{&a, ops, live, (uint64_t)t, &sync, 0};
  uint64_t ns = run_threads_timed(a.threads, worker, ctx.data(), sizeof(Ctx), &sync);
  double secs = (double)ns * 1e-9;
  uint64_t total = ops * (uint64_t)a.threads, checksum = 0;
  for (const Ctx &c : ctx) checksum += c.checksum;

  json_out j;
  json_begin(&j, &a, "cxx_objects", "ops_per_s", (double)total / secs, total, secs);
  json_u64(&j, "live", live);
  json_checksum(&j, checksum);
  json_end(&j);
  return 0;
}
