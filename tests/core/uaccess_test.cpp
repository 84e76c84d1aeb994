// core/uaccess: copies that run into unmapped, PROT_NONE or read-only pages
// stop exactly at the page boundary and report it, strings and pin checks
// likewise; non-canonical and kernel addresses are refused; and a fault
// anywhere else still reaches whatever handler would have seen it.
#include "core/uaccess.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "../common/sanitized.hpp"

namespace iostack::core {
namespace {

constexpr std::size_t kPage = 4096;

// Three pages: the first readable and writable, the second as `guard`
// (PROT_NONE, PROT_READ, or unmapped when `unmap`), the third readable and
// writable again so that nothing else lands right behind the guard.
class Pages {
 public:
  explicit Pages(int guard, bool unmap = false) {
    // The first accessor call installs the fault handling, which may map
    // memory (a signal stack, the sanitizer's bookkeeping): before the hole.
    uaccess_init();
    base_ = static_cast<char*>(
        mmap(nullptr, 3 * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    EXPECT_NE(base_, MAP_FAILED);
    for (std::size_t i = 0; i < 3 * kPage; ++i) base_[i] = static_cast<char>('A' + i % 23);
    unmapped_ = unmap;
    if (unmap)
      munmap(base_ + kPage, kPage);
    else
      mprotect(base_ + kPage, kPage, guard);
  }
  ~Pages() {
    // Not the hole: something else (an allocator's mmap) may live there now.
    munmap(base_, kPage);
    munmap(base_ + 2 * kPage, kPage);
    if (!unmapped_) munmap(base_ + kPage, kPage);
  }
  // False when the unmapped guard page was mapped again meanwhile (by this
  // process's own allocations); a test then cannot rely on it.
  bool guard_intact() const {
    if (!unmapped_) return true;
    unsigned char v;
    return mincore(base_ + kPage, kPage, &v) != 0 && errno == ENOMEM;
  }
  char* boundary() const { return base_ + kPage; }  // first byte of the guard page
  char* base() const { return base_; }

 private:
  char* base_;
  bool unmapped_ = false;
};

char pattern(std::size_t i) { return static_cast<char>('a' + i % 26); }

TEST(Uaccess, CopiesEverySizeLikeMemcpy) {
  std::vector<char> src(1000), dst(1010);
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = pattern(i);
  for (std::size_t n : {0, 1, 7, 8, 9, 63, 64, 255, 256, 257, 999}) {
    std::fill(dst.begin(), dst.end(), 0);
    EXPECT_EQ(copy_from_user(dst.data(), src.data() + 1, n), 0u) << n;
    EXPECT_EQ(std::memcmp(dst.data(), src.data() + 1, n), 0) << n;
    EXPECT_EQ(dst[n], 0) << n;
    std::fill(dst.begin(), dst.end(), 0);
    EXPECT_EQ(copy_to_user(dst.data() + 3, src.data(), n), 0u) << n;
    EXPECT_EQ(std::memcmp(dst.data() + 3, src.data(), n), 0) << n;
  }
}

// A source running into a bad page: exactly the bytes before it arrive, the
// rest of the destination is zeroed, the count not copied comes back. The
// sizes go through the byte, word and rep movsb paths.
void expect_read_stops_at_boundary(const Pages& p) {
  for (std::size_t before : {1, 5, 8, 13, 200, 300, 4000}) {
    for (std::size_t after : {1, 8, 100, 600}) {
      const std::size_t n = before + after;
      std::vector<char> dst(n, 'z');
      if (!p.guard_intact()) GTEST_SKIP() << "the unmapped guard page was mapped again";
      const char* src = p.boundary() - before;
      EXPECT_EQ(copy_from_user(dst.data(), src, n), after) << before << "+" << after;
      EXPECT_EQ(std::memcmp(dst.data(), src, before), 0) << before << "+" << after;
      for (std::size_t i = before; i < n; ++i) ASSERT_EQ(dst[i], 0) << before << "+" << after;
    }
  }
}

TEST(Uaccess, CopyFromUserStopsAtAProtNonePage) { expect_read_stops_at_boundary(Pages(PROT_NONE)); }

TEST(Uaccess, CopyFromUserStopsAtAnUnmappedPage) {
  expect_read_stops_at_boundary(Pages(PROT_NONE, true));
}

// A destination running into a bad page: the bytes before it are written.
void expect_write_stops_at_boundary(const Pages& p, bool guard_readable) {
  std::vector<char> src(5000);
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = pattern(i);
  for (std::size_t before : {1, 5, 8, 13, 200, 300, 4000}) {
    for (std::size_t after : {1, 8, 100, 600}) {
      char* dst = p.boundary() - before;
      std::vector<char> guard_before;
      if (guard_readable) guard_before.assign(p.boundary(), p.boundary() + kPage);
      if (!p.guard_intact()) GTEST_SKIP() << "the unmapped guard page was mapped again";
      EXPECT_EQ(copy_to_user(dst, src.data(), before + after), after) << before << "+" << after;
      EXPECT_EQ(std::memcmp(dst, src.data(), before), 0) << before << "+" << after;
      if (guard_readable) {
        EXPECT_EQ(std::memcmp(p.boundary(), guard_before.data(), kPage), 0);
      }
      std::memset(dst, 0, before);
    }
  }
}

TEST(Uaccess, CopyToUserStopsAtAProtNonePage) {
  expect_write_stops_at_boundary(Pages(PROT_NONE), false);
}
TEST(Uaccess, CopyToUserStopsAtAReadOnlyPage) {
  expect_write_stops_at_boundary(Pages(PROT_READ), true);
}
TEST(Uaccess, CopyToUserStopsAtAnUnmappedPage) {
  expect_write_stops_at_boundary(Pages(PROT_NONE, true), false);
}

TEST(Uaccess, AddressesOutsideUserSpaceAreRefusedWholesale) {
  char buf[16];
  const std::uintptr_t bad[] = {0, 0x8000000000000000ull, 0xffff800000000000ull,
                                0x00007ffffffff000ull, 0xfffffffffffffff0ull};
  for (std::uintptr_t a : bad) {
    auto* p = reinterpret_cast<char*>(a);
    std::memset(buf, 'x', sizeof(buf));
    EXPECT_EQ(copy_from_user(buf, p, sizeof(buf)), sizeof(buf)) << std::hex << a;
    EXPECT_EQ(buf[0], 0);
    EXPECT_EQ(copy_to_user(p, buf, sizeof(buf)), sizeof(buf)) << std::hex << a;
    std::uint64_t v = 7;
    EXPECT_EQ(get_user(v, reinterpret_cast<const std::uint64_t*>(p)), -EFAULT);
    EXPECT_EQ(v, 0u);
    EXPECT_EQ(put_user(v, reinterpret_cast<std::uint64_t*>(p)), -EFAULT);
    EXPECT_EQ(strncpy_from_user(buf, p, sizeof(buf)), -EFAULT);
    EXPECT_EQ(fault_in_readable(p, 100), 100u);
    EXPECT_EQ(fault_in_writeable(p, 100), 100u);
  }
  // A range that wraps, and one that crosses the top of user space.
  EXPECT_FALSE(access_ok(reinterpret_cast<void*>(0x1000), ~std::size_t{0}));
  EXPECT_FALSE(access_ok(reinterpret_cast<void*>(0x00007fffffffe000ull), 0x2000));
  EXPECT_TRUE(access_ok(reinterpret_cast<void*>(0x00007fffffffe000ull), 0x1000));
}

TEST(Uaccess, GetAndPutUser) {
  std::uint64_t v = 0x1122334455667788ull, out = 0;
  EXPECT_EQ(get_user(out, &v), 0);
  EXPECT_EQ(out, v);
  std::uint16_t small = 0;
  EXPECT_EQ(put_user(std::uint16_t{0xbeef}, &small), 0);
  EXPECT_EQ(small, 0xbeef);
  Pages p(PROT_READ);
  auto* ro = reinterpret_cast<std::uint32_t*>(p.boundary());
  std::uint32_t x = 0;
  EXPECT_EQ(get_user(x, ro), 0);
  EXPECT_EQ(put_user(x, ro), -EFAULT);
  // An 8-byte value straddling into the read-only page: nothing partial.
  auto* straddle = reinterpret_cast<std::uint64_t*>(p.boundary() - 4);
  EXPECT_EQ(put_user(std::uint64_t{0}, straddle), -EFAULT);
  EXPECT_EQ(std::memcmp(p.boundary() - 4, p.base() + kPage - 4, 4), 0);
}

TEST(Uaccess, StrncpyFromUser) {
  char dst[64];
  EXPECT_EQ(strncpy_from_user(dst, "hello", sizeof(dst)), 5);
  EXPECT_STREQ(dst, "hello");
  EXPECT_EQ(strncpy_from_user(dst, "", sizeof(dst)), 0);
  EXPECT_EQ(dst[0], '\0');
  // No NUL within count: count bytes, unterminated.
  std::memset(dst, 'x', sizeof(dst));
  EXPECT_EQ(strncpy_from_user(dst, "abcdefgh", 4), 4);
  EXPECT_EQ(std::memcmp(dst, "abcdx", 5), 0);
  EXPECT_EQ(strncpy_from_user(dst, "abc", 0), 0);

  Pages p(PROT_NONE);
  char* end = p.boundary();
  // Terminated right before the bad page: fine.
  std::memcpy(end - 4, "abc", 4);
  EXPECT_EQ(strncpy_from_user(dst, end - 4, sizeof(dst)), 3);
  // Running into the bad page without a NUL: -EFAULT, unless count stops
  // the copy first.
  std::memcpy(end - 4, "abcd", 4);
  EXPECT_EQ(strncpy_from_user(dst, end - 4, sizeof(dst)), -EFAULT);
  EXPECT_EQ(strncpy_from_user(dst, end - 4, 4), 4);
}

TEST(Uaccess, FaultInFindsTheFirstBadPage) {
  Pages none(PROT_NONE);
  // From 100 bytes before the bad page, 5000 bytes: 4900 are out of reach.
  EXPECT_EQ(fault_in_readable(none.boundary() - 100, 5000), 4900u);
  EXPECT_EQ(fault_in_writeable(none.boundary() - 100, 5000), 4900u);
  EXPECT_EQ(fault_in_readable(none.boundary() - 100, 100), 0u);
  EXPECT_EQ(fault_in_readable(none.boundary(), 1), 1u);
  EXPECT_EQ(fault_in_readable(none.base(), 0), 0u);

  Pages ro(PROT_READ);
  std::vector<char> before(ro.base(), ro.base() + 2 * kPage);
  EXPECT_EQ(fault_in_readable(ro.base() + 10, 2 * kPage), 0u);
  EXPECT_EQ(fault_in_writeable(ro.base() + 10, 2 * kPage), kPage + 10);
  EXPECT_EQ(fault_in_writeable(ro.base(), kPage), 0u);
  // The write check changes nothing.
  EXPECT_EQ(std::memcmp(before.data(), ro.base(), 2 * kPage), 0);

  Pages gone(PROT_NONE, true);
  EXPECT_EQ(fault_in_writeable(gone.base(), 3 * kPage), 2 * kPage);
}

// Faults in several threads at once each resume in their own thread.
TEST(Uaccess, ConcurrentFaultsAllResume) {
  Pages p(PROT_NONE);
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      char buf[64];
      for (int i = 0; i < 2000; ++i) {
        if (copy_from_user(buf, p.boundary() - 8, sizeof(buf)) != sizeof(buf) - 8) bad++;
        if (copy_to_user(p.boundary() - 16, buf, sizeof(buf)) != sizeof(buf) - 16) bad++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
}

// ---- Faults outside the accessors: as if iostack's handler were not there.
// Each runs in a fresh process (threadsafe death tests re-execute the
// binary), so the handlers in place are exactly those the test sets up.

void crash() {
  auto* volatile p = reinterpret_cast<volatile int*>(0x10);
  *p = 1;
}

class UaccessDeathTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(UaccessDeathTest, AFaultElsewhereStillCrashes) {
  auto body = [] {
    char buf[8];
    if (copy_from_user(buf, reinterpret_cast<void*>(0x10), sizeof(buf)) != sizeof(buf)) _exit(3);
    crash();
    _exit(4);
  };
  if (test::kSanitized) {
    EXPECT_DEATH(body(), "");  // the sanitizer's own report, then abort
  } else {
    EXPECT_EXIT(body(), ::testing::KilledBySignal(SIGSEGV), "");
  }
}

TEST_F(UaccessDeathTest, AnIgnoredFaultStillKills) {
  auto body = [] {
    signal(SIGSEGV, SIG_IGN);
    char buf[8];
    if (copy_from_user(buf, reinterpret_cast<void*>(0x10), sizeof(buf)) != sizeof(buf)) _exit(3);
    crash();
    _exit(4);
  };
  EXPECT_DEATH(body(), "");
}

void on_segv_info(int sig, siginfo_t* info, void*) {
  _exit(sig == SIGSEGV && info->si_addr == reinterpret_cast<void*>(0x10) ? 42 : 43);
}
void on_segv_plain(int sig) { _exit(sig == SIGSEGV ? 44 : 45); }

// A handler installed before iostack's first use is called for the faults
// that are not iostack's, with the signal's siginfo.
TEST_F(UaccessDeathTest, AnEarlierSiginfoHandlerGetsOtherFaults) {
  auto body = [] {
    struct sigaction sa {};
    sa.sa_sigaction = on_segv_info;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, nullptr);
    char buf[8];
    if (copy_from_user(buf, reinterpret_cast<void*>(0x10), sizeof(buf)) != sizeof(buf)) _exit(3);
    crash();
    _exit(4);
  };
  EXPECT_EXIT(body(), ::testing::ExitedWithCode(42), "");
}

TEST_F(UaccessDeathTest, AnEarlierPlainHandlerGetsOtherFaults) {
  auto body = [] {
    signal(SIGSEGV, on_segv_plain);
    char buf[8];
    if (copy_from_user(buf, reinterpret_cast<void*>(0x10), sizeof(buf)) != sizeof(buf)) _exit(3);
    crash();
    _exit(4);
  };
  EXPECT_EXIT(body(), ::testing::ExitedWithCode(44), "");
}

// A signal sent with kill() is not a fault, even while iostack copies.
TEST_F(UaccessDeathTest, ASentSigsegvIsPassedOn) {
  auto body = [] {
    signal(SIGSEGV, on_segv_plain);
    uaccess_init();
    kill(getpid(), SIGSEGV);
    _exit(4);
  };
  EXPECT_EXIT(body(), ::testing::ExitedWithCode(44), "");
}

}  // namespace
}  // namespace iostack::core
