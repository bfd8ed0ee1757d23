// The C++ categories of corrupt.c: a delete that states a size the block cannot have — the
// static type of a delete expression larger than the object's (its sized delete states the
// larger size), and the sized and sized + aligned operator delete called with a larger size, of
// a small block (32 bytes) and of a large one (256 KiB). `corrupt_cxx <case>` runs one,
// `corrupt_cxx list` prints them; "misuse" is printed just before the misuse, and reaching the
// end prints "NOT CAUGHT" and exits 2. Built with the system's g++ (-fsized-deallocation, C++14's
// default), linked with nothing but its runtime and libc.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <new>

namespace {

const size_t kLarge = 256 * 1024;

template <class T> T launder(T p) {
  __asm__ volatile("" : "+r"(p) : : "memory");
  return p;
}

void misuse() {
  std::printf("misuse\n");
  std::fflush(stdout);
}

struct Wide {
  uint64_t w[64]; // 512 bytes: larger than the 1-byte object's block in every build
};

void delete_type_size_mismatch() {
  char *c = launder(new char);
  misuse();
  delete reinterpret_cast<Wide *>(c); // ::operator delete(c, 512)
}

void sized_delete_wrong_size(size_t size) {
  void *p = launder(::operator new(size));
  misuse();
  ::operator delete(p, launder(size * 16));
}

void aligned_sized_delete_wrong_size(size_t size) {
  std::align_val_t al{128};
  void *p = launder(::operator new(size, al));
  misuse();
  ::operator delete(p, launder(size * 16), al);
}

struct Case {
  const char *name;
  void (*run)();
};

const Case kCases[] = {
    {"delete_type_size_mismatch", delete_type_size_mismatch},
    {"sized_delete_wrong_size_small", [] { sized_delete_wrong_size(32); }},
    {"sized_delete_wrong_size_large", [] { sized_delete_wrong_size(kLarge); }},
    {"aligned_sized_delete_wrong_size_small", [] { aligned_sized_delete_wrong_size(32); }},
    {"aligned_sized_delete_wrong_size_large", [] { aligned_sized_delete_wrong_size(kLarge); }},
};

} // namespace

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: corrupt_cxx list | corrupt_cxx <case>\n");
    return 2;
  }
  for (const Case &c : kCases) {
    if (std::strcmp(argv[1], "list") == 0) {
      std::printf("%s\n", c.name);
    } else if (std::strcmp(argv[1], c.name) == 0) {
      c.run();
      std::printf("NOT CAUGHT\n");
      return 2;
    }
  }
  if (std::strcmp(argv[1], "list") == 0) return 0;
  std::fprintf(stderr, "corrupt_cxx: unknown case %s\n", argv[1]);
  return 2;
}
