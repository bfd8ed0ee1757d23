// hakmem bench, programs mode: a C++ compile with g++ (the compiler proper, cc1plus, and the
// assembler run under the allocator under test). HAK_SCALE distinct instantiations of a class
// template that uses the standard containers, algorithms, std::function, std::variant and
// std::ostringstream, each optimised at -O2: the compiler's trees, RTL and symbol tables grow
// with HAK_SCALE.
//
// usage: g++ -std=c++17 -O2 -frandom-seed=hakmem -DHAK_SCALE=N -c compile.cpp -o compile.o
// (N = 4 at scale 1: about 3 s on one core; the headers alone take over 1 s)
#include <algorithm>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#ifndef HAK_SCALE
#define HAK_SCALE 4
#endif

namespace work {

struct Base {
  virtual ~Base() = default;
  virtual long run(long seed) const = 0;
};

template <int I>
struct Item {
  int key;
  double weight;
  std::string name;
  std::optional<std::vector<int>> extra;
  bool operator<(const Item &o) const {
    return std::tie(key, weight, name) < std::tie(o.key, o.weight, o.name);
  }
};

template <int I>
struct Job final : Base {
  using Value = std::variant<int, double, std::string, Item<I>>;

  long run(long seed) const override {
    std::vector<Item<I>> items;
    std::map<std::string, std::vector<Value>> groups;
    std::unordered_map<int, std::function<long(long)>> steps;
    for (int k = 0; k < 64 + I; k++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      Item<I> it{static_cast<int>(seed % 1000), (seed % 97) / 7.0, "item" + std::to_string(seed),
                 std::nullopt};
      if (seed % 3 == 0) it.extra = std::vector<int>(static_cast<std::size_t>(seed % 17), I);
      items.push_back(it);
      groups[it.name.substr(0, 5 + I % 3)].emplace_back(it);
      groups["n"].emplace_back(static_cast<int>(seed % 1000));
      steps[k] = [k, seed](long x) { return (x ^ seed) + k * I; };
    }
    std::sort(items.begin(), items.end());
    std::stable_sort(items.begin(), items.end(),
                     [](const Item<I> &a, const Item<I> &b) { return a.weight > b.weight; });
    long acc = std::accumulate(items.begin(), items.end(), 0L, [](long s, const Item<I> &it) {
      return s + it.key + static_cast<long>(it.name.size()) +
             (it.extra ? static_cast<long>(it.extra->size()) : 0L);
    });
    std::ostringstream out;
    for (const auto &[name, values] : groups) {
      for (const auto &v : values) {
        std::visit(
            [&](const auto &x) {
              using T = std::decay_t<decltype(x)>;
              if constexpr (std::is_same_v<T, Item<I>>) out << x.name << ':' << x.key;
              else out << x;
            },
            v);
      }
      out << name << '\n';
    }
    for (const auto &[k, f] : steps) acc = f(acc) % 1000003;
    return acc + static_cast<long>(out.str().size());
  }
};

template <std::size_t... I>
std::vector<std::unique_ptr<Base>> jobs(std::index_sequence<I...>) {
  std::vector<std::unique_ptr<Base>> v;
  (v.push_back(std::make_unique<Job<static_cast<int>(I)>>()), ...);
  return v;
}

} // namespace work

int main() {
  long acc = 0;
  for (const auto &j : work::jobs(std::make_index_sequence<HAK_SCALE>{})) acc += j->run(acc + 1);
  return static_cast<int>(acc % 251);
}
