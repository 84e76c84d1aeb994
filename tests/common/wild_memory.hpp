// Wild pointers for tests that hand the same bad address to the kernel and
// to iostack: pages that are unmapped, PROT_NONE or read-only, each right
// behind a good page so that objects can straddle the boundary, plus
// non-canonical and kernel addresses. The layout sits at a fixed low
// address that nothing else maps (mmap hands out addresses from the top
// down), so an unmapped page stays unmapped whatever the test maps meanwhile.
// Below 2 GiB it is application memory for ASan and TSan too.
#pragma once

#include <sys/mman.h>

#include <cstdint>
#include <cstring>

namespace iostack::test {

class WildMemory {
 public:
  static constexpr std::size_t kPage = 4096;
  // Page indexes from base(): good pages (read/write) at 0, 2, 4, 6.
  enum Page : unsigned { kGood = 0, kNone = 1, kRo = 3, kGone = 5, kPages = 8 };

  WildMemory() {
    void* want = reinterpret_cast<void*>(kBase);
    void* p = mmap(want, kPages * kPage, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p != want) {
      if (p != MAP_FAILED) munmap(p, kPages * kPage);
      return;
    }
    ok_ = true;
    std::memset(p, 0, kPages * kPage);
    mprotect(page(kNone), kPage, PROT_NONE);
    mprotect(page(kRo), kPage, PROT_READ);
    munmap(page(kGone), 2 * kPage);  // 5 and 6; 7 stays mapped
  }
  ~WildMemory() {
    if (ok_) munmap(page(0), kPages * kPage);
  }
  WildMemory(const WildMemory&) = delete;
  WildMemory& operator=(const WildMemory&) = delete;

  // False when the fixed address was taken (then skip).
  bool ok() const { return ok_; }

  char* page(unsigned i) const { return reinterpret_cast<char*>(kBase + i * kPage); }
  char* none() const { return page(kNone); }  // PROT_NONE
  char* ro() const { return page(kRo); }      // read-only, zero-filled
  char* gone() const { return page(kGone); }  // not mapped at all
  // `n` bytes before the PROT_NONE / unmapped page: the object straddles it.
  char* before_none(std::size_t n) const { return none() - n; }
  char* before_gone(std::size_t n) const { return gone() - n; }
  // A good page for ordinary data.
  char* good() const { return page(kGood); }

  static void* noncanonical() { return reinterpret_cast<void*>(0x8000000000000000ull); }
  static void* kernel() { return reinterpret_cast<void*>(0xffff888000000000ull); }

  // Makes the read-only page writable for a moment to place test data.
  void fill_ro(const void* data, std::size_t n, std::size_t off = 0) const {
    mprotect(ro(), kPage, PROT_READ | PROT_WRITE);
    std::memcpy(ro() + off, data, n);
    mprotect(ro(), kPage, PROT_READ);
  }

 private:
  static constexpr std::uintptr_t kBase = 0x5a5a0000ull;
  bool ok_ = false;
};

}  // namespace iostack::test

#define SKIP_WITHOUT_WILD_MEMORY(m)                                    \
  do {                                                                 \
    if (!(m).ok()) GTEST_SKIP() << "the fixed test address is in use"; \
  } while (0)
